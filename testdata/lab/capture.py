#!/usr/bin/env python3
"""capture.py — record what the lab's daemons answer to each probe.

Run inside the lab's namespace, after `services.sh up DIR`:

  ip netns exec "$(cat DIR/netns)" python3 testdata/lab/capture.py \
      lib/service/picket-service-probes DIR/truth.tsv OUTDIR

For every service in the truth file it sends the NULL probe (TCP) and every
probe of the file whose `ports` list names the service's port, and writes
each non-empty answer to OUTDIR/<name>__<Probe>.bin, byte for byte. These
recordings are the fixtures that lib/service's probe-file test matches the
patterns against. A developer tool: the tests do not run it.
"""
import re
import select
import socket
import sys
import time


def unescape(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode("latin-1")
            i += 1
            continue
        n = s[i + 1]
        if n == "x":
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
            continue
        out += {"0": b"\0", "r": b"\r", "n": b"\n", "t": b"\t", "a": b"\a",
                "b": b"\b", "f": b"\f", "v": b"\v"}.get(n, n.encode("latin-1"))
        i += 2
    return bytes(out)


def ports(spec):
    got = set()
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            got.update(range(int(a), int(b) + 1))
        elif part:
            got.add(int(part))
    return got


def probes(path):
    cur = None
    for line in open(path, encoding="latin-1"):
        line = line.rstrip("\n")
        m = re.match(r"^Probe (TCP|UDP) (\S+) q(.)(.*)$", line)
        if m:
            d = m.group(3)
            body = m.group(4)
            cur = {"proto": m.group(1).lower(), "name": m.group(2),
                   "payload": unescape(body[:body.index(d)]), "ports": set(), "wait": 5000}
            yield cur
        elif cur and line.startswith("ports "):
            cur["ports"] |= ports(line[6:])
        elif cur and line.startswith("sslports "):
            cur["ports"] |= ports(line[9:])
        elif cur and line.startswith("totalwaitms "):
            cur["wait"] = int(line.split()[1])


def exchange(ip, port, proto, payload, wait_ms):
    deadline = time.time() + wait_ms / 1000.0
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    s.settimeout(3)
    data = b""
    try:
        s.connect((ip, port))
        if payload:
            s.sendall(payload)
        idle = 1.5 if proto == "tcp" else 0.5
        last = time.time()
        while time.time() < deadline and len(data) < 65536:
            r, _, _ = select.select([s], [], [], 0.1)
            if r:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                last = time.time()
                if proto == "udp":
                    break
            elif data and time.time() - last > idle:
                break
    except OSError:
        pass
    finally:
        s.close()
    return data


def main():
    probe_file, truth, outdir = sys.argv[1:4]
    all_probes = list(probes(probe_file))
    for line in open(truth):
        f = line.rstrip("\n").split("\t")
        if f[0] == "ip":
            continue
        ip, port, proto, name = f[0], int(f[1]), f[2], f[8]
        for p in all_probes:
            if p["proto"] != proto:
                continue
            if p["name"] != "NULL" and port not in p["ports"]:
                continue
            data = exchange(ip, port, proto, p["payload"], p["wait"])
            if data:
                with open(f"{outdir}/{name}__{p['name']}.bin", "wb") as out:
                    out.write(data)
                print(f"{name} {p['name']}: {len(data)} bytes", file=sys.stderr)


main()
