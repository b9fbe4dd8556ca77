#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# ClusterIP Services on three emulated nodes with the API stand-in, one test
# per kube-proxy behaviour, each named after its upstream e2e twin
# (test/e2e/network/service.go). The test plays the EndpointSlice controller.

load lib/services

setup_file() {
	cluster_file_up 3 || return 1
	# node 1: client c1, server a1; node 2: servers b1, b2; node 3: client c3.
	cluster_pods_add 1:c1 1:a1 2:b1 2:b2 3:c3 || return 1
	{ on_node 1 pod_serve a1 && on_node 2 pod_serve b1 && on_node 2 pod_serve b2 &&
		on_node 2 pod_serve b1 8081 && on_node 2 udp_serve b1 5353; } || cluster_abort || return 1
}

teardown_file() { cluster_down; }

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag
	[ -z "${SVC:-}" ] || svc_delete "$SVC" || true
}

# --- helpers ---------------------------------------------------------------------------

ip_of() { cluster_pod_ip "$1" "$2"; }
ns_of() { cluster_pod_ns "$1" "$2"; }
C1=
C3=

new_svc() { SVC=svc-$(sl_rand_hex); }

HTTP='[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]'
HTTP_EP='[{"name":"http","port":8080,"protocol":"TCP"}]'

# get NS URL: one request, the body.
get() { http_get "$1" "$2"; }

# answers NS URL N: the distinct bodies of N requests, sorted, space-separated.
answers() {
	local i
	for ((i = 0; i < $3; i++)); do get "$1" "$2" || echo FAIL; done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# answers_are NS URL N WANT: answers NS URL N is exactly WANT.
answers_are() { [ "$(answers "$1" "$2" "$3")" = "$4" ]; }

# reachable NS URL WANT: eventually (15 s, the agents publish asynchronously)
# a request answers WANT.
# shellcheck disable=SC2016 # $1..$3 are the inner sh's arguments
reachable() { wait_for 15 sh -c '[ "$(timeout 5 nsenter --net=/run/netns/$1 '"$SL_BUSYBOX"' wget -q -O - "$2")" = "$3" ]' _ "$1" "$2" "$3"; }
# only_from NS URL WANT: eventually a request answers WANT, and then 20
# requests answer WANT alone.
only_from() {
	local got
	reachable "$1" "$2" "$3" || return 1
	got=$(answers "$1" "$2" 20)
	[ "$got" = "$3" ] || { echo "20 requests answered: $got; want $3 alone"; return 1; }
}
# reachable_any NS URL: eventually some answer.
reachable_any() { wait_for 15 nsenter --net="/run/netns/$1" timeout 5 "$SL_BUSYBOX" wget -q -O /dev/null "$2"; }
# unreachable NS URL: eventually a request fails.
# shellcheck disable=SC2016 # $1, $2 are the inner sh's arguments
unreachable() { wait_for 15 sh -c '! timeout 3 nsenter --net=/run/netns/$1 '"$SL_BUSYBOX"' wget -q -O /dev/null "$2"' _ "$1" "$2"; }

# hex_bytes A.B.C.D: the address as bpftool shows key bytes, a JSON array.
hex_bytes() {
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1
	printf '["0x%02x","0x%02x","0x%02x","0x%02x"]' "$1" "$2" "$3" "$4"
}

# svc_in_map I VIP: node I's sl_svc4 has an entry for VIP.
svc_in_map() {
	bpftool -j map dump pinned "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-$1/sl_svc4" |
		jq -e --argjson k "$(hex_bytes "$2")" 'any(.[]; .key[0:4] == $k)' >/dev/null
}
svc_not_in_map() { ! svc_in_map "$@"; }

setup() {
	C1=$(ns_of 1 c1)
	C3=$(ns_of 3 c3)
	SVC=
}

# --- tests -------------------------------------------------------------------------------

@test "(services) should serve a basic endpoint from pods" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP")
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1)" "$(ep "$(ip_of 2 b1)" 2)"
	reachable_any "$C1" "http://$vip/"
	run answers "$C1" "http://$vip/" 30
	[ "$output" = "a1 b1" ]
	run answers "$C3" "http://$vip/" 30
	[ "$output" = "a1 b1" ]
}

@test "(services) should serve multiport endpoints from pods" {
	new_svc
	vip=$(svc_apply "$SVC" '[{"name":"http","port":80,"targetPort":8080},{"name":"alt","port":81,"targetPort":8081}]')
	eps_apply "$SVC" '[{"name":"http","port":8080,"protocol":"TCP"},{"name":"alt","port":8081,"protocol":"TCP"}]' \
		"$(ep "$(ip_of 2 b1)" 2)"
	reachable "$C1" "http://$vip:80/" b1
	reachable "$C1" "http://$vip:81/" b1
	# a port the Service does not have is rejected, not leaked
	run tcp_refused_ms "$C1" "$vip" 82
	[ "$status" -eq 0 ]
}

