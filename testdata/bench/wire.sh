#!/usr/bin/env bash
# wire.sh: probe (syn and connect) side by side with Nmap's SYN and
# connect scans and masscan, on the same targets, checked against the
# known truth.
#
# Usage, as root, from anywhere in the repository:
#
#   bash testdata/bench/wire.sh [RUNS] [HOSTS]
#
# RUNS (default 3) runs per tool on W1 and W2, W3_RUNS on W3; HOSTS (default
# 64) lab hosts. Workloads:
#   W1-lo    one host, all 65535 TCP ports, loopback of a fresh network
#            namespace with 6 listeners (masscan cannot use loopback);
#   W1-veth  one lab host, all 65535 TCP ports, over veth and a bridge;
#   W2       HOSTS lab hosts x Nmap's top 1000 TCP ports;
#   W3       HOSTS lab hosts x 20 UDP ports, behind the kernel's ICMP rate
#            limit (probe --method udp, nmap -sU -T4, masscan U:).
# The lab is testdata/lab/hosts.sh: namespaces only, nothing is sent
# outside them. Every run's open ports (and for W3 every port not
# closed) are compared with the truth; the table gives the median wall
# time, user+system CPU seconds and peak RSS (GNU time), accuracy
# (found/true open, +false) and wall-time ratios to probe syn (or udp).
# It installs nmap, masscan and jq with apt-get if they are missing.
#
# Environment: WORKLOADS (default "W1-lo W1-veth W2 W3") runs only the
# workloads named, e.g. WORKLOADS=W3; TOOLS (default: all) only the
# tools named, e.g. TOOLS="probe-udp nmap-sU"; W3_RUNS (default 1) runs
# of W3 per tool. Before each W3 run the script waits 6 s, so that every
# tool starts with the hosts' ICMP error budgets full (they refill one
# error a second, up to six).
set -euo pipefail

die() { echo "wire.sh: $*" >&2; exit 1; }
readonly LO_PORTS=(22 80 443 8080 31337 50000)
readonly ALL_WORKLOADS="W1-lo W1-veth W2 W3"

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ensure_pkg() {
	command -v "$1" >/dev/null 2>&1 && return 0
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; } || die "apt-get install $2 failed"
}

# opens_of TOOL FILE prints "ip port state" of every port FILE reports
# that is not closed, sorted; TOOL is probe, nmap or masscan.
opens_of() {
	case $1 in
	probe) jq -r 'select(.type == "port" and .state != "closed") | "\(.ip) \(.port) \(.state)"' "$2" ;;
	nmap) awk '/^Host: .*Ports: / {
			ip = $2; sub(/.*Ports: /, ""); sub(/\t.*/, ""); n = split($0, ps, ", ")
			for (i = 1; i <= n; i++) { split(ps[i], f, "/"); if (f[2] != "closed") print ip, f[1], f[2] }
		}' "$2" ;;
	masscan) awk '$1 == "open" { print $4, $3, "open" }' "$2" ;;
	esac | sort -u
}

# accuracy TRUTH GOT: "exact", or found/true open and +false opens and
# other states wrong.
accuracy() {
	local truth=$1 got=$2
	if cmp -s "$truth" "$got"; then echo exact; return; fi
	local t f extra
	t=$(grep -c ' open$' "$truth" || true)
	f=$(comm -12 <(grep ' open$' "$truth") <(grep ' open$' "$got") | wc -l)
	extra=$(comm -13 <(grep ' open$' "$truth") <(grep ' open$' "$got") | wc -l)
	echo "$f/$t open,+$extra,$(comm -3 "$truth" "$got" | wc -l) diff"
}

# measure WORKLOAD TOOL TRUTH CMD... runs CMD under GNU time, keeps its
# output, and appends "workload tool wall cpu rss accuracy" to results.
measure() {
	local w=$1 tool=$2 truth=$3 i
	[[ " ${WORKLOADS:-$ALL_WORKLOADS} " == *" $w "* ]] || return 0
	[[ -z ${TOOLS:-} || " $TOOLS " == *" $tool "* ]] || return 0
	i=$((++runno))
	shift 3
	[[ $w != W3 ]] || sleep 6
	local out="$tmp/out.$i" tf="$tmp/time.$i" got="$tmp/got.$i"
	/usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$out" 2>"$tmp/err.$i" || {
		echo "$w $tool: exit $? ($(head -c 300 "$tmp/err.$i"))" >&2
		echo "$w $tool - - - failed" >>"$tmp/results"
		return 0
	}
	opens_of "${tool%%-*}" "$out" >"$got"
	if [[ $w != W3 ]]; then
		# TCP: the open ports are the truth compared (a dropped port is
		# filtered for every tool that reports it).
		grep ' open$' "$got" >"$got.open" || true
		mv "$got.open" "$got"
	fi
	if [[ $tool == masscan* ]]; then grep ' open$' "$truth" >"$tmp/truth.open.$i" || true; truth="$tmp/truth.open.$i"; fi
	read -r wall user sys rss <"$tf"
	printf '%s %s %s %.2f %d %s\n' "$w" "$tool" "$wall" "$(echo "$user + $sys" | bc)" "$rss" "$(accuracy "$truth" "$got")" >>"$tmp/results"
	printf '%-8s %-14s %7ss %s\n' "$w" "$tool" "$wall" "$(tail -n1 "$tmp/results" | cut -d' ' -f6-)" >&2
}

