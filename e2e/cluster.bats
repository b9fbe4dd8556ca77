#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Three emulated nodes, one agent each, learning everything from the API
# stand-in: pod CIDRs from Node objects, routes to the other nodes' pods,
# cross-node traffic, Node deletion, agent crashes, API faults, malformed objects.

load lib/cluster

# A Node object with no namespace behind it: its route is harmless (nothing
# answers at 172.18.0.10) and it changes every agent's route set.
PHANTOM=9

setup_file() {
	# Bookmarks rarely: an idle reflector keeps its listed resourceVersion, so a
	# compaction really makes every agent's next watch answer 410.
	cluster_file_up 3 --bookmark-interval 30 || return 1
	cluster_pods_add 1:a 2:b 3:c || return 1
	on_node 1 ns_serve "$(cluster_pod_ns 1 a)" && on_node 3 ns_serve "$(cluster_pod_ns 3 c)" || return 1
	# A route that is not ours, in node 1: sluice must never touch it.
	ip -n "$(node_name 1)" route add 10.250.0.0/24 via 172.18.0.200 proto static || return 1
}

teardown_file() { cluster_down; }

teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		cluster_diag
		echo "--- stand-in stats" >&2
		apiserver_stats >&2 2>/dev/null
	fi
	apiserver_fault '{"reset":true}' >/dev/null 2>&1 || true
	phantom_gone >/dev/null 2>&1 || true
}

# --- helpers ---------------------------------------------------------------------------

pod_ip_of() { cluster_pod_ip "$1" "$2"; }
pod_ns_of() { cluster_pod_ns "$1" "$2"; }

has_route() { node_routes "$1" | grep -qxF "$2 via $3"; }
lacks_route() { ! node_routes "$1" | grep -q "^${2//./\\.} "; }

# every_node CMD ARGS...: CMD I ARGS... holds for every node I.
every_node() {
	local i
	for ((i = 1; i <= SL_CLUSTER_N; i++)); do
		"$1" "$i" "${@:2}" || return 1
	done
}

all_routes_right() { every_node routes_right; }

# wait_every_node SECS CMD ARGS...: bounded wait for every_node CMD ARGS...
wait_every_node() { wait_for "$1" every_node "${@:2}"; }

phantom_add() { node_object "$PHANTOM" | kube create -f - >/dev/null; }
phantom_gone() { kube delete node "$(node_name "$PHANTOM")" --ignore-not-found >/dev/null; }
phantom_routed() { wait_every_node 15 has_route "$(node_pod_cidr "$PHANTOM")" "$(node_ip "$PHANTOM")"; }
phantom_unrouted() { wait_every_node 15 lacks_route "$(node_pod_cidr "$PHANTOM")"; }

# total FIELD I: the sum of a per-resource counter in node I's agent status.
total() { on_node "$2" agent_status | jq --arg f "$1" '[.resources[][$f]] | add'; }
total_gt() { [ "$(total "$1" "$2")" -gt "$3" ]; }
total_is() { [ "$(total "$1" "$2")" -eq "$3" ]; }
stat() { apiserver_stats | jq -r "$1"; }
stat_is() { [ "$(stat "$1")" = "$2" ]; }

# --- pod CIDRs and routes --------------------------------------------------------------------

@test "(cluster) every agent takes its pod CIDR from its own Node object" {
	local i pods=(- a b c)
	for ((i = 1; i <= 3; i++)); do
		run jq -r '.plugins[0].ipam.ranges[0][0].subnet' "$SL_CLUSTER_SCRATCH/n$i/net.d/10-sluice.conflist"
		[ "$output" = "$(node_pod_cidr "$i")" ]
		[[ $(pod_ip_of "$i" "${pods[i]}") == 10.244.$i.* ]]
		run on_node "$i" agent_status
		jq -e --arg u "$SL_API_URL" '.api.mode == "kubeconfig" and .api.server == $u' <<<"$output"
	done
}

