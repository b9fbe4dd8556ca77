#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Pod networking on one emulated node: what CNI ADD sets up, pod-to-pod,
# pod-to-node and pod-to-fabric traffic, anti-spoofing, agent restarts.

bats_require_minimum_version 1.5.0

load lib/node

setup_file() {
	node_setup "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/n" || return 1
	peer_setup || return 1
	agent_start || return 1
	local i
	for i in 1 2 3; do pod_add "$i" >/dev/null || return 1; done
	ns_serve "$(pod_ns 1)" || return 1
	ns_serve "$SL_NODE" || return 1
	ns_serve "$SL_PEER" || return 1
}

teardown_file() { node_teardown; }

teardown() { [ -n "${BATS_TEST_COMPLETED:-}" ] || node_diag; }

@test "(cni) ADD gives the pod eth0 with its address as a /32" {
	local ns ip
	ns=$(pod_ns 1) ip=$(pod_ip 1)
	[[ $ip == 10.244.0.* ]]
	run ip -n "$ns" -j -4 addr show dev eth0
	[ "$status" -eq 0 ]
	jq -e --arg ip "$ip" '[.[0].addr_info[] | select(.local == $ip and .prefixlen == 32)] | length == 1' <<<"$output"
	# Nothing else is configured on eth0: no subnet route that would bypass the gateway.
	jq -e '[.[0].addr_info[]] | length == 1' <<<"$output"
	run jq -e --arg s "/run/netns/$ns" '[.interfaces[] | select(.name == "eth0" and .sandbox == $s)] | length == 1' \
		"$SL_SCRATCH/pods/1.json"
	[ "$status" -eq 0 ]
}

@test "(cni) ADD gives the pod a default route via 169.254.1.1" {
	run ip -n "$(pod_ns 1)" -j -4 route show default
	[ "$status" -eq 0 ]
	jq -e 'length == 1 and .[0].gateway == "169.254.1.1" and .[0].dev == "eth0"' <<<"$output"
}

@test "(cni) ADD creates the host veth with a /32 route to the pod" {
	local veth ip
	veth=$(pod_host_veth 1) ip=$(pod_ip 1)
	[[ $veth =~ ^sl[0-9a-f]{12}$ ]]
	run ip -n "$SL_NODE" -j link show dev "$veth"
	[ "$status" -eq 0 ]
	jq -e '.[0].operstate == "UP" or (.[0].flags | index("UP"))' <<<"$output"
	run ip -n "$SL_NODE" -j -4 route show "$ip/32"
	[ "$status" -eq 0 ]
	jq -e --arg d "$veth" 'length == 1 and .[0].dev == $d' <<<"$output"
}

@test "(cni) the host veth has the pinned programs: sl_from_pod at ingress, sl_to_pod at egress" {
	local veth pinned
	veth=$(pod_host_veth 1)
	pinned=$(bpftool -j prog show pinned "$SL_PIN/sl_from_pod" | jq .id)
	[ -n "$pinned" ]
	[ "$pinned" != null ]
	run node_exec bpftool -j net show dev "$veth"
	[ "$status" -eq 0 ]
	echo "pinned id $pinned; attached: $output"
	jq -e --argjson id "$pinned" \
		'[.[0].tc[] | select((.kind | test("ingress")) and .id == $id and (.name | test("^sl_from_pod")))] | length == 1' <<<"$output"
	# And the reverse-NAT program on the way into the pod.
	pinned=$(bpftool -j prog show pinned "$SL_PIN/sl_to_pod" | jq .id)
	jq -e --argjson id "$pinned" \
		'[.[0].tc[] | select((.kind | test("egress")) and .id == $id and (.name | test("^sl_to_pod")))] | length == 1' <<<"$output"
	# The agent's view agrees: three endpoints.
	run agent_status
	[ "$status" -eq 0 ]
	jq -e '.ready == true and .endpoints == 3' <<<"$output"
}

@test "(datapath) pod-to-pod ping on the same node" {
	run ns_ping "$(pod_ns 2)" "$(pod_ip 1)"
	[ "$status" -eq 0 ]
	run ns_ping "$(pod_ns 1)" "$(pod_ip 3)"
	[ "$status" -eq 0 ]
}

