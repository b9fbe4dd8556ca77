# SPDX-License-Identifier: Apache-2.0
# The sluice rows of `make bench`: Services through the API stand-in, the
# agents and CNI unchanged. Sourced after topo.bash.
#
# Fillers are Services bench/filler-<i> with ClusterIP 10.100.0.0+i and two
# endpoints that are never reached; the measured Services are bench-same
# (the server on the client's node) and bench-cross (the server on node 2).
# Programming times come from the agent's own log: "Service maps: W writes,
# D deletes in U us" is written after every change it publishes.

# shellcheck shell=bash

SB_NS=bench

sb_gen() { python3 "$SL_REPO/e2e/apiserver/gen_objects.py" "$@"; }

# sb_post FILE: POST /_sluice/objects (bulk create), bounded by the budget.
sb_post() {
	nsenter --net="/run/netns/$SL_API_NS" curl -sS --max-time "${BN_BUDGET_S:-120}" --fail-with-body \
		--cacert "$SL_API_CA" -H "Authorization: Bearer $(apiserver_token)" \
		-H "Content-Type: application/json" --data-binary "@$1" "$SL_API_URL/_sluice/objects" >/dev/null
}

# sb_measured_up: the namespace and the two measured Services with their
# EndpointSlices; prints "SAME_VIP CROSS_VIP".
sb_measured_up() {
	local ports='[{"name":"http","port":80,"targetPort":8080}]' eports='[{"name":"http","port":8080,"protocol":"TCP"}]'
	local same cross
	kube get namespace "$SB_NS" >/dev/null 2>&1 ||
		kube create namespace "$SB_NS" >/dev/null || return 1
	same=$(svc_apply bench-same "$ports") || return 1
	cross=$(svc_apply bench-cross "$ports") || return 1
	eps_apply bench-same "$eports" "$(ep "$(sluice_pod_ip 1 s)" 1)" || return 1
	eps_apply bench-cross "$eports" "$(ep "$(sluice_pod_ip 2 s)" 2)" || return 1
	echo "$same $cross"
}

# sb_np_up: the measured Services become NodePorts (externalTrafficPolicy
# Cluster: bench-cross's backend is remote from node 1, SNAT) and
# bench-local (Local, a server on each node) joins them; prints "SAME CROSS
# LOCAL", their NodePorts.
sb_np_up() {
	local ports='[{"name":"http","port":80,"targetPort":8080}]' eports='[{"name":"http","port":8080,"protocol":"TCP"}]'
	local s
	svc_apply bench-same "$ports" '{"type":"NodePort"}' >/dev/null &&
		svc_apply bench-cross "$ports" '{"type":"NodePort"}' >/dev/null &&
		svc_apply bench-local "$ports" '{"type":"NodePort","externalTrafficPolicy":"Local"}' >/dev/null &&
		eps_apply bench-local "$eports" "$(ep "$(sluice_pod_ip 1 s)" 1)" "$(ep "$(sluice_pod_ip 2 s)" 2)" || return 1
	for s in bench-same bench-cross bench-local; do
		kube get service "$s" -o jsonpath='{.spec.ports[0].nodePort}' || return 1
		echo
	done | tr '\n' ' '
}

# sb_mode MODE: the agents of nodes 1 and 2 (the entry node and the remote
# backend's) run --nodeport-mode MODE (snat or dsr): each one not yet in it
# restarted with it, its maps and their Services kept, until synced again.
# The agents switch, the datapath is reloaded: the rows measured after a
# switch pay one cold start, as after any agent upgrade.
sb_mode() {
	local i switched=
	for i in 1 2; do
		[ "$(on_node "$i" agent_status | jq -r '.nodePortMode // "snat"')" != "$1" ] || continue
		on_node "$i" agent_stop >/dev/null || return 1
		SL_AGENT_EXTRA_ARGS="${SL_AGENT_EXTRA_ARGS:-} --nodeport-mode $1" on_node "$i" agent_start >/dev/null || return 1
		wait_until 30 on_node "$i" agent_synced || return 1
		switched=1
	done
	# the agents' start (load, verifier, reattach, first publish) off the CPUs
	# before the load runs on this 2-core kind of machine
	[ -z "$switched" ] || sleep 2
}

