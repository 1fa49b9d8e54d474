#!/usr/bin/env bash
# connect.sh: time Picket's probe against Nmap's TCP connect scan.
#
# Usage (as root; it finds the repository root from its own path):
#
#   bash testdata/bench/connect.sh [--sweep LIST] [RUNS]
#
# It installs nmap and jq from Debian's packages if they are missing, builds
# probe and a small listener program, and then runs itself again inside a
# fresh network namespace (unshare --net) whose only interface is loopback.
# There it opens TCP listeners on a few ports of 127.0.0.1 and alternates
# RUNS (default 5) full-range scans of 127.0.0.1 by each tool:
#
#   probe -n -Pn -p- -q 127.0.0.1
#   nmap -sT -T4 -n -Pn -p- 127.0.0.1 -oG -
#
# Every run must find exactly the listeners' ports open, in both tools, or
# the script exits 1. It prints each run's wall-clock time, the median per
# tool and their ratio. --sweep 64,128,256,1024 also times one probe run at
# each --concurrency in LIST after the comparison.
#
# No packet leaves the namespace: everything that scans runs inside it and
# targets only 127.0.0.1.

set -euo pipefail

readonly PORTS=(22 80 443 8080 31337 50000)
readonly TARGET=127.0.0.1

die() {
	echo "connect.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: bash testdata/bench/connect.sh [--sweep N,N,...] [RUNS]" >&2
	exit 2
}

# median prints the median of the numbers given as arguments.
median() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) exit 1
			if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
			else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

# elapsed prints END - START in seconds, both from date +%s.%N.
elapsed() {
	awk -v s="$1" -v e="$2" 'BEGIN { printf "%.3f\n", e - s }'
}

# ensure_pkg installs the Debian package $2 unless command $1 exists.
ensure_pkg() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "connect.sh: installing $2 with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq "$2" >/dev/null 2>&1; then
		apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed"
		apt-get install -y -qq "$2" >/dev/null || die "apt-get install $2 failed"
	fi
	command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

