package scan_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/methods"
)

// TestLabVersusNmap scans the lab's unkind hosts with probe's defaults
// and with Nmap's connect scan (nmap -sT -n -Pn, default timing), and
// logs how long each took and how many ports each got wrong. It is a
// comparison, not a check, and runs only when asked:
//
//	PICKET_LAB_NMAP=1 go test -run TestLabVersusNmap -v ./lib/scan
//
// (testdata/lab/versus-nmap.sh does that; PICKET_LAB_NMAP=probe scans
// with probe only).
func TestLabVersusNmap(t *testing.T) {
	if os.Getenv("PICKET_LAB_NMAP") == "" {
		t.Skip("set PICKET_LAB_NMAP=1 to compare with nmap -sT on the lab")
	}
	if _, err := exec.LookPath("nmap"); err != nil {
		t.Fatal("nmap not installed")
	}
	cases := unkindHosts()
	specs := make([]labnet.HostSpec, len(cases))
	for i, c := range cases {
		specs[i] = c.spec
	}
	hosts := labnet.Lab(t, specs...)
	// Wider port ranges than the lab tests check in CI, as a user's scan
	// of the top ports would have.
	wide := map[string]string{"clean": "1-1000", "icmp-reject": "2000-2099,2100",
		"syn-limit-50": "4000-4999", "loss-50": "3000-3999"}
	for i, c := range cases {
		addr := hosts[i].Addr.String()
		c.ports = wide[c.name]
		truth := func(port uint16) string {
			if w, ok := c.want[port]; ok {
				return w
			}
			return c.other
		}
		// probe, with its defaults.
		var buf bytes.Buffer
		cfg, err := scan.Setup(context.Background(), scan.Options{
			Targets: []string{addr}, Ports: c.ports, Methods: methods.List(), NoPing: true, NoDNS: true,
			AllStates: true, Concurrency: 512, Retries: 10, Timeout: time.Second,
			Resolver: fakeResolver{}, Out: event.NewWriter(&buf),
		})
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		if _, err := scan.Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		probeTook := time.Since(began)
		r := parse(t, buf.Bytes())
		probeWrong := 0
		for _, p := range r.ports {
			if p.State+"/"+p.Reason != truth(p.Port) {
				probeWrong++
			}
		}
		if os.Getenv("PICKET_LAB_NMAP") == "probe" {
			t.Logf("%-13s %s ports %-14s probe %8.1fs %3d wrong", c.name, addr, c.ports, probeTook.Seconds(), probeWrong)
			continue
		}
		// nmap, with its defaults.
		began = time.Now()
		out, err := exec.Command("nmap", "-sT", "-n", "-Pn", "-p", c.ports, addr, "-oX", "-").Output()
		if err != nil {
			t.Fatalf("nmap: %v", err)
		}
		nmapTook := time.Since(began)
		nmapWrong := nmapErrors(t, out, truth)
		t.Logf("%-13s %s ports %-14s probe %8.1fs %3d wrong | nmap -sT %8.1fs %3d wrong",
			c.name, addr, c.ports, probeTook.Seconds(), probeWrong, nmapTook.Seconds(), nmapWrong)
	}
}

// nmapErrors counts the ports whose state in Nmap's XML differs from the
// truth; ports Nmap folds into "extraports" are counted by state.
func nmapErrors(t *testing.T, out []byte, truth func(uint16) string) int {
	var run struct {
		Hosts []struct {
			Ports struct {
				Extra []struct {
					State string `xml:"state,attr"`
					Count int    `xml:"count,attr"`
				} `xml:"extraports"`
				Ports []struct {
					ID    uint16 `xml:"portid,attr"`
					State struct {
						State string `xml:"state,attr"`
					} `xml:"state"`
				} `xml:"port"`
			} `xml:"ports"`
		} `xml:"host"`
	}
	if err := xml.Unmarshal(out, &run); err != nil || len(run.Hosts) != 1 {
		t.Fatalf("nmap XML: %v", err)
	}
	wrong := 0
	for _, p := range run.Hosts[0].Ports.Ports {
		if want := truth(p.ID); want[:len(p.State.State)] != p.State.State || want[len(p.State.State)] != '/' {
			wrong++
		}
	}
	// Folded ports: the truth's majority state is "other"; every folded
	// port in another state is wrong.
	other := truth(0)
	for _, x := range run.Hosts[0].Ports.Extra {
		if x.State+"/" != other[:len(x.State)+1] {
			wrong += x.Count
		}
	}
	return wrong
}