@test "(services) should serve endpoints on same port and different protocols" {
	new_svc
	vip=$(svc_apply "$SVC" '[{"name":"tcp","port":80,"targetPort":8080,"protocol":"TCP"},{"name":"udp","port":80,"targetPort":5353,"protocol":"UDP"}]')
	eps_apply "$SVC" '[{"name":"tcp","port":8080,"protocol":"TCP"},{"name":"udp","port":5353,"protocol":"UDP"}]' \
		"$(ep "$(ip_of 2 b1)" 2)"
	reachable "$C1" "http://$vip/" b1
	wait_for 10 udp_ask "$C1" "$vip" 80
	run udp_ask "$C1" "$vip" 80
	[ "$output" = "b1 $(ip_of 1 c1)" ]
}

@test "(services) should preserve source pod IP for traffic thru service cluster IP" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP")
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)"
	reachable "$C1" "http://$vip/cgi-bin/ip" "$(ip_of 1 c1)"
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1)"
	reachable "$C1" "http://$vip/" a1
	run get "$C1" "http://$vip/cgi-bin/ip"
	[ "$output" = "$(ip_of 1 c1)" ]
	run get "$C3" "http://$vip/cgi-bin/ip"
	[ "$output" = "$(ip_of 3 c3)" ]
}

@test "(services) should allow pods to hairpin back to themselves through services" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP")
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1)"
	reachable "$(ns_of 1 a1)" "http://$vip/" a1
	# the pod sees itself under the service-loopback address, not its own
	run get "$(ns_of 1 a1)" "http://$vip/cgi-bin/ip"
	[ "$output" = 169.254.42.1 ]
}

@test "(services) should have session affinity work for service with type clusterIP" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP" '{"sessionAffinity":"ClientIP"}')
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1)" "$(ep "$(ip_of 2 b1)" 2)" "$(ep "$(ip_of 2 b2)" 2)"
	reachable_any "$C1" "http://$vip/"
	run answers "$C1" "http://$vip/" 30
	[[ "$output" =~ ^(a1|b1|b2)$ ]]
}

@test "(services) should be able to switch session affinity for service with type clusterIP" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP")
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1)" "$(ep "$(ip_of 2 b1)" 2)" "$(ep "$(ip_of 2 b2)" 2)"
	reachable_any "$C1" "http://$vip/"
	run answers "$C1" "http://$vip/" 30
	[ "$output" = "a1 b1 b2" ]
	svc_apply "$SVC" "$HTTP" '{"sessionAffinity":"ClientIP"}' >/dev/null
	wait_for 15 sh -c "[ \$(for i in 1 2 3 4 5 6 7 8 9 10; do timeout 5 nsenter --net=/run/netns/$C1 $SL_BUSYBOX wget -q -O - http://$vip/; done | sort -u | wc -l) = 1 ]"
	run answers "$C1" "http://$vip/" 30
	[[ "$output" =~ ^(a1|b1|b2)$ ]]
	svc_apply "$SVC" "$HTTP" '{"sessionAffinity":"None"}' >/dev/null
	wait_for 15 answers_are "$C1" "http://$vip/" 30 "a1 b1 b2"
}

@test "(services) should have session affinity timeout work for service with type clusterIP" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP" '{"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":1}}}')
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1)" "$(ep "$(ip_of 2 b1)" 2)" "$(ep "$(ip_of 2 b2)" 2)"
	reachable_any "$C1" "http://$vip/"
	# within the timeout: one backend
	run answers "$C1" "http://$vip/" 5
	[[ "$output" =~ ^(a1|b1|b2)$ ]]
	# after it: a fresh choice each time; 8 rounds over 3 backends all alike: p = 3^-7
	seen=$(for i in 1 2 3 4 5 6 7 8; do sleep 2; get "$C1" "http://$vip/"; done | sort -u | wc -l)
	[ "$seen" -ge 2 ]
}

@test "(services) should be able to up and down services" {
	new_svc
	s1=$SVC s2=$SVC-2
	vip1=$(svc_apply "$s1" "$HTTP")
	vip2=$(svc_apply "$s2" "$HTTP")
	eps_apply "$s1" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)"
	eps_apply "$s2" "$HTTP_EP" "$(ep "$(ip_of 2 b2)" 2)"
	reachable "$C1" "http://$vip1/" b1
	reachable "$C1" "http://$vip2/" b2
	svc_delete "$s1"
	unreachable "$C1" "http://$vip1/"
	run svc_in_map 1 "$vip1"
	[ "$status" -ne 0 ]
	run get "$C1" "http://$vip2/"
	[ "$output" = b2 ]
	s3=$SVC-3
	vip3=$(svc_apply "$s3" "$HTTP")
	eps_apply "$s3" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1)"
	reachable "$C3" "http://$vip3/" a1
	run get "$C3" "http://$vip2/"
	[ "$output" = b2 ]
	svc_delete "$s2"
	svc_delete "$s3"
}

@test "(services) should work after the service has been recreated" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP")
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)"
	reachable "$C1" "http://$vip/" b1
	svc_delete "$SVC"
	unreachable "$C1" "http://$vip/"
	vip=$(svc_apply "$SVC" "$HTTP")
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b2)" 2)"
	reachable "$C1" "http://$vip/" b2
}