# sb_svc_ports I: the service ports node I's agent has published.
sb_svc_ports() { on_node "$1" agent_status | jq -r '.services.servicePorts // 0'; }

# sb_fillers_to N: grows the fillers to N (never shrinks); waits until every
# node's agent published them all, so no agent is still working through the
# watch events while the load runs. Prints the ms from the POST to node 1's
# agent having published them.
sb_fillers_to() {
	local n=$1 have f t0 want ms i
	have=$(cat "$SL_CLUSTER_SCRATCH/sb-fillers" 2>/dev/null || echo 0)
	[ "$n" -gt "$have" ] || { echo 0; return 0; }
	f=$SL_CLUSTER_SCRATCH/sb-fillers.json
	sb_gen -n $((n - have)) -m 2 --start "$have" --prefix filler- --namespaces "$SB_NS" \
		--cluster-ip-base 10.100.0.0 --endpoint-octet 246 --no-namespaces --wrap -o "$f" || return 1
	t0=$(now_ms)
	sb_post "$f" || sl_die "the stand-in did not take $((n - have)) fillers" || return 1
	rm -f "$f"
	echo "$n" >"$SL_CLUSTER_SCRATCH/sb-fillers"
	want=$((n + 2))
	wait_until "${BN_BUDGET_S:-120}" sb_published 1 "$want" ||
		sl_die "node 1's agent did not publish $want service ports" || return 1
	ms=$(($(now_ms) - t0))
	for i in 2 3; do
		wait_until "${BN_BUDGET_S:-120}" sb_published "$i" "$want" ||
			sl_die "node $i's agent did not publish $want service ports" || return 1
	done
	echo "$ms"
}

# sb_published I N: node I's agent publishes at least N service ports and nothing waits.
sb_published() {
	on_node "$1" agent_status 2>/dev/null | jq -e --argjson n "$2" '.services.servicePorts >= $n and .services.failing == 0' >/dev/null
}

# sb_map_us_since I LINE: the summed microseconds of node I's "Service maps:"
# log lines after line number LINE of its log.
sb_map_us_since() {
	tail -n +"$(($2 + 1))" "$SL_CLUSTER_SCRATCH/n$1/agent.log" |
		sed -n 's/.*Service maps: [0-9]* writes, [0-9]* deletes in \([0-9]*\) us.*/\1/p' |
		awk '{ s += $1; n++ } END { if (n) print s; else exit 1 }'
}

sb_log_lines() { wc -l <"$SL_CLUSTER_SCRATCH/n$1/agent.log"; }

# sb_op_ms OP: one Service added (bench/extra: Service + EndpointSlice in one
# request), changed (its endpoint replaced) or removed, as the API would tell
# the agents; prints node 1's map programming time in ms (its log lines,
# summed, once the change is published and the log quiet for 0.3 s).
sb_op_ms() {
	local op=$1 l0 us prev=-1 i f
	l0=$(sb_log_lines 1)
	f=$SL_CLUSTER_SCRATCH/sb-op.json
	case $op in
	add)
		sb_gen -n 1 -m 2 --start 150000 --prefix extra- --namespaces "$SB_NS" --cluster-ip-base 10.104.0.0 \
			--endpoint-octet 250 --no-namespaces --wrap -o "$f" && sb_post "$f" || return 1
		;;
	change)
		kube get endpointslice -n "$SB_NS" extra-150000-abcde -o json |
			jq -c '.endpoints[0].addresses = ["10.251.0.1"]' | kube replace -f - >/dev/null || return 1
		;;
	remove)
		kube delete -n "$SB_NS" service extra-150000 >/dev/null &&
			kube delete -n "$SB_NS" endpointslice extra-150000-abcde >/dev/null || return 1
		;;
	esac
	# published and quiet: the summed time stops moving for 0.3 s (5 s bound)
	for ((i = 0; i < 50; i++)); do
		us=$(sb_map_us_since 1 "$l0") || us=-1
		[ "$us" -ge 0 ] && [ "$us" = "$prev" ] && break
		prev=$us
		sleep 0.3
	done
	[ "$us" -ge 0 ] || sl_die "node 1's agent logged no map change for '$op'" || return 1
	awk -v u="$us" 'BEGIN { printf "%.3f\n", u / 1000 }'
}

