// Command watch runs a command again when files change or on a schedule,
// and writes a "run" event for each run: Picket's own entr or watchexec,
// for keeping the pipeline current.
package main

import "github.com/picketscan/picket/cmd/internal/app"

func main() { app.Main(command()) }
