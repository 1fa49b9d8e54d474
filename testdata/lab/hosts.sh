#!/usr/bin/env bash
# hosts.sh: a lab of many hosts on one link, in network namespaces only,
# for probe's end-to-end tests and benchmarks (lib/scan/lab_e2e_test.go is
# the scan helper's lab of unkind single hosts; this one is wide).
#
# Usage, as root:
#
#   bash testdata/lab/hosts.sh up DIR N     build N hosts (1-254), write DIR/*
#   bash testdata/lab/hosts.sh down DIR     stop the listeners, delete it all
#   bash testdata/lab/hosts.sh exec DIR CMD...   run CMD in the scanner namespace
#
# What "up" builds, every part inside a network namespace of its own
# (named pkl-<id>-*, listed in DIR/namespaces; nothing is added to the
# root namespace):
#   - a bridge namespace holding the bridge br0 and one veth end per host;
#   - N host namespaces, host i at 10.77.1.i/16 and fd77::1:i/64, each with
#     TCP listeners and UDP responders (served by one labd process), and an
#     nft table that drops one TCP and one UDP port;
#   - a scanner namespace at 10.77.0.1/16 and fd77::1/64, whose only routes
#     are the lab's link: it reaches nothing else.
# The kernel's ICMP rate limit stays at its default (one port unreachable
# per second and host, after a burst), the classic trap of UDP scans.
#
# DIR gets: truth.tsv (ip, proto, port, state for every port the lab
# answers on or drops; every other port is closed), hosts.txt (the
# hosts' IPv4 addresses), udp-ports (the UDP benchmark's 20 ports),
# namespaces, labd.pid, scanner (the scanner namespace's name),
# router-mac (the MAC to give masscan as --router-mac).
set -euo pipefail

die() { echo "hosts.sh: $*" >&2; exit 1; }

# The truth: ports every host opens, one per host from a list, the
# dropped ports, and the UDP ports the benchmark scans.
readonly TCP_OPEN=(22 80 443 3306)
readonly TCP_EXTRA=(21 23 25 110 139 445 993 995 1723 3389 5900 8443 8080)
readonly TCP_DROP=8888
readonly UDP_OPEN=(53 123 161)
readonly UDP_EXTRA=(69 137 500 1900 5353)
readonly UDP_DROP=514
readonly UDP_PORTS="53,67,68,69,111,123,135,137,138,139,161,162,445,500,514,520,631,1434,1900,5353"

ns_exec() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

