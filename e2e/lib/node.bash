# SPDX-License-Identifier: Apache-2.0
# Emulated sluice nodes for the e2e suites, the demo and the benches: a fabric
# namespace with a bridge, node namespaces running sluice-agent, pods wired by
# the real CNI plugin invoked exactly like a runtime, an optional peer namespace.
# One node standalone (node_setup, agent from --pod-cidr); a cluster of N nodes
# is e2e/lib/cluster.bash, Services and EndpointSlices e2e/lib/services.bash.
# Nothing is created in the machine's own network namespace.
#
# Everything a later teardown needs is derived from SL_RND and SL_SCRATCH, so a
# caller can record those (node_state_save) and tear down from another process.
# Every wait is bounded.

# shellcheck shell=bash

SL_REPO=${SL_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SL_BUILD=${SLUICE_BUILD:-$SL_REPO/build}
SL_BUSYBOX=${SL_BUSYBOX:-/bin/busybox}
SL_POD_CIDR=${SL_POD_CIDR:-10.244.0.0/24}
# The sanitizers' options (make test's ASan+UBSan suites, run-suites.sh), kept
# through the clean environment a runtime gives the plugin: "${SL_SAN_ENV[@]}".
SL_SAN_ENV=()
[ -z "${ASAN_OPTIONS:-}" ] || SL_SAN_ENV+=("ASAN_OPTIONS=$ASAN_OPTIONS")
[ -z "${UBSAN_OPTIONS:-}" ] || SL_SAN_ENV+=("UBSAN_OPTIONS=$UBSAN_OPTIONS")
export SL_NODE_IP=172.18.0.2 SL_PEER_IP=172.18.0.3 SL_FABRIC_PREFIX=16
export SL_GATEWAY=169.254.1.1 SL_HTTP_PORT=8080

# --- small utilities -----------------------------------------------------------

sl_log() { printf '# %s\n' "$*" >&2; }

sl_die() {
	printf 'node.bash: %s\n' "$*" >&2
	return 1
}

# wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds; 1 on
# timeout. A status of 2 from CMD means "will never succeed": stop at once.
# Safe under errexit (bats tests): CMD's failures are tested, never fatal.
wait_for() {
	local secs=$1 i rc
	shift
	for ((i = 0; i < secs * 10; i++)); do
		rc=0
		"$@" >/dev/null 2>&1 || rc=$?
		[ "$rc" -eq 0 ] && return 0
		[ "$rc" -eq 2 ] && return 1
		sleep 0.1
	done
	"$@" >/dev/null 2>&1
}

sl_rand_hex() { od -An -N2 -tx1 /dev/urandom | tr -d ' \n'; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- names and state -----------------------------------------------------------

# node_vars RND SCRATCH: derives every name and path of one emulated node.
node_vars() {
	export SL_RND=$1 SL_SCRATCH=$2
	export SL_FABRIC=sl-f-$SL_RND SL_NODE=sl-n-$SL_RND SL_PEER=sl-x-$SL_RND
	export SL_PIN=/sys/fs/bpf/sluice-$SL_RND
	export SL_CONF_DIR=$SL_SCRATCH/net.d SL_STATE_DIR=$SL_SCRATCH/state
	export SL_IPAM_DIR=$SL_SCRATCH/ipam SL_CNI_CACHE=$SL_SCRATCH/cni-cache
	export SL_CONFLIST=$SL_SCRATCH/net.d/10-sluice.conflist
	# The node's CNI bin dir, as on a real node: the plugin and its IPAM side by side.
	export SL_CNI_BIN=$SL_SCRATCH/bin SL_CNI_PATH=$SL_SCRATCH/bin:/usr/lib/cni
	export SL_AGENT_LOG=$SL_SCRATCH/agent.log SL_CNI_LOG=$SL_SCRATCH/cni.log
	export SL_CNI_STDERR=$SL_SCRATCH/cni-stderr.log
	# The node's own cgroup v2: its agent attaches the socket-level load
	# balancer there (never to the machine's root cgroup), and host-network
	# clients (host_exec) run in it.
	SL_CGROUP=$(cgroup2_root)/sluice-$SL_RND
	export SL_CGROUP
	export SL_BUILD SL_POD_CIDR SL_REPO SL_BUSYBOX
}

# cgroup2_root: where cgroup v2 is mounted (/sys/fs/cgroup/unified on a hybrid host).
cgroup2_root() { awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts; }

# node_cgroup_remove [DIR]: ends the processes left in the node's cgroup, removes it.
node_cgroup_remove() {
	local cg=${1:-$SL_CGROUP} i
	case $cg in /*/sluice-?*) ;; *) return 0 ;; esac
	[ -d "$cg" ] || return 0
	for ((i = 0; i < 30; i++)); do
		[ -s "$cg/cgroup.procs" ] || break
		# shellcheck disable=SC2046
		kill -KILL $(cat "$cg/cgroup.procs") 2>/dev/null
		sleep 0.1
	done
	rmdir "$cg" 2>/dev/null
}

# host_exec CMD...: CMD as a host-network process of the current node: in the
# node's cgroup (joined first, so the socket programs see it) and its netns.
host_exec() {
	mkdir -p "$SL_CGROUP" || return 1
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec nsenter --net="/run/netns/$1" "${@:2}"' _ \
		"$SL_CGROUP" "$SL_NODE" "$@"
}

# The saved declarations are global (-g): loading happens inside a function.
node_state_save() { declare -p SL_RND SL_SCRATCH SL_BUILD SL_POD_CIDR | sed 's/^declare /declare -g /' >"$1"; }

node_state_load() {
	# shellcheck disable=SC1090
	. "$1" && node_vars "$SL_RND" "$SL_SCRATCH"
}

node_ns() { echo "$SL_NODE"; }
# In a cluster pod namespaces carry the node's index: sl-p-<rnd>-<i>-<id>.
pod_ns() { echo "sl-p-$SL_RND${SL_NODE_IDX:+-$SL_NODE_IDX}-$1"; }

# --- namespaces ------------------------------------------------------------------

ns_exec() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}
node_exec() { ns_exec "$SL_NODE" "$@"; }
peer_exec() { ns_exec "$SL_PEER" "$@"; }
pod_exec() {
	local ns
	ns=$(pod_ns "$1")
	shift
	ns_exec "$ns" "$@"
}

sl_need_root() {
	[ "$(id -u)" = 0 ] || sl_die "needs root" || return 1
	command -v jq >/dev/null || sl_die "jq is missing (make deps)" || return 1
	[ -x "$SL_BUSYBOX" ] || sl_die "$SL_BUSYBOX is missing (busybox-static)" || return 1
	for b in sluice sluice-agent; do
		[ -x "$SL_BUILD/$b" ] || sl_die "$SL_BUILD/$b is missing: run make (SLUICE_BUILD=$SL_BUILD)" || return 1
	done
}

bpffs_ensure() {
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
}

# fabric_setup: the shared L2 segment (a bridge in its own namespace).
fabric_setup() {
	ip netns add "$SL_FABRIC" &&
		ip -n "$SL_FABRIC" link set lo up &&
		ip -n "$SL_FABRIC" link add br0 type bridge &&
		ip -n "$SL_FABRIC" link set br0 up &&
		fabric_no_bridge_nf
}

# fabric_no_bridge_nf: the fabric forwards frames as a switch does, not
# through its namespace's netfilter hooks as well (br_netfilter's
# per-namespace default; a kernel without it has no such sysctl). Those
# hooks took 3-6 % of the machine's busy time in perf profiles of the
# north-south bench rows (more on the rows that cross the fabric more
# often), a cost no network between real machines has.
fabric_no_bridge_nf() {
	local k
	for k in iptables ip6tables arptables; do
		[ ! -e "/proc/sys/net/bridge/bridge-nf-call-$k" ] ||
			ns_exec "$SL_FABRIC" sysctl -qw "net.bridge.bridge-nf-call-$k=0" || return 1
	done
}

# fabric_attach NS IP PORT: a veth from the fabric bridge to NS's eth0.
fabric_attach() {
	local ns=$1 ip=$2 port=$3
	ip -n "$SL_FABRIC" link add "$port" type veth peer name eth0 netns "$ns" &&
		ip -n "$SL_FABRIC" link set "$port" master br0 up &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add "$ip/$SL_FABRIC_PREFIX" dev eth0 &&
		ip -n "$ns" link set eth0 up
}

# node_setup RND SCRATCH: fabric + node namespace (forwarding on) + dirs.
node_setup() {
	node_vars "$1" "$2"
	sl_need_root || return 1
	bpffs_ensure || return 1
	mkdir -p "$SL_SCRATCH" "$SL_CONF_DIR" "$SL_STATE_DIR" "$SL_IPAM_DIR" \
		"$SL_CNI_CACHE/results" "$SL_SCRATCH/pods" "$SL_SCRATCH/pids" "$SL_CNI_BIN" || return 1
	ln -sf "$SL_BUILD/sluice" "$SL_CNI_BIN/sluice" &&
		ln -sf /usr/lib/cni/host-local "$SL_CNI_BIN/host-local" || return 1
	fabric_setup || return 1
	ip netns add "$SL_NODE" || return 1
	fabric_attach "$SL_NODE" "$SL_NODE_IP" n1 || return 1
	node_exec sysctl -qw net.ipv4.ip_forward=1 || return 1
}

# peer_setup: a machine on the fabric routing the pod CIDR via the node.
peer_setup() {
	ip netns add "$SL_PEER" &&
		fabric_attach "$SL_PEER" "$SL_PEER_IP" x1 &&
		ip -n "$SL_PEER" route add "$SL_POD_CIDR" via "$SL_NODE_IP"
}

# --- the agent ---------------------------------------------------------------------

agent_pid() { cat "$SL_SCRATCH/agent.pid" 2>/dev/null; }

agent_running() {
	local pid
	pid=$(agent_pid) && [ -n "$pid" ] && [ ! -e "$SL_SCRATCH/agent.rc" ] && kill -0 "$pid" 2>/dev/null
}

# agent_start: starts sluice-agent in the node namespace (nsenter,
# so it pins into the machine's bpffs) and waits for it to write the conflist.
agent_start() {
	local pidfile=$SL_SCRATCH/agent.pid rcfile=$SL_SCRATCH/agent.rc
	rm -f "$pidfile" "$rcfile" "$SL_CONFLIST"
	# The subshell records the agent's exit status; bash execs nsenter, which
	# execs the agent, so the recorded pid is the agent's.
	# Standalone (--pod-cidr) unless the node belongs to a cluster, whose agents
	# take their pod CIDR from their Node object; never an API from the caller's
	# environment.
	local api=(--pod-cidr "$SL_POD_CIDR")
	[ -z "${SL_AGENT_KUBECONFIG:-}" ] || api=(--kubeconfig "$SL_AGENT_KUBECONFIG")
	# Always a cgroup of our own: the agent's default is the machine's root.
	local cgroup=${SL_AGENT_CGROUP:-$SL_CGROUP}
	# More flags for every agent, e.g. --sock-lb-pods (make bench).
	local extra wrap
	read -r -a extra <<<"${SL_AGENT_EXTRA_ARGS:-}"
	# A command the agent runs under, e.g. setpriv (e2e/hardening.bats).
	read -r -a wrap <<<"${SL_AGENT_WRAP:-}"
	[ -n "$cgroup" ] && [ "$cgroup" != "$(cgroup2_root)" ] || sl_die "no per-node cgroup (SL_CGROUP)" || return 1
	mkdir -p "$cgroup" || return 1
	# "if" keeps a caller's errexit (bats) from ending the subshell before it
	# records a non-zero status (e.g. 137 after SIGKILL).
	(
		# Every inherited descriptor above 2 closed (bash keeps copies of
		# redirected ones), so a caller's $(...) never waits on the agent.
		for f in /proc/"$BASHPID"/fd/*; do
			f=${f##*/}
			[ "$f" -gt 2 ] && eval "exec $f>&-"
		done 2>/dev/null
		if bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" \
			nsenter --net="/run/netns/$SL_NODE" \
			env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT \
			"${wrap[@]}" "$SL_BUILD/sluice-agent" run \
			--node-name "$SL_NODE" "${api[@]}" --pin-dir "$SL_PIN" \
			--cni-conf-dir "$SL_CONF_DIR" --cni-bin-dir "$SL_CNI_BIN" \
			--cni-state-dir "$SL_STATE_DIR" --ipam-data-dir "$SL_IPAM_DIR" \
			--cni-log-file "$SL_CNI_LOG" --log-file "$SL_AGENT_LOG" --log-level debug \
			--cgroup "$cgroup" "${extra[@]}" \
			>>"$SL_SCRATCH/agent.out" 2>&1; then
			echo 0 >"$rcfile"
		else
			echo $? >"$rcfile"
		fi
	) </dev/null >/dev/null 2>&1 3>&- &
	if ! wait_for 15 agent_started; then
		if [ -e "$rcfile" ]; then
			sl_die "agent exited with status $(cat "$rcfile") before writing $SL_CONFLIST:"
		else
			sl_die "agent did not write $SL_CONFLIST within 15 s:"
		fi
		tail -n 20 "$SL_SCRATCH/agent.out" "$SL_AGENT_LOG" >&2 2>/dev/null
		return 1
	fi
	wait_for 5 test -s "$pidfile" || return 1
	wait_for 10 agent_ready || sl_die "agent status is not ready: $(agent_status 2>&1 | head -c 500)"
}

