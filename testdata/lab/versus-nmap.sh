#!/usr/bin/env bash
# versus-nmap.sh: scan the lab's unkind hosts (internal/labnet.Lab; see
# lib/scan/lab_test.go) with probe's defaults and with Nmap's connect scan
# (nmap -sT -n -Pn), and print how long each took and how many ports each
# got wrong against the lab's truth.
#
# Usage, as root, from anywhere in the repository:
#
#   bash testdata/lab/versus-nmap.sh
#
# The test runs inside a fresh network namespace (unshare --net) and
# builds every lab host in a namespace of its own; no packet leaves them.
# Nmap takes minutes on the rate-limited hosts.
set -euo pipefail
cd "$(dirname "$0")/../.."
((EUID == 0)) || { echo "versus-nmap.sh: run as root (network namespaces, nft)" >&2; exit 1; }
for c in nmap nft nsenter ip unshare go; do
	command -v "$c" >/dev/null 2>&1 || { echo "versus-nmap.sh: $c not found" >&2; exit 1; }
done
go test -c -o /tmp/picket-scan.test ./lib/scan
exec unshare --net -- sh -c 'ip link set lo up && PICKET_LAB_NMAP=1 /tmp/picket-scan.test -test.run "^TestLabVersusNmap$" -test.v -test.timeout 30m' |
	grep -E 'probe .* wrong|^(--- |ok|FAIL|PASS)'
