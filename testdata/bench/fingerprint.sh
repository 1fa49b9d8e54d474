#!/usr/bin/env bash
# fingerprint.sh — fingerprint against Nmap's -sV on a lab of real daemons.
#
#   bash testdata/bench/fingerprint.sh [-v]
#
# As root: brings up testdata/lab/services.sh (about 40 Debian daemons in a
# network namespace of their own, with the truth of what each is), then
# inside that namespace runs, on the same ports of 127.0.0.1:
#
#   nmap -sV -Pn -n -sT -sU -p T:…,U:… 127.0.0.1
#   fingerprint                                  (Picket's probe file alone)
#   fingerprint --nmap-probes /usr/share/nmap/nmap-service-probes
#
# scores each against the truth (service name, product, version), prints
# the counts, wall times and the time ratio against Nmap, and takes the lab
# down. -v lists every port's answers.
set -euo pipefail
cd "$(dirname "$0")/../.."

verbose=
[ "${1:-}" = -v ] && verbose=-v

if [ "$(id -u)" -ne 0 ]; then
	echo "fingerprint.sh: run as root (the lab needs a network namespace and daemons)" >&2
	exit 1
fi
command -v nmap >/dev/null || { echo "fingerprint.sh: nmap is not installed" >&2; exit 1; }
NMAP_PROBES=${NMAP_PROBES:-/usr/share/nmap/nmap-service-probes}
if [ -n "$(bash testdata/lab/services.sh missing)" ]; then
	bash testdata/lab/services.sh install
fi

work=$(mktemp -d /tmp/picket-fpbench-XXXXXX)
chmod 755 "$work"
cleanup() {
	bash testdata/lab/services.sh down "$work/lab" || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/fingerprint" ./cmd/fingerprint
go build -o "$work/fpscore" ./internal/fplab/fpscore
go build -o "$work/fpevents" ./internal/fplab/fpevents

bash testdata/lab/services.sh up "$work/lab"
ns=$(cat "$work/lab/netns")
truth=$work/lab/truth.tsv
"$work/fpevents" "$truth" >"$work/events.ndjson"
ports=$("$work/fpevents" -ports "$truth")

# now prints the time in seconds with nanoseconds.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

echo "== nmap -sV -Pn -n -sT -sU -p $ports 127.0.0.1" >&2
t0=$(now)
ip netns exec "$ns" nmap -sV -Pn -n -sT -sU -p "$ports" -oX "$work/nmap.xml" 127.0.0.1 >"$work/nmap.txt"
t_nmap=$(elapsed "$t0" "$(now)")

echo "== fingerprint (embedded probe file)" >&2
t0=$(now)
ip netns exec "$ns" "$work/fingerprint" "$work/events.ndjson" >"$work/fp.ndjson" 2>"$work/fp.err"
t_fp=$(elapsed "$t0" "$(now)")
cat "$work/fp.err" >&2

echo "== fingerprint --nmap-probes $NMAP_PROBES" >&2
t0=$(now)
ip netns exec "$ns" "$work/fingerprint" --nmap-probes "$NMAP_PROBES" "$work/events.ndjson" >"$work/fpn.ndjson" 2>"$work/fpn.err"
t_fpn=$(elapsed "$t0" "$(now)")
grep -v ' line [0-9]*:' "$work/fpn.err" >&2 || true

echo
echo "$(($(wc -l <"$truth") - 1)) ports, $(date -u +%F), $(nproc) cores, $(uname -sr), $(nmap --version | head -1 | cut -d' ' -f1-3), $(go env GOVERSION)"
echo
"$work/fpscore" $verbose "$truth" \
	"nmap -sV=$work/nmap.xml=$t_nmap" \
	"fingerprint=$work/fp.ndjson=$t_fp" \
	"fingerprint --nmap-probes=$work/fpn.ndjson=$t_fpn"