# agent_started: the conflist is there; fails fast (status 2) once the agent exited.
agent_started() {
	[ -e "$SL_SCRATCH/agent.rc" ] && return 2
	test -s "$SL_CONFLIST"
}

agent_ready() { agent_status 2>/dev/null | jq -e '.ready == true' >/dev/null; }

# agent_stop: SIGTERM, bounded wait (then SIGKILL); prints the exit status.
agent_stop() {
	local pid rc
	pid=$(agent_pid) || return 0
	[ -n "$pid" ] || return 0
	if [ ! -e "$SL_SCRATCH/agent.rc" ]; then
		kill -TERM "$pid" 2>/dev/null
		if ! wait_for 10 test -e "$SL_SCRATCH/agent.rc"; then
			kill -KILL "$pid" 2>/dev/null
			wait_for 5 test -e "$SL_SCRATCH/agent.rc"
			echo 137
			rm -f "$SL_SCRATCH/agent.pid"
			return 0
		fi
	fi
	rc=$(cat "$SL_SCRATCH/agent.rc")
	rm -f "$SL_SCRATCH/agent.pid"
	echo "$rc"
}

agent_status() { "$SL_BUILD/sluice-agent" status --pin-dir "$SL_PIN" --cni-state-dir "$SL_STATE_DIR" --json; }

