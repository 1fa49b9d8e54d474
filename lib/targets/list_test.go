package targets

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path, name string) ([]Source, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ReadList(f, name)
}

func TestReadList(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []Source
	}{
		{name: "empty", content: "", want: nil},
		{name: "only comments", content: "# nothing\n   # here\n", want: nil},
		{
			name:    "one per line",
			content: "10.0.0.1\n10.0.0.2\n",
			want:    []Source{{"10.0.0.1", "h:1"}, {"10.0.0.2", "h:2"}},
		},
		{
			name:    "mixed whitespace and comments",
			content: "# office\n10.0.0.0/24 10.0.1.1\t\texample.com # web\n\n\r\n  192.168.3-5,7.1#tail\n#last\n2001:db8::1",
			want: []Source{
				{"10.0.0.0/24", "h:2"}, {"10.0.1.1", "h:2"}, {"example.com", "h:2"},
				{"192.168.3-5,7.1", "h:5"}, {"2001:db8::1", "h:7"},
			},
		},
		{
			name:    "crlf",
			content: "10.0.0.1\r\n10.0.0.2\r\n",
			want:    []Source{{"10.0.0.1", "h:1"}, {"10.0.0.2", "h:2"}},
		},
		{
			name:    "entry at the limit",
			content: "\n" + strings.Repeat("a", MaxEntry) + "\n",
			want:    []Source{{strings.Repeat("a", MaxEntry), "h:2"}},
		},
		{
			name:    "long comment is fine",
			content: "#" + strings.Repeat("x", 10*MaxEntry) + "\n10.0.0.1",
			want:    []Source{{"10.0.0.1", "h:2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "hosts.txt", tt.content)
			got, err := readFile(t, path, "h")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestReadListErrors(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
		want string
	}{
		{
			name: "entry too long",
			r:    strings.NewReader("10.0.0.1\n# c\n" + strings.Repeat("a", MaxEntry+1) + "\n"),
			want: "hosts.txt:3: entry longer than 1024 bytes",
		},
		{
			name: "read failure",
			r:    io.MultiReader(strings.NewReader("10.0.0.1\n10.0.0.2"), iotest.ErrReader(errors.New("disk gone"))),
			want: "read hosts.txt at line 2: disk gone",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadList(tt.r, "hosts.txt")
			if err == nil {
				t.Fatalf("no error; got %q", got)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	got := Args([]string{"10.0.0.1", "example.com"}, "argument")
	want := []Source{{"10.0.0.1", "argument 1"}, {"example.com", "argument 2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := Args(nil, "argument"); len(got) != 0 {
		t.Errorf("Args(nil) = %q", got)
	}
}

// TestListErrorsNameTheLine checks that a bad entry in a file is reported
// with its file and line, through Build, for targets and exclusions.
func TestListErrorsNameTheLine(t *testing.T) {
	hosts := writeFile(t, "hosts.txt", "# targets\n10.0.0.1\n\n10.0.0.2 10.0.0.300\n")
	excl := writeFile(t, "excludes.txt", "10.0.0.1\n\n\n10.0.5-3.1\n")
	ts, err := readFile(t, hosts, "hosts.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(context.Background(), Config{Targets: ts, Resolver: fakeResolver{}})
	want := `hosts.txt:4: bad target "10.0.0.300": octet 4 value 300 is over 255`
	if err == nil || err.Error() != want {
		t.Errorf("targets: error %v, want %s", err, want)
	}

	xs, err := readFile(t, excl, "excludes.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(context.Background(), Config{Targets: Args([]string{"10.0.0.0/24"}, "argument"), Exclude: xs, Resolver: fakeResolver{}})
	want = `excludes.txt:4: bad exclusion "10.0.5-3.1": octet 3 range 5-3 is reversed`
	if err == nil || err.Error() != want {
		t.Errorf("exclusions: error %v, want %s", err, want)
	}
}
