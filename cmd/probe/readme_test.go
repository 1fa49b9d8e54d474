package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readme returns README.md's text.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unquotedGlob reports whether a shell would expand a '*' or '?' in cmd:
// one outside single or double quotes.
func unquotedGlob(cmd string) bool {
	var quote rune
	for _, r := range cmd {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '*' || r == '?':
			return true
		}
	}
	return false
}

// TestReadmeAgreesWithProbe checks the README against the binary it
// describes: the same examples as the help, each safe to paste into a
// shell, a scan start example whose version is one a build prints and
// whose scope holds only fields probe writes, and an install line that
// works from a checkout.
func TestReadmeAgreesWithProbe(t *testing.T) {
	text := readme(t)
	help := command().Examples
	for _, ex := range help {
		if !strings.Contains(text, "\n"+ex+"\n") {
			t.Errorf("README lacks the help's example %q", ex)
		}
		if unquotedGlob(ex) {
			t.Errorf("example %q has a wildcard the shell would expand: quote it", ex)
		}
	}
	block := regexp.MustCompile("(?s)\nExamples:\n\n```\n(.*?)```").FindStringSubmatch(text)
	if block == nil {
		t.Fatal("README has no probe examples block")
	}
	for _, ex := range strings.Split(strings.TrimSpace(block[1]), "\n") {
		if !slices.Contains(help, ex) {
			t.Errorf("README example %q is not among the help's examples", ex)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "go install") && strings.Contains(line, "@latest") && !strings.Contains(line, "`") {
			t.Errorf("README tells to run %q, which cannot work until the module is published", line)
		}
	}

	start := regexp.MustCompile(`(?m)^\{"type":"scan".*"phase":"start".*\}$`).FindString(text)
	if start == "" {
		t.Fatal("README has no scan start example")
	}
	var ev struct {
		Tool  struct{ Version string }
		Scope map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(start), &ev); err != nil {
		t.Fatalf("scan start example: %v", err)
	}
	// What app.Version prints for a build from a checkout.
	if !regexp.MustCompile(`^devel(-[0-9a-f]{12}(-dirty)?)?$`).MatchString(ev.Tool.Version) {
		t.Errorf("scan start example shows version %q; builds from a checkout print devel-<12 hex digits>", ev.Tool.Version)
	}
	if _, ok := ev.Scope["shard"]; ok {
		t.Error("scan start example shows a shard, which probe writes only with --shard")
	}
	if !strings.Contains(text, "A split scan (`--shard`) adds `shard`") || strings.Contains(text, "`--shard`, not implemented yet") {
		t.Error("README does not say that a split scan's start has a shard in its scope")
	}
}