up() {
	local dir=$1 n=$2
	[[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 254)) || die "N must be 1 to 254, got '$n'"
	((EUID == 0)) || die "run as root (network namespaces, nft)"
	for c in ip nft go; do command -v "$c" >/dev/null || die "$c not found"; done
	mkdir -p "$dir"
	dir=$(realpath "$dir")
	[[ ! -e $dir/namespaces ]] || die "$dir already holds a lab; take it down first"
	local id=$$ root
	root=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../..")
	(cd "$root" && go build -o "$dir/labd" ./testdata/lab/labd) || die "build labd failed"

	local br=pkl-$id-br scan=pkl-$id-scan
	: >"$dir/namespaces"
	add_ns() { ip netns add "$1" && echo "$1" >>"$dir/namespaces"; ns_exec "$1" ip link set lo up; }
	add_ns "$br"
	ns_exec "$br" ip link add br0 type bridge
	ns_exec "$br" ip link set br0 up
	# For masscan only, which sends every packet to one router's MAC:
	# the bridge namespace routes (within the lab's link) packets sent
	# to br0's MAC on to the host they are for.
	ns_exec "$br" ip addr add 10.77.0.254/16 dev br0
	ns_exec "$br" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.br0.send_redirects=0
	ns_exec "$br" cat /sys/class/net/br0/address >"$dir/router-mac"
	# veth NAME_IN_NS NS: one end in NS as eth0, the other on the bridge.
	link() {
		local name=$1 ns=$2
		ns_exec "$br" ip link add "$name" type veth peer name eth0 netns "$ns"
		ns_exec "$br" ip link set "$name" master br0 up
		ns_exec "$ns" ip link set eth0 up
	}
	add_ns "$scan"
	link s0 "$scan"
	ns_exec "$scan" ip addr add 10.77.0.1/16 dev eth0
	ns_exec "$scan" ip addr add fd77::1/64 dev eth0 nodad
	echo "$scan" >"$dir/scanner"

	: >"$dir/truth.tsv"
	: >"$dir/hosts.txt"
	: >"$dir/spec"
	echo "$UDP_PORTS" >"$dir/udp-ports"
	local i ns ip tcp udp p
	for ((i = 1; i <= n; i++)); do
		ns=pkl-$id-h$i ip=10.77.1.$i
		add_ns "$ns"
		link "h$i" "$ns"
		ns_exec "$ns" ip addr add "$ip/16" dev eth0
		ns_exec "$ns" ip addr add "fd77::1:$i/64" dev eth0 nodad
		ns_exec "$ns" nft -f - <<-NFT
			table inet lab {
				chain in {
					type filter hook input priority 0;
					tcp dport $TCP_DROP drop
					udp dport $UDP_DROP drop
				}
			}
		NFT
		tcp=("${TCP_OPEN[@]}" "${TCP_EXTRA[i % ${#TCP_EXTRA[@]}]}")
		udp=("${UDP_OPEN[@]}" "${UDP_EXTRA[i % ${#UDP_EXTRA[@]}]}")
		echo "/run/netns/$ns $(IFS=,; echo "${tcp[*]}") $(IFS=,; echo "${udp[*]}")" >>"$dir/spec"
		echo "$ip" >>"$dir/hosts.txt"
		for p in "${tcp[@]}"; do printf '%s\ttcp\t%s\topen\n' "$ip" "$p"; done >>"$dir/truth.tsv"
		printf '%s\ttcp\t%s\tfiltered\n' "$ip" "$TCP_DROP" >>"$dir/truth.tsv"
		for p in "${udp[@]}"; do printf '%s\tudp\t%s\topen\n' "$ip" "$p"; done >>"$dir/truth.tsv"
		printf '%s\tudp\t%s\topen|filtered\n' "$ip" "$UDP_DROP" >>"$dir/truth.tsv"
	done
	"$dir/labd" "$dir/spec" >"$dir/labd.out" 2>"$dir/labd.err" &
	echo $! >"$dir/labd.pid"
	for ((i = 0; i < 100; i++)); do
		grep -qx ready "$dir/labd.out" 2>/dev/null && break
		kill -0 "$(cat "$dir/labd.pid")" 2>/dev/null || die "labd exited: $(cat "$dir/labd.err")"
		sleep 0.1
	done
	grep -qx ready "$dir/labd.out" || die "labd not ready after 10s"
	# Wait for the link: the scanner must reach the last host.
	for ((i = 0; i < 50; i++)); do
		ns_exec "$scan" timeout 1 bash -c "</dev/tcp/10.77.1.$n/22" 2>/dev/null && break
		sleep 0.1
	done
	echo "lab up: $n hosts, scanner namespace $scan" >&2
}

down() {
	local dir=$1
	[[ -f $dir/namespaces ]] || die "$dir holds no lab"
	if [[ -f $dir/labd.pid ]]; then
		kill "$(cat "$dir/labd.pid")" 2>/dev/null || true
		rm -f "$dir/labd.pid"
	fi
	local ns
	while read -r ns; do ip netns delete "$ns" 2>/dev/null || true; done <"$dir/namespaces"
	rm -f "$dir/namespaces"
}

case ${1:-} in
up) (($# == 3)) || die "usage: hosts.sh up DIR N"; up "$2" "$3" ;;
down) (($# == 2)) || die "usage: hosts.sh down DIR"; down "$2" ;;
exec)
	(($# >= 3)) || die "usage: hosts.sh exec DIR CMD..."
	dir=$2; shift 2
	exec ip netns exec "$(cat "$dir/scanner")" "$@"
	;;
*) die "usage: hosts.sh up DIR N | down DIR | exec DIR CMD..." ;;
esac
