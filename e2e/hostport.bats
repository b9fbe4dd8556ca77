#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Pods' hostPorts served by the datapath (CNI portMappings capability) on two
# emulated nodes: pods wired by cnitool, the CNI project's own runtime, with
# CAP_ARGS, reached from a client outside the cluster, from pods and from the
# nodes' host network; hostIP and protocol honoured, conflicts refused and
# leaving nothing, a full sl_hport4 failing the ADD and leaving nothing, DEL
# removing exactly the pod's entries, replaced maps
# refilled by the agent from the state files. The test with an
# upstream twin (test/e2e/network/hostport.go) is named after it.

bats_require_minimum_version 1.5.0

load lib/services

setup_file() {
	CNITOOL=$("$SL_REPO/e2e/k8s/build.sh" cnitool | awk '{ print $2 }') || return 1
	echo "CNITOOL=$CNITOOL" >"$BATS_FILE_TMPDIR/env"
	cluster_file_up 2 || return 1
	# node 1: w (hostPort 18080 on every address); node 2: client pod c2.
	cluster_pods_add 1:c1 2:c2 || return 1
	{ on_node 1 hp_add w '[{"hostPort":18080,"containerPort":8080,"protocol":"tcp"}]' >/dev/null &&
		on_node 1 pod_serve w; } || cluster_abort || return 1
	EXT=$(cluster_external_add) || cluster_abort || return 1
	echo "EXT=$EXT" >>"$BATS_FILE_TMPDIR/env"
}

teardown_file() { cluster_down; }

teardown() { [ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag; }

setup() {
	# shellcheck disable=SC1091
	. "$BATS_FILE_TMPDIR/env"
	export CNITOOL
	N1=$(node_ip 1)
	N2=$(node_ip 2)
	C1=$(cluster_pod_ns 1 c1)
	C2=$(cluster_pod_ns 2 c2)
}

# cnitool_run CMD ID MAPPINGS: cnitool runs the node's conflist for pod ID
# (namespace pod_ns ID) with CAP_ARGS portMappings MAPPINGS, in the node's
# network namespace; its result cache (/var/lib/cni) is the scratch dir,
# bind-mounted in a mount namespace of its own, never the machine's.
cnitool_run() {
	local d=$SL_SCRATCH/cnitool
	mkdir -p "$d/net.d" "$d/varlib" && cp "$SL_CONFLIST" "$d/net.d/" || return 1
	# shellcheck disable=SC2016 # the inner sh's arguments
	unshare -m sh -c 'mount --bind "$1" /var/lib && shift && exec "$@"' _ "$d/varlib" \
		nsenter --net="/run/netns/$SL_NODE" env -i PATH="$PATH" CNI_PATH="$SL_CNI_PATH" \
		NETCONFPATH="$d/net.d" CAP_ARGS="{\"portMappings\":$3}" timeout 30 "$CNITOOL" \
		"$1" "$(jq -r .name "$SL_CONFLIST")" "/run/netns/$(pod_ns "$2")" 2>&1
}

# hp_add ID MAPPINGS: pod ID on the current node, wired by cnitool with
# MAPPINGS; prints cnitool's output. On failure the namespace goes again.
hp_add() {
	local ns out
	ns=$(pod_ns "$1")
	ip netns add "$ns" && ip -n "$ns" link set lo up || return 1
	out=$(cnitool_run add "$1" "$2") || {
		printf '%s\n' "$out"
		ip netns del "$ns"
		return 1
	}
	printf '%s\n' "$out" >"$SL_SCRATCH/pods/$1.json"
	printf '%s\n' "$out"
}

# hp_del ID MAPPINGS: cnitool DEL of pod ID, then its namespace goes.
hp_del() {
	cnitool_run del "$1" "$2" || return 1
	ns_pids_kill "$(pod_ns "$1")"
	ip netns del "$(pod_ns "$1")"
	rm -f "$SL_SCRATCH/pods/$1.json"
}

# hp_raw_add ID MAPPINGS: the sluice plugin alone, as a runtime calls it, with
# runtimeConfig.portMappings MAPPINGS; prints its answer. On failure the
# namespace goes again.
hp_raw_add() {
	local ns out rc=0
	ns=$(pod_ns "$1")
	ip netns add "$ns" || return 1
	out=$(cni_conf | jq -c --argjson m "$2" '. + {runtimeConfig: {portMappings: $m}}' |
		cni_raw ADD "$(pod_cid "$1")" "/run/netns/$ns" eth0) || rc=$?
	[ "$rc" -eq 0 ] || ip netns del "$ns"
	printf '%s\n' "$out"
	return "$rc"
}

# hport_keys: node's sl_hport4 keys as "ip:port/proto", sorted.
hport_keys() {
	bpftool -j map dump pinned "$SL_PIN/sl_hport4" | jq -r '
		def hex: ltrimstr("0x") | explode | reduce .[] as $c (0; . * 16 +
			(if $c >= 97 then $c - 87 elif $c >= 65 then $c - 55 else $c - 48 end));
		.[].key | map(hex) | "\(.[0]).\(.[1]).\(.[2]).\(.[3]):\(.[4] * 256 + .[5])/\(.[6])"' |
		sort
}

# says NS URL WANT: eventually (5 s) a request from NS answers WANT.
# shellcheck disable=SC2016 # $1..$3 are the inner sh's arguments
says() { wait_for 5 sh -c '[ "$(timeout 3 nsenter --net=/run/netns/$1 '"$SL_BUSYBOX"' wget -q -O - "$2")" = "$3" ]' _ "$1" "$2" "$3"; }
host_get() { on_node "$1" host_exec timeout 3 "$SL_BUSYBOX" wget -q -O - "$2"; }
# host_udp I IP PORT: a datagram from node I's host network, the answer printed.
host_udp() {
	on_node "$1" host_exec python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"q", (sys.argv[1], int(sys.argv[2])))
data, peer = s.recvfrom(2048)
print(data.decode(), "from %s:%d" % peer)
' "$2" "$3"
}