@test "(cluster) each agent routes the other nodes' pod CIDRs via their IPs, protocol 0x53" {
	wait_for 10 all_routes_right || { every_node node_routes; false; }
	run node_routes 1
	[ "$output" = "10.244.2.0/24 via 172.18.0.3
10.244.3.0/24 via 172.18.0.4" ]
	# status lists the same routes
	run on_node 2 agent_status
	jq -e '[.routes[] | "\(.dst) via \(.via)"] | sort == ["10.244.1.0/24 via 172.18.0.2", "10.244.3.0/24 via 172.18.0.4"]' <<<"$output"
}

@test "(cluster) the fabric switches frames without netfilter, as a switch between machines" {
	[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || skip "no br_netfilter in this kernel"
	run ns_exec "$SL_FABRIC" sysctl -n net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-arptables
	[ "$output" = "0
0" ]
}

@test "(cluster) pods on different nodes ping each other" {
	run ns_ping "$(pod_ns_of 2 b)" "$(pod_ip_of 1 a)"
	[ "$status" -eq 0 ]
	run ns_ping "$(pod_ns_of 1 a)" "$(pod_ip_of 3 c)"
	[ "$status" -eq 0 ]
	run ns_ping "$(pod_ns_of 3 c)" "$(pod_ip_of 2 b)"
	[ "$status" -eq 0 ]
}

@test "(cluster) HTTP across nodes reaches the server with the client's own pod IP" {
	run http_get "$(pod_ns_of 2 b)" "http://$(pod_ip_of 1 a):$SL_HTTP_PORT/cgi-bin/ip"
	[ "$status" -eq 0 ]
	[ "$output" = "$(pod_ip_of 2 b)" ]
	run http_get "$(pod_ns_of 1 a)" "http://$(pod_ip_of 3 c):$SL_HTTP_PORT/cgi-bin/ip"
	[ "$status" -eq 0 ]
	[ "$output" = "$(pod_ip_of 1 a)" ]
}

@test "(cluster) deleting a Node removes its routes on the others; re-creating it restores them" {
	kube delete node "$(node_name 3)" >/dev/null
	wait_for 15 routes_right 1 3
	wait_for 15 routes_right 2 3
	# node 3's pods are unreachable from the others now (no route, no default route)
	run ns_ping "$(pod_ns_of 1 a)" "$(pod_ip_of 3 c)"
	[ "$status" -ne 0 ]
	# a route sluice does not own is left alone
	run ip -n "$(node_name 1)" -4 route show 10.250.0.0/24
	[[ $output == *"via 172.18.0.200"* ]]
	node_object_create 3
	wait_for 15 all_routes_right
	run ns_ping "$(pod_ns_of 1 a)" "$(pod_ip_of 3 c)"
	[ "$status" -eq 0 ]
	run ip -n "$(node_name 1)" -4 route show 10.250.0.0/24 proto static
	[[ $output == *"via 172.18.0.200"* ]]
}

@test "(cluster) a Node whose next hop is not on-link is skipped with a reason, then routed once fixed" {
	local n log
	n=$(node_name "$PHANTOM") log=$SL_CLUSTER_SCRATCH/n1/agent.log
	node_object "$PHANTOM" | jq -c '.status.addresses[0].address = "192.0.2.9"' | kube create -f - >/dev/null
	wait_for 15 grep -q "10.244.9.0/24: next hop 192.0.2.9 is not on-link" "$log"
	lacks_route 1 10.244.9.0/24
	all_routes_right
	# the address moves onto the fabric: the route appears
	kube delete node "$n" >/dev/null
	phantom_add
	phantom_routed
}

# --- the agent crashes --------------------------------------------------------------------------

@test "(cluster) an agent killed with SIGKILL and restarted relists and keeps working" {
	on_node 2 agent_kill
	# the datapath keeps working without the agent
	run ns_ping "$(pod_ns_of 2 b)" "$(pod_ip_of 1 a)"
	[ "$status" -eq 0 ]
	# the cluster changes while the agent is down: node 3 goes, a new node comes
	kube delete node "$(node_name 3)" >/dev/null
	phantom_add
	on_node 2 agent_start
	wait_for 15 on_node 2 agent_synced
	# its routes are right: the stale one is gone, the new one is there
	wait_for 15 lacks_route 2 10.244.3.0/24
	wait_for 15 has_route 2 "$(node_pod_cidr "$PHANTOM")" "$(node_ip "$PHANTOM")"
	has_route 2 10.244.1.0/24 172.18.0.2
	node_object_create 3
	phantom_gone
	wait_for 15 all_routes_right
	# a pod added after the restart reaches pods on the other nodes, and back
	cluster_pod_add 2 d >/dev/null
	run http_get "$(pod_ns_of 2 d)" "http://$(pod_ip_of 1 a):$SL_HTTP_PORT/cgi-bin/ip"
	[ "$status" -eq 0 ]
	[ "$output" = "$(pod_ip_of 2 d)" ]
	run ns_ping "$(pod_ns_of 3 c)" "$(pod_ip_of 2 d)"
	[ "$status" -eq 0 ]
	on_node 2 pod_del d
}

# --- API faults converge without a restart --------------------------------------------------------

@test "(cluster) after every watch is dropped, a Node change is still seen" {
	local dropped
	dropped=$(stat .watchesDropped)
	apiserver_fault '{"dropWatches":true}' >/dev/null
	[ "$(stat .watchesDropped)" -ge $((dropped + 18)) ] # 6 watches x 3 agents
	phantom_add
	phantom_routed
	phantom_gone
	phantom_unrouted
	all_routes_right
}

@test "(cluster) after a forced compaction (410), agents relist and a Node change is still seen" {
	local i before=() gone
	for ((i = 1; i <= 3; i++)); do before[i]=$(total relists "$i"); done
	gone=$(stat .status410)
	# A write none of the agents watches (the proxy-name label excludes it), then
	# compact past every agent's resourceVersion and drop the watches.
	kube create service clusterip other-proxy --tcp=80:80 --dry-run=client -o json |
		jq -c '.metadata.labels["service.kubernetes.io/service-proxy-name"] = "other"' | kube create -f - >/dev/null
	apiserver_fault '{"compact":true,"dropWatches":true}' >/dev/null
	phantom_add
	phantom_routed
	[ "$(stat .status410)" -gt "$gone" ]
	for ((i = 1; i <= 3; i++)); do
		wait_for 10 total_gt relists "$i" "${before[i]}"
	done
	phantom_gone
	phantom_unrouted
	kube delete service other-proxy >/dev/null
	wait_for 10 cluster_agents_ready
}

@test "(cluster) after 429s with Retry-After, agents back off and a Node change is still seen" {
	local errors
	errors=$(stat .status429)
	apiserver_fault '{"status429":{"count":12,"retryAfter":1},"dropWatches":true}' >/dev/null
	# the agents' reconnects use up the 429s
	wait_for 20 stat_is .faults.status429 0
	[ "$(stat .status429)" -ge $((errors + 12)) ]
	phantom_add
	phantom_routed
	phantom_gone
	phantom_unrouted
	wait_for 10 cluster_agents_ready
}

# --- malformed objects ------------------------------------------------------------------------------

@test "(cluster) 200 malformed objects are skipped and counted while a valid Node change applies" {
	local f=$BATS_TEST_TMPDIR/bad.json i
	# Stored as given, no validation: 100 Services whose ports are a string,
	# 100 EndpointSlices whose endpoints are an object.
	jq -cn '{objects: ([range(100) | {apiVersion: "v1", kind: "Service",
			metadata: {name: "bad-svc-\(.)", namespace: "default"},
			spec: {ports: "eighty", clusterIP: "10.96.200.\(.)"}}]
		+ [range(100) | {apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
			metadata: {name: "bad-eps-\(.)", namespace: "default",
				labels: {"kubernetes.io/service-name": "bad-svc-\(.)"}},
			addressType: "IPv4", endpoints: {oops: true}}])}' >"$f"
	run apiserver_objects "$f"
	[ "$status" -eq 0 ]
	jq -e '.created == 200' <<<"$output"
	phantom_add
	phantom_routed
	for ((i = 1; i <= 3; i++)); do
		wait_for 10 total_is malformed "$i" 200 || { echo "node $i: $(total malformed "$i") malformed"; false; }
		run on_node "$i" agent_status
		jq -e '[.resources[] | select(.name == "services")][0].malformed == 100' <<<"$output"
		jq -e '[.resources[] | select(.name == "endpointslices")][0].malformed == 100' <<<"$output"
		grep -q "Skipping malformed Service 'default/bad-svc-7'" "$SL_CLUSTER_SCRATCH/n$i/agent.log"
		grep -q "Skipping malformed EndpointSlice 'default/bad-eps-7'" "$SL_CLUSTER_SCRATCH/n$i/agent.log"
	done
	phantom_gone
	phantom_unrouted
	all_routes_right
}

# nodes_seen I N: node I's agent status counts N Node objects.
nodes_seen() { on_node "$1" agent_status | jq -e --argjson n "$2" '[.resources[] | select(.name == "nodes")][0].objects == $n' >/dev/null; }

@test "(cluster) status --json shows every resource synced on every node" {
	wait_for 10 cluster_agents_ready
	local i
	for ((i = 1; i <= 3; i++)); do
		on_node "$i" agent_running
		# the status file trails the agent by up to a second
		wait_for 5 nodes_seen "$i" 3
		run on_node "$i" agent_status
		jq -e '.ready == true' <<<"$output"
		jq -e '[.resources[].name] | sort == ["endpointslices", "namespaces", "networkpolicies", "nodes", "pods", "services"]' <<<"$output"
		jq -e 'all(.resources[]; .synced == true and (.resourceVersion | length) > 0)' <<<"$output"
		jq -e '[.resources[] | select(.name == "nodes")][0].objects == 3' <<<"$output"
	done
}