@test "(services) should be updated after adding or deleting ports" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP")
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)"
	reachable "$C1" "http://$vip:80/" b1
	two='[{"name":"http","port":80,"targetPort":8080},{"name":"alt","port":81,"targetPort":8081}]'
	svc_apply "$SVC" "$two" >/dev/null
	eps_apply "$SVC" '[{"name":"http","port":8080,"protocol":"TCP"},{"name":"alt","port":8081,"protocol":"TCP"}]' \
		"$(ep "$(ip_of 2 b1)" 2)"
	reachable "$C1" "http://$vip:81/" b1
	svc_apply "$SVC" '[{"name":"alt","port":81,"targetPort":8081}]' >/dev/null
	eps_apply "$SVC" '[{"name":"alt","port":8081,"protocol":"TCP"}]' "$(ep "$(ip_of 2 b1)" 2)"
	wait_for 15 tcp_refused_ms "$C1" "$vip" 80
	run get "$C1" "http://$vip:81/"
	[ "$output" = b1 ]
}

@test "(services) should be rejected when no endpoints exist" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP")
	eps_apply "$SVC" "$HTTP_EP"
	wait_for 15 tcp_refused_ms "$C1" "$vip" 80
	run tcp_refused_ms "$C1" "$vip" 80
	[ "$status" -eq 0 ]
	[ "$output" -lt 1000 ]
	# and from a node's own network (socket-level load balancing)
	run on_node 1 host_exec python3 -c '
import socket, sys, time
t = time.monotonic()
try: socket.create_connection((sys.argv[1], 80), timeout=5)
except ConnectionRefusedError: print(int((time.monotonic() - t) * 1000)); sys.exit(0)
sys.exit(1)' "$vip"
	[ "$status" -eq 0 ]
	[ "$output" -lt 1000 ]
}

@test "(services) should implement service.kubernetes.io/headless and service-proxy-name" {
	new_svc
	h=$SVC-h p=$SVC-p
	kube create -f - >/dev/null <<-EOF
		{"apiVersion":"v1","kind":"Service","metadata":{"name":"$h","namespace":"default"},
		 "spec":{"clusterIP":"None","selector":{"app":"$h"},"ports":[{"port":80,"targetPort":8080}]}}
	EOF
	eps_apply "$h" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)"
	vip=$(svc_apply "$p" "$HTTP" '{"labels":{"service.kubernetes.io/service-proxy-name":"other-proxy"}}')
	eps_apply "$p" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)"
	# a control Service created after them is programmed: by then they were seen
	vipc=$(svc_apply "$SVC" "$HTTP")
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b2)" 2)"
	reachable "$C1" "http://$vipc/" b2
	run svc_in_map 1 "$vip"
	[ "$status" -ne 0 ]
	# the label gone, the Service is ours
	kube label service "$p" service.kubernetes.io/service-proxy-name- >/dev/null
	reachable "$C1" "http://$vip/" b1
	kube label service "$p" service.kubernetes.io/headless=true >/dev/null
	wait_for 15 svc_not_in_map 1 "$vip"
	svc_delete "$h"
	svc_delete "$p"
}

@test "(services) should respect internalTrafficPolicy=Local Pod to Pod" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP" '{"internalTrafficPolicy":"Local"}')
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1)" "$(ep "$(ip_of 2 b1)" 2)"
	only_from "$C1" "http://$vip/" a1
	# node 3 has no local endpoint: dropped (no answer), not sent elsewhere
	run get "$C3" "http://$vip/"
	[ "$status" -ne 0 ]
	[ -z "$output" ]
}

@test "(services) should respect internalTrafficPolicy=Local Pod and Node, to Pod (host-network client)" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP" '{"internalTrafficPolicy":"Local"}')
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1)" "$(ep "$(ip_of 2 b1)" 2)"
	wait_for 15 on_node 1 host_exec timeout 5 "$SL_BUSYBOX" wget -q -O /dev/null "http://$vip/"
	seen=$(for i in $(seq 10); do on_node 1 host_exec timeout 5 "$SL_BUSYBOX" wget -q -O - "http://$vip/"; done | sort -u)
	[ "$seen" = a1 ]
	# node 3 has no local endpoint: no backend answers from there (the
	# socket-level balancer refuses the connect: it cannot drop it)
	run on_node 3 host_exec timeout 5 "$SL_BUSYBOX" wget -q -O - "http://$vip/"
	[ "$status" -ne 0 ]
	[[ "$output" != *a1* && "$output" != *b1* ]]
}

@test "(services) should fallback to terminating endpoints when there are no ready endpoints with internalTrafficPolicy=Cluster" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP")
	# a1: terminating but serving; b1: terminating and not serving
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1 false true true)" "$(ep "$(ip_of 2 b1)" 2 false false true)"
	only_from "$C3" "http://$vip/" a1
	# a ready endpoint wins over terminating ones
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1 false true true)" "$(ep "$(ip_of 2 b2)" 2)"
	only_from "$C3" "http://$vip/" b2
}

@test "(services) should fallback to local terminating endpoints when there are no ready endpoints with internalTrafficPolicy=Local" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP" '{"internalTrafficPolicy":"Local"}')
	# node 2: b1 ready (but not local to node 1), node 1: a1 terminating+serving
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1 false true true)" "$(ep "$(ip_of 2 b1)" 2)"
	only_from "$C1" "http://$vip/" a1
}