# --- tests -------------------------------------------------------------------------------

@test "(hostport) a pod's hostPort is reached from outside the cluster with the client's address kept" {
	says "$EXT" "http://$N1:18080/" w
	says "$EXT" "http://$N1:18080/cgi-bin/ip" "$SL_EXTERNAL_IP"
	# only on the node of the pod: node 2 has no such hostPort
	run ! nsenter --net="/run/netns/$EXT" timeout 3 "$SL_BUSYBOX" wget -q -O - "http://$N2:18080/"
}

@test "(hostport) a pod's hostPort is reached from pods on its node and on another node" {
	says "$C1" "http://$N1:18080/" w
	says "$C2" "http://$N1:18080/" w
	says "$C2" "http://$N1:18080/cgi-bin/ip" "$(cluster_pod_ip 2 c2)" # DNAT only
}

# explain I ARGS...: sluice-agent explain on node I, in its namespace.
explain() {
	cluster_use "$1" && nsenter --net="/run/netns/$SL_NODE" "$SL_BUILD/sluice-agent" explain "${@:2}" \
		--pin-dir "$SL_PIN" --cni-state-dir "$SL_STATE_DIR"
}

@test "(hostport) explain says a flow to a hostPort is DNATed to its pod, from a pod and from elsewhere" {
	local w
	w=$(cluster_pod_ip 1 w)
	run explain 1 "$(cluster_pod_ip 1 c1)" "$N1:18080/tcp" --json
	[ "$status" -eq 0 ]
	jq -e --arg w "$w:8080" '.deterministic and .outcomes[0].dst == $w and
		.outcomes[0].fate == "local" and .outcomes[0].result == "SL_PATH_HOSTPORT"' <<<"$output"
	# a client of another node or outside: sl_from_net on the uplink
	run explain 1 "$SL_EXTERNAL_IP" "$N1:18080/tcp" --json
	[ "$status" -eq 0 ]
	jq -e --arg w "$w:8080" '.outcomes[0].dst == $w and .outcomes[0].result == "SL_PATH_HOSTPORT"' <<<"$output"
	run explain 1 "$(cluster_pod_ip 1 c1)" "$N1:18080/tcp"
	[[ $output == *"is hostPort 18080/TCP on every node address of the pod $w:8080"* ]]
}

