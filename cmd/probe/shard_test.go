package main

import "testing"

func TestParseShard(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "JOB_COMPLETION_INDEX" {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		in, jci       string
		shard, shards int
		bad           bool
	}{
		{"", "", 0, 0, false},
		{"1/4", "", 1, 4, false},
		{"4/4", "", 4, 4, false},
		{"auto/4", "0", 1, 4, false},
		{"auto/4", "3", 4, 4, false},
		{"auto/4", "4", 0, 0, true},
		{"auto/4", "", 0, 0, true},
		{"auto/4", "x", 0, 0, true},
		{"0/4", "", 0, 0, true},
		{"5/4", "", 0, 0, true},
		{"1/0", "", 0, 0, true},
		{"1", "", 0, 0, true},
		{"a/b", "", 0, 0, true},
	}
	for _, tc := range tests {
		shard, shards, err := parseShard(tc.in, env(tc.jci))
		if (err != nil) != tc.bad || shard != tc.shard || shards != tc.shards {
			t.Errorf("parseShard(%q) with JOB_COMPLETION_INDEX=%q = %d, %d, %v", tc.in, tc.jci, shard, shards, err)
		}
	}
}
