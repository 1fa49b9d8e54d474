package nmapxml

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/picketscan/picket/lib/state"
)

// BenchmarkReadScan reads an Nmap XML document of 100 hosts × 1,000 open
// ports with service versions (about 17 MB).
func BenchmarkReadScan(b *testing.B) {
	var doc bytes.Buffer
	doc.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<!DOCTYPE nmaprun>\n" +
		`<nmaprun scanner="nmap" args="nmap -sV -p- 10.0.0.0/8" start="1795000000" version="7.93">` + "\n" +
		`<scaninfo type="syn" protocol="tcp" numservices="65535" services="1-65535"/>` + "\n")
	for h := range 100 {
		fmt.Fprintf(&doc, "<host><status state=\"up\" reason=\"echo-reply\"/>\n<address addr=\"10.0.0.%d\" addrtype=\"ipv4\"/>\n<ports>\n", h)
		for p := range 1000 {
			fmt.Fprintf(&doc, `<port protocol="tcp" portid="%d"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" product="nginx" version="1.22" method="probed" conf="10"/></port>`+"\n", 1+2*p)
		}
		doc.WriteString("</ports>\n</host>\n")
	}
	doc.WriteString(`<runstats><finished time="1795000060" exit="success"/></runstats></nmaprun>` + "\n")
	b.SetBytes(int64(doc.Len()))
	b.ReportAllocs()
	for b.Loop() {
		bl := state.NewBuilder()
		if _, err := ReadScan(bytes.NewReader(doc.Bytes()), "bench", bl); err != nil {
			b.Fatal(err)
		}
	}
}