# W1 on loopback, inside a fresh namespace.
inner_lo() {
	tmp=$1 runs=$2 runno=100
	ip link set lo up
	"$tmp/listeners" "${LO_PORTS[@]}" >"$tmp/listeners.out" 2>/dev/null &
	lpid=$!
	local i
	trap 'kill "$lpid" 2>/dev/null || true' EXIT
	for ((i = 0; i < 50; i++)); do grep -qx ready "$tmp/listeners.out" && break; sleep 0.1; done
	printf '127.0.0.1 %s open\n' "${LO_PORTS[@]}" | sort -u >"$tmp/truth.lo"
	for ((i = 1; i <= runs; i++)); do
		measure W1-lo probe-syn "$tmp/truth.lo" "$tmp/probe" -n -Pn -q -p- --method syn 127.0.0.1
		measure W1-lo probe-connect "$tmp/truth.lo" "$tmp/probe" -n -Pn -q -p- --method connect 127.0.0.1
		measure W1-lo nmap-sS "$tmp/truth.lo" nmap -sS -T4 -n -Pn -p- 127.0.0.1 -oG -
		measure W1-lo nmap-sT "$tmp/truth.lo" nmap -sT -T4 -n -Pn -p- 127.0.0.1 -oG -
	done
}

main() {
	local runs=${1:-3} hosts=${2:-64} w3runs=${W3_RUNS:-1} w
	[[ $runs =~ ^[1-9][0-9]*$ && $hosts =~ ^[0-9]+$ ]] && ((hosts >= 1 && hosts <= 254)) || die "usage: wire.sh [RUNS] [HOSTS 1-254]"
	[[ $w3runs =~ ^[1-9][0-9]*$ ]] || die "W3_RUNS must be a positive number, got '$w3runs'"
	for w in ${WORKLOADS:-}; do
		[[ " $ALL_WORKLOADS " == *" $w "* ]] || die "unknown workload '$w' in WORKLOADS (known: $ALL_WORKLOADS)"
	done
	((EUID == 0)) || die "run as root"
	cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../.."
	ensure_pkg nmap nmap
	ensure_pkg masscan masscan
	ensure_pkg jq jq
	ensure_pkg bc bc
	[[ -x /usr/bin/time ]] || ensure_pkg /usr/bin/time time
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/picket-wire.XXXXXX")
	lab=$tmp/lab
	trap 'bash testdata/lab/hosts.sh down "$lab" 2>/dev/null || true; rm -rf "$tmp"' EXIT
	CGO_ENABLED=0 go build -o "$tmp/probe" ./cmd/probe
	go build -o "$tmp/listeners" ./testdata/bench/listeners
	: >"$tmp/results"
	echo "== machine: $(nproc) cpus, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $(nmap --version | head -n1); masscan $(masscan --version 2>/dev/null | grep -o 'version [0-9.]*')" >&2

	if [[ " ${WORKLOADS:-$ALL_WORKLOADS} " == *" W1-lo "* ]]; then
		unshare --net -- bash "$0" --inner-lo "$tmp" "$runs"
	fi

	bash testdata/lab/hosts.sh up "$lab" "$hosts"
	local x="bash testdata/lab/hosts.sh exec $lab" first=10.77.1.1 i
	awk -v ip=$first -F'\t' '$1 == ip && $2 == "tcp" && $4 == "open" { print $1, $3, $4 }' "$lab/truth.tsv" | sort -u >"$tmp/truth.w1"
	# W2's port list: Nmap's top 1000, as probe writes it in its scope.
	local top
	top=$($x "$tmp/probe" -n -Pn --top-ports 1000 --method syn -q "$first" | jq -r 'select(.phase == "start") | .scope.ports' | sed 's/^T://')
	printf '%s\n' "${top//,/ }" | tr ' ' '\n' | awk -F- 'NF == 2 { for (p = $1; p <= $2; p++) print p; next } { print }' >"$tmp/top"
	awk -F'\t' 'NR == FNR { top[$1] = 1; next } $2 == "tcp" && $4 == "open" && top[$3] { print $1, $3, $4 }' "$tmp/top" "$lab/truth.tsv" | sort -u >"$tmp/truth.w2"
	awk -F'\t' '$2 == "udp" { print $1, $3, $4 }' "$lab/truth.tsv" | sort -u >"$tmp/truth.w3"
	local udp router=10.77.0.254
	udp=$(cat "$lab/udp-ports")
	runno=200
	for ((i = 1; i <= runs; i++)); do
		measure W1-veth probe-syn "$tmp/truth.w1" $x "$tmp/probe" -n -Pn -q -p- --method syn $first
		measure W1-veth probe-connect "$tmp/truth.w1" $x "$tmp/probe" -n -Pn -q -p- --method connect $first
		measure W1-veth nmap-sS "$tmp/truth.w1" $x nmap -sS -T4 -n -Pn -p- $first -oG -
		measure W1-veth nmap-sT "$tmp/truth.w1" $x nmap -sT -T4 -n -Pn -p- $first -oG -
		measure W1-veth masscan "$tmp/truth.w1" $x masscan -p0-65535 $first --rate 200000 --wait 2 --interface eth0 --router-ip $router -oL /dev/stdout
		measure W2 probe-syn "$tmp/truth.w2" $x "$tmp/probe" -n -Pn -q --top-ports 1000 --method syn -iL "$lab/hosts.txt"
		measure W2 probe-connect "$tmp/truth.w2" $x "$tmp/probe" -n -Pn -q --top-ports 1000 --method connect -iL "$lab/hosts.txt"
		measure W2 nmap-sS "$tmp/truth.w2" $x nmap -sS -T4 -n -Pn --top-ports 1000 -iL "$lab/hosts.txt" -oG -
		measure W2 nmap-sT "$tmp/truth.w2" $x nmap -sT -T4 -n -Pn --top-ports 1000 -iL "$lab/hosts.txt" -oG -
		measure W2 masscan "$tmp/truth.w2" $x masscan -p"$(paste -sd, "$tmp/top")" -iL "$lab/hosts.txt" --rate 200000 --wait 2 --interface eth0 --router-ip $router -oL /dev/stdout
	done
	for ((i = 1; i <= w3runs; i++)); do
		measure W3 probe-udp "$tmp/truth.w3" $x "$tmp/probe" -n -Pn -q --all-states --method udp -p "$udp" -iL "$lab/hosts.txt"
		measure W3 nmap-sU "$tmp/truth.w3" $x nmap -sU -T4 -n -Pn -p "$udp" -iL "$lab/hosts.txt" -oG -
		measure W3 masscan "$tmp/truth.w3" $x masscan -pU:"$udp" -iL "$lab/hosts.txt" --rate 200000 --wait 3 --interface eth0 --router-ip $router -oL /dev/stdout
	done

	echo
	echo "| workload | tool | wall s (median) | CPU s | peak RSS MiB | accuracy (every run) | wall vs probe |"
	echo "|---|---|---|---|---|---|---|"
	local w t
	for w in W1-lo W1-veth W2 W3; do
		local base
		base=$(median $(awk -v w=$w '$1 == w && ($2 == "probe-syn" || $2 == "probe-udp") && $3 != "-" { print $3 }' "$tmp/results") 2>/dev/null || true)
		for t in probe-syn probe-udp probe-connect nmap-sS nmap-sT nmap-sU masscan; do
			grep -q "^$w $t " "$tmp/results" || continue
			local wall cpu rss acc
			wall=$(median $(awk -v w=$w -v t=$t '$1 == w && $2 == t && $3 != "-" { print $3 }' "$tmp/results") 2>/dev/null || echo -)
			cpu=$(median $(awk -v w=$w -v t=$t '$1 == w && $2 == t && $4 != "-" { print $4 }' "$tmp/results") 2>/dev/null || echo -)
			rss=$(awk -v w=$w -v t=$t '$1 == w && $2 == t && $5 != "-" && $5 > m { m = $5 } END { printf "%.0f", m / 1024 }' "$tmp/results")
			acc=$(awk -v w=$w -v t=$t '$1 == w && $2 == t { $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print }' "$tmp/results" | sort | uniq -c | awk '{ c = $1; $1 = ""; printf "%s%s x%d", (NR > 1 ? "; " : ""), substr($0, 2), c }')
			echo "| $w | $t | $wall | $cpu | $rss | $acc | $(awk -v b="$base" -v x="$wall" 'BEGIN { if (b > 0 && x > 0) printf "%.2fx", x / b; else print "-" }') |"
		done
	done
}

if [[ ${1:-} == --inner-lo ]]; then
	shift
	inner_lo "$@"
else
	main "$@"
fi
