// Command fpevents turns the lab's truth file into the port events that
// fingerprint reads, or with -ports into Nmap's port list; the benchmark
// testdata/bench/fingerprint.sh runs it.
//
//	fpevents [-ports] TRUTH
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/picketscan/picket/internal/fplab"
)

func main() {
	ports := flag.Bool("ports", false, "print the ports in Nmap's syntax (T:…,U:…) instead of events")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fpevents [-ports] TRUTH")
		os.Exit(2)
	}
	truth, err := fplab.ReadTruth(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fpevents:", err)
		os.Exit(1)
	}
	if *ports {
		fmt.Println(fplab.PortSpec(truth))
		return
	}
	if err := fplab.WriteEvents(os.Stdout, truth); err != nil {
		fmt.Fprintln(os.Stderr, "fpevents:", err)
		os.Exit(1)
	}
}
