#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The fault matrix: one case per thing that goes wrong on a node, each with
# traffic through a Service running, its failed requests counted, the time
# until the node converged and a leak check (veths, routes, leases, state
# files, node routes, endpoint/service/backend/reverse-NAT entries) against
# the baseline taken before the first case. The table goes to fd 3 and to
# $SL_BUILD/faults-table.md (README "Reliability"). FAULT_SECS (10) is how
# long an API fault lasts. make test runs a representative subset (about
# 80 s); FAULTS_FULL=1 (make faults-full) runs every case.

load lib/faults

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
	fault_table >"${SL_BUILD:-.}/faults-table.md" 2>/dev/null
	fault_table | sed 's/^/# /' >&3
	cluster_down
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag
	traffic_stop t >/dev/null 2>&1 || true
}

setup() {
	C1=$(cluster_pod_ns 1 c1)
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

# full_only: a case that make test leaves to make faults-full, for time.
full_only() { [ -n "${FAULTS_FULL:-}" ] || skip "make faults-full runs it (FAULTS_FULL=1)"; }

# failed JSON: the failed requests of a traffic_stop.
failed() { jq -r .fail <<<"$1"; }

# --- the CNI plugin killed ---------------------------------------------------------------

@test "(faults) a CNI ADD killed at every step leaks nothing once the runtime's DEL follows" {
	local step rc t out
	traffic_start t "$C1" "$VIP"
	conv_start
	for step in $CNI_ADD_STEPS; do
		on_node 1 ip netns add "$(on_node 1 pod_ns k)"
		rc=$(on_node 1 cni_add_killed k "$step")
		echo "$step: ADD exit $rc"
		[ "$rc" -eq 137 ]
		# the runtime saw the plugin die: it calls DEL (no prevResult)
		on_node 1 cni_exec DEL "$(on_node 1 pod_cid k)" "/run/netns/$(on_node 1 pod_ns k)" eth0
		ip netns del "$(on_node 1 pod_ns k)"
		out=$(on_node 1 leak_snapshot)
		echo "after $step: $out"
		[ "$out" = "$(cat "$SL_FAULT_DIR/base.1")" ]
	done
	t=$(conv_secs)
	out=$(traffic_stop t)
	fault_row "CNI ADD killed (SIGKILL) after each of its 9 steps, then DEL" "$(traffic_summary "$out")" \
		"$(failed "$out")" "$t (9 ADD+DEL)" "$(leaks_after)"
	[ "$(failed "$out")" -eq 0 ]
}

# --- the agent killed ----------------------------------------------------------------------

@test "(faults) agent kill -9 during CNI ADDs: every pod wired, nothing leaks" {
	full_only
	local i out t rc pids=()
	traffic_start t "$C1" "$VIP"
	for i in 1 2 3 4; do
		(on_node 1 pod_add "q$i" >"$BATS_TEST_TMPDIR/add.$i" 2>&1; echo $? >"$BATS_TEST_TMPDIR/rc.$i") 3>&- &
		pids+=($!)
	done
	on_node 1 agent_kill
	wait "${pids[@]}"
	conv_start
	on_node 1 agent_start
	wait_secs 15 on_node 1 agent_synced
	t=$(conv_secs)
	# the plugin needs no agent: every ADD succeeded and its pod answers
	for i in 1 2 3 4; do
		rc=$(cat "$BATS_TEST_TMPDIR/rc.$i")
		echo "q$i: ADD rc $rc $(cat "$BATS_TEST_TMPDIR/add.$i")"
		[ "$rc" -eq 0 ]
		ns_ping "$C1" "$(cluster_pod_ip 1 "q$i")"
	done
	for i in 1 2 3 4; do on_node 1 pod_del "q$i"; done
	out=$(traffic_stop t)
	fault_row "agent kill -9 during 4 CNI ADDs" "$(traffic_summary "$out")" "$(failed "$out")" "$t" "$(leaks_after)"
	[ "$(failed "$out")" -eq 0 ]
	[ "$(leaks_diff)" = none ]
}

@test "(faults) agent kill -9 during a burst of Service updates: converges to the API's state" {
	full_only
	local out t pid
	traffic_start t "$C1" "$VIP"
	api_churn burst burst 200 --updates 400 >"$BATS_TEST_TMPDIR/burst" 2>&1 3>&- &
	pid=$!
	sleep 1.5
	on_node 1 agent_kill
	sleep 1
	conv_start
	on_node 1 agent_start
	wait "$pid"
	cat "$BATS_TEST_TMPDIR/burst"
	wait_secs 20 maps_agree
	t=$(conv_secs)
	[ "$(svc_keys 1 | wc -l)" -ge 200 ]
	api_churn delete burst
	wait_secs 20 maps_agree
	out=$(traffic_stop t)
	fault_row "agent kill -9 during a burst (200 Services created, 400 updates)" "$(traffic_summary "$out")" \
		"$(failed "$out")" "$t" "$(leaks_after)"
	[ "$(failed "$out")" -eq 0 ]
	[ "$(leaks_diff)" = none ]
}

@test "(faults) agent kill -9 during its initial sync (1000 Services): converges, no leak" {
	full_only
	local out t lists synced pid
	on_node 1 agent_kill
	raw_services sync 1000
	traffic_start t "$C1" "$VIP"
	lists=$(apiserver_stats | jq .lists)
	(on_node 1 agent_start >/dev/null 2>&1) 3>&- &
	pid=$!
	# killed once its first list went out, before it reports synced
	wait_secs 15 lists_gt "$lists"
	synced=$(on_node 1 agent_synced && echo yes || echo no)
	on_node 1 agent_kill
	wait "$pid" || true
	echo "synced when killed: $synced"
	conv_start
	on_node 1 agent_start
	wait_secs 20 maps_agree
	t=$(conv_secs)
	[ "$(svc_keys 1 | wc -l)" -ge 1000 ]
	raw_delete sync
	wait_secs 20 maps_agree
	out=$(traffic_stop t)
	fault_row "agent kill -9 during its initial sync (1000 Services; synced at kill: $synced)" \
		"$(traffic_summary "$out")" "$(failed "$out")" "$t" "$(leaks_after)"
	[ "$(failed "$out")" -eq 0 ]
	[ "$(leaks_diff)" = none ]
}

# --- the API server --------------------------------------------------------------------------

@test "(faults) API server restarted with its history lost: 410, relist, converged" {
	local out t gone
	traffic_start t "$C1" "$VIP"
	apiserver_restart_fresh
	conv_start
	# the agents reconnect and find their resourceVersions gone
	svc_apply fresh '[{"name":"http","port":80,"targetPort":9090}]' >/dev/null
	wait_secs 30 on_node 1 vip_in_map "$(svc_ip fresh)"
	wait_secs 20 maps_agree
	t=$(conv_secs)
	gone=$(apiserver_stats | jq .status410)
	echo "410s after the restart: $gone"
	[ "$gone" -ge 6 ]
	svc_delete fresh
	wait_secs 20 maps_agree
	wait_secs 15 cluster_agents_ready
	out=$(traffic_stop t)
	fault_row "API server restarted, history lost (410 on every watch: $gone)" "$(traffic_summary "$out")" \
		"$(failed "$out")" "$t" "$(leaks_after)"
	[ "$(failed "$out")" -eq 0 ]
	[ "$(leaks_diff)" = none ]
}

# api_fault_case ID NAME FAULT_JSON: FAULT for FAULT_SECS with every watch
# dropped; a Service written meanwhile (raw, past the fault) is published once
# the fault ends.
api_fault_case() {
	local id=$1 name=$2 out t vip=10.98.0.1
	traffic_start t "$C1" "$VIP"
	apiserver_fault "$3" >/dev/null
	raw_services "$id" 1 10.98
	sleep "$FAULT_SECS"
	apiserver_fault '{"reset":true}' >/dev/null
	conv_start
	wait_secs 30 on_node 1 vip_in_map "$vip"
	wait_secs 20 maps_agree
	t=$(conv_secs)
	raw_delete "$id"
	wait_secs 20 on_node 1 vip_not_in_map "$vip"
	wait_secs 20 cluster_agents_ready
	out=$(traffic_stop t)
	fault_row "API server $name for ${FAULT_SECS} s" "$(traffic_summary "$out")" "$(failed "$out")" "$t" "$(leaks_after)"
	[ "$(failed "$out")" -eq 0 ]
	[ "$(leaks_diff)" = none ]
}

@test "(faults) API server answering slowly (watch events 500 ms apart)" {
	full_only
	api_fault_case slow "slow (500 ms per watch event)" '{"slowStreamMs":500,"dropWatches":true}'
}

@test "(faults) API server answering 429 with Retry-After: 2" {
	full_only
	api_fault_case tooMany "answering 429 + Retry-After 2" '{"status429":{"count":1000000,"retryAfter":2},"dropWatches":true}'
	[ "$(apiserver_stats | jq .status429)" -gt 0 ]
}

@test "(faults) API server answering 500" {
	full_only
	api_fault_case internal "answering 500" '{"status500":{"count":1000000},"dropWatches":true}'
	[ "$(apiserver_stats | jq .status500)" -gt 0 ]
}

# --- the node ----------------------------------------------------------------------------------

@test "(faults) maps made tiny fill: counted, reported, an object's previous state intact" {
	local out t full0 full before base
	traffic_start t "$C3" "$VIP"
	full0=$(full_count)
	base=$(on_node 3 map_count sl_svc4)
	before=$(vip_entries 3 "$VIP")
	echo "node 3: sl_svc4 max $TINY, $base used"
	# 4 Services without endpoints (2 entries each? at least 1): they cannot all fit
	raw_services tiny 4 10.99
	wait_secs 15 full_gt "$full0"
	full=$(full_count)
	echo "sl_svc4 full: $full0 -> $full"
	[ "$full" -gt "$full0" ]
	# web gains a port that cannot fit: its published state stays as it was
	svc_apply web '[{"name":"http","port":80,"targetPort":9090},{"name":"alt","port":81,"targetPort":9090}]' >/dev/null
	eps_apply web '[{"name":"http","port":9090,"protocol":"TCP"},{"name":"alt","port":9090,"protocol":"TCP"}]' \
		"$(ep "$(cluster_pod_ip 1 a1)" 1)" "$(ep "$(cluster_pod_ip 2 b1)" 2)"
	wait_secs 10 full_gt "$full"
	full=$(full_count)
	[ "$(vip_entries 3 "$VIP")" = "$before" ]
	answers "$C3"
	# room again: the tiny Services go, web's second port is published
	raw_delete tiny
	conv_start
	wait_secs 20 port_81_in_map 3
	t=$(conv_secs)
	svc_apply web '[{"name":"http","port":80,"targetPort":9090}]' >/dev/null
	eps_apply web '[{"name":"http","port":9090,"protocol":"TCP"}]' \
		"$(ep "$(cluster_pod_ip 1 a1)" 1)" "$(ep "$(cluster_pod_ip 2 b1)" 2)"
	wait_secs 20 svc_count_is 3 "$base"
	out=$(traffic_stop t)
	fault_row "maps tiny (sl_svc4 of $TINY): full $((full - full0)) times, web's old state kept" \
		"$(traffic_summary "$out") (node 3)" "$(failed "$out")" "$t (after room)" "$(leaks_after)"
	[ "$(failed "$out")" -eq 0 ]
	[ "$(leaks_diff)" = none ]
}

# pin_names: the names pinned in the current node's pin dir, sorted.
pin_names() { find "$SL_PIN" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort; }
# pin_ids: "name id" of every pinned map and program (bpftool), sorted.
pin_ids() {
	local f
	for f in $(pin_names); do
		echo "$f $({ bpftool -j map show pinned "$SL_PIN/$f" 2>/dev/null ||
			bpftool -j prog show pinned "$SL_PIN/$f" 2>/dev/null ||
			bpftool -j link show pinned "$SL_PIN/$f"; } | jq .id)"
	done
}
pins_are() { [ "$(pin_ids)" = "$1" ]; }
pins_restored_gt() { [ "$(agent_status | jq '.pins.restored')" -gt "$1" ]; }