# sb_full N: node 3's agent restarted from empty maps (no pods live there):
# prints "MAPS_MS SYNC_MS": its first publish of every Service (the map
# writes alone) and agent start -> published, listing everything from the API.
sb_full() {
	local n=$1 t0 us line
	(
		cluster_use 3 || exit 1
		agent_stop >/dev/null
		case $SL_PIN in /sys/fs/bpf/sluice-?*) rm -rf "$SL_PIN" ;; esac
		: >"$SL_AGENT_LOG"
		t0=$(now_ms)
		agent_start >/dev/null || exit 1
		wait_until "${BN_BUDGET_S:-120}" sb_published 3 "$((n + 2))" || sl_die "node 3 did not publish $n Services" || exit 1
		# the first publish is the whole set (later lines: changes since)
		us=$(sed -n 's/.*Service maps: [0-9]* writes, [0-9]* deletes in \([0-9]*\) us.*/\1/p' "$SL_AGENT_LOG" | head -n1)
		line=$(grep -m1 'Published .* services' "$SL_AGENT_LOG") && [ -n "$us" ] ||
			sl_die "node 3's log has no first publish" || exit 1
		echo "$(awk -v u="$us" 'BEGIN { printf "%.3f", u / 1000 }') $(($(date -d "${line%% *}" +%s%N) / 1000000 - t0))"
	)
}

# sb_agent_rss I: node I's agent RSS (kB).
sb_agent_rss() { proc_rss_kb "$(on_node "$1" agent_pid)"; }

# sb_pods_up: the Pod objects of the client (bench: client) and the two
# servers (bench: server), so that a NetworkPolicy can name them (the agents
# find a pod by its IP); with no policy they change nothing.
sb_pods_up() {
	local spec i id role
	for spec in 1:c:client 1:s:server 2:s:server; do
		IFS=: read -r i id role <<<"$spec"
		jq -cn --arg ns "$SB_NS" --arg name "$role-$i" --arg role "$role" --arg node "$(node_name "$i")" \
			--arg hip "$(node_ip "$i")" --arg ip "$(sluice_pod_ip "$i" "$id")" '{apiVersion: "v1", kind: "Pod",
			metadata: {name: $name, namespace: $ns, labels: {bench: $role}},
			spec: {nodeName: $node, containers: [{name: "c", image: "nginx",
				ports: [{name: "http", containerPort: 8080, protocol: "TCP"}]}]},
			status: {phase: "Running", hostIP: $hip, podIP: $ip, podIPs: [{ip: $ip}],
				conditions: [{type: "Ready", status: "True"}]}}'
	done | jq -cs '{apiVersion: "v1", kind: "List", items: .}' | kube apply -f - >/dev/null
}

# sb_isolated I: the endpoints node I's agent has isolated for ingress.
sb_isolated() { on_node "$1" agent_status | jq -r '.policy.isolatedIngress // 0'; }

# sb_policy on|off: the "sluice-tc + policy" row's NetworkPolicy (the servers
# isolated for ingress, the client allowed on 8080/TCP) written or deleted,
# once both servers' agents have published it.
sb_policy() {
	local want=0
	if [ "$1" = on ]; then
		want=1
		jq -cn --arg ns "$SB_NS" '{apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy",
			metadata: {name: "bench-allow", namespace: $ns},
			spec: {podSelector: {matchLabels: {bench: "server"}}, policyTypes: ["Ingress"],
				ingress: [{from: [{podSelector: {matchLabels: {bench: "client"}}}],
					ports: [{protocol: "TCP", port: 8080}]}]}}' | kube apply -f - >/dev/null || return 1
	else
		kube delete networkpolicy bench-allow -n "$SB_NS" >/dev/null 2>&1
	fi
	wait_until 20 sb_policy_is "$want"
}

sb_policy_is() { [ "$(sb_isolated 1)" = "$1" ] && [ "$(sb_isolated 2)" = "$1" ]; }