# metric NAME: packets counted for an SL_DROP_* / SL_PATH_* metric.
metric() {
	agent_status | jq -r --arg m "$1" '.metrics[$m].packets // 0'
}

# --- the CNI plugin, driven like a runtime (libcni) -------------------------------

cni_find_plugin() {
	local d
	local IFS=:
	for d in $SL_CNI_PATH; do
		[ -x "$d/$1" ] && echo "$d/$1" && return 0
	done
	return 1
}

cni_error() { jq -cn --argjson c "$1" --arg m "$2" '{cniVersion:"1.0.0", code:$c, msg:$m}'; }

# cni_plugin_run CMD CID NETNS IFNAME BIN: runs one plugin in the node namespace,
# stdin is its config; stdout is the plugin's; stderr goes to SL_CNI_STDERR.
cni_plugin_run() {
	ns_exec "$SL_NODE" timeout "${SL_CNI_TIMEOUT:-30}" env -i PATH="$PATH" "${SL_SAN_ENV[@]}" CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
		CNI_NETNS="$3" CNI_IFNAME="$4" CNI_PATH="$SL_CNI_PATH" "$5" 2>>"$SL_CNI_STDERR"
}

# cni_exec CMD CID NETNS IFNAME: executes the conflist ($SL_CONFLIST) as a
# runtime does: ADD runs the plugins in order chaining prevResult and caches
# the final result; DEL runs them in reverse with the cached result (if any);
# CHECK runs them in order with the cached result. Prints the plugin output
# (ADD: the result; failure: the error JSON) and returns the plugin's status.
cni_exec() {
	local cmd=$1 cid=$2 netns=$3 ifname=$4
	local list=$SL_CONFLIST name ver n cache prev=null order i plugin type bin in out rc
	[ -r "$list" ] || { cni_error 1 "no conflist $list"; return 1; }
	name=$(jq -r .name "$list") ver=$(jq -r .cniVersion "$list") n=$(jq '.plugins | length' "$list")
	cache=$SL_CNI_CACHE/results/$name-$cid-$ifname
	case $cmd in
	ADD) order=$(seq 0 $((n - 1))) ;;
	DEL)
		order=$(seq $((n - 1)) -1 0)
		[ -s "$cache" ] && prev=$(cat "$cache")
		;;
	CHECK)
		order=$(seq 0 $((n - 1)))
		[ -s "$cache" ] || { cni_error 3 "no cached result for $cid/$ifname"; return 1; }
		prev=$(cat "$cache")
		;;
	*) order=$(seq 0 $((n - 1))) ;;
	esac
	for i in $order; do
		plugin=$(jq -c ".plugins[$i]" "$list")
		type=$(jq -r .type <<<"$plugin")
		bin=$(cni_find_plugin "$type") || { cni_error 1 "failed to find plugin \"$type\" in path [$SL_CNI_PATH]"; return 1; }
		in=$(jq -c --arg v "$ver" --arg n "$name" --argjson p "$prev" \
			'. + {cniVersion: $v, name: $n} + (if $p == null then {} else {prevResult: $p} end)' <<<"$plugin")
		out=$(cni_plugin_run "$cmd" "$cid" "$netns" "$ifname" "$bin" <<<"$in")
		rc=$?
		if [ "$rc" -ne 0 ]; then
			printf '%s\n' "$out"
			return "$rc"
		fi
		[ "$cmd" = ADD ] && prev=$out
	done
	case $cmd in
	ADD)
		printf '%s\n' "$prev" >"$cache"
		printf '%s\n' "$prev"
		;;
	DEL) rm -f "$cache" ;;
	esac
	return 0
}

