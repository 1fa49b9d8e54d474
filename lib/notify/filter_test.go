package notify

import (
	"strings"
	"testing"
)

func TestFilter(t *testing.T) {
	ev := `{"type":"change","kind":"port-opened","severity":"critical","ip":"10.0.0.7","port":8080,"proto":"tcp",` +
		`"after":{"state":"open","service":{"name":"http","product":"nginx","cpe":["cpe:/a:nginx"]}},"flag":true,"zero":0,"empty":""}`
	tests := []struct {
		expr string
		want bool
	}{
		{`severity=="critical"`, true},
		{`severity == 'critical'`, true},
		{`severity!="critical"`, false},
		{`kind=="port-opened" && port!=22`, true},
		{`kind=="port-opened" && port==8080 && proto=="tcp"`, true},
		{`kind=="port-closed" || port>=8000`, true},
		{`kind=="port-closed" || port<8000`, false},
		{`!(port<=1024)`, true},
		{`!!flag`, true},
		{`port > 8079.5 && port < 8080.5`, true},
		{`port == "8080"`, false},
		{`port != "8080"`, true},
		{`after.service.name=="http"`, true},
		{"`after.service.cpe.0`==\"cpe:/a:nginx\"", true},
		{`after.service.cpe.#==1`, true},
		{`missing==null`, true},
		{`missing!=null`, false},
		{`missing=="x"`, false},
		{`missing<1`, false},
		{`missing`, false},
		{`flag`, true},
		{`flag==true`, true},
		{`flag!=false`, true},
		{`flag<true`, false},
		{`zero`, false},
		{`empty`, false},
		{`after`, true},
		{`ip > "10.0.0.10"`, true},
		{`severity=="info" || severity=="warning" && port==8080`, false},
		{`(severity=="info" || severity=="critical") && port==8080`, true},
		{`port==8.08e3`, true},
		{`"a\u0062"=="ab"`, true},
		{`-1 < 0`, true},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := ParseFilter(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match([]byte(ev)); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
			if f.String() != tc.expr {
				t.Errorf("String() = %q", f.String())
			}
		})
	}
	var nilFilter *Filter
	if !nilFilter.Match([]byte(ev)) {
		t.Error("a nil filter must pass everything")
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{``, "empty expression"},
		{`   `, "empty expression"},
		{`port==`, "column 7: want a field or a value, got end of expression"},
		{`port=22`, "column 5: unexpected character '='"},
		{`(port==22`, "want ) before end of expression"},
		{`port==22)`, `column 9: unexpected ")"`},
		{`severity=="crit`, "unterminated string"},
		{`a=="\q"`, `unknown escape \q`},
		{`a && || b`, `want a field or a value, got "||"`},
		{"`x", "unterminated `path`"},
		{`1.2.3==x`, `bad number "1.2.3"`},
		{strings.Repeat("!", 100) + "x", "nested deeper than 64"},
		{strings.Repeat("(", 100) + "x" + strings.Repeat(")", 100), "nested deeper than 64"},
		{`a $ b`, `unexpected character '$'`},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := ParseFilter(tc.expr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "where: ") {
				t.Errorf("error %q does not name --where", err)
			}
		})
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`severity=="critical"`, `kind=="port-opened" && port!=22`, `!(a||b)&&c>=1.5e3`,
		"`a.b`<='x\\u0041'", `((x))`, `a==null||b!=true`, `"\\"`, `-`, `1e`} {
		f.Add(s)
	}
	ev := []byte(`{"type":"change","kind":"port-opened","port":22,"a":{"b":"x"},"c":[1,2]}`)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			if flt != nil {
				t.Fatal("filter and error")
			}
			if !strings.HasPrefix(err.Error(), "where: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		flt.Match(ev)
		// Evaluation is a pure function of the event.
		if flt.Match(ev) != flt.Match(ev) {
			t.Fatal("unstable")
		}
		// Negating an expression in parentheses flips it.
		neg, err := ParseFilter("!(" + s + ")")
		if err == nil && neg.Match(ev) == flt.Match(ev) {
			t.Fatalf("!(%s) does not flip", s)
		}
	})
}
