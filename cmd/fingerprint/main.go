// Command fingerprint is Picket's service and version detection stage. It
// reads events on stdin, probes every open port, and writes each port line
// back with a "service" object (and a "tls" object for TLS services)
// added; every other line passes through unchanged.
package main

import "github.com/picketscan/picket/cmd/internal/app"

func main() { app.Main(command()) }