# cni_conf [VERSION]: the sluice plugin's own config as a runtime passes it
# (plugin object + cniVersion + name), optionally with another cniVersion.
cni_conf() {
	jq -c --arg v "${1:-}" '.plugins[0] + {cniVersion: (if $v == "" then .cniVersion else $v end), name: .name}' "$SL_CONFLIST"
}

# cni_raw CMD CID NETNS IFNAME < stdin: the sluice binary alone, stdin as given.
cni_raw() { cni_plugin_run "$1" "$2" "$3" "$4" "$SL_BUILD/sluice"; }

# --- pods ---------------------------------------------------------------------------

pod_result() { cat "$SL_SCRATCH/pods/$1.json"; }
pod_ip() { jq -r '.ips[0].address | split("/")[0]' "$SL_SCRATCH/pods/$1.json"; }
pod_cid() { echo "ctr-$SL_RND-$1"; }
# The host side of the pod's veth: the result's interface without a sandbox.
pod_host_veth() { jq -r '[.interfaces[] | select((.sandbox // "") == "")][0].name' "$SL_SCRATCH/pods/$1.json"; }

# pod_add ID: a namespace wired by CNI ADD; prints the pod IP.
pod_add() {
	local ns out
	ns=$(pod_ns "$1")
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up || return 1
	out=$(cni_exec ADD "$(pod_cid "$1")" "/run/netns/$ns" eth0) ||
		{ sl_die "CNI ADD for pod $1 failed: $out"; return 1; }
	printf '%s\n' "$out" >"$SL_SCRATCH/pods/$1.json"
	pod_ip "$1"
}

