# SPDX-License-Identifier: Apache-2.0
# The fault matrix's cluster and checks, shared by its two suites: e2e/faults.bats
# (make test) and e2e/reliability/faults-full.bats (make faults-full). Three
# nodes: node 1 has client c1 and server a1, node 2 server b1, node 3 (its
# sl_svc4 made tiny) client c3; Service web has a1 and b1 behind it.

# shellcheck shell=bash
# shellcheck source=e2e/lib/faults.bash
declare -F traffic_start >/dev/null || . "$(dirname "${BASH_SOURCE[0]}")/faults.bash"

setup_file() {
	cluster_file_up 3 || return 1
	export SL_FAULT_DIR=$BATS_FILE_TMPDIR
	# node 1: client c1, server a1; node 2: server b1; node 3 (tiny maps): client c3.
	cluster_pods_add 1:c1 1:a1 2:b1 || return 1
	{ on_node 1 tcp_serve a1 9090 && on_node 2 tcp_serve b1 9090; } || cluster_abort || return 1
	VIP=$(svc_apply web '[{"name":"http","port":80,"targetPort":9090}]') || cluster_abort || return 1
	eps_apply web '[{"name":"http","port":9090,"protocol":"TCP"}]' \
		"$(ep "$(cluster_pod_ip 1 a1)" 1)" "$(ep "$(cluster_pod_ip 2 b1)" 2)" || cluster_abort || return 1
	export VIP
	# Node 3's service map holds what it has now and 4 entries more.
	wait_secs 15 on_node 3 vip_in_map "$VIP" || cluster_abort || return 1
	TINY=$(($(on_node 3 map_count sl_svc4) + 4))
	export TINY
	on_node 3 agent_stop >/dev/null
	SLUICE_TEST_MAP_MAX=sl_svc4=$TINY on_node 3 agent_start || cluster_abort || return 1
	cluster_pods_add 3:c3 || return 1
	wait_secs 15 cluster_agents_ready && wait_secs 15 on_node 1 vip_in_map "$VIP" || cluster_abort || return 1
	wait_secs 15 on_node 3 vip_in_map "$VIP" || cluster_abort || return 1
	wait_secs 15 answers "$(cluster_pod_ns 1 c1)" && wait_secs 15 answers "$(cluster_pod_ns 3 c3)" ||
		cluster_abort || return 1
	leaks_baseline
}

teardown_file() {
	# faults-full.bats adds its rows to those of faults.bats (make faults-full)
	if [ -n "${SL_FAULTS_APPEND:-}" ] && [ -f "${SL_BUILD:-.}/faults-table.md" ]; then
		fault_table | tail -n +3 >>"${SL_BUILD:-.}/faults-table.md"
	else
		fault_table >"${SL_BUILD:-.}/faults-table.md" 2>/dev/null
	fi
	fault_table | sed 's/^/# /' >&3
	cluster_down
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag
	traffic_stop t >/dev/null 2>&1 || true
}

# C1, C3: the clients' namespaces, for the cases.
setup() {
	# shellcheck disable=SC2034
	C1=$(cluster_pod_ns 1 c1)
	# shellcheck disable=SC2034
	C3=$(cluster_pod_ns 3 c3)
}

# answers NS: one request from NS to web answers.
answers() { ns_exec "$1" timeout 5 "$SL_BUSYBOX" wget -q -O /dev/null "http://$VIP/"; }

# vip_hex A.B.C.D: the address as bpftool prints key bytes ("0x0a 0x60 ...").
vip_hex() {
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1
	printf '0x%02x 0x%02x 0x%02x 0x%02x' "$1" "$2" "$3" "$4"
}

# vip_in_map VIP: the current node's sl_svc4 has entries for VIP.
vip_in_map() {
	bpftool -j map dump pinned "$SL_PIN/sl_svc4" |
		jq -e --arg v "$(vip_hex "$1")" 'any(.[]; (.key[0:4] | join(" ")) == $v)' >/dev/null
}
vip_not_in_map() { ! vip_in_map "$1"; }

# svc_keys I: node I's Service frontends (VIP and port), sorted.
svc_keys() {
	bpftool -j map dump pinned "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-$1/sl_svc4" |
		jq -r '.[] | .key[0:6] | join(" ")' | sort -u
}
# maps_agree: node 1 publishes exactly the frontends node 2 does.
maps_agree() { [ "$(svc_keys 1)" = "$(svc_keys 2)" ]; }

# raw_services PREFIX N [IP_BASE]: N Services stored as given (no validation,
# no API faults), ClusterIPs IP_BASE.0.1..; a Service of one port each.
raw_services() {
	local f=$BATS_TEST_TMPDIR/raw.json
	jq -cn --arg p "$1" --argjson n "$2" --arg b "${3:-10.97}" '{objects: [range($n) | {
		apiVersion: "v1", kind: "Service",
		metadata: {name: "\($p)-\(.)", namespace: "default", labels: {"sluice-test": $p}},
		spec: {type: "ClusterIP", clusterIP: "\($b).\(. / 250 | floor).\(. % 250 + 1)",
			ports: [{name: "http", port: 80, targetPort: 9090, protocol: "TCP"}]}}]}' >"$f"
	apiserver_objects "$f" >/dev/null
}
raw_delete() { api_churn delete "$1" >/dev/null; }

lists_gt() { [ "$(apiserver_stats | jq .lists)" -gt "$1" ]; }

# full_count: node 3's count of sl_svc4 full failures.
full_count() { on_node 3 agent_status | jq '.services.mapFull.sl_svc4'; }
full_gt() { [ "$(full_count)" -gt "$1" ]; }

# vip_entries I VIP: node I's sl_svc4 entries of VIP, "key -> value" in hex.
vip_entries() { on_node "$1" svc_map_dump sl_svc4 | grep "^$(vip_hex "$2") "; }

# port_81_in_map I: node I publishes some frontend on port 81.
port_81_in_map() {
	bpftool -j map dump pinned "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-$1/sl_svc4" |
		jq -e 'any(.[]; .key[4:6] == ["0x00","0x51"])' >/dev/null
}
svc_count_is() { [ "$(on_node "$1" map_count sl_svc4)" = "$2" ]; }

# failed JSON: the failed requests of a traffic_stop.
failed() { jq -r .fail <<<"$1"; }
