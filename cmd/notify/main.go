// Command notify is Picket's alerting stage. It reads events on stdin and
// delivers change events to Slack, Discord, Teams, webhooks, e-mail,
// syslog, commands and files, through a durable spool so that no alert is
// lost or sent twice.
package main

import "github.com/picketscan/picket/cmd/internal/app"

func main() { app.Main(command()) }