# pod_del ID: CNI DEL, then the namespace goes.
pod_del() {
	local ns out rc=0
	ns=$(pod_ns "$1")
	out=$(cni_exec DEL "$(pod_cid "$1")" "/run/netns/$ns" eth0) || { rc=1; sl_die "CNI DEL for pod $1 failed: $out"; }
	ns_pids_kill "$ns"
	ip netns del "$ns" 2>/dev/null
	rm -f "$SL_SCRATCH/pods/$1.json"
	return $rc
}

# --- servers and clients (busybox) --------------------------------------------------

# www_dir: a docroot with index.html and a CGI answering the client's address.
www_dir() {
	local d=$SL_SCRATCH/www
	if [ ! -x "$d/cgi-bin/ip" ]; then
		mkdir -p "$d/cgi-bin"
		echo "hello from sluice" >"$d/index.html"
		# httpd listens on an IPv6 socket: REMOTE_ADDR is "[::ffff:a.b.c.d]".
		cat >"$d/cgi-bin/ip" <<-'EOF'
			#!/bin/sh
			a=${REMOTE_ADDR#\[}
			a=${a%]}
			printf 'Content-Type: text/plain\r\n\r\n%s\n' "${a#::ffff:}"
		EOF
		chmod 755 "$d/cgi-bin/ip"
	fi
	echo "$d"
}

