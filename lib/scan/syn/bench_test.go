package syn_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/methods"
)

// BenchmarkSynAllPorts SYN-scans every TCP port of 127.0.0.1 in the
// test's private namespace, with two listeners open.
func BenchmarkSynAllPorts(b *testing.B) {
	labnet.Require(b)
	labnet.Listen(b, "127.0.0.1:0")
	labnet.Listen(b, "127.0.0.1:0")
	o := scan.Options{
		Targets: []string{"127.0.0.1"}, Ports: "-", NoPing: true, NoDNS: true,
		Method: "syn", Methods: methods.List(), Concurrency: 512, Retries: 2,
		Timeout: time.Second, Out: event.NewWriter(io.Discard),
	}
	for b.Loop() {
		cfg, err := scan.Setup(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		stats, err := scan.Run(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if stats.Open != 2 || stats.Errors != 0 {
			b.Fatalf("stats %+v, want 2 open and no errors", stats)
		}
	}
}
