package scan_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/scan"
)

// BenchmarkScanAllPorts scans every TCP port of 127.0.0.1 in the test's
// private namespace, with two listeners open: the whole engine (order,
// workers, connects, output) on the loopback path.
func BenchmarkScanAllPorts(b *testing.B) {
	labnet.Require(b)
	labnet.Listen(b, "127.0.0.1:0")
	labnet.Listen(b, "127.0.0.1:0")
	o := baseOptions("-", "127.0.0.1")
	o.Concurrency = 512
	o.Timeout = time.Second
	o.Out = event.NewWriter(io.Discard)
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