# ns_serve NS [PORT]: busybox httpd in NS (background), waits until it listens.
ns_serve() {
	local ns=$1 port=${2:-$SL_HTTP_PORT} dir
	dir=$(www_dir)
	# nsenter itself in the background (not a function) so $! is httpd's pid.
	nsenter --net="/run/netns/$ns" "$SL_BUSYBOX" httpd -f -p "$port" -h "$dir" \
		</dev/null >>"$SL_SCRATCH/httpd.log" 2>&1 3>&- &
	echo $! >"$SL_SCRATCH/pids/httpd-$ns-$port"
	wait_for 5 ns_listening "$ns" "$port" || sl_die "httpd in $ns did not listen on $port"
}

ns_listening() { ns_exec "$1" ss -Hltn "sport = :$2" | grep -q LISTEN; }

# http_get NS URL: busybox wget from NS, body on stdout. Bounded by timeout(1):
# Debian's busybox-static 1.35 wget crashes (SIGSEGV) when given -T.
http_get() { ns_exec "$1" timeout 5 "$SL_BUSYBOX" wget -q -O - "$2"; }

ns_ping() { ns_exec "$1" ping -c 1 -W 2 "${@:2}"; }

# ns_pids_kill NS: ends the processes we started inside NS (by pid).
ns_pids_kill() {
	local pids
	pids=$(ip netns pids "$1" 2>/dev/null) || return 0
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null
	wait_for 3 sh -c "! ip netns pids '$1' 2>/dev/null | grep -q ."
	pids=$(ip netns pids "$1" 2>/dev/null)
	# shellcheck disable=SC2086
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
	return 0
}

# --- inspection ------------------------------------------------------------------------

# ep_count: entries of the pinned endpoint map (read with bpftool, not the agent).
ep_count() { bpftool -j map dump pinned "$SL_PIN/sl_ep4" | jq length; }

# ep_has IP: the endpoint map has a key for IP.
ep_has() {
	# shellcheck disable=SC2086
	bpftool map lookup pinned "$SL_PIN/sl_ep4" key ${1//./ } >/dev/null 2>&1
}

# slot_count: valid anti-spoofing slots (sl_epsrc4), as the agent's status counts them.
slot_count() { agent_status | jq .endpointSlots; }

# slot_ip VETH: the address the sl_epsrc4 slot of the node's host veth VETH
# names, empty when the slot is empty or not valid (its ifindex not VETH's).
slot_ip() {
	local k
	k=$(ip -n "$SL_NODE" -o link show dev "$1" | cut -d: -f1) || return 1
	# shellcheck disable=SC2046
	bpftool -j map lookup pinned "$SL_PIN/sl_epsrc4" key $(printf '%d %d %d %d' \
		$((k & 255)) $((k >> 8 & 255)) $((k >> 16 & 255)) $((k >> 24 & 255))) |
		jq -r --argjson k "$k" '
			def byte: ltrimstr("0x") | explode |
				reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));
			[.value[] | byte] as $v |
			if ($v[0] + 256 * $v[1] + 65536 * $v[2] + 16777216 * $v[3]) == $k
			then "\($v[4]).\($v[5]).\($v[6]).\($v[7])" else "" end'
}

# host veths ("sl" + 12 hex) in the node namespace.
host_veths() { ip -n "$SL_NODE" -o link show | sed -n 's/^[0-9]*: \(sl[0-9a-f]\{12\}\)[@:].*/\1/p'; }
host_veth_count() { host_veths | grep -c . || true; }

# leases: host-local lease files (one per reserved IP) in the IPAM data dir.
leases() { find "$SL_IPAM_DIR" -type f -name '[0-9]*.[0-9]*.[0-9]*.[0-9]*' -printf '%f\n' 2>/dev/null; }
lease_count() { leases | grep -c . || true; }