@test "(datapath) pod-to-pod TCP on the same node keeps the client's IP" {
	local before
	before=$(metric SL_PATH_LOCAL)
	run http_get "$(pod_ns 2)" "http://$(pod_ip 1):$SL_HTTP_PORT/index.html"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from sluice" ]
	run http_get "$(pod_ns 2)" "http://$(pod_ip 1):$SL_HTTP_PORT/cgi-bin/ip"
	[ "$status" -eq 0 ]
	[ "$output" = "$(pod_ip 2)" ]
	# Delivered by the datapath's redirect, not by the node's stack.
	[ "$(metric SL_PATH_LOCAL)" -gt "$before" ]
}

@test "(datapath) pod-to-node ping and TCP to the node's address" {
	run ns_ping "$(pod_ns 2)" "$SL_NODE_IP"
	[ "$status" -eq 0 ]
	run http_get "$(pod_ns 2)" "http://$SL_NODE_IP:$SL_HTTP_PORT/cgi-bin/ip"
	[ "$status" -eq 0 ]
	[ "$output" = "$(pod_ip 2)" ]
}

@test "(datapath) a pod reaches a machine on the fabric through the node (FIB path), with its own IP" {
	local before
	run ns_ping "$(pod_ns 1)" "$SL_PEER_IP"
	[ "$status" -eq 0 ]
	before=$(metric SL_PATH_FIB)
	run http_get "$(pod_ns 1)" "http://$SL_PEER_IP:$SL_HTTP_PORT/cgi-bin/ip"
	[ "$status" -eq 0 ]
	[ "$output" = "$(pod_ip 1)" ]
	[ "$(metric SL_PATH_FIB)" -gt "$before" ]
}

@test "(datapath) a machine on the fabric reaches a pod through the node" {
	run http_get "$SL_PEER" "http://$(pod_ip 1):$SL_HTTP_PORT/cgi-bin/ip"
	[ "$status" -eq 0 ]
	[ "$output" = "$SL_PEER_IP" ]
}

# Pins the gateway's neighbour entry in pod 3 so that the packet under test
# is an IP packet (not an ARP request) whatever the pod's neighbour state.
pin_gateway_neigh() {
	local hmac
	hmac=$(ip -n "$SL_NODE" -j link show dev "$(pod_host_veth 3)" | jq -r '.[0].address')
	ip -n "$(pod_ns 3)" neigh replace "$SL_GATEWAY" lladdr "$hmac" dev eth0 nud permanent
}

@test "(datapath) a pod sending from an IP it does not own is dropped and counted" {
	local ns before spoof=10.244.0.250
	ns=$(pod_ns 3)
	run ns_ping "$ns" "$(pod_ip 1)"
	[ "$status" -eq 0 ]
	pin_gateway_neigh
	before=$(metric SL_DROP_SPOOF_IP)
	ip -n "$ns" addr add "$spoof/32" dev eth0
	run ns_ping "$ns" -I "$spoof" "$(pod_ip 1)"
	ip -n "$ns" addr del "$spoof/32" dev eth0
	ip -n "$ns" neigh del "$SL_GATEWAY" dev eth0
	[ "$status" -ne 0 ]
	[ "$(metric SL_DROP_SPOOF_IP)" -gt "$before" ]
	# The pod's own address still works.
	run ns_ping "$ns" "$(pod_ip 1)"
	[ "$status" -eq 0 ]
}

@test "(datapath) a pod sending from a MAC it does not own is dropped and counted" {
	local ns mac before
	ns=$(pod_ns 3)
	mac=$(ip -n "$ns" -j link show dev eth0 | jq -r '.[0].address')
	before=$(metric SL_DROP_SPOOF_MAC)
	ip -n "$ns" link set dev eth0 address 02:00:00:5e:00:53
	pin_gateway_neigh
	run ns_ping "$ns" "$(pod_ip 1)"
	ip -n "$ns" link set dev eth0 address "$mac"
	ip -n "$ns" neigh del "$SL_GATEWAY" dev eth0 2>/dev/null || true
	[ "$status" -ne 0 ]
	[ "$(metric SL_DROP_SPOOF_MAC)" -gt "$before" ]
	run ns_ping "$ns" "$(pod_ip 1)"
	[ "$status" -eq 0 ]
}

