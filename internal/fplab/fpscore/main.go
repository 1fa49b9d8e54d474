// Command fpscore scores fingerprint's and Nmap's answers for the lab's
// ports against the lab's truth and prints a Markdown table; the
// benchmark testdata/bench/fingerprint.sh runs it.
//
//	fpscore TRUTH LABEL=FILE=SECONDS...
//
// A FILE ending in .xml is Nmap's -oX output, anything else fingerprint's
// NDJSON. The first LABEL is the baseline the time ratio is taken against.
// With -v each port's answers are listed too.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/picketscan/picket/internal/fplab"
)

type run struct {
	label   string
	seconds float64
	got     map[string]fplab.Observed
}

func main() {
	verbose := flag.Bool("v", false, "list every port's answers")
	flag.Parse()
	if err := score(os.Stdout, *verbose, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "fpscore:", err)
		os.Exit(1)
	}
}

func score(w io.Writer, verbose bool, args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: fpscore [-v] TRUTH LABEL=FILE=SECONDS...")
	}
	truth, err := fplab.ReadTruth(args[0])
	if err != nil {
		return err
	}
	var runs []run
	for _, arg := range args[1:] {
		parts := strings.Split(arg, "=")
		if len(parts) != 3 {
			return fmt.Errorf("%q: want LABEL=FILE=SECONDS", arg)
		}
		secs, err := strconv.ParseFloat(parts[2], 64)
		if err != nil {
			return fmt.Errorf("%q: seconds: %w", arg, err)
		}
		f, err := os.Open(parts[1])
		if err != nil {
			return err
		}
		var got map[string]fplab.Observed
		if strings.HasSuffix(parts[1], ".xml") {
			got, err = fplab.ReadNmapXML(f)
		} else {
			got, err = fplab.ReadFingerprint(f)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", parts[1], err)
		}
		runs = append(runs, run{label: parts[0], seconds: secs, got: got})
	}
	if verbose {
		for _, s := range truth {
			fmt.Fprintf(w, "%-14s %-22s truth: %s %q %s\n", s.Name, s.Key(), strings.Join(s.Names, "|"), s.Product, s.Version)
			for _, r := range runs {
				o := r.got[s.Key()]
				v := fplab.Judge(s, o)
				fmt.Fprintf(w, "    %-28s %s%s%s %-12s %-30q %q\n", r.label, mark(v.Name), mark(v.Product), mark(v.Version), o.Name, o.Product, o.Version)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "| tool | correct names | correct products | correct versions | wrong versions | wall time | time vs %s |\n", runs[0].label)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range runs {
		sc := fplab.Tally(truth, r.got)
		fmt.Fprintf(w, "| %s | %d/%d | %d/%d | %d/%d | %d | %.2f s | %.2f× |\n", r.label,
			sc.Names, sc.Ports, sc.Products, sc.Ports, sc.Versions, sc.Ports, sc.WrongVersions, r.seconds, r.seconds/runs[0].seconds)
	}
	return nil
}

func mark(ok bool) string {
	if ok {
		return "+"
	}
	return "-"
}
