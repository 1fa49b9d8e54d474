// Command listeners opens TCP listeners on 127.0.0.1 for the connect-scan
// benchmark in testdata/bench/connect.sh. It takes the ports as arguments,
// prints "ready" on stdout once every one of them is listening, then
// accepts and at once closes every connection until it is killed, so that
// repeated full-range scans never fill a listen backlog.
//
// It lives under testdata so that ./... leaves it out; build it with
// go build -o listeners ./testdata/bench/listeners.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: listeners PORT...")
		os.Exit(2)
	}
	var lns []net.Listener
	for _, arg := range os.Args[1:] {
		port, err := strconv.Atoi(arg)
		if err != nil || port < 1 || port > 65535 {
			fmt.Fprintf(os.Stderr, "listeners: bad port %q\n", arg)
			os.Exit(2)
		}
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", arg))
		if err != nil {
			fmt.Fprintf(os.Stderr, "listeners: %v\n", err)
			os.Exit(1)
		}
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		go serve(ln)
	}
	fmt.Println("ready")
	select {}
}

// serve accepts connections on ln and closes each one straight away.
func serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "listeners: accept %s: %v\n", ln.Addr(), err)
			os.Exit(1)
		}
		conn.Close()
	}
}