@test "(agent) traffic keeps flowing while the agent is stopped" {
	run agent_stop
	[ "$output" = 0 ]
	[ -e "$SL_PIN/sl_ep4" ]
	[ -e "$SL_PIN/sl_from_pod" ]
	run ns_ping "$(pod_ns 2)" "$(pod_ip 1)"
	[ "$status" -eq 0 ]
	run http_get "$(pod_ns 2)" "http://$(pod_ip 1):$SL_HTTP_PORT/cgi-bin/ip"
	[ "$status" -eq 0 ]
	[ "$output" = "$(pod_ip 2)" ]
	run http_get "$(pod_ns 1)" "http://$SL_PEER_IP:$SL_HTTP_PORT/cgi-bin/ip"
	[ "$status" -eq 0 ]
	[ "$output" = "$(pod_ip 1)" ]
	agent_start
}

@test "(agent) a restart reuses the pinned maps and keeps existing pods working" {
	local map_id eps
	map_id=$(bpftool -j map show pinned "$SL_PIN/sl_ep4" | jq .id)
	eps=$(agent_status | jq .endpoints)
	[ "$eps" -eq 3 ]
	run agent_stop
	[ "$output" = 0 ]
	agent_start
	[ "$(bpftool -j map show pinned "$SL_PIN/sl_ep4" | jq .id)" = "$map_id" ]
	run agent_status
	jq -e '.ready == true and .endpoints == 3' <<<"$output"
	run ns_ping "$(pod_ns 2)" "$(pod_ip 1)"
	[ "$status" -eq 0 ]
	run http_get "$(pod_ns 3)" "http://$(pod_ip 1):$SL_HTTP_PORT/cgi-bin/ip"
	[ "$output" = "$(pod_ip 3)" ]
	# A pod added after the restart talks to one added before it.
	pod_add 4
	run ns_ping "$(pod_ns 4)" "$(pod_ip 1)"
	pod_del 4
	[ "$status" -eq 0 ]
}

@test "(agent) a replaced endpoint map is rebuilt from the plugin's state files and the pods move to the new program" {
	local map_id pinned veth
	map_id=$(bpftool -j map show pinned "$SL_PIN/sl_ep4" | jq .id)
	run agent_stop
	[ "$output" = 0 ]
	# What an ABI change does to the map: the agent finds it gone and makes a new one.
	rm "$SL_PIN/sl_ep4"
	agent_start
	[ "$(bpftool -j map show pinned "$SL_PIN/sl_ep4" | jq .id)" != "$map_id" ]
	grep -q 'Restored 3 endpoint entries from the CNI state files' "$SL_AGENT_LOG"
	run agent_status
	jq -e '.ready == true and .endpoints == 3' <<<"$output"
	# Every pod now runs the program that reads the new map.
	pinned=$(bpftool -j prog show pinned "$SL_PIN/sl_from_pod" | jq .id)
	for i in 1 2 3; do
		veth=$(pod_host_veth "$i")
		node_exec bpftool -j net show dev "$veth" |
			jq -e --argjson id "$pinned" '[.[0].tc[] | select((.kind | test("ingress")) and .id == $id)] | length == 1'
	done
	run ns_ping "$(pod_ns 2)" "$(pod_ip 1)"
	[ "$status" -eq 0 ]
	run http_get "$(pod_ns 3)" "http://$(pod_ip 1):$SL_HTTP_PORT/cgi-bin/ip"
	[ "$output" = "$(pod_ip 3)" ]
}

@test "(hostport) an agent without an API server serves a pod's hostPort to a client outside the node" {
	local ns out
	ns=$(pod_ns hp)
	ip netns add "$ns" && ip -n "$ns" link set lo up
	out=$(cni_conf | jq -c --argjson p "$SL_HTTP_PORT" \
		'. + {runtimeConfig: {portMappings: [{hostPort: 18090, containerPort: $p}]}}' |
		cni_raw ADD "$(pod_cid hp)" "/run/netns/$ns" eth0)
	printf '%s\n' "$out" >"$SL_SCRATCH/pods/hp.json"
	ns_serve "$ns"
	# standalone (--pod-cidr): the agent put sl_from_net on the uplink itself
	node_exec bpftool -j net show dev eth0 |
		jq -e '[.[0].tc[] | select((.kind | test("ingress")) and (.name | test("^sl_from_net")))] | length == 1'
	run http_get "$SL_PEER" "http://$SL_NODE_IP:18090/cgi-bin/ip"
	[ "$status" -eq 0 ]
	[ "$output" = "$SL_PEER_IP" ] # DNAT only: the client's address kept
	pod_del hp
	run ! http_get "$SL_PEER" "http://$SL_NODE_IP:18090/"
}
