#!/usr/bin/env bash
# ndiff.sh: time Picket's ndiff against Nmap's ndiff on the same pair of
# Nmap XML files.
#
# Usage (from anywhere; it finds the repository root from its own path):
#
#   bash testdata/bench/ndiff.sh [--hosts N] [--ports N] [--big N] [RUNS]
#
# It installs Nmap's ndiff (Debian package ndiff) with apt-get if it is
# missing, builds Picket's ndiff, and writes two Nmap XML files of N hosts
# (default 100) with N open ports each (default 1000), as a nightly scan
# and the next one might be: every 100th port moved up by one and every
# 50th service upgraded. It then alternates RUNS (default 3) of
#
#   ndiff --format text OLD.xml NEW.xml          (Picket)
#   /usr/bin/ndiff OLD.xml NEW.xml               (Nmap's, Python)
#
# and prints each run's wall-clock time, CPU time and peak memory, the
# medians and the ratio. Both must exit 1 (differences found) and report
# changes on the same ports. Unless --big 0, it then
# times Picket alone on a pair of --big hosts × 1000 ports (default 1000:
# 1,000,000 ports): the first file turned into a baseline with --update,
# and the second compared with that baseline. Nothing here touches the
# network.

set -euo pipefail

die() {
	echo "ndiff.sh: $*" >&2
	exit 1
}

sum() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a + b }'; }

median() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) exit 1
			if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
			else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

hosts=100
ports=1000
big=1000
runs=3
while (($#)); do
	case $1 in
	--hosts) hosts=$2; shift 2 ;;
	--ports) ports=$2; shift 2 ;;
	--big) big=$2; shift 2 ;;
	-h | --help) sed -n '2,25p' "$0"; exit 0 ;;
	*) [[ $1 =~ ^[0-9]+$ ]] || die "bad argument $1"; runs=$1; shift ;;
	esac
done

cd "$(dirname "$0")/../.."
if [ ! -x /usr/bin/ndiff ]; then
	echo "ndiff.sh: installing ndiff with apt-get" >&2
	[ "$(id -u)" -eq 0 ] || die "need root to install Debian's ndiff"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq ndiff >/dev/null