# outer runs in the caller's namespace: it checks the machine, installs
# what is missing, builds the binaries (module downloads need the network)
# and starts the inner part in a new network namespace.
outer() {
	local runs=5 sweep=""
	while (($#)); do
		case $1 in
		--sweep) (($# >= 2)) || usage; sweep=$2; shift 2 ;;
		--sweep=*) sweep=${1#--sweep=}; shift ;;
		-h | --help) usage ;;
		-*) usage ;;
		*) runs=$1; shift ;;
		esac
	done
	[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$runs'"
	[[ -z $sweep || $sweep =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
		die "--sweep wants a comma-separated list of positive integers, got '$sweep'"

	((EUID == 0)) || die "run as root: it needs unshare --net (and apt-get if nmap or jq is missing)"
	local script
	script=$(realpath "${BASH_SOURCE[0]}")
	cd "$(dirname "$script")/../.." || die "cannot cd to the repository root"
	if ! grep -qs '^module github.com/picketscan/picket$' go.mod; then
		die "$(pwd) is not the picket repository root"
	fi
	local c
	for c in go unshare ip ss awk date; do
		command -v "$c" >/dev/null 2>&1 || die "$c not found"
	done
	ensure_pkg nmap nmap
	ensure_pkg jq jq

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/picket-bench.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "building probe and listeners in $tmp" >&2
	go build -o "$tmp/probe" ./cmd/probe || die "go build ./cmd/probe failed"
	go build -o "$tmp/listeners" ./testdata/bench/listeners || die "go build ./testdata/bench/listeners failed"

	local st=0
	unshare --net -- bash "$script" --inner "$tmp" "$runs" "$sweep" || st=$?
	return "$st"
}

# check_private aborts unless this namespace's only interface is loopback.
check_private() {
	local ifaces
	ifaces=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/net/dev | paste -sd, -)
	[[ $ifaces == lo ]] || die "namespace is not private: interfaces '$ifaces' (want only lo); refusing to scan"
}

# start_listeners opens the listeners, waits until they all show in ss and
# sets listeners_pid.
start_listeners() {
	"$tmp/listeners" "${PORTS[@]}" >"$tmp/listeners.out" 2>"$tmp/listeners.err" &
	listeners_pid=$!
	local i p missing
	for ((i = 0; i < 100; i++)); do
		kill -0 "$listeners_pid" 2>/dev/null ||
			die "listeners exited early: $(cat "$tmp/listeners.err")"
		if grep -qx ready "$tmp/listeners.out"; then
			missing=""
			for p in "${PORTS[@]}"; do
				ss -Hltn "sport = :$p" | grep -q "$TARGET:$p" || missing+=" $p"
			done
			[[ -z $missing ]] && return 0
		fi
		sleep 0.1
	done
	die "listeners not up after 10s (missing:${missing:-all})"
}

stop_listeners() {
	if [[ -n ${listeners_pid:-} ]]; then
		kill "$listeners_pid" 2>/dev/null || true
		wait "$listeners_pid" 2>/dev/null || true
	fi
}

# run_picket RUN_LABEL [FLAGS...] scans with probe, checks the result and
# sets last_time.
run_picket() {
	local label=$1 out="$tmp/picket.$1.ndjson" s e rc=0 got
	shift
	s=$(date +%s.%N)
	"$tmp/probe" -n -Pn -p- -q --method connect "$@" "$TARGET" >"$out" 2>"$tmp/picket.$label.err" || rc=$?
	e=$(date +%s.%N)
	((rc == 0)) || die "picket $label: probe exited $rc: $(head -c 500 "$tmp/picket.$label.err")"
	jq -e -s '[.[] | select(.type == "scan" and .phase == "end")]
		| length == 1 and .[0].complete == true
		and (.[0].stats | .open + .closed + .filtered) == 65535' \
		"$out" >/dev/null ||
		die "picket $label: scan end missing, incomplete or not 65535 ports: $(grep '"phase":"end"' "$out" || true)"
	got=$(jq -r 'select(.type == "port" and .state == "open") | .port' "$out" | sort -n | paste -sd, -)
	[[ $got == "$expected" ]] || die "picket $label: open ports '$got', want '$expected'"
	picket_stats=$(jq -r 'select(.type == "scan" and .phase == "end")
		| .stats | "\(.retries)/\(.filtered)/\(.errors)"' "$out")
	last_time=$(elapsed "$s" "$e")
}

# run_nmap RUN_LABEL scans with Nmap's connect scan, checks the result and
# sets last_time.
run_nmap() {
	local label=$1 out="$tmp/nmap.$1.gnmap" s e rc=0 got
	s=$(date +%s.%N)
	nmap -sT -T4 -n -Pn -p- "$TARGET" -oG - >"$out" 2>"$tmp/nmap.$label.err" || rc=$?
	e=$(date +%s.%N)
	((rc == 0)) || die "nmap $label: exited $rc: $(head -c 500 "$tmp/nmap.$label.err")"
	grep -q '^# Nmap done at .*(1 host up)' "$out" ||
		die "nmap $label: scan did not finish with the host up: $(tail -n 1 "$out")"
	got=$(grep "^Host: $TARGET .*Ports:" "$out" |
		sed 's/.*Ports: //; s/\t.*//' | tr ',' '\n' |
		awk -F/ '$2 == "open" { gsub(/ /, "", $1); print $1 }' | sort -n | paste -sd, -)
	[[ $got == "$expected" ]] || die "nmap $label: open ports '$got', want '$expected'"
	last_time=$(elapsed "$s" "$e")
}

# inner runs inside the new network namespace; outer starts it with
# --inner TMPDIR RUNS SWEEP, which is not meant to be typed by hand.
inner() {
	tmp=$1
	local runs=$2 sweep=$3
	check_private
	ip link set lo up || die "ip link set lo up failed"
	expected=$(printf '%s\n' "${PORTS[@]}" | sort -n | paste -sd, -)

	listeners_pid=""
	trap stop_listeners EXIT
	start_listeners

	echo "== machine"
	echo "cpus:    $(nproc)"
	echo "kernel:  $(uname -sr)"
	echo "nmap:    $(nmap --version | head -n 1)"
	echo "go:      $(go version)"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, before the runs)"
	echo "ports:   $expected open on $TARGET, in a private network namespace"
	echo "picket:  probe -n -Pn -p- -q --method connect $TARGET (defaults: --concurrency 512, --timeout 1s, --retries 10)"
	echo "nmap:    nmap -sT -T4 -n -Pn -p- $TARGET -oG -"
	echo

	local i tool stats
	local -a picket_times=() nmap_times=() order
	echo "== runs (wall-clock seconds; r/f/e: picket's retries/filtered/errors)"
	printf '%-4s %-14s %10s %10s   %s\n' run order picket nmap r/f/e
	for ((i = 1; i <= runs; i++)); do
		if ((i % 2)); then order=(picket nmap); else order=(nmap picket); fi
		for tool in "${order[@]}"; do
			"run_$tool" "run$i"
			if [[ $tool == picket ]]; then
				picket_times+=("$last_time")
				stats=$picket_stats
			else
				nmap_times+=("$last_time")
			fi
		done
		printf '%-4s %-14s %10s %10s   %s\n' "$i" "${order[0]},${order[1]}" \
			"${picket_times[i - 1]}" "${nmap_times[i - 1]}" "$stats"
	done

	local pm nm
	pm=$(median "${picket_times[@]}")
	nm=$(median "${nmap_times[@]}")
	printf '%-4s %-14s %10s %10s\n' med "" "$pm" "$nm"
	echo
	echo "both tools found exactly ports $expected open in all $runs runs"
	awk -v p="$pm" -v n="$nm" 'BEGIN {
		if (p <= 0 || n <= 0) { print "cannot compare: a median is zero"; exit }
		if (n >= p) printf "picket is %.2fx faster than nmap (median %.3fs vs %.3fs)\n", n / p, p, n
		else printf "picket is %.2fx slower than nmap (median %.3fs vs %.3fs)\n", p / n, p, n
	}'

	if [[ -n $sweep ]]; then
		local c
		echo
		printf '== probe --concurrency sweep (one run each, seconds)\n%-12s %10s   %s\n' concurrency picket r/f/e
		for c in ${sweep//,/ }; do
			run_picket "c$c" --concurrency "$c"
			printf '%-12s %10s   %s\n' "$c" "$last_time" "$picket_stats"
		done
	fi
}

if [[ ${1:-} == --inner ]]; then
	shift
	inner "$@"
else
	outer "$@"
fi
