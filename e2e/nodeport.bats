#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# NodePort, LoadBalancer and externalIP Services on two emulated nodes, reached
# from a client outside the cluster (a namespace on the fabric that is no
# node), from pods and from the nodes themselves; one test per kube-proxy
# behaviour, each named after its upstream e2e twin (test/e2e/network/
# service.go, conntrack.go). The test plays the EndpointSlice controller and
# the load balancer controller (status.loadBalancer).

bats_require_minimum_version 1.5.0

load lib/services

setup_file() {
	cluster_file_up 2 || return 1
	# node 1: servers a1, a2; node 2: client c2 and no endpoint of any Service.
	cluster_pods_add 1:a1 1:a2 2:c2 || return 1
	{ on_node 1 pod_serve a1 && on_node 1 pod_serve a2 && on_node 1 udp_serve a1 5353 &&
		on_node 1 udp_serve a2 5353; } || cluster_abort || return 1
	EXT=$(cluster_external_add) || cluster_abort || return 1
	# LB and external IPs live behind node 1, as a router would send them.
	ip -n "$EXT" route add 192.0.2.0/24 via "$(node_ip 1)" || cluster_abort || return 1
	echo "EXT=$EXT" >"$BATS_FILE_TMPDIR/ext"
}

teardown_file() { cluster_down; }

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag
	[ -z "${SVC:-}" ] || svc_delete "$SVC" || true
	ip -n "$EXT" route del 192.0.2.21/32 2>/dev/null || true # a test's own route, if it failed
}

setup() {
	# shellcheck disable=SC1091
	. "$BATS_FILE_TMPDIR/ext"
	N1=$(node_ip 1)
	N2=$(node_ip 2)
	C2=$(cluster_pod_ns 2 c2)
	A1=$(cluster_pod_ip 1 a1)
	A2=$(cluster_pod_ip 1 a2)
	SVC=svc-$(sl_rand_hex)
}

HTTP='[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]'
HTTP_EP='[{"name":"http","port":8080,"protocol":"TCP"}]'

# np_apply TYPE [SPEC_JSON]: Service $SVC of TYPE on port 80 with endpoints a1
# (and a2 with A2=1); prints its NodePort.
np_apply() {
	local spec x=${2:-}
	[ -n "$x" ] || x='{}'
	spec=$(jq -cn --arg t "$1" --argjson x "$x" '{type: $t} + $x')
	svc_apply "$SVC" "$HTTP" "$spec" >/dev/null || return 1
	if [ -n "${TWO:-}" ]; then
		eps_apply "$SVC" "$HTTP_EP" "$(ep "$A1" 1)" "$(ep "$A2" 1)" || return 1
	else
		eps_apply "$SVC" "$HTTP_EP" "$(ep "$A1" 1)" || return 1
	fi
	kube get service "$SVC" -o jsonpath='{.spec.ports[0].nodePort}'
}

# answer NS URL WANT: eventually (15 s: agents publish asynchronously) a
# request from NS answers WANT.
# shellcheck disable=SC2016 # $1..$3 are the inner sh's arguments
answer() { wait_for 15 sh -c '[ "$(timeout 5 nsenter --net=/run/netns/$1 '"$SL_BUSYBOX"' wget -q -O - "$2")" = "$3" ]' _ "$1" "$2" "$3"; }
# host_answer I URL WANT: the same from node I's host network (socket-level LB).
host_says() { [ "$(on_node "$1" host_exec timeout 5 "$SL_BUSYBOX" wget -q -O - "$2")" = "$3" ]; }
host_answer() { wait_for 15 host_says "$@"; }
# no_answer NS URL: eventually a request fails.
# shellcheck disable=SC2016
no_answer() { wait_for 15 sh -c '! timeout 3 nsenter --net=/run/netns/$1 '"$SL_BUSYBOX"' wget -q -O /dev/null "$2"' _ "$1" "$2"; }
# refused NS IP PORT: eventually a connect is refused (not a timeout).
refused() { wait_for 15 tcp_refused_ms "$1" "$2" "$3"; }

