# SPDX-License-Identifier: Apache-2.0
# An emulated cluster for the e2e suites, the demo and the benches: N nodes of
# e2e/lib/node.bash on one fabric, one agent each, talking to the API stand-in
# (e2e/lib/apiserver.bash). Everything a later teardown needs is derived from
# SL_CLUSTER_RND and SL_CLUSTER_SCRATCH (cluster_state_save records them).

# shellcheck shell=bash

SL_REPO=${SL_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=e2e/lib/node.bash
declare -F node_vars >/dev/null || . "$SL_REPO/e2e/lib/node.bash"

# --- N nodes, one agent each, and the API stand-in ---------------------------------------
#
# cluster_up N builds the fabric (bridge 172.18.0.1/16, where the stand-in
# listens), nodes sl-n-<rnd>-<i> at 172.18.0.<i+1>/16 with pod CIDR
# 10.244.<i>.0/24 (i = 1..N), creates their Node objects with kubectl, then
# starts one agent per node with the kubeconfig and no --pod-cidr. After
# cluster_use I every function of e2e/lib/node.bash (agent_start, agent_status,
# pod_add, pod_ip, pod_exec, node_exec, ...) acts on node I; on_node I CMD...
# does the same in a subshell.

# shellcheck source=e2e/lib/apiserver.bash
. "$SL_REPO/e2e/lib/apiserver.bash"

# cluster_vars RND SCRATCH N: the cluster's names; the fabric is sl-f-<rnd>.
cluster_vars() {
	export SL_CLUSTER_RND=$1 SL_CLUSTER_SCRATCH=$2 SL_CLUSTER_N=$3
	node_vars "$1" "$2"
	apiserver_vars "$SL_FABRIC" "$2"
}

cluster_state_save() {
	declare -p SL_CLUSTER_RND SL_CLUSTER_SCRATCH SL_CLUSTER_N SL_BUILD | sed 's/^declare /declare -g /' >"$1"
}

cluster_state_load() {
	# shellcheck disable=SC1090
	. "$1" && cluster_vars "$SL_CLUSTER_RND" "$SL_CLUSTER_SCRATCH" "$SL_CLUSTER_N"
}

# cluster_use I: node I's names and paths become the current node's.
cluster_use() {
	local i=$1
	[[ $i =~ ^[0-9]+$ ]] && [ "$i" -ge 1 ] && [ "$i" -le "${SL_CLUSTER_N:-0}" ] ||
		sl_die "no node $i in the cluster (1..${SL_CLUSTER_N:-0})" || return 1
	node_vars "$SL_CLUSTER_RND" "$SL_CLUSTER_SCRATCH/n$i"
	export SL_NODE_IDX=$i SL_NODE=sl-n-$SL_CLUSTER_RND-$i SL_NODE_IP=172.18.0.$((i + 1))
	export SL_POD_CIDR=10.244.$i.0/24 SL_PIN=/sys/fs/bpf/sluice-$SL_CLUSTER_RND-$i
	SL_CGROUP=$(cgroup2_root)/sluice-$SL_CLUSTER_RND-$i
	export SL_CGROUP
	export SL_AGENT_KUBECONFIG=$SL_CLUSTER_SCRATCH/kubeconfig
}

# on_node I CMD...: CMD with node I current, in a subshell.
on_node() { (cluster_use "$1" && "${@:2}"); }

node_name() { echo "sl-n-$SL_CLUSTER_RND-$1"; }
node_ip() { echo "172.18.0.$(($1 + 1))"; }
node_pod_cidr() { echo "10.244.$1.0/24"; }

# node_object I: node I's Node object as the API would hold it once the
# controller manager assigned its pod CIDR and the kubelet its addresses.
node_object() {
	jq -cn --arg n "$(node_name "$1")" --arg ip "$(node_ip "$1")" --arg cidr "$(node_pod_cidr "$1")" '{
		apiVersion: "v1", kind: "Node",
		metadata: {name: $n, labels: {"kubernetes.io/hostname": $n, "kubernetes.io/os": "linux"}},
		spec: {podCIDR: $cidr, podCIDRs: [$cidr]},
		status: {addresses: [{type: "InternalIP", address: $ip}, {type: "Hostname", address: $n}]}}'
}

