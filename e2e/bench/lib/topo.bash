# SPDX-License-Identifier: Apache-2.0
# The topology of `make bench` (e2e/bench/datapath.sh) and its suites.
#
# A sluice cluster of three nodes (e2e/lib/cluster.bash cluster_up): node 1 holds
# the client pod "c" and a server pod "s", node 2 a server pod "s", node 3 no
# pod (it is restarted from empty maps to time a whole programming). Pods are
# wired by the sluice CNI binary and its agent, unchanged.
#
# Beside it, "plain" nodes on the same fabric for the rows that need the
# node's netfilter on every pod packet (kube-proxy's rule shapes, TPROXY):
# pods wired by the real ptp CNI plugin with host-local IPAM, as a kube-proxy
# cluster with a simple CNI is. Plain node K is at 172.18.1.(10+K) with pod
# CIDR 10.245.K.0/24; node 0 holds only the cross-node server "s", nodes
# K >= 1 a client "c" and a server "s" each and belong to one row each, so the
# rules of two rows never meet in one netns. Every plain node routes every
# other plain node's pod CIDR.
#
# Every server runs nginx on :8080 (fixed body; /ip answers the client's
# address). Nothing lives in the machine's own network namespace.

# shellcheck shell=bash

BN_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=e2e/lib/services.bash
. "$BN_HERE/../../lib/services.bash"

export BN_CLUSTER_CIDR=10.245.0.0/16
BN_PORT=8080
BN_CONF_DIR=$BN_HERE/../conf

# --- names --------------------------------------------------------------------------

ptp_node_ns() { echo "sl-n-$SL_CLUSTER_RND-ptp$1"; }
ptp_node_ip() { echo "172.18.1.$((10 + $1))"; }
ptp_pod_cidr() { echo "10.245.$1.0/24"; }
ptp_pod_ns() { echo "sl-p-$SL_CLUSTER_RND-ptp$1-$2"; }
ptp_client_ns() { ptp_pod_ns "$1" c; }
ptp_pod_ip() { jq -r '.ips[0].address | split("/")[0]' "$SL_CLUSTER_SCRATCH/ptp$1/$2.json"; }
ptp_client_ip() { ptp_pod_ip "$1" c; }
ptp_server_ip() { ptp_pod_ip "$1" s; }
ptp_nodes() { cat "$SL_CLUSTER_SCRATCH/ptp-nodes" 2>/dev/null; }

# sluice_pod_ns I ID / sluice_pod_ip I ID: a pod of sluice node I.
sluice_pod_ns() { cluster_pod_ns "$1" "$2"; }
sluice_pod_ip() { cluster_pod_ip "$1" "$2"; }

# bn_http NS URL: one GET from NS (5 s bound), the body on stdout.
bn_http() { ns_exec "$1" curl -sS --max-time 5 "$2"; }

# wait_until SECONDS CMD...: wait_for bounded by the clock, not by a count of
# tries (CMD may take long itself, e.g. a status call under load).
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# --- servers ----------------------------------------------------------------------------

# BENCH_PIN=1 (default; 0: off): the client (wrk) on CPU 0, every backend
# (nginx) on CPU 1. Unpinned, the scheduler's placement of the two changes
# between rounds and moves a row's throughput by up to ±25 %.
# shellcheck disable=SC2034 # BN_CLIENT_PIN is lib/load.bash's
BN_CLIENT_PIN=() BN_SERVER_PIN=()
# shellcheck disable=SC2034
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
	BN_CLIENT_PIN=(taskset -c 0) BN_SERVER_PIN=(taskset -c 1)
fi

# bn_nginx NS DIR: the backend, nginx with one worker on :8080 in NS, its
# prefix (config, pid, logs) in DIR; waits until it listens.
bn_nginx() {
	local ns=$1 dir=$2
	mkdir -p "$dir/logs" || return 1
	sed "s|@PREFIX@|$dir|g; s|@PORT@|$BN_PORT|g" "$BN_CONF_DIR/nginx-backend.conf" >"$dir/nginx.conf" || return 1
	ns_exec "$ns" "${BN_SERVER_PIN[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" </dev/null >/dev/null 2>&1 ||
		sl_die "nginx did not start in $ns: $(tail -n 3 "$dir/logs/error.log" 2>/dev/null)" || return 1
	wait_for 5 ns_listening "$ns" "$BN_PORT" || sl_die "nginx in $ns does not listen on $BN_PORT"
}

# bn_nginx_stop DIR: ends the nginx whose prefix is DIR.
bn_nginx_stop() {
	[ -s "$1/nginx.pid" ] && kill -TERM "$(cat "$1/nginx.pid")" 2>/dev/null
	return 0
}

# bn_sysctls NS: what a load of short connections needs in a namespace that
# ends TCP connections: no TIME_WAIT sockets holding the ephemeral ports, and
# room in the accept queue.
bn_sysctls() {
	ns_exec "$1" sysctl -qw net.ipv4.tcp_max_tw_buckets=0 net.core.somaxconn=4096 \
		net.ipv4.ip_local_port_range="10000 60999" >/dev/null
}

# bn_node_sysctls NS: a node's conntrack forgets closed connections in 2 s, so
# rounds of short connections do not fill the machine-wide table.
bn_node_sysctls() {
	ns_exec "$1" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=2 \
		net.netfilter.nf_conntrack_tcp_timeout_close_wait=2 \
		net.netfilter.nf_conntrack_tcp_timeout_fin_wait=2 >/dev/null 2>&1
	return 0
}