@test "(faults) pins removed under a running agent: it pins the same objects again, no request fails" {
	local out t ids r0 ip
	ids=$(on_node 1 pin_ids)
	echo "pinned before: $ids"
	[ "$(wc -l <<<"$ids")" -ge 20 ]
	r0=$(on_node 1 agent_status | jq '.pins.restored')
	[ "$r0" -ge 0 ]
	traffic_start t "$C1" "$VIP"
	conv_start
	rm -rf "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-1"/*
	# the agent notices within seconds and pins what it still holds: the
	# same maps, programs and socket links (same ids), not a new load
	wait_secs 10 on_node 1 pins_are "$ids"
	t=$(conv_secs)
	wait_secs 5 on_node 1 pins_restored_gt "$r0"
	on_node 1 agent_status | jq -e '.pins.held >= 20 and .pins.foreign == 0'
	grep -q "Pinned .* objects again under" "$(on_node 1 printenv SL_AGENT_LOG)"
	on_node 1 node_exec curl -sS --max-time 5 http://127.0.0.1:9965/metrics | grep -E '^sluice_agent_pins_restored_total [1-9]'
	# the plugin finds the pins: a pod added now is wired and in the endpoint map
	ip=$(cluster_pod_add 1 p)
	on_node 1 ep_has "$ip"
	on_node 1 pod_del p
	out=$(traffic_stop t)
	echo "$out"
	fault_row "pins removed under a running agent (pinned again by it)" "$(traffic_summary "$out")" \
		"$(failed "$out")" "$t" "$(leaks_after)"
	[ "$(failed "$out")" -eq 0 ]
	[ "$(leaks_diff)" = none ]
}

@test "(faults) node reboot: namespaces and pins gone, the runtime's DEL and ADD, nothing leaks" {
	local out t ip_new
	traffic_start t "$C1" "$VIP"
	on_node 2 agent_kill
	# the reboot: every pod namespace (and with it its veth) and every pin gone
	ns_pids_kill "$(cluster_pod_ns 2 b1)"
	ip netns del "$(cluster_pod_ns 2 b1)"
	rm -rf "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-2"
	conv_start
	on_node 2 agent_start
	# the runtime: DEL of the old sandbox (its netns gone), ADD of the new one
	on_node 2 cni_exec DEL "$(on_node 2 pod_cid b1)" "/run/netns/$(cluster_pod_ns 2 b1)" eth0
	rm -f "$SL_CLUSTER_SCRATCH/n2/pods/b1.json"
	ip_new=$(cluster_pod_add 2 b1)
	on_node 2 tcp_serve b1 9090
	eps_apply web '[{"name":"http","port":9090,"protocol":"TCP"}]' \
		"$(ep "$(cluster_pod_ip 1 a1)" 1)" "$(ep "$ip_new" 2)"
	wait_secs 20 on_node 2 vip_in_map "$VIP"
	wait_secs 20 maps_agree
	wait_secs 15 cluster_agents_ready
	t=$(conv_secs)
	out=$(traffic_stop t)
	fault_row "node 2 reboot (netns, veths, pins gone; agent restarted; DEL + ADD)" \
		"$(traffic_summary "$out") (half to node 2)" "$(failed "$out") (endpoint down until re-added)" "$t" "$(leaks_after)"
	[ "$(leaks_diff)" = none ]
}