# node_object_create I: kubectl create of node I's Node object.
node_object_create() { node_object "$1" | kube create -f - >/dev/null; }

# cluster_node_setup I: node I's namespace on the fabric, forwarding on, its dirs.
cluster_node_setup() {
	cluster_use "$1" || return 1
	mkdir -p "$SL_SCRATCH" "$SL_CONF_DIR" "$SL_STATE_DIR" "$SL_IPAM_DIR" \
		"$SL_CNI_CACHE/results" "$SL_SCRATCH/pods" "$SL_SCRATCH/pids" "$SL_CNI_BIN" || return 1
	ln -sf "$SL_BUILD/sluice" "$SL_CNI_BIN/sluice" &&
		ln -sf /usr/lib/cni/host-local "$SL_CNI_BIN/host-local" || return 1
	ip netns add "$SL_NODE" || return 1
	fabric_attach "$SL_NODE" "$SL_NODE_IP" "n$1" || return 1
	node_exec sysctl -qw net.ipv4.ip_forward=1
}

# cluster_up N [SCRATCH] [stand-in args...]: the whole cluster, every agent
# ready (conflist written). SL_CLUSTER_RND may be preset (e.g. by a state file).
cluster_up() {
	local n=$1 scratch=${2:-$(mktemp -d /tmp/sl-cluster.XXXXXX)} i
	shift 2 2>/dev/null || shift
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] ||
		sl_die "cluster_up: node count must be 1..200, got '$n'" || return 1
	cluster_vars "${SL_CLUSTER_RND:-$(sl_rand_hex)}" "$scratch" "$n"
	sl_need_root || return 1
	bpffs_ensure || return 1
	kubectl_ensure || return 1
	mkdir -p "$SL_CLUSTER_SCRATCH" || return 1
	fabric_setup || return 1
	apiserver_start "$SL_FABRIC" "$SL_CLUSTER_SCRATCH" "$@" || return 1
	for ((i = 1; i <= n; i++)); do
		(cluster_node_setup "$i") || return 1
		node_object_create "$i" || sl_die "could not create Node $(node_name "$i") with kubectl" || return 1
	done
	for ((i = 1; i <= n; i++)); do
		on_node "$i" agent_start || return 1
	done
}

# cluster_agents_ready: every agent has every resource synced.
cluster_agents_ready() {
	local i
	for ((i = 1; i <= SL_CLUSTER_N; i++)); do
		on_node "$i" agent_synced || return 1
	done
}

# agent_synced: the current node's agent reports every resource synced.
agent_synced() {
	agent_status 2>/dev/null | jq -e '(.resources | length) > 0 and all(.resources[]; .synced)' >/dev/null
}

# agent_kill: SIGKILL, as a crash would; waits for the exit to be recorded.
agent_kill() {
	local pid
	pid=$(agent_pid) && [ -n "$pid" ] || return 0
	kill -KILL "$pid" 2>/dev/null
	wait_for 5 test -e "$SL_SCRATCH/agent.rc"
	rm -f "$SL_SCRATCH/agent.pid"
}

# node_routes [I]: our routes (protocol 0x53) in node I (default: current),
# one "DST via GW" line each, sorted.
node_routes() {
	local ns=$SL_NODE
	[ -z "${1:-}" ] || ns=$(node_name "$1")
	ip -n "$ns" -4 route show proto 0x53 | awk '{ print $1, $2, $3 }' | sort
}

# routes_expected I [SKIP...]: the routes node I should have: every other
# node's pod CIDR via its IP, except the nodes listed in SKIP.
routes_expected() {
	local i=$1 j
	shift
	for ((j = 1; j <= SL_CLUSTER_N; j++)); do
		[ "$j" = "$i" ] && continue
		[[ " $* " == *" $j "* ]] && continue
		echo "$(node_pod_cidr "$j") via $(node_ip "$j")"
	done | sort
}

# routes_right I [SKIP...]: node I's routes are exactly routes_expected.
routes_right() { [ "$(node_routes "$1")" = "$(routes_expected "$@")" ]; }

# --- an outside client ---------------------------------------------------------------

SL_EXTERNAL_IP=172.18.0.250