# lb_status IP: the load balancer controller's part: $SVC's ingress IP.
lb_status() {
	apiserver_curl PATCH "/api/v1/namespaces/default/services/$SVC/status" \
		"{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$1\"}]}}}" \
		application/merge-patch+json >/dev/null
}

# distinct NS URL N: the distinct answers of N requests, sorted, space-separated.
distinct() {
	local i
	for ((i = 0; i < $3; i++)); do http_get "$1" "$2" || echo FAIL; done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# sample I NAME LABELS: the value of node I's /metrics sample NAME{LABELS} (0 when absent).
# frontend_backends I ADDR: node I's `services` rows at ADDR as "FLAG:BACKENDS"
# (FLAG "external" for what arrives from outside, "-" for what pods and the
# node see), sorted.
frontend_backends() {
	(cluster_use "$1" && nsenter --net="/run/netns/$SL_NODE" "$SL_BUILD/sluice-agent" services \
		--json --pin-dir "$SL_PIN" --cni-state-dir "$SL_STATE_DIR") |
		jq -r --arg a "$2" '.[] | select(.address == $a) |
			"\(if any(.flags[]; . == "external") then "external" else "-" end):\(.backends)"' |
		LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

sample() {
	on_node "$1" node_exec curl -sS --max-time 5 http://127.0.0.1:10249/metrics |
		awk -v s="$2{$3}" '$1 == s { v = $2 } END { print v + 0 }'
}
# svc_counter I NAME IP PORT: node I's sluice_service_NAME_total of $SVC's frontend IP:PORT.
svc_counter() { sample "$1" "sluice_service_$2_total" "namespace=\"default\",service=\"$SVC\",ip=\"$3\",port=\"$4\",protocol=\"TCP\""; }

# --- tests -------------------------------------------------------------------------------

@test "(nodeport) should be able to create a functioning NodePort service" {
	np=$(np_apply NodePort)
	[ -n "$np" ] && [ "$np" -ge 30000 ]
	answer "$EXT" "http://$N1:$np/" a1
	answer "$EXT" "http://$N2:$np/" a1 # no endpoint on node 2: SNAT to node 1's pod
}

@test "(nodeport) should be reachable from every node, pods and nodes included, also one without endpoints" {
	np=$(np_apply NodePort)
	answer "$C2" "http://$N1:$np/" a1
	answer "$C2" "http://$N2:$np/" a1
	host_answer 2 "http://$N2:$np/" a1
	host_answer 1 "http://$N2:$np/" a1
	host_answer 2 "http://$N1:$np/" a1
}

@test "(nodeport) the outside client, a router, takes no ICMP redirect: its route to a pod of node 2 through node 1 holds" {
	# node 1 forwards such packets out of the interface they came in by and
	# tells the sender to go to node 2 directly; a host would take the
	# shortcut (make bench's ns-routed row once measured it unknowingly)
	local c2 got
	c2=$(cluster_pod_ip 2 c2)
	ip -n "$EXT" route replace "$c2/32" via "$N1"
	ns_exec "$EXT" ping -c 3 -i 0.2 -W 2 -q "$c2" >/dev/null || { ip -n "$EXT" route del "$c2/32"; false; }
	got=$(ip -n "$EXT" -o route get "$c2")
	ip -n "$EXT" route del "$c2/32"
	[[ $got == *" via $N1 "* && $got != *redirected* ]] || { echo "route: $got"; false; }
}

@test "(nodeport) externalTrafficPolicy Cluster: a remote backend sees the node's address (SNAT)" {
	np=$(np_apply NodePort)
	answer "$EXT" "http://$N2:$np/cgi-bin/ip" "$N2"
	answer "$EXT" "http://$N1:$np/cgi-bin/ip" "$SL_EXTERNAL_IP" # local backend: client kept
}

@test "(nodeport) ESIPP should work for type=NodePort: Local keeps the client IP, only nodes with endpoints answer" {
	np=$(np_apply NodePort '{"externalTrafficPolicy":"Local"}')
	answer "$EXT" "http://$N1:$np/cgi-bin/ip" "$SL_EXTERNAL_IP"
	no_answer "$EXT" "http://$N2:$np/"
	# a pod on the node without endpoints is short-circuited to the Cluster endpoints
	answer "$C2" "http://$N2:$np/" a1
	# node 2's table: the frontend outsiders reach has no backend, the pods' one has a1
	run frontend_backends 2 "$N2:$np/TCP"
	echo "$output"
	[ "$output" = "-:1 external:0" ]
}

@test "(nodeport) should have session affinity work for NodePort service" {
	TWO=1
	np=$(np_apply NodePort '{"sessionAffinity":"ClientIP"}')
	answer "$EXT" "http://$N1:$np/" a1 || answer "$EXT" "http://$N1:$np/" a2
	[ "$(distinct "$EXT" "http://$N1:$np/" 12 | wc -w)" -eq 1 ]
	np_apply NodePort '{"sessionAffinity":"None"}' >/dev/null
	wait_for 15 sh -c "[ \"\$(for i in \$(seq 20); do nsenter --net=/run/netns/$EXT timeout 5 $SL_BUSYBOX wget -q -O - http://$N1:$np/; done | sort -u | tr '\n' ' ')\" = 'a1 a2 ' ]"
}

@test "(nodeport) should have session affinity timeout work for NodePort service" {
	TWO=1
	np=$(np_apply NodePort '{"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":1}}}')
	answer "$EXT" "http://$N1:$np/" a1 || answer "$EXT" "http://$N1:$np/" a2
	# within the timeout: one backend
	run distinct "$EXT" "http://$N1:$np/" 5
	[[ $output =~ ^(a1|a2)$ ]]
	# after it: a fresh choice each time; 12 rounds over 2 backends all alike: p = 2^-11
	seen=$(for i in $(seq 12); do sleep 1.2; http_get "$EXT" "http://$N1:$np/"; done | sort -u | wc -l)
	[ "$seen" -ge 2 ]
}

@test "(nodeport) should release NodePorts on delete" {
	np=$(np_apply NodePort)
	answer "$EXT" "http://$N1:$np/" a1
	svc4_has 1 "$N1" "$np"
	svc_delete "$SVC"
	refused "$EXT" "$N1" "$np"
	run ! svc4_has 1 "$N1" "$np"
	run ! svc4_has 2 "$N2" "$np"
}

@test "(nodeport) should be able to change the type from ClusterIP to NodePort to LoadBalancer to ExternalName and back" {
	np_apply ClusterIP >/dev/null
	vip=$(svc_ip "$SVC")
	answer "$C2" "http://$vip/" a1
	np=$(np_apply NodePort)
	answer "$EXT" "http://$N1:$np/" a1
	np_apply LoadBalancer >/dev/null
	lb_status 192.0.2.10
	answer "$EXT" "http://192.0.2.10/" a1
	answer "$EXT" "http://$N2:$np/" a1
	svc_apply "$SVC" "$HTTP" '{"type":"ExternalName","externalName":"a.example"}' >/dev/null
	refused "$EXT" "$N1" "$np"
	no_answer "$EXT" "http://192.0.2.10/"
	np_apply ClusterIP >/dev/null
	vip=$(svc_ip "$SVC")
	answer "$C2" "http://$vip/" a1
}

@test "(nodeport) should be able to update service type to NodePort listening on same port number but different protocols" {
	svc_apply "$SVC" '[{"name":"tcp","port":53,"targetPort":8080,"protocol":"TCP"},{"name":"udp","port":53,"targetPort":5353,"protocol":"UDP"}]' \
		'{"type":"NodePort"}' >/dev/null
	eps_apply "$SVC" '[{"name":"tcp","port":8080,"protocol":"TCP"},{"name":"udp","port":5353,"protocol":"UDP"}]' "$(ep "$A1" 1)"
	np=$(kube get service "$SVC" -o jsonpath='{.spec.ports[0].nodePort}')
	[ "$np" = "$(kube get service "$SVC" -o jsonpath='{.spec.ports[1].nodePort}')" ]
	answer "$EXT" "http://$N1:$np/" a1
	wait_for 15 sh -c "nsenter --net=/run/netns/$EXT python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(1)
s.sendto(b\"q\",(sys.argv[1],int(sys.argv[2]))); print(s.recvfrom(99)[0].decode())' $N2 $np | grep -q '^a1 '"
}

@test "(lb) should only allow access from service loadbalancer source ranges" {
	np_apply LoadBalancer "{\"loadBalancerSourceRanges\":[\"$SL_EXTERNAL_IP/32\"]}" >/dev/null
	lb_status 192.0.2.11
	answer "$EXT" "http://192.0.2.11/" a1
	np_apply LoadBalancer '{"loadBalancerSourceRanges":["10.0.0.0/8"]}' >/dev/null
	no_answer "$EXT" "http://192.0.2.11/"
	# NodePorts are not subject to the ranges (kube-proxy)
	np=$(kube get service "$SVC" -o jsonpath='{.spec.ports[0].nodePort}')
	answer "$EXT" "http://$N1:$np/" a1
}

@test "(externalip) should be possible to connect to a service via ExternalIP when the external IP is not assigned to a node" {
	np_apply ClusterIP '{"externalIPs":["192.0.2.20"]}' >/dev/null
	answer "$EXT" "http://192.0.2.20/" a1
	answer "$C2" "http://192.0.2.20/" a1
	refused "$EXT" 192.0.2.20 81 # a port the Service lacks is rejected
}

@test "(externalip) a Local Service's external IP entered at a node without its endpoints: dropped for outside clients, reached by that node's pods (the Cluster endpoints)" {
	np_apply ClusterIP '{"externalIPs":["192.0.2.21"],"externalTrafficPolicy":"Local"}' >/dev/null
	# the router sends it to node 2, which has no endpoint of the Service
	ip -n "$EXT" route replace 192.0.2.21/32 via "$N2"
	answer "$C2" "http://192.0.2.21/" a1 # kube-proxy's short-circuit for pods
	no_answer "$EXT" "http://192.0.2.21/"
	# to node 1, where a1 lives: answered, the client's address kept
	ip -n "$EXT" route replace 192.0.2.21/32 via "$N1"
	answer "$EXT" "http://192.0.2.21/cgi-bin/ip" "$SL_EXTERNAL_IP"
}

@test "(nodeport) should be able to preserve UDP traffic when server pod cycles for a NodePort service" {
	svc_apply "$SVC" '[{"name":"dns","port":53,"targetPort":5353,"protocol":"UDP"}]' '{"type":"NodePort"}' >/dev/null
	eps_apply "$SVC" '[{"name":"dns","port":5353,"protocol":"UDP"}]' "$(ep "$A1" 1)"
	np=$(kube get service "$SVC" -o jsonpath='{.spec.ports[0].nodePort}')
	wait_for 15 sh -c "udp_ask() { nsenter --net=/run/netns/$EXT python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((\"0.0.0.0\",40053)); s.settimeout(1)
s.sendto(b\"q\",(sys.argv[1],int(sys.argv[2]))); print(s.recvfrom(99)[0].decode())' \$1 \$2; }; udp_ask $N2 $np | grep -q '^a1 '"
	# the server moves to a2: the same client flow reaches it, not a black hole
	eps_apply "$SVC" '[{"name":"dns","port":5353,"protocol":"UDP"}]' "$(ep "$A2" 1)"
	wait_for 15 sh -c "nsenter --net=/run/netns/$EXT python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((\"0.0.0.0\",40053)); s.settimeout(1)
s.sendto(b\"q\",(sys.argv[1],int(sys.argv[2]))); print(s.recvfrom(99)[0].decode())' $N2 $np | grep -q '^a2 '"
}

@test "(nodeport) clients from outside move the Service's flow, packet and byte counters, SNAT or not" {
	np=$(np_apply NodePort)
	answer "$EXT" "http://$N1:$np/" a1 # a local backend
	answer "$EXT" "http://$N2:$np/" a1 # SNAT to node 1
	for i in 1 2; do
		ip=$(node_ip "$i")
		[ "$(svc_counter "$i" flows "$ip" "$np")" -ge 1 ]
		# a request's SYN, ACK, request and FIN at least
		[ "$(svc_counter "$i" packets "$ip" "$np")" -ge 4 ]
		[ "$(svc_counter "$i" bytes "$ip" "$np")" -ge 200 ]
	done
}

@test "(nodeport) ICMP port unreachable from the backend reaches the outside client, SNATed to a remote backend or not" {
	local dns='[{"name":"dns","port":53,"targetPort":5353,"protocol":"UDP"}]'
	svc_apply "$SVC" "$dns" '{"type":"NodePort"}' >/dev/null
	eps_apply "$SVC" '[{"name":"dns","port":5353,"protocol":"UDP"}]' "$(ep "$A1" 1)"
	np=$(kube get service "$SVC" -o jsonpath='{.spec.ports[0].nodePort}')
	# a1 answers through both nodes first: no "refused" can come from a node's
	# own stack or a reject of a Service without endpoints from here on
	a1_answers() { udp_ask "$EXT" "$1" "$np" | grep -q '^a1 '; }
	wait_for 15 a1_answers "$N2"
	wait_for 15 a1_answers "$N1"
	# then the endpoint moves to a port nothing listens on: a1's stack answers
	# port unreachable, which only a translated error turns into ECONNREFUSED
	eps_apply "$SVC" '[{"name":"dns","port":5454,"protocol":"UDP"}]' "$(ep "$A1" 1)"
	# via node 2: SNATed to a1 on node 1, the error comes back to node 2's address
	wait_for 15 udp_refused "$EXT" "$N2" "$np" || { udp_connected_err "$EXT" "$N2" "$np"; false; }
	# via node 1: DNAT only, translated as it leaves a1
	wait_for 15 udp_refused "$EXT" "$N1" "$np" || { udp_connected_err "$EXT" "$N1" "$np"; false; }
	[ "$(sample 2 sluice_datapath_forwards_total 'path="ns_icmp"')" -gt 0 ]
}

@test "(nodeport) an outside client's port unreachable about a late reply reaches the backend, SNATed to a remote backend or not" {
	svc_apply "$SVC" '[{"name":"late","port":53,"targetPort":5400,"protocol":"UDP"}]' '{"type":"NodePort"}' >/dev/null
	eps_apply "$SVC" '[{"name":"late","port":5400,"protocol":"UDP"}]' "$(ep "$A1" 1)"
	np=$(kube get service "$SVC" -o jsonpath='{.spec.ports[0].nodePort}')
	wait_for 15 be4_has 1 "$A1" 5400
	wait_for 15 be4_has 2 "$A1" 5400
	# via node 1: DNAT only, the error finds the flow's conntrack entry
	on_node 1 udp_late_serve a1 5400
	udp_send_close "$EXT" "$N1" "$np"
	run on_node 1 udp_late_result a1 5400
	[ "$output" = refused ]
	# via node 2: SNATed to a1, the error finds the flow's sl_nat4 entry
	on_node 1 udp_late_serve a1 5400
	udp_send_close "$EXT" "$N2" "$np"
	run on_node 1 udp_late_result a1 5400
	[ "$output" = refused ]
	[ "$(sample 2 sluice_datapath_forwards_total 'path="icmp_to_be"')" -gt 0 ]
}

# np_pmtu_upload POD ENTRY: pod POD on node 1, whose link is 1400 bytes while
# both ends say MSS 1460, behind a NodePort; the outside client uploads
# 300,000 bytes through node ENTRY's NodePort; prints what POD received.
np_pmtu_upload() {
	local pod=$1 entry=$2 veth ip np
	on_node 1 pod_add "$pod" >/dev/null
	on_node 1 tcp_sink "$pod" 9000
	veth=$(on_node 1 pod_host_veth "$pod")
	on_node 1 node_exec ip link set dev "$veth" mtu 1400
	ip=$(on_node 1 pod_ip "$pod")
	svc_apply "$SVC" '[{"name":"sink","port":90,"targetPort":9000}]' '{"type":"NodePort"}' >/dev/null
	eps_apply "$SVC" '[{"name":"sink","port":9000,"protocol":"TCP"}]' "$(ep "$ip" 1)"
	np=$(kube get service "$SVC" -o jsonpath='{.spec.ports[0].nodePort}')
	# shellcheck disable=SC2317,SC2329 # called by wait_for
	small_arrives() { [ "$(tcp_upload "$EXT" "$entry" "$np" 10)" = 10 ]; }
	wait_for 15 small_arrives
	tcp_upload "$EXT" "$entry" "$np" 300000
	on_node 1 pod_del "$pod"
}

@test "(nodeport) path-MTU discovery works through a NodePort to a remote backend (fragmentation needed is translated)" {
	# entered at node 2, SNATed to m1 on node 1: node 1's fragmentation
	# needed goes to node 2's SNAT port, and only its translation tells the
	# outside client to send less
	run np_pmtu_upload m1 "$N2"
	[ "$output" = 300000 ]
}

@test "(nodeport) path-MTU discovery works through a NodePort to a local backend (the node's fragmentation needed)" {
	# node 1 hands m2 its DNATed packets: its stack's own fragmentation
	# needed would quote m2's address, which the client never sent to; the
	# datapath's quotes the NodePort
	run np_pmtu_upload m2 "$N1"
	[ "$output" = 300000 ]
	[ "$(sample 1 sluice_datapath_forwards_total 'path="pmtu"')" -gt 0 ]
}

@test "(nodeport) host sockets reach 127.0.0.1:NodePort only when --nodeport-addresses names loopback" {
	local lo
	np=$(np_apply NodePort)
	lo=http://127.0.0.1:$np/
	host_answer 2 "http://$N2:$np/" a1
	# by default loopback is no NodePort address (kube-proxy nftables' default)
	run ! host_says 2 "$lo" a1
	on_node 2 agent_stop
	SL_AGENT_EXTRA_ARGS="--nodeport-addresses $N2/32,127.0.0.1/32" on_node 2 agent_start
	wait_for 15 on_node 2 agent_synced
	host_answer 2 "$lo" a1 # the socket programs' rewrite: nothing routed to loopback
	host_answer 2 "http://$N2:$np/" a1
	on_node 2 agent_stop
	on_node 2 agent_start
	wait_for 15 on_node 2 agent_synced
	no_host_answer() { ! host_says "$@"; }
	wait_for 15 no_host_answer 2 "$lo" a1 # withdrawn with the flag
	host_answer 2 "http://$N2:$np/" a1
}

@test "(nodeport) should work after restarting the agent: kill -9 under NodePort load loses no request, NAT entries survive" {
	np=$(np_apply NodePort)
	answer "$EXT" "http://$N2:$np/" a1
	nat_before=$(bpftool -j map dump pinned "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-2/sl_nat4" | jq length)
	[ "$nat_before" -gt 0 ]
	# shellcheck disable=SC2016
	nsenter --net="/run/netns/$EXT" sh -c 'fails=0; for i in $(seq 150); do
		timeout 5 '"$SL_BUSYBOX"' wget -q -O /dev/null "$1" || fails=$((fails + 1)); done; echo "$fails"' \
		_ "http://$N2:$np/" >"$BATS_TEST_TMPDIR/fails" &
	load=$!
	sleep 0.5
	log=$SL_CLUSTER_SCRATCH/n2/agent.log
	log_lines=$(wc -l <"$log")
	on_node 2 agent_kill
	on_node 2 agent_start
	wait "$load"
	[ "$(cat "$BATS_TEST_TMPDIR/fails")" = 0 ]
	# the restarted agent found its NodePorts in the maps and removed none
	wait_for 10 on_node 2 agent_synced
	run ! grep -E 'Service maps: [0-9]+ writes, [1-9][0-9]* deletes' <(tail -n +"$((log_lines + 1))" "$log")
	nat_after=$(bpftool -j map dump pinned "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-2/sl_nat4" | jq length)
	[ "$nat_after" -ge "$nat_before" ] # the pinned SNAT table outlived the agent
}

# The last test before the DSR ones (which switch the agents' mode): the
# offloads it turns off stay off until the cluster goes (checksums then are
# all done in software, which is correct too; DSR runs with them off).
@test "(nodeport) checksums stay right through DNAT+SNAT and back, from a CHECKSUM_PARTIAL and a NONE client" {
	local a1 ports tcp udp state before=()
	svc_apply "$SVC" '[{"name":"http","port":80,"targetPort":8080},{"name":"dns","port":53,"targetPort":5353,"protocol":"UDP"}]' \
		'{"type":"NodePort"}' >/dev/null
	eps_apply "$SVC" '[{"name":"http","port":8080,"protocol":"TCP"},{"name":"dns","port":5353,"protocol":"UDP"}]' "$(ep "$A1" 1)"
	ports=$(kube get service "$SVC" -o jsonpath='{.spec.ports[0].nodePort} {.spec.ports[1].nodePort}')
	tcp=${ports% *} udp=${ports#* }
	a1=$(cluster_pod_ns 1 a1)
	# As in services.bats: no veth vouches for a checksum (rx off), the nodes'
	# uplinks finish a PARTIAL one in software (tx off). Node 2 has no
	# endpoint: it rewrites both ends (SNAT) and sends the flow to a1 on node 1.
	csum_verify_in "$SL_FABRIC" "$(node_name 1)" "$(node_name 2)" "$EXT" "$a1"
	offload "$(node_name 1)" eth0 tx off
	offload "$(node_name 2)" eth0 tx off
	before=("$(csum_errors "$EXT")" "$(csum_errors "$a1")")
	for state in PARTIAL NONE; do
		[ "$state" = PARTIAL ] || offload "$EXT" eth0 tx off
		within 20 http_says "$EXT" "http://$N2:$tcp/" a1 # a wrong checksum: no answer
		[ "$(udp_ask "$EXT" "$N2" "$udp")" = "a1 $N2" ]
	done
	echo "checksum errors: outside ${before[0]} -> $(csum_errors "$EXT"), a1 ${before[1]} -> $(csum_errors "$a1")"
	[ "$(csum_errors "$EXT")" = "${before[0]}" ]
	[ "$(csum_errors "$a1")" = "${before[1]}" ]
}

# --- Direct Server Return (--nodeport-mode dsr): the last tests, both agents switched -----

# dsr_on: both agents run with --nodeport-mode dsr (restarted once; the maps stay).
dsr_on() {
	local i
	for i in 1 2; do
		[ "$(on_node "$i" agent_status | jq -r .nodePortMode)" = dsr ] && continue
		on_node "$i" agent_stop
		SL_AGENT_EXTRA_ARGS="--nodeport-mode dsr" on_node "$i" agent_start || return 1
		wait_for 15 on_node "$i" agent_synced || return 1
	done
}

# status_text: `sluice-agent status` of the current node, as a user reads it.
status_text() { "$SL_BUILD/sluice-agent" status --pin-dir "$SL_PIN" --cni-state-dir "$SL_STATE_DIR"; }

# rx_bytes I: bytes node I's uplink (eth0 on the fabric) has received.
rx_bytes() { ip -n "$(node_name "$1")" -s -j link show eth0 | jq '.[0].stats64.rx.bytes'; }

@test "(nodeport) --nodeport-mode dsr: an outside client reaches a remote backend, which sees the client's address" {
	dsr_on
	np=$(np_apply NodePort)
	[ "$(on_node 2 agent_status | jq -r .nodePortMode)" = dsr ]
	on_node 2 status_text | grep -q '^nodeport: *dsr'
	answer "$EXT" "http://$N2:$np/" a1
	answer "$EXT" "http://$N2:$np/cgi-bin/ip" "$SL_EXTERNAL_IP" # not N2: no SNAT
	answer "$EXT" "http://$N1:$np/cgi-bin/ip" "$SL_EXTERNAL_IP" # a local backend, as before
	[ "$(on_node 2 metric SL_PATH_NS_DSR)" -gt 0 ]
	[ "$(on_node 1 metric SL_PATH_DSR_IN)" -gt 0 ]
	# an externalIP frontend travels in the option too
	svc_apply "$SVC" "$HTTP" '{"type":"ClusterIP","externalIPs":["192.0.2.77"]}' >/dev/null
	ip -n "$EXT" route replace 192.0.2.77/32 via "$N2"
	answer "$EXT" "http://192.0.2.77/cgi-bin/ip" "$SL_EXTERNAL_IP"
	ip -n "$EXT" route del 192.0.2.77/32
}

@test "(nodeport) --nodeport-mode dsr: the backend's replies go straight to the client, never through the entry node" {
	dsr_on
	np=$(np_apply NodePort)
	head -c 2000000 /dev/zero >"$SL_CLUSTER_SCRATCH/n1/www-a1/big"
	answer "$EXT" "http://$N2:$np/" a1
	revsnat=$(on_node 2 metric SL_PATH_NS_REVSNAT)
	rx=$(rx_bytes 2)
	got=$(nsenter --net="/run/netns/$EXT" timeout 10 "$SL_BUSYBOX" wget -q -O - "http://$N2:$np/big" | wc -c)
	[ "$got" = 2000000 ]
	# the client's requests and ACKs only (the 2 MB came from node 1)
	[ $(($(rx_bytes 2) - rx)) -lt 500000 ]
	[ "$(on_node 2 metric SL_PATH_NS_REVSNAT)" = "$revsnat" ]
	[ "$(on_node 2 metric SL_PATH_NS_DSR_CT)" -gt 0 ]
}

@test "(nodeport) --nodeport-mode dsr: UDP to a remote backend keeps the client's address, answered from the NodePort" {
	dsr_on
	svc_apply "$SVC" '[{"name":"dns","port":53,"targetPort":5353,"protocol":"UDP"}]' '{"type":"NodePort"}' >/dev/null
	eps_apply "$SVC" '[{"name":"dns","port":5353,"protocol":"UDP"}]' "$(ep "$A1" 1)"
	np=$(kube get service "$SVC" -o jsonpath='{.spec.ports[0].nodePort}')
	# udp_ask connects to N2:np: only an answer from N2:np reaches it
	a1_sees_client() { udp_ask "$EXT" "$N2" "$np" | grep -qx "a1 $SL_EXTERNAL_IP"; }
	wait_for 15 a1_sees_client
}

@test "(nodeport) --nodeport-mode dsr: kill -9 of both agents under NodePort load to a remote backend loses no request" {
	dsr_on
	np=$(np_apply NodePort)
	answer "$EXT" "http://$N2:$np/" a1
	# shellcheck disable=SC2016
	nsenter --net="/run/netns/$EXT" sh -c 'fails=0; for i in $(seq 150); do
		timeout 5 '"$SL_BUSYBOX"' wget -q -O /dev/null "$1" || fails=$((fails + 1)); done; echo "$fails"' \
		_ "http://$N2:$np/" >"$BATS_TEST_TMPDIR/fails" &
	load=$!
	sleep 0.5
	for i in 2 1; do
		on_node "$i" agent_kill
		SL_AGENT_EXTRA_ARGS="--nodeport-mode dsr" on_node "$i" agent_start
	done
	wait "$load"
	[ "$(cat "$BATS_TEST_TMPDIR/fails")" = 0 ]
	[ "$(on_node 1 metric SL_PATH_DSR_IN)" -gt 0 ]
}
