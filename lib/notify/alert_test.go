package notify

import (
	"testing"
)

func TestKeys(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`{"type":"change","scan_id":"01M8","kind":"port-opened","ip":"10.0.0.7","port":8080,"proto":"tcp"}`, "01M8/port-opened/10.0.0.7/8080/tcp"},
		{`{"type":"change","scan_id":"01M8","kind":"host-up","ip":"::1"}`, "01M8/host-up/::1/0/"},
		{`{"type":"change","scan_id":"01M8","kind":"policy-violation","ip":"10.0.0.7","port":23,"proto":"tcp","rule":"no telnet"}`, "01M8/policy-violation/10.0.0.7/23/tcp/no%20telnet"},
		{`{"type":"change","scan_id":"a/b\r\nX: y","kind":"k%","ip":"é"}`, "a%2Fb%0D%0AX:%20y/k%25/%C3%A9/0/"},
		{`{"type":"change","kind":"port-opened"}`, "sha256:a3f87776ba1e0507ecbc46c7b05471ba"},
	}
	for _, tc := range tests {
		if got := ChangeKey([]byte(tc.raw)); got != tc.want {
			t.Errorf("ChangeKey(%s) = %q, want %q", tc.raw, got, tc.want)
		}
	}
	if DigestKey("S1", "") != "S1/digest" || DigestKey("S1", `port==22`) == DigestKey("S1", `port==23`) {
		t.Error("digest keys")
	}
}