@test "(services) should be able to change the type from ExternalName to ClusterIP and back" {
	new_svc
	kube create -f - >/dev/null <<-EOF
		{"apiVersion":"v1","kind":"Service","metadata":{"name":"$SVC","namespace":"default"},
		 "spec":{"type":"ExternalName","externalName":"example.invalid"}}
	EOF
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)"
	kube get service "$SVC" -o json |
		jq -c --argjson p "$HTTP" '.spec = {type: "ClusterIP", selector: {app: .metadata.name}, ports: $p}' |
		kube replace -f - >/dev/null
	vip=$(svc_ip "$SVC")
	[ -n "$vip" ] && [ "$vip" != None ]
	reachable "$C1" "http://$vip/" b1
	kube get service "$SVC" -o json |
		jq -c '.spec = {type: "ExternalName", externalName: "example.invalid"}' | kube replace -f - >/dev/null
	unreachable "$C1" "http://$vip/"
	run svc_in_map 1 "$vip"
	[ "$status" -ne 0 ]
}

@test "(services) should be able to preserve UDP traffic when server pod cycles for a ClusterIP service" {
	new_svc
	on_node 2 pod_add u1 >/dev/null
	on_node 2 udp_serve u1 5353
	vip=$(svc_apply "$SVC" '[{"name":"dns","port":53,"targetPort":5353,"protocol":"UDP"}]')
	ports='[{"name":"dns","port":5353,"protocol":"UDP"}]'
	eps_apply "$SVC" "$ports" "$(ep "$(ip_of 2 u1)" 2)"
	# one client flow: the same source port throughout
	wait_for 15 udp_ask "$C1" "$vip" 53 40053
	run udp_ask "$C1" "$vip" 53 40053
	[ "$output" = "u1 $(ip_of 1 c1)" ]
	# the server pod goes, a new one comes on the same node
	eps_apply "$SVC" "$ports"
	on_node 2 pod_del u1
	on_node 2 pod_add u2 >/dev/null
	on_node 2 udp_serve u2 5353
	eps_apply "$SVC" "$ports" "$(ep "$(ip_of 2 u2)" 2)"
	# the flow moves to the new backend within seconds: no black hole
	wait_for 10 sh -c "[ \"\$(nsenter --net=/run/netns/$C1 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\"0.0.0.0\", 40053)); s.settimeout(1)
s.sendto(b\"q\", (\"$vip\", 53)); print(s.recvfrom(2048)[0].decode().split()[0])')\" = u2 ]"
	on_node 2 pod_del u2
}

@test "(services) host-network client reaches a ClusterIP (socket-level load balancing)" {
	new_svc
	vip=$(svc_apply "$SVC" "$HTTP")
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 1 a1)" 1)" "$(ep "$(ip_of 2 b1)" 2)"
	wait_for 15 on_node 1 host_exec timeout 5 "$SL_BUSYBOX" wget -q -O /dev/null "http://$vip/"
	seen=$(for i in $(seq 20); do on_node 2 host_exec timeout 5 "$SL_BUSYBOX" wget -q -O - "http://$vip/"; done | sort -u | tr '\n' ' ')
	[ "$seen" = "a1 b1 " ]
	# the backend sees the node itself as the client
	run on_node 3 host_exec timeout 5 "$SL_BUSYBOX" wget -q -O - "http://$vip/cgi-bin/ip"
	[ "$output" = "$(node_ip 3)" ]
	# UDP from the host: the reply appears to come from the VIP
	svc_apply "$SVC" '[{"name":"dns","port":53,"targetPort":5353,"protocol":"UDP"}]' >/dev/null
	eps_apply "$SVC" '[{"name":"dns","port":5353,"protocol":"UDP"}]' "$(ep "$(ip_of 2 b1)" 2)"
	wait_for 15 on_node 1 host_exec python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
s.sendto(b"q", (sys.argv[1], 53)); data, peer = s.recvfrom(2048)
sys.exit(0 if peer == (sys.argv[1], 53) and data.split()[0] == b"b1" else 1)' "$vip"
}