# cluster_external_add: a client outside the cluster on the fabric, no node
# (namespace sl-e-<rnd>, 172.18.0.250/16), with routes to every node's pod
# CIDR via that node, as a router in front of the cluster would have, and
# as a router it takes no ICMP redirect (a node that forwards one of its
# packets on to another node would otherwise send it there directly:
# make bench's ns-routed row measured that shortcut); prints its namespace.
# Removed by cluster_down.
cluster_external_add() {
	local ns=sl-e-$SL_CLUSTER_RND i
	ip netns add "$ns" && fabric_attach "$ns" "$SL_EXTERNAL_IP" e1 || return 1
	nsenter --net="/run/netns/$ns" sysctl -qw net.ipv4.conf.all.accept_redirects=0 \
		net.ipv4.conf.eth0.accept_redirects=0 >/dev/null || return 1
	for ((i = 1; i <= SL_CLUSTER_N; i++)); do
		ip -n "$ns" route add "$(node_pod_cidr "$i")" via "$(node_ip "$i")" || return 1
	done
	echo "$ns"
}

# cluster_pod_add I ID: a pod on node I; prints its IP.
cluster_pod_add() { on_node "$1" pod_add "$2"; }
cluster_pod_ip() { on_node "$1" pod_ip "$2"; }
cluster_pod_ns() { on_node "$1" pod_ns "$2"; }

# cluster_diag: what to look at when a cluster test fails.
cluster_diag() {
	local i
	for ((i = 1; i <= ${SL_CLUSTER_N:-0}; i++)); do
		echo "=== node $i ($(node_name "$i"))" >&2
		{
			echo "--- routes (proto 0x53)"
			node_routes "$i"
			echo "--- agent status"
			on_node "$i" agent_status 2>&1 | jq -c '{ready, reason, api, resources, routes}' 2>&1
			echo "--- agent log (tail)"
			tail -n 15 "$SL_CLUSTER_SCRATCH/n$i/agent.log" "$SL_CLUSTER_SCRATCH/n$i/agent.out" 2>/dev/null
		} >&2
	done
	echo "=== stand-in stderr (tail)" >&2
	tail -n 10 "$SL_API_DIR/stderr" >&2 2>/dev/null
}

# cluster_abort: a suite's setup_file failed: the diagnosis, the cluster
# down; returns 1.
cluster_abort() {
	cluster_diag
	cluster_down
	return 1
}

# cluster_file_up N [stand-in args...]: a suite's setup_file cluster of N
# nodes in BATS_FILE_TMPDIR/c, its state saved for every test; aborted when
# it does not come up.
cluster_file_up() {
	local n=$1
	shift
	cluster_up "$n" "$BATS_FILE_TMPDIR/c" "$@" || cluster_abort || return 1
	cluster_state_save "$BATS_FILE_TMPDIR/cluster.state"
}

# cluster_pods_add I:ID...: the pods ID on nodes I; aborted when one fails.
cluster_pods_add() {
	local p
	for p in "$@"; do
		cluster_pod_add "${p%:*}" "${p#*:}" >/dev/null || cluster_abort || return 1
	done
}

# cluster_down: idempotent, safe after a partial cluster_up or from another
# process (after cluster_state_load): agents, stand-in, servers, namespaces,
# pins, scratch.
cluster_down() {
	[ -n "${SL_CLUSTER_RND:-}" ] || return 0
	local i f ns
	for ((i = 1; i <= ${SL_CLUSTER_N:-0}; i++)); do
		on_node "$i" agent_stop >/dev/null 2>&1
		for f in "$SL_CLUSTER_SCRATCH/n$i"/pids/*; do
			[ -e "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
		done
	done
	apiserver_stop >/dev/null 2>&1
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^sl-[pnxfe]-$SL_CLUSTER_RND(-|$)"); do
		ns_pids_kill "$ns"
		ip netns del "$ns" 2>/dev/null
	done
	case $SL_CLUSTER_RND in ?*) rm -rf /sys/fs/bpf/sluice-"$SL_CLUSTER_RND"-* ;; esac
	for ((i = 1; i <= ${SL_CLUSTER_N:-0}; i++)); do
		node_cgroup_remove "$(cgroup2_root)/sluice-$SL_CLUSTER_RND-$i"
	done
	case $SL_CLUSTER_SCRATCH in /?*/?*) rm -rf "$SL_CLUSTER_SCRATCH" ;; esac
	return 0
}
