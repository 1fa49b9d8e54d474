// Command probe is Picket's port scanner. It writes NDJSON scan, host and
// port events on stdout for the other stages to read.
package main

import "github.com/picketscan/picket/cmd/internal/app"

func main() { app.Main(command()) }
