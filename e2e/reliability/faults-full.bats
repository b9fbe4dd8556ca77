#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The fault matrix's longer cases (make faults-full, after e2e/faults.bats):
# the agent killed during CNI ADDs, a burst of Service updates and its initial
# sync; the API server slow, answering 429 and 500 for FAULT_SECS (10; 60 in
# make faults-full). Same cluster, checks and table as e2e/faults.bats
# (e2e/lib/faults-suite.bash); its rows are added to that suite's table.

load ../lib/faults-suite

export SL_FAULTS_APPEND=1

# --- the agent killed ----------------------------------------------------------------------

@test "(faults) agent kill -9 during CNI ADDs: every pod wired, nothing leaks" {
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
	api_fault_case slow "slow (500 ms per watch event)" '{"slowStreamMs":500,"dropWatches":true}'
}

@test "(faults) API server answering 429 with Retry-After: 2" {
	api_fault_case tooMany "answering 429 + Retry-After 2" '{"status429":{"count":1000000,"retryAfter":2},"dropWatches":true}'
	[ "$(apiserver_stats | jq .status429)" -gt 0 ]
}

@test "(faults) API server answering 500" {
	api_fault_case internal "answering 500" '{"status500":{"count":1000000},"dropWatches":true}'
	[ "$(apiserver_stats | jq .status500)" -gt 0 ]
}