@test "(services) a Service with 1000 endpoints spreads new flows within 15% of even" {
	# 1000 endpoints in node 2's pod CIDR (10.244.2.0/24 and the next /24s
	# are unused beyond the few real pods, so the flows die harmlessly in
	# node 2). The measure is the datapath's choice: node 1's conntrack
	# (sl_ct4) records the backend of each new UDP flow from c1. The 1000
	# backends are grouped by backend id into 10 groups of 100: with 20000
	# flows each group expects 2000 (sd ~ 42); every group must be within 15 %
	# and every endpoint chosen at least once.
	new_svc
	vip=$(svc_apply "$SVC" '[{"name":"u","port":9,"targetPort":9,"protocol":"UDP"}]')
	mapfile -t eps < <(for i in $(seq 0 999); do
		printf '{"addresses":["10.244.%d.%d"],"nodeName":"%s","conditions":{"ready":true}}\n' \
			$((20 + i / 250)) $((i % 250 + 1)) "$(node_name 2)"
	done)
	eps_apply "$SVC" '[{"name":"u","port":9,"protocol":"UDP"}]' "${eps[@]}"
	wait_for 20 sh -c "[ \$(bpftool -j map dump pinned /sys/fs/bpf/sluice-$SL_CLUSTER_RND-1/sl_be4 | jq length) -ge 1000 ]"
	ns_exec "$C1" python3 -c '
import socket, sys
for i in range(20000):  # one flow each: distinct source ports
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 20000 + i))
    s.sendto(b"x", (sys.argv[1], 9)); s.close()' "$vip"
	c1=$(ip_of 1 c1)
	# sl_ct4 out-direction entries from c1 to the VIP: value bytes 8..11 are backend_id (LE).
	bpftool -j map dump pinned "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-1/sl_ct4" |
		jq -r --argjson s "$(hex_bytes "$c1")" --argjson d "$(hex_bytes "$vip")" \
			'.[] | select(.key[0:4] == $s and .key[4:8] == $d and .key[13] == "0x00")
			| .value[8:12] | map(ltrimstr("0x")) | reverse | join("")' >"$BATS_TEST_TMPDIR/ids"
	n=$(wc -l <"$BATS_TEST_TMPDIR/ids")
	echo "flows recorded: $n" >&3
	[ "$n" -ge 19000 ]
	distinct=$(sort -u "$BATS_TEST_TMPDIR/ids" | wc -l)
	echo "distinct backends: $distinct" >&3
	[ "$distinct" -eq 1000 ]
	# group by rank of backend id (ids need not be contiguous)
	sort -u "$BATS_TEST_TMPDIR/ids" | awk '{ rank[$1] = NR - 1 } END { for (k in rank) print k, int(rank[k] / 100) }' >"$BATS_TEST_TMPDIR/rank"
	run awk -v n="$n" 'NR == FNR { g[$1] = $2; next } { c[g[$1]]++ }
		END { e = n / 10; bad = 0; for (i = 0; i < 10; i++) { d = (c[i] - e) / e; printf "group %d: %d (%.1f%%)\n", i, c[i], d * 100; if (d > 0.15 || d < -0.15) bad = 1 } exit bad }' \
		"$BATS_TEST_TMPDIR/rank" "$BATS_TEST_TMPDIR/ids"
	echo "$output" >&3
	[ "$status" -eq 0 ]
}

@test "(services) should work after restarting the agent under load (kill -9, >= 500 req/s, zero failures)" {
	new_svc
	on_node 1 tcp_serve a1 9090 && on_node 2 tcp_serve b1 9090 && on_node 2 tcp_serve b2 9090
	vip=$(svc_apply "$SVC" '[{"name":"fast","port":80,"targetPort":9090}]')
	eps_apply "$SVC" '[{"name":"fast","port":9090,"protocol":"TCP"}]' \
		"$(ep "$(ip_of 1 a1)" 1)" "$(ep "$(ip_of 2 b1)" 2)" "$(ep "$(ip_of 2 b2)" 2)"
	reachable_any "$C1" "http://$vip/"
	wait_for 10 on_node 1 agent_synced
	on_node 1 svc_map_dump sl_svc4 >"$BATS_TEST_TMPDIR/svc.before"
	on_node 1 svc_map_dump sl_be4 >"$BATS_TEST_TMPDIR/be.before"
	# 20 s of new TCP connections (each a full request), two paced clients of
	# 260/s each; every failure is counted.
	for k in 1 2; do
		ns_exec "$C1" timeout 40 python3 -c '
import socket, sys, time
vip, total, rate = sys.argv[1], 5200, 260
ok = fail = 0; start = time.monotonic(); errs = {}
for i in range(total):
    d = start + i / rate - time.monotonic()
    if d > 0: time.sleep(d)
    try:
        s = socket.create_connection((vip, 80), timeout=2)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b: break
            data += b
        s.close()
        if data.startswith(b"HTTP/1.0 200 "): ok += 1
        else: fail += 1
    except Exception as e:
        fail += 1; errs[repr(e)] = errs.get(repr(e), 0) + 1
el = time.monotonic() - start
print("ok=%d fail=%d secs=%.1f rate=%.0f errs=%s" % (ok, fail, el, (ok + fail) / el, errs))
' "$vip" >"$BATS_TEST_TMPDIR/load.$k" 2>&1 &
	done
	sleep 7
	on_node 1 agent_kill
	sleep 1
	on_node 1 agent_start
	wait
	cat "$BATS_TEST_TMPDIR"/load.* >&3
	run cat "$BATS_TEST_TMPDIR"/load.1 "$BATS_TEST_TMPDIR"/load.2
	[ "$(grep -c ' fail=0 ' <<<"$output")" -eq 2 ]
	# >= 500 req/s together: each client kept its 260/s pace (done within 21 s)
	[ "$(grep -cE 'secs=(1[0-9]|20|21)\.' <<<"$output")" -eq 2 ]
	wait_for 15 on_node 1 agent_synced
	sleep 2
	on_node 1 svc_map_dump sl_svc4 >"$BATS_TEST_TMPDIR/svc.after"
	on_node 1 svc_map_dump sl_be4 >"$BATS_TEST_TMPDIR/be.after"
	# no map churn: the same ids, slots and backends after the restart
	diff "$BATS_TEST_TMPDIR/svc.before" "$BATS_TEST_TMPDIR/svc.after"
	diff "$BATS_TEST_TMPDIR/be.before" "$BATS_TEST_TMPDIR/be.after"
}

