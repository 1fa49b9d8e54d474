package ssh

import "testing"

func TestParseBanner(t *testing.T) {
	tests := []struct {
		in   string
		want Banner
		err  bool
	}{
		{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", Banner{"2.0", "OpenSSH_9.2p1", "Debian-2+deb12u3"}, false},
		{"SSH-1.99-Cisco-1.25\n", Banner{"1.99", "Cisco-1.25", ""}, false},
		{"Welcome\r\nSSH-2.0-dropbear_2022.83\r\n", Banner{"2.0", "dropbear_2022.83", ""}, false},
		{"SSH-2.0-\x01bad\xff\r\n", Banner{"2.0", "bad", ""}, false},
		{"SSH-2.0\r\n", Banner{}, true},
		{"HTTP/1.1 200 OK\r\n", Banner{}, true},
		{"", Banner{}, true},
	}
	for _, tt := range tests {
		got, err := ParseBanner([]byte(tt.in))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseBanner(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParseBanner(f *testing.F) {
	f.Add([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"))
	f.Add([]byte("x\nSSH-1.99-a b c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseBanner(b)
		if err != nil {
			return
		}
		for _, s := range []string{got.Proto, got.Software, got.Comment} {
			if len(s) > 255 {
				t.Fatalf("field of %d bytes", len(s))
			}
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] > 0x7e {
					t.Fatalf("unprintable byte in %q", s)
				}
			}
		}
	})
}
