#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The fault matrix: one case per thing that goes wrong on a node, each with
# traffic through a Service running, its failed requests counted, the time
# until the node converged and a leak check (veths, routes, leases, state
# files, node routes, endpoint/service/backend/reverse-NAT entries) against
# the baseline taken before the first case. The table goes to fd 3 and to
# $SL_BUILD/faults-table.md (README "Reliability"). These five cases run in
# make test; e2e/reliability/faults-full.bats holds the six longer ones
# (agent kills, API faults of FAULT_SECS), which make faults-full runs after
# these.

load lib/faults-suite

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
	on_node 1 node_exec curl -sS --max-time 5 http://127.0.0.1:10249/metrics | grep -E '^sluice_agent_pins_restored_total [1-9]'
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