@test "(agent) /healthz and /livez answer on :10256 like kube-proxy's" {
	local out
	# Bound to 127.0.0.1 of node 1's own namespace.
	out=$(on_node 1 node_exec curl -sS -w '\n%{http_code}' http://127.0.0.1:10256/healthz)
	echo "$out"
	[ "$(tail -n1 <<<"$out")" = 200 ]
	head -n -1 <<<"$out" | jq -e '.lastUpdated and .currentTime and .nodeEligible == true'
	out=$(on_node 1 node_exec curl -sS -w '\n%{http_code}' http://127.0.0.1:10256/livez)
	echo "$out"
	[ "$(tail -n1 <<<"$out")" = 200 ]
	head -n -1 <<<"$out" | jq -e '.lastUpdated and .currentTime'
	# Any other path is not a health endpoint.
	out=$(on_node 1 node_exec curl -sS -o /dev/null -w '%{http_code}' http://127.0.0.1:10256/nope)
	[ "$out" = 404 ]
}

# --- health check node ports and /healthz (kube-proxy's healthcheck package) ---------------

# hc NODE PORT: the health check node port of node NODE as a load balancer asks it
# (from node 1, over the fabric): "CODE LOCALENDPOINTS", or "refused".
hc() {
	local out rc=0
	out=$(on_node 1 node_exec curl -sS -m 3 -w '\n%{http_code}' "http://$(node_ip "$1"):$2/") || rc=$?
	[ "$rc" -ne 7 ] || { echo refused; return 0; }
	[ "$rc" -eq 0 ] || { echo "curl failed ($rc)"; return 0; }
	echo "$(tail -n1 <<<"$out") $(head -n -1 <<<"$out" | jq -r .localEndpoints)"
}
# hc_is NODE PORT WANT: within 15 s hc NODE PORT says WANT.
hc_is_now() { [ "$(hc "$1" "$2")" = "$3" ]; }
hc_is() { within 15 hc_is_now "$@" || { echo "node $1 port $2: $(hc "$1" "$2"), want $3"; return 1; }; }

# lb_local_apply PORT: $SVC as a LoadBalancer with externalTrafficPolicy Local and
# healthCheckNodePort PORT (what the real API allocates; the stand-in takes it as given).
lb_local_apply() {
	svc_apply "$SVC" "$HTTP" "{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Local\",\"healthCheckNodePort\":$1}" >/dev/null
}
hc_port() { echo $((32000 + 0x$(sl_rand_hex) % 700)); }

@test "(services) LoadBalancers ESIPP should only target nodes with endpoints" {
	local port out
	new_svc
	port=$(hc_port)
	lb_local_apply "$port"
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)" "$(ep "$(ip_of 2 b2)" 2)"
	hc_is 2 "$port" "200 2"
	hc_is 1 "$port" "503 0"
	hc_is 3 "$port" "503 0"
	# kube-proxy's exact answer: headers and the JSON body
	out=$(on_node 1 node_exec curl -sS -i -m 3 "http://$(node_ip 2):$port/any/path")
	echo "$out"
	grep -q $'^Content-Type: application/json\r$' <<<"$out"
	grep -q $'^X-Content-Type-Options: nosniff\r$' <<<"$out"
	grep -q $'^X-Load-Balancing-Endpoint-Weight: 2\r$' <<<"$out"
	sed '1,/^\r$/d' <<<"$out" | jq -e --arg n "$SVC" \
		'. == {service: {namespace: "default", name: $n}, localEndpoints: 2, serviceProxyHealthy: true}'
}

@test "(services) should fail health check node port if there are only terminating endpoints" {
	local port
	new_svc
	port=$(hc_port)
	lb_local_apply "$port"
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)"
	hc_is 2 "$port" "200 1"
	# b1 terminates: still serving, no longer ready
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2 false true true)"
	hc_is 2 "$port" "503 0"
	# while the Service itself still reaches the terminating endpoint (kube-proxy's fallback)
	reachable "$C1" "http://$(svc_ip "$SVC")/" b1
}

@test "(services) LoadBalancers ESIPP should handle updates to ExternalTrafficPolicy field" {
	local port
	new_svc
	port=$(hc_port)
	lb_local_apply "$port"
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)"
	hc_is 2 "$port" "200 1"
	# Cluster: the health port is released on every node
	svc_apply "$SVC" "$HTTP" '{"type":"LoadBalancer","externalTrafficPolicy":"Cluster"}' >/dev/null
	hc_is 2 "$port" refused
	hc_is 1 "$port" refused
	run on_node 2 node_exec ss -Hlnt "sport = :$port"
	[ -z "$output" ]
	# Local again: allocated again
	lb_local_apply "$port"
	hc_is 2 "$port" "200 1"
	# and released when the Service goes
	svc_delete "$SVC"
	hc_is 2 "$port" refused
}

