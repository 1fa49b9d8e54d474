// Command ndiff compares a scan with a baseline (or two scans) and writes
// a change event for each difference: opened and closed ports, hosts up
// and down, changed and moved services, certificates changed or near
// expiry, and ports a policy does not allow.
package main

import "github.com/picketscan/picket/cmd/internal/app"

func main() { app.Main(command()) }
