// Command labd serves the listeners of the multi-host lab that
// testdata/lab/hosts.sh builds. One process serves every host: for each
// line of its spec it enters the host's network namespace on a locked
// thread only to open the sockets, which stay in that namespace, then
// serves them all from the root of the lab. TCP listeners accept and
// close at once; UDP sockets answer every datagram with a short reply.
//
// Spec lines: NETNS_PATH TCP_PORTS UDP_PORTS, ports comma-separated or
// "-". It prints "ready" once every socket is open.
//
// It lives under testdata so that ./... leaves it out.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: labd SPEC")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fail(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		if err := inside(fields[0], func() error { return open(fields[1], fields[2]) }); err != nil {
			fail(fmt.Errorf("%s: %w", fields[0], err))
		}
	}
	fmt.Println("ready")
	select {}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "labd:", err)
	os.Exit(1)
}

// inside runs fn on a thread in the network namespace at path. The
// thread is thrown away afterwards (not unlocked), so no goroutine ever
// runs in a namespace it did not expect.
func inside(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(ns)
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func ports(list string) []string {
	if list == "-" {
		return nil
	}
	return strings.Split(list, ",")
}

// open opens the host's sockets on every address (IPv4 and IPv6) and
// starts serving them.
func open(tcp, udp string) error {
	for _, p := range ports(tcp) {
		ln, err := net.Listen("tcp", ":"+p)
		if err != nil {
			return err
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	for _, p := range ports(udp) {
		pc, err := net.ListenPacket("udp", ":"+p)
		if err != nil {
			return err
		}
		go func() {
			buf := make([]byte, 2048)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo([]byte("lab\n"), from)
			}
		}()
	}
	return nil
}