# pod /32 routes in the node namespace.
pod_routes() { ip -n "$SL_NODE" -4 route show | awk -v p="${SL_POD_CIDR%.*}." 'index($1, p) == 1'; }
pod_route_count() { pod_routes | grep -c . || true; }

# per-attachment state files (<stateDir>/<net>/<cid>-<ifname>.json, and temp files)
# The plugin's attachment records (<stateDir>/<network>/); the agent's own
# agent-status.json sits beside them and is not one.
state_files() { find "$SL_STATE_DIR/sluice" -type f -name '*.json*' 2>/dev/null; }
state_file_count() { state_files | grep -c . || true; }

# node_snapshot: one line counting what pods leave on the node.
node_snapshot() {
	echo "veths=$(host_veth_count) routes=$(pod_route_count) leases=$(lease_count) eps=$(ep_count) slots=$(slot_count) states=$(state_file_count)"
}

# pod_gone IP VETH CID: nothing of one attachment is left; says what is.
pod_gone() {
	local ip=$1 veth=$2 cid=$3 left=""
	ip -n "$SL_NODE" link show dev "$veth" >/dev/null 2>&1 && left+=" host-veth:$veth"
	[ -n "$(ip -n "$SL_NODE" -4 route show "$ip/32" 2>/dev/null)" ] && left+=" route:$ip/32"
	leases | grep -qxF "$ip" && left+=" lease:$ip"
	ep_has "$ip" && left+=" sl_ep4:$ip"
	state_files | grep -qF -- "/$cid-" && left+=" state:$(state_files | grep -F -- "/$cid-")"
	[ -z "$left" ] && return 0
	echo "left behind:$left" >&2
	return 1
}

# node_setup_file: a one-node suite's setup_file: a fresh node in
# BATS_FILE_TMPDIR/n with its agent running.
node_setup_file() {
	node_setup "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/n" || return 1
	agent_start || return 1
}

# node_test_diag: a test's teardown: node_diag when the test failed.
node_test_diag() { [ -n "${BATS_TEST_COMPLETED:-}" ] || node_diag; }

# cni_exec_all CMD PREFIX N DIR: cni_exec CMD for the pods PREFIX1..PREFIXN
# (their namespaces made by the caller), all at once; pod i's output in
# DIR/cmd.i and its status in DIR/rc.cmd.i (cmd: CMD in lower case).
cni_exec_all() {
	local cmd=$1 pre=$2 n=$3 d=$4 c=${1,,} i
	for ((i = 1; i <= n; i++)); do
		(
			cni_exec "$cmd" "$(pod_cid "$pre$i")" "/run/netns/$(pod_ns "$pre$i")" eth0 >"$d/$c.$i" 2>&1
			echo $? >"$d/rc.$c.$i"
		) 3>&- &
	done
	wait
}

# node_diag: what to look at when a test fails.
node_diag() {
	{
		echo "--- agent status"
		agent_status 2>&1 | jq -c '{ready, reason, endpoints,
			counters: (.metrics | map_values(.packets) | with_entries(select(.value > 0)))}' 2>&1
		echo "--- agent log (tail)"
		tail -n 15 "$SL_AGENT_LOG" "$SL_SCRATCH/agent.out" 2>/dev/null
		echo "--- cni log (tail)"
		tail -n 15 "$SL_CNI_LOG" "$SL_CNI_STDERR" 2>/dev/null
	} >&2
}

# --- teardown (idempotent, safe after a partial setup) -----------------------------------

node_teardown() {
	[ -n "${SL_RND:-}" ] || return 0
	local ns f
	agent_stop >/dev/null 2>&1
	for f in "$SL_SCRATCH"/pids/*; do
		[ -e "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^sl-[pnxf]-$SL_RND(-|$)"); do
		ns_pids_kill "$ns"
		ip netns del "$ns" 2>/dev/null
	done
	case $SL_PIN in /sys/fs/bpf/sluice-?*) rm -rf "$SL_PIN" "$SL_PIN"-* ;; esac
	node_cgroup_remove "$SL_CGROUP"
	case $SL_SCRATCH in /?*/?*) rm -rf "$SL_SCRATCH" ;; esac
	return 0
}
