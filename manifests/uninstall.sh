#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Removes what sluice left on one node after its DaemonSet is gone
# (`kubectl delete -f manifests/sluice.yaml` first, or the agent writes them
# again): the pinned datapath (which detaches the socket-level programs), the
# CNI conflist, the agent's routes to other nodes' pod CIDRs (routing protocol
# 0x53, so no other route is touched), the uplink program sl_from_net at tc
# ingress of the node's interfaces, the plugin binary and the agent's state.
# loopback and host-local stay in the CNI bin dir: other plugins use them.
# Pods wired by sluice keep their veths until they are deleted; drain the node
# or recreate them once the next network plugin is installed.
#
# usage (root, on each node): manifests/uninstall.sh [-n]
#   -n  print what would be removed, remove nothing
# The paths are the manifest's; a node configured otherwise sets
# SLUICE_PIN_DIR, SLUICE_CNI_CONF_DIR, SLUICE_CNI_BIN_DIR, SLUICE_STATE_DIR.

set -euo pipefail

PIN_DIR=${SLUICE_PIN_DIR:-/sys/fs/bpf/sluice}
CONF_DIR=${SLUICE_CNI_CONF_DIR:-/etc/cni/net.d}
BIN_DIR=${SLUICE_CNI_BIN_DIR:-/opt/cni/bin}
STATE_DIR=${SLUICE_STATE_DIR:-/var/lib/sluice}
ROUTE_PROTO=0x53
dry=

die() {
	echo "uninstall.sh: $*" >&2
	exit 1
}

# remove PATH...: rm -rf each that exists, one line each.
remove() {
	local p
	for p in "$@"; do
		[ -e "$p" ] || [ -L "$p" ] || continue
		echo "remove $p"
		[ -n "$dry" ] || rm -rf -- "$p"
	done
}

routes_remove() {
	local routes r
	routes=$(ip -4 route show proto "$ROUTE_PROTO")
	[ -n "$routes" ] || return 0
	while read -r r; do echo "remove route $r"; done <<<"$routes"
	[ -n "$dry" ] || ip -4 route flush proto "$ROUTE_PROTO"
}

# uplinks_detach: sl_from_net off every interface. `bpftool net show` lists
# clsact filters and tcx attachments alike, one "DEV(IFINDEX) KIND NAME..."
# line each; only the program of that name is removed.
uplinks_detach() {
	local dev kind name
	command -v bpftool >/dev/null || {
		echo "bpftool missing: detach sl_from_net by hand (tc filter del dev DEV ingress pref 1)" >&2
		return 0
	}
	bpftool net show | while read -r dev kind name _; do
		[ "${name%%:*}" = sl_from_net ] || continue
		dev=${dev%(*}
		echo "detach sl_from_net from $dev ($kind)"
		[ -n "$dry" ] && continue
		case $kind in
		tcx/*) bpftool net detach tcx_ingress dev "$dev" ;;
		*) tc filter del dev "$dev" ingress pref 1 ;;
		esac
	done
}

main() {
	case ${1:-} in
	-n) dry=1 ;;
	"") ;;
	*) die "usage: $0 [-n]" ;;
	esac
	[ -n "$dry" ] || [ "$(id -u)" = 0 ] || die "run as root"
	# A pin dir must be one: never rm -rf a mistyped path outside bpffs.
	if [ -e "$PIN_DIR" ] && [ "$(stat -f -c %T "$PIN_DIR")" != bpf_fs ]; then
		die "$PIN_DIR is not on a bpffs; refusing to remove it"
	fi
	uplinks_detach
	remove "$CONF_DIR/10-sluice.conflist" "$PIN_DIR" "$BIN_DIR/sluice" "$STATE_DIR"
	routes_remove
}

main "$@"
