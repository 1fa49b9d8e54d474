package scan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/scan"
)

// shardRun is what one run of a sharded scan reported.
type shardRun struct {
	ports map[string]string // "ip:port" -> state/reason
	hosts map[string]string // ip -> state of its host event
	start event.ScanStart
	dup   []string // ports and hosts reported twice within the run
	early []string // ports reported before their host's event
}

func scanShard(t *testing.T, o scan.Options) shardRun {
	t.Helper()
	var buf bytes.Buffer
	o.Out = event.NewWriter(&buf)
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	if _, err := scan.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	r := shardRun{ports: map[string]string{}, hosts: map[string]string{}}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var ev struct {
			Type, Phase, IP, State, Reason string
			Port                           uint16
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		switch {
		case ev.Type == "scan" && ev.Phase == "start":
			if err := json.Unmarshal([]byte(line), &r.start); err != nil {
				t.Fatal(err)
			}
		case ev.Type == "host":
			if _, ok := r.hosts[ev.IP]; ok {
				r.dup = append(r.dup, ev.IP)
			}
			r.hosts[ev.IP] = ev.State
		case ev.Type == "port":
			k := fmt.Sprintf("%s:%d", ev.IP, ev.Port)
			if _, ok := r.hosts[ev.IP]; !ok {
				r.early = append(r.early, k)
			}
			if _, ok := r.ports[k]; ok {
				r.dup = append(r.dup, k)
			}
			r.ports[k] = ev.State + "/" + ev.Reason
		}
	}
	return r
}

// TestShardsCoverTheScanOnce splits a scan of several hosts into N
// shards and checks that together they report exactly what one run
// reports, each port once, and that every shard records its shard and
// the shared seed. Host events are not split (README, Sharding): every
// shard writes the event of each host it found up, before its ports.
func TestShardsCoverTheScanOnce(t *testing.T) {
	labnet.Require(t)
	open := []uint16{labnet.Listen(t, "0.0.0.0:0").Port, labnet.Listen(t, "0.0.0.0:0").Port}
	drop := labnet.DropPort(t)
	spec := fmt.Sprintf("1-200,%d,%d,%d", open[0], open[1], drop)
	base := baseOptions(spec, "127.0.0.1-5")
	base.AllStates = true
	base.Seed = 12345
	whole := scanShard(t, base)
	if n := len(whole.ports); n != 5*203 {
		t.Fatalf("single run reported %d ports, want %d", n, 5*203)
	}
	if len(whole.hosts) != 5 {
		t.Fatalf("single run reported hosts %v, want 5 up", whole.hosts)
	}
	for _, n := range []int{2, 3, 7} {
		t.Run(fmt.Sprint(n, " shards"), func(t *testing.T) {
			union := map[string]string{}
			for i := 1; i <= n; i++ {
				o := base
				o.Shard, o.Shards = i, n
				r := scanShard(t, o)
				if len(r.dup) > 0 {
					t.Errorf("shard %d/%d reported %v twice", i, n, r.dup)
				}
				if len(r.early) > 0 {
					t.Errorf("shard %d/%d reported %v before their host", i, n, r.early)
				}
				if fmt.Sprint(r.hosts) != fmt.Sprint(whole.hosts) {
					t.Errorf("shard %d/%d host events %v, one run %v", i, n, r.hosts, whole.hosts)
				}
				if sh := r.start.Scope.Shard; sh == nil || sh.Index != i || sh.Count != n {
					t.Errorf("shard %d/%d: scope shard %+v", i, n, sh)
				}
				if r.start.Seed == nil || *r.start.Seed != 12345 {
					t.Errorf("shard %d/%d: seed %v, want 12345", i, n, r.start.Seed)
				}
				if len(r.ports) == 0 || len(r.ports) > 2*len(whole.ports)/n {
					t.Errorf("shard %d/%d covered %d of %d ports: not an even split", i, n, len(r.ports), len(whole.ports))
				}
				for k, v := range r.ports {
					if prev, ok := union[k]; ok {
						t.Errorf("%s reported by two shards (%s, %s)", k, prev, v)
					}
					union[k] = v
				}
			}
			if len(union) != len(whole.ports) {
				t.Errorf("shards together reported %d ports, one run %d", len(union), len(whole.ports))
			}
			for k, v := range whole.ports {
				if union[k] != v {
					t.Errorf("%s: shards say %q, one run %q", k, union[k], v)
				}
			}
		})
	}
}

func TestShardOptions(t *testing.T) {
	tests := []struct {
		name     string
		set      func(*scan.Options)
		wantErr  string
		wantSeed uint64
	}{
		{"a shard needs a seed", func(o *scan.Options) { o.Shard, o.Shards = 1, 4 }, "needs a seed", 0},
		{"shard out of range", func(o *scan.Options) { o.Shard, o.Shards, o.Seed = 5, 4, 1 }, "want I/N", 0},
		{"seed given", func(o *scan.Options) { o.Shard, o.Shards, o.Seed = 2, 4, 99 }, "", 99},
		{"seed from the key", func(o *scan.Options) { o.Shard, o.Shards, o.ShardKey = 2, 4, "nightly" }, "", 0},
		{"key and seed", func(o *scan.Options) { o.Shard, o.Shards, o.ShardKey, o.Seed = 2, 4, "k", 3 }, "cannot be used with a seed", 0},
		{"one shard of one needs no seed", func(o *scan.Options) { o.Shard, o.Shards = 1, 1 }, "", 0},
	}
	seeds := map[string]uint64{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions("80", "127.0.0.1")
			tc.set(&o)
			o.Out = event.NewWriter(&bytes.Buffer{})
			cfg, err := scan.Setup(context.Background(), o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantSeed != 0 && cfg.Seed != tc.wantSeed {
				t.Errorf("seed %d, want %d", cfg.Seed, tc.wantSeed)
			}
			if o.ShardKey != "" {
				seeds[o.ShardKey] = cfg.Seed
				if cfg.Seed == 0 || cfg.Seed >= 1<<53 {
					t.Errorf("seed from key %d, want 1 to 2^53", cfg.Seed)
				}
				again, _ := scan.Setup(context.Background(), o)
				if again.Seed != cfg.Seed {
					t.Errorf("the key gave seeds %d and %d", cfg.Seed, again.Seed)
				}
			}
		})
	}
}