# --- plain (ptp) nodes --------------------------------------------------------------------

# ptp_cni CMD K ID: the ptp plugin (host-local IPAM) for pod ID of plain node K,
# invoked as a runtime invokes it; ADD stores the result.
ptp_cni() {
	local cmd=$1 k=$2 id=$3 ns conf out
	ns=$(ptp_pod_ns "$k" "$id")
	conf=$(jq -cn --arg subnet "$(ptp_pod_cidr "$k")" --arg dir "$SL_CLUSTER_SCRATCH/ptp$k/ipam" '{
		cniVersion: "1.0.0", name: "bench-ptp", type: "ptp", ipMasq: false, mtu: 1500,
		ipam: {type: "host-local", subnet: $subnet, dataDir: $dir, routes: [{dst: "0.0.0.0/0"}]}}')
	out=$(ns_exec "$(ptp_node_ns "$k")" timeout 30 env -i PATH="$PATH" CNI_COMMAND="$cmd" \
		CNI_CONTAINERID="bench-$SL_CLUSTER_RND-$k-$id" CNI_NETNS="/run/netns/$ns" CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni /usr/lib/cni/ptp <<<"$conf" 2>&1) ||
		sl_die "ptp $cmd for pod $id of plain node $k failed: $out" || return 1
	[ "$cmd" != ADD ] || printf '%s\n' "$out" >"$SL_CLUSTER_SCRATCH/ptp$k/$id.json"
}

# ptp_pod_add K ID: a pod namespace on plain node K wired by ptp.
ptp_pod_add() {
	local ns
	ns=$(ptp_pod_ns "$1" "$2")
	ip netns add "$ns" && ip -n "$ns" link set lo up && ptp_cni ADD "$1" "$2" && bn_sysctls "$ns"
}

# ptp_node_add K: plain node K with its pods (K = 0: the cross-node server
# only), routed to and from every plain node added before.
ptp_node_add() {
	local k=$1 ns j
	ns=$(ptp_node_ns "$k")
	mkdir -p "$SL_CLUSTER_SCRATCH/ptp$k" || return 1
	ip netns add "$ns" || return 1
	fabric_attach "$ns" "$(ptp_node_ip "$k")" "q$k" || return 1
	ns_exec "$ns" sysctl -qw net.ipv4.ip_forward=1 || return 1
	bn_node_sysctls "$ns"
	for j in $(ptp_nodes); do
		ip -n "$ns" route add "$(ptp_pod_cidr "$j")" via "$(ptp_node_ip "$j")" &&
			ip -n "$(ptp_node_ns "$j")" route add "$(ptp_pod_cidr "$k")" via "$(ptp_node_ip "$k")" || return 1
	done
	echo "$k" >>"$SL_CLUSTER_SCRATCH/ptp-nodes"
	ptp_pod_add "$k" s && bn_nginx "$(ptp_pod_ns "$k" s)" "$SL_CLUSTER_SCRATCH/ptp$k/nginx-s" || return 1
	[ "$k" = 0 ] || ptp_pod_add "$k" c
}

# --- the whole topology ----------------------------------------------------------------------

# bench_plain_up SCRATCH K: the fabric and plain nodes 0..K alone, no sluice
# node (the kube-proxy and TPROXY suites). bench_topo_down tears it down.
bench_plain_up() {
	cluster_vars "${SL_CLUSTER_RND:-$(sl_rand_hex)}" "$1" 0
	sl_need_root || return 1
	mkdir -p "$SL_CLUSTER_SCRATCH" && fabric_setup || return 1
	bench_plain_nodes "$2"
}

# bench_plain_nodes K: plain nodes 0..K on the current fabric.
bench_plain_nodes() {
	local i
	: >"$SL_CLUSTER_SCRATCH/ptp-nodes"
	for ((i = 0; i <= $1; i++)); do
		ptp_node_add "$i" || return 1
	done
}

# bench_topo_up SCRATCH PLAIN: the sluice cluster with its pods and servers,
# and plain nodes 0..PLAIN. SL_AGENT_EXTRA_ARGS passes flags to every agent.
bench_topo_up() {
	local scratch=$1 plain=$2
	cluster_up 3 "$scratch" --bookmark-interval 3600 || return 1
	on_node 1 pod_add c >/dev/null || return 1
	on_node 1 pod_add s >/dev/null || return 1
	on_node 2 pod_add s >/dev/null || return 1
	bn_sysctls "$(sluice_pod_ns 1 c)" && bn_sysctls "$(sluice_pod_ns 1 s)" && bn_sysctls "$(sluice_pod_ns 2 s)" || return 1
	bn_nginx "$(sluice_pod_ns 1 s)" "$SL_CLUSTER_SCRATCH/nginx-1s" || return 1
	bn_nginx "$(sluice_pod_ns 2 s)" "$SL_CLUSTER_SCRATCH/nginx-2s" || return 1
	bench_plain_nodes "$plain"
}

# bench_topo_down: everything bench_topo_up made, also after a partial setup.
bench_topo_down() {
	local d
	[ -n "${SL_CLUSTER_SCRATCH:-}" ] || return 0
	for d in "$SL_CLUSTER_SCRATCH"/nginx-* "$SL_CLUSTER_SCRATCH"/ptp*/nginx-*; do
		[ -d "$d" ] && bn_nginx_stop "$d"
	done
	cluster_down
}