fi
command -v python3 >/dev/null || die "python3 is needed to write the XML files"
[ -x /usr/bin/time ] || {
	[ "$(id -u)" -eq 0 ] || die "need /usr/bin/time (Debian package time)"
	apt-get install -y -qq time >/dev/null
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/ndiff" ./cmd/ndiff

# gen HOSTS PORTS OLD NEW writes the pair of Nmap XML files.
gen() {
	python3 - "$@" <<'PY'
import sys
hosts, ports, old, new = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def write(path, start, later):
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n')
        f.write('<nmaprun scanner="nmap" args="nmap -sV -p- 10.0.0.0/8" start="%d" startstr="x" version="7.93" xmloutputversion="1.05">\n' % start)
        f.write('<scaninfo type="syn" protocol="tcp" numservices="65535" services="1-65535"/>\n')
        for h in range(hosts):
            ip = "10.%d.%d.%d" % (h >> 16 & 255, h >> 8 & 255, h & 255)
            f.write('<host starttime="%d" endtime="%d"><status state="up" reason="echo-reply" reason_ttl="64"/>\n' % (start, start))
            f.write('<address addr="%s" addrtype="ipv4"/>\n<hostnames>\n</hostnames>\n<ports><extraports state="closed" count="%d"/>\n' % (ip, 65535 - ports))
            for p in range(ports):
                num = 1 + 2 * p
                ver = "1.22"
                if later and p % 100 == 99:
                    num += 1
                if later and p % 50 == 0:
                    ver = "1.24"
                f.write('<port protocol="tcp" portid="%d"><state state="open" reason="syn-ack" reason_ttl="64"/>'
                        '<service name="http" product="nginx" version="%s" method="probed" conf="10"/></port>\n' % (num, ver))
            f.write('</ports>\n</host>\n')
        f.write('<runstats><finished time="%d" timestr="x" elapsed="1" exit="success"/><hosts up="%d" down="0" total="%d"/></runstats>\n</nmaprun>\n' % (start + 60, hosts, hosts))
write(old, 1795000000, False)
write(new, 1795086400, True)
PY
}

# timed LABEL CMD... runs CMD with stdout to /dev/null, requires exit 1,
# and prints "seconds peak-KB user-seconds system-seconds".
timed() {
	local rc
	set +e
	/usr/bin/time -o "$work/time" -f '%e %M %U %S' "$@" >/dev/null 2>"$work/stderr"
	rc=$?
	set -e
	[ "$rc" -eq 1 ] || die "$* exited $rc, want 1 (differences found): $(tail -3 "$work/stderr")"
	tail -1 "$work/time"
}

echo "ndiff.sh: writing $hosts hosts x $ports open ports ($((hosts * ports)) ports per file)" >&2
gen "$hosts" "$ports" "$work/old.xml" "$work/new.xml"
ls -l "$work"/old.xml "$work"/new.xml | awk '{ printf "  %s %d MB\n", $NF, $5 / 1048576 }' >&2

ours=() theirs=()
printf '%-6s %-28s %9s %9s %9s\n' run tool seconds cpu-s peak-MB
for i in $(seq 1 "$runs"); do
	read -r s kb u y < <(timed "$work/ndiff" --format text "$work/old.xml" "$work/new.xml")
	ours+=("$s")
	printf '%-6s %-28s %9s %9.2f %9d\n' "$i" "picket ndiff --format text" "$s" "$(sum "$u" "$y")" $((kb / 1024))
	read -r s kb u y < <(timed /usr/bin/ndiff "$work/old.xml" "$work/new.xml")
	theirs+=("$s")
	printf '%-6s %-28s %9s %9.2f %9d\n' "$i" "nmap ndiff" "$s" "$(sum "$u" "$y")" $((kb / 1024))
done
mo=$(median "${ours[@]}")
mt=$(median "${theirs[@]}")
echo "median: picket ndiff ${mo}s, nmap ndiff ${mt}s"
awk -v o="$mo" -v t="$mt" 'BEGIN { if (o > 0) printf "picket ndiff was %.1fx faster on %s ports\n", t / o, ARGV[1] }' "$((hosts * ports))"

# Both must find the same ports changed: Nmap's as portdiff elements of
# its XML, Picket's as change events (a moved service names both ports).
set +e
/usr/bin/ndiff --xml "$work/old.xml" "$work/new.xml" >"$work/nmap.xml"
"$work/ndiff" --changes-only "$work/old.xml" "$work/new.xml" >"$work/picket.ndjson"
set -e
python3 - "$work/nmap.xml" "$work/picket.ndjson" <<'PY' || die "the two tools found different changes"
import json, sys, xml.etree.ElementTree as ET
theirs = set()
for hd in ET.parse(sys.argv[1]).getroot().iter("hostdiff"):
    addr = next(hd.iter("address")).get("addr")
    for pd in hd.iter("portdiff"):
        theirs.add((addr, int(next(pd.iter("port")).get("portid"))))
ours = set()
for line in open(sys.argv[2]):
    c = json.loads(line)
    ours.add((c["ip"], c["port"]))
    if c.get("from_port"):
        ours.add((c["ip"], c["from_port"]))
if ours != theirs:
    print("only nmap: %d, only picket: %d" % (len(theirs - ours), len(ours - theirs)), file=sys.stderr)
    sys.exit(1)
print("both found the same %d changed ports" % len(ours))
PY

if [ "$big" -gt 0 ]; then
	echo "ndiff.sh: writing $big hosts x 1000 open ports for Picket alone" >&2
	gen "$big" 1000 "$work/old.xml" "$work/new.xml"
	read -r s kb u y < <(timed "$work/ndiff" --changes-only --baseline "$work/state.ndjson" --update <"$work/old.xml")
	echo "baseline from $((big * 1000))-port Nmap XML (--update): ${s}s, cpu $(sum "$u" "$y")s, peak $((kb / 1024)) MB"
	read -r s kb u y < <(timed "$work/ndiff" --changes-only --baseline "$work/state.ndjson" <"$work/new.xml")
	echo "compare $((big * 1000))-port baseline with $((big * 1000))-port Nmap XML scan: ${s}s, cpu $(sum "$u" "$y")s, peak $((kb / 1024)) MB"
	read -r s kb u y < <(timed "$work/ndiff" --changes-only "$work/old.xml" "$work/new.xml")
	echo "ndiff OLD.xml NEW.xml at $((big * 1000)) ports: ${s}s, cpu $(sum "$u" "$y")s, peak $((kb / 1024)) MB"
fi