@test "(hostport) a pod's hostPort is reached from the node's host network, on its address and on localhost" {
	[ "$(host_get 1 "http://$N1:18080/")" = w ]
	[ "$(host_get 1 "http://127.0.0.1:18080/")" = w ]
	[ "$(host_get 2 "http://$N1:18080/")" = w ] # another node's host: over the fabric
}

@test "(hostport) validates that there is no conflict between pods with same hostPort but different hostIP and protocol" {
	local p=54323
	on_node 1 hp_add t1 "[{\"hostPort\":$p,\"containerPort\":8080,\"hostIP\":\"127.0.0.1\"}]"
	on_node 1 hp_add t2 "[{\"hostPort\":$p,\"containerPort\":8080,\"hostIP\":\"$N1\"}]"
	on_node 1 hp_add t3 "[{\"hostPort\":$p,\"containerPort\":5353,\"hostIP\":\"$N1\",\"protocol\":\"udp\"}]"
	on_node 1 pod_serve t1
	on_node 1 pod_serve t2
	on_node 1 udp_serve t3 5353
	[ "$(host_get 1 "http://127.0.0.1:$p/")" = t1 ]
	[ "$(host_get 1 "http://$N1:$p/")" = t2 ]
	run host_udp 1 "$N1" "$p"
	[ "$status" -eq 0 ]
	[[ $output == "t3 "*" from $N1:$p" ]] # the reply seems to come from the hostPort
	says "$EXT" "http://$N1:$p/" t2
	# hostIP honoured: nothing but t2 behind the node's address, t1 on loopback only
	run ! host_get 1 "http://127.0.0.2:$p/"
	for id in t1 t2 t3; do on_node 1 hp_del "$id" '[]'; done
}

@test "(hostport) a conflicting ADD is refused with a clear error and leaves nothing behind" {
	local before keys
	before=$(on_node 1 node_snapshot)
	keys=$(on_node 1 hport_keys)
	grep -qx '0.0.0.0:18080/6' <<<"$keys"
	# w holds 18080/tcp on every address: this hostIP overlaps it
	run on_node 1 hp_add x "[{\"hostPort\":9999,\"containerPort\":80},{\"hostPort\":18080,\"containerPort\":80,\"hostIP\":\"$N1\"}]"
	[ "$status" -ne 0 ]
	[[ $output == *"hostPort already in use"* ]]
	[[ $output == *"18080/tcp on $N1 overlaps 18080/tcp on 0.0.0.0 held by the pod at $(cluster_pod_ip 1 w)"* ]]
	[ "$(on_node 1 node_snapshot)" = "$before" ]
	[ "$(on_node 1 hport_keys)" = "$keys" ] # 9999, claimed first, is gone again
	says "$EXT" "http://$N1:18080/" w       # the holder is untouched
	# the plugin's own answer: CNI error code 101, on stdout as the spec wants
	run on_node 1 hp_raw_add x2 "[{\"hostPort\":18080,\"containerPort\":80,\"protocol\":\"TCP\"}]"
	[ "$status" -ne 0 ]
	[ "$(jq -r .code <<<"$output")" = 101 ]
	[ "$(jq -r .msg <<<"$output")" = "hostPort already in use" ]
	[ "$(on_node 1 node_snapshot)" = "$before" ]
}

@test "(hostport) a malformed mapping is refused with a clear error and leaves nothing behind" {
	local before keys
	before=$(on_node 1 node_snapshot)
	keys=$(on_node 1 hport_keys)
	run on_node 1 hp_raw_add y '[{"hostPort":70000,"containerPort":80}]'
	[ "$status" -ne 0 ]
	[ "$(jq -r .code <<<"$output")" = 7 ]
	[[ $(jq -r .details <<<"$output") == "runtimeConfig.portMappings[0]: hostPort must be an integer 1..65535" ]]
	run on_node 1 hp_add y '[{"hostPort":8080,"containerPort":80,"protocol":"icmp"}]'
	[ "$status" -ne 0 ]
	[ "$(on_node 1 node_snapshot)" = "$before" ]
	[ "$(on_node 1 hport_keys)" = "$keys" ]
}

@test "(hostport) DEL removes exactly the pod's hostPort entries" {
	local m='[{"hostPort":18081,"containerPort":8080},{"hostPort":18082,"containerPort":8080,"protocol":"sctp"}]'
	on_node 1 hp_add d "$m"
	on_node 1 pod_serve d
	says "$EXT" "http://$N1:18081/" d
	[ "$(on_node 1 hport_keys | grep -c '^0.0.0.0:1808[12]/')" = 2 ]
	# cnitool's DEL passes the same mappings; the state file says which are d's
	on_node 1 hp_del d "$m"
	[ "$(on_node 1 hport_keys | grep -c '^0.0.0.0:1808[12]/')" = 0 ]
	on_node 1 hport_keys | grep -qx '0.0.0.0:18080/6' # w's stays
	run ! nsenter --net="/run/netns/$EXT" timeout 3 "$SL_BUSYBOX" wget -q -O - "http://$N1:18081/"
	says "$EXT" "http://$N1:18080/" w
}

@test "(hostport) CHECK finds a pod's hostPort entry gone" {
	local m='[{"hostPort":18080,"containerPort":8080,"protocol":"tcp"}]' pin ip
	pin=/sys/fs/bpf/sluice-$SL_CLUSTER_RND-1/sl_hport4
	on_node 1 cnitool_run check w "$m"
	# 0.0.0.0:18080 (0x46a0) tcp, removed behind the plugin's back
	bpftool map delete pinned "$pin" key 0 0 0 0 0x46 0xa0 6 0
	run on_node 1 cnitool_run check w "$m"
	[ "$status" -ne 0 ]
	[[ $output == *"sl_hport4 entry for hostPort 18080/tcp on 0.0.0.0 missing"* ]]
	ip=$(cluster_pod_ip 1 w)
	# shellcheck disable=SC2086 # the address's four bytes
	bpftool map update pinned "$pin" key 0 0 0 0 0x46 0xa0 6 0 value ${ip//./ } 0x1f 0x90 0 0
	on_node 1 cnitool_run check w "$m"
	says "$EXT" "http://$N1:18080/" w
}

@test "(hostport) an agent that finds the hostPort maps replaced writes the pods' hostPorts back from the state files" {
	local m='[{"hostPort":18080,"containerPort":8080,"protocol":"tcp"}]'
	run on_node 1 agent_stop
	[ "$output" = 0 ]
	# What an ABI change does to the maps: the agent finds them gone and makes new ones.
	rm "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-1/sl_hport4" "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-1/sl_hpgate"
	on_node 1 agent_start
	says "$EXT" "http://$N1:18080/" w
	says "$C2" "http://$N1:18080/" w
	[ "$(host_get 1 "http://127.0.0.1:18080/")" = w ]
	[ "$(on_node 1 hport_keys)" = "0.0.0.0:18080/6" ]
	on_node 1 cnitool_run check w "$m"
	grep -q 'Restored 1 hostPort entries from the CNI state files (0 failed)' "$SL_CLUSTER_SCRATCH/n1/agent.log"
}

# hpgate_bits: node's sl_hpgate entries with a bit set, as "index:value".
hpgate_bits() {
	bpftool -j map dump pinned "$SL_PIN/sl_hpgate" |
		jq -r '.[] | select(any(.value[]; . != "0x00")) | "\(.key | join("")):\(.value | join(""))"'
}

@test "(hostport) an ADD that finds sl_hport4 full fails with an internal error and leaves nothing behind" {
	local before keys gate out
	run on_node 2 agent_stop
	[ "$output" = 0 ]
	# room for two mappings: f1 takes one, f2 gets its first and not its second
	SLUICE_TEST_MAP_MAX=sl_hport4=2 on_node 2 agent_start
	on_node 2 hp_add f1 '[{"hostPort":18091,"containerPort":8080}]'
	before=$(on_node 2 node_snapshot)
	keys=$(on_node 2 hport_keys)
	gate=$(on_node 2 hpgate_bits)
	[ "$keys" = "0.0.0.0:18091/6" ]
	[ -n "$gate" ] # 18091/tcp's bit
	run on_node 2 hp_raw_add f2 '[{"hostPort":18092,"containerPort":8080},{"hostPort":18093,"containerPort":8080,"protocol":"udp"}]'
	[ "$status" -ne 0 ]
	[ "$(jq -r .code <<<"$output")" = 999 ]
	[ "$(jq -r .msg <<<"$output")" = "Failed to set up the pod's hostPorts" ]
	[[ $(jq -r .details <<<"$output") == "write sl_hport4 entry for hostPort 18093/udp on 0.0.0.0: "* ]]
	# no veth, address, route, sl_ep4 entry or state file; 18092, claimed first, gone again
	[ "$(on_node 2 node_snapshot)" = "$before" ]
	[ "$(on_node 2 hport_keys)" = "$keys" ]
	[ "$(on_node 2 hpgate_bits)" = "$gate" ]
	# reported as a full sl_ep4 is: the plugin's log, and the map's size in /metrics
	grep -qF "ADD $(on_node 2 pod_cid f2)/eth0 failed (code 999): Failed to set up the pod's hostPorts: write sl_hport4 entry for hostPort 18093/udp" \
		"$SL_CLUSTER_SCRATCH/n2/cni.log"
	out=$(on_node 2 node_exec curl -sS --max-time 5 http://127.0.0.1:10249/metrics)
	grep -qx 'sluice_bpf_map_entries{map="sl_hport4"} 1' <<<"$out"
	grep -qx 'sluice_bpf_map_max_entries{map="sl_hport4"} 2' <<<"$out"
	on_node 2 hp_del f1 '[]'
}