# hc_local NODE PORT: node NODE's health check node port asked on its own loopback:
# "CODE", or "refused".
hc_local() {
	local code rc=0
	code=$(on_node "$1" node_exec curl -s -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/") || rc=$?
	[ "$rc" -ne 7 ] || { echo refused; return 0; }
	echo "$code"
}
hc_local_is_now() { [ "$(hc_local "$1" "$2")" = "$3" ]; }

@test "(services) health check node ports listen on the --nodeport-addresses only, as kube-proxy" {
	local port
	new_svc
	port=$(hc_port)
	lb_local_apply "$port"
	eps_apply "$SVC" "$HTTP_EP" "$(ep "$(ip_of 2 b1)" 2)"
	# kube-proxy's default: every address, loopback included
	hc_is 3 "$port" "503 0"
	within 15 hc_local_is_now 3 "$port" 503
	on_node 3 agent_stop
	SL_AGENT_EXTRA_ARGS="--nodeport-addresses $(node_ip 3)/32" on_node 3 agent_start
	wait_for 15 on_node 3 agent_synced
	# limited: the node address only (kube-proxy: one listener per matching address)
	hc_is 3 "$port" "503 0"
	run hc_local 3 "$port"
	echo "loopback with --nodeport-addresses: $output"
	on_node 3 agent_stop
	on_node 3 agent_start
	wait_for 15 on_node 3 agent_synced
	[ "$output" = refused ]
	hc_is 3 "$port" "503 0"
}

# healthz_is NODE CODE ELIGIBLE: within 15 s node NODE's /healthz answers CODE with nodeEligible ELIGIBLE.
healthz_is_now() {
	local out
	out=$(on_node "$1" node_exec curl -sS -m 3 -w '\n%{http_code}' http://127.0.0.1:10256/healthz) || return 1
	[ "$(tail -n1 <<<"$out")" = "$2" ] && head -n -1 <<<"$out" | jq -e ".nodeEligible == $3" >/dev/null
}
healthz_is() { within 15 healthz_is_now "$@"; }

@test "(agent) /healthz is 503 while the Node is tainted ToBeDeletedByClusterAutoscaler or deleted" {
	local node
	node=$(node_name 3)
	healthz_is 3 200 true
	kube get node "$node" -o json |
		jq -c '.spec.taints = [{key: "ToBeDeletedByClusterAutoscaler", value: "1765069200", effect: "NoSchedule"}]' |
		kube replace -f - >/dev/null
	healthz_is 3 503 false
	# /livez ignores the node's state
	[ "$(on_node 3 node_exec curl -sS -m 3 -o /dev/null -w '%{http_code}' http://127.0.0.1:10256/livez)" = 200 ]
	kube get node "$node" -o json | jq -c 'del(.spec.taints)' | kube replace -f - >/dev/null
	healthz_is 3 200 true
	kube delete node "$node" >/dev/null
	healthz_is 3 503 false
	node_object_create 3
	healthz_is 3 200 true
	# the other nodes route to its pods again
	wait_for 15 on_node 1 routes_right 1
}

# --- ICMP errors from backends, reverse-translated for the client -------------------------

@test "(services) ICMP port unreachable from a backend refuses the client's connected UDP socket" {
	local vip
	new_svc
	# nothing listens on 5454 in the backends: their stacks answer port unreachable
	vip=$(svc_apply "$SVC" '[{"name":"dns","port":53,"targetPort":5454,"protocol":"UDP"}]')
	# a remote backend: the error is translated on its way into the client (sl_to_pod)
	eps_apply "$SVC" '[{"name":"dns","port":5454,"protocol":"UDP"}]' "$(ep "$(ip_of 2 b1)" 2)"
	within 15 udp_refused "$C1" "$vip" 53 || { udp_connected_err "$C1" "$vip" 53; false; }
	# a backend on the client's node: translated as it leaves the backend (sl_from_pod)
	eps_apply "$SVC" '[{"name":"dns","port":5454,"protocol":"UDP"}]' "$(ep "$(ip_of 1 a1)" 1)"
	within 15 udp_refused "$C1" "$vip" 53 || { udp_connected_err "$C1" "$vip" 53; false; }
}

@test "(services) a client's port unreachable about a late reply reaches the backend's connected UDP socket" {
	local vip
	new_svc
	vip=$(svc_apply "$SVC" '[{"name":"late","port":53,"targetPort":5400,"protocol":"UDP"}]')
	# a backend on the client's node: the error leaves the client (sl_from_pod) quoting
	# VIP:53 and goes on to a1 quoting a1's own answer
	on_node 1 udp_late_serve a1 5400
	eps_apply "$SVC" '[{"name":"late","port":5400,"protocol":"UDP"}]' "$(ep "$(ip_of 1 a1)" 1)"
	within 15 be4_has 1 "$(ip_of 1 a1)" 5400
	udp_send_close "$C1" "$vip" 53
	run on_node 1 udp_late_result a1 5400
	[ "$output" = refused ]
	# a backend on another node: the same error, routed on to it
	on_node 2 udp_late_serve b1 5400
	eps_apply "$SVC" '[{"name":"late","port":5400,"protocol":"UDP"}]' "$(ep "$(ip_of 2 b1)" 2)"
	within 15 be4_has 1 "$(ip_of 2 b1)" 5400
	udp_send_close "$C1" "$vip" 53
	run on_node 2 udp_late_result b1 5400
	[ "$output" = refused ]
}

@test "(services) path-MTU discovery works through a ClusterIP (fragmentation needed is translated)" {
	local vip veth
	on_node 2 pod_add m1 >/dev/null
	on_node 2 tcp_sink m1 9000
	# the node forwards into m1 over a 1400-byte link while both ends say MSS 1460:
	# only the node's "fragmentation needed" can tell the client to send less
	veth=$(on_node 2 pod_host_veth m1)
	on_node 2 node_exec ip link set dev "$veth" mtu 1400
	new_svc
	vip=$(svc_apply "$SVC" '[{"name":"sink","port":90,"targetPort":9000}]')
	eps_apply "$SVC" '[{"name":"sink","port":9000,"protocol":"TCP"}]' "$(ep "$(on_node 2 pod_ip m1)" 2)"
	reachable_any_tcp() { [ "$(tcp_upload "$C1" "$vip" 90 10)" = 10 ]; }
	within 15 reachable_any_tcp
	run tcp_upload "$C1" "$vip" 90 300000
	echo "$output"
	on_node 2 pod_del m1
	[ "$output" = 300000 ]
}

@test "(services) path-MTU discovery through a ClusterIP honours a smaller MTU of a backend on the client's node (the node's fragmentation needed)" {
	local vip veth
	on_node 1 pod_add m2 >/dev/null
	on_node 1 udp_serve m2 5353
	# m2's veth is 1400 bytes at both ends (as the CNI plugin sets one MTU), the
	# client's 1500. The peer redirect does not look at m2's MTU (on 6.18 it
	# handed m2 the 1478-byte datagram anyway, as a stack forwarding it would
	# not): the node answers fragmentation needed quoting the VIP, and the
	# client learns the path MTU as it would from a remote backend's node
	veth=$(on_node 1 pod_host_veth m2)
	on_node 1 node_exec ip link set dev "$veth" mtu 1400
	on_node 1 pod_exec m2 ip link set dev eth0 mtu 1400
	new_svc
	vip=$(svc_apply "$SVC" '[{"name":"dns","port":53,"targetPort":5353,"protocol":"UDP"}]')
	eps_apply "$SVC" '[{"name":"dns","port":5353,"protocol":"UDP"}]' "$(ep "$(on_node 1 pod_ip m2)" 1)"
	small_answered() { [ "$(udp_pmtu "$C1" "$vip" 53 100)" = "1500 100" ]; }
	within 15 small_answered
	run udp_pmtu "$C1" "$vip" 53 1450
	echo "$output"
	on_node 1 pod_del m2
	[ "$output" = "1400 1372" ]
}

# The last test of the file: the offloads it turns off stay off until the
# cluster goes (checksums then are all done in software, which is correct too).
@test "(services) checksums stay right through DNAT and reverse NAT, from a CHECKSUM_NONE and a PARTIAL client" {
	local nss ns i b1 who before=()
	on_node 2 tcp_sink b1 9000
	new_svc
	vip=$(svc_apply "$SVC" '[{"name":"http","port":80,"targetPort":8080},{"name":"dns","port":53,"targetPort":5353,"protocol":"UDP"},{"name":"sink","port":90,"targetPort":9000}]')
	eps_apply "$SVC" '[{"name":"http","port":8080,"protocol":"TCP"},{"name":"dns","port":5353,"protocol":"UDP"},{"name":"sink","port":9000,"protocol":"TCP"}]' \
		"$(ep "$(ip_of 2 b1)" 2)"
	b1=$(ns_of 2 b1)
	# No veth vouches for a checksum (rx off) and the nodes' uplinks finish a
	# PARTIAL one in software (tx off), so each receiver's stack checks what
	# sluice rewrote on the way. c1 sends CHECKSUM_NONE (tx off: the rewrite
	# updates the whole checksum), c3 CHECKSUM_PARTIAL (the pseudo header's
	# sum only); replies reach both clients' nodes as NONE.
	nss=("$SL_FABRIC" "$(node_name 1)" "$(node_name 2)" "$(node_name 3)" "$C1" "$C3" "$b1")
	csum_verify_in "${nss[@]}"
	for i in 1 2 3; do offload "$(node_name "$i")" eth0 tx off; done
	offload "$C1" eth0 tx off
	for ns in "$C1" "$C3" "$b1"; do before+=("$(csum_errors "$ns")"); done
	for who in 1:c1 3:c3; do
		ns=$(ns_of "${who%:*}" "${who#*:}")
		within 20 http_says "$ns" "http://$vip/" b1 # a wrong checksum: no answer
		[ "$(udp_ask "$ns" "$vip" 53)" = "b1 $(ip_of "${who%:*}" "${who#*:}")" ]
		[ "$(tcp_upload "$ns" "$vip" 90 200000)" = 200000 ] # segments of 64k (GSO) from c3
	done
	i=0
	for ns in "$C1" "$C3" "$b1"; do
		echo "$ns: checksum errors ${before[i]} -> $(csum_errors "$ns")"
		[ "$(csum_errors "$ns")" = "${before[i]}" ]
		i=$((i + 1))
	done
}
