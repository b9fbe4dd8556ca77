#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The inspection commands on two emulated nodes with the API stand-in: the
# tables (with the agent up and after it was killed), monitor seeing a new
# flow and a drop, explain on a Service. Node 1: client c1, server a1;
# node 2: server b1. Service web: a1 and b1; Service loc: Local traffic
# policy, its only endpoint b1 on node 2, so c1's requests are dropped.

load lib/services

setup_file() {
	cluster_file_up 2 || return 1
	cluster_pods_add 1:c1 1:a1 2:b1 || return 1
	{ on_node 1 pod_serve a1 && on_node 2 pod_serve b1; } || cluster_abort || return 1
	{ pod_object_create 1 c1 && pod_object_create 1 a1 && pod_object_create 2 b1; } ||
		cluster_abort || return 1
	local web loc
	web=$(svc_apply web "$HTTP") && loc=$(svc_apply loc "$HTTP" '{"internalTrafficPolicy":"Local"}') &&
		eps_apply web "$HTTP_EP" "$(ep "$(cluster_pod_ip 1 a1)" 1)" "$(ep "$(cluster_pod_ip 2 b1)" 2)" &&
		eps_apply loc "$HTTP_EP" "$(ep "$(cluster_pod_ip 2 b1)" 2)" || cluster_abort || return 1
	printf 'WEB=%s\nLOC=%s\n' "$web" "$loc" >"$BATS_FILE_TMPDIR/vips"
}

teardown_file() { cluster_down; }

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag
	[ -z "${MON_PID:-}" ] || kill -TERM "$MON_PID" 2>/dev/null || true
}

HTTP='[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]'
HTTP_EP='[{"name":"http","port":8080,"protocol":"TCP"}]'

# pod_object_create I ID: the Pod object of pod ID on node I, as the kubelet
# would have reported it (the agents name addresses after it).
pod_object_create() {
	jq -cn --arg n "$2" --arg node "$(node_name "$1")" --arg ip "$(cluster_pod_ip "$1" "$2")" '{
		apiVersion: "v1", kind: "Pod", metadata: {name: $n, namespace: "default", labels: {app: $n}},
		spec: {nodeName: $node, containers: [{name: "c", image: "busybox"}]},
		status: {phase: "Running", podIP: $ip, podIPs: [{ip: $ip}]}}' | kube create -f - >/dev/null
}

# sa I CMD ARGS...: sluice-agent CMD on node I, in its namespace, on its pins.
sa() { (sa_exec "$@"); }
# sa_exec I CMD ARGS...: the same, replacing the shell: in "sa_exec ... &" the
# background shell execs nsenter, which execs the agent, so $! is its pid.
sa_exec() {
	cluster_use "$1" || return 1
	shift
	exec nsenter --net="/run/netns/$SL_NODE" "$SL_BUILD/sluice-agent" "$@" \
		--pin-dir "$SL_PIN" --cni-state-dir "$SL_STATE_DIR"
}

# get NS URL: one request, the body.
get() { http_get "$1" "$2"; }

# named I: node I's service table names web's port.
named() { sa "$1" services --json | jq -e 'any(.[]; .service == "default/web:http" and .backends == 2)' >/dev/null; }

# lease_live I: node I's sl_evcfg holds a running lease (types set, until_ns
# ahead of CLOCK_MONOTONIC, bpf_ktime_get_ns()'s clock).
lease_live() {
	local v now
	v=$(bpftool -j map dump pinned "/sys/fs/bpf/sluice-$SL_CLUSTER_RND-$1/sl_evcfg" |
		jq -r '.[0].formatted.value // .[0].value | "\(.types) \(.until_ns)"')
	now=$(python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))')
	[ "${v%% *}" != 0 ] && [ "${v##* }" -gt "$now" ]
}
lease_dead() { ! lease_live "$1"; }

setup() {
	# shellcheck disable=SC1091
	. "$BATS_FILE_TMPDIR/vips"
	C1=$(cluster_pod_ns 1 c1)
	MON_PID=
}

@test "(inspect) services, backends and endpoints name the Kubernetes objects" {
	wait_for 15 named 1
	run sa 1 backends --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg a "$(cluster_pod_ip 1 a1):8080/TCP" \
		'any(.[]; .address == $a and .pod == "default/a1" and .local and (.services | index("default/web:http")))'
	echo "$output" | jq -e 'any(.[]; .pod == "default/b1" and (.local | not) and .state == "ready")'
	run sa 1 endpoints --json
	echo "$output" | jq -e '[.[].pod] | sort == ["default/a1", "default/c1"]'
	run sa 1 services
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^ID\ +SERVICE\ +ADDRESS\ +BACKENDS ]]
	[[ "$output" =~ default/web:http\ +$WEB:80/TCP ]]
}

@test "(inspect) ct shows a flow through the Service, filtered by source and port" {
	wait_for 15 sh -c "[ -n \"\$(timeout 5 nsenter --net=/run/netns/$C1 $SL_BUSYBOX wget -q -O - http://$WEB/)\" ]"
	run sa 1 ct --src "$(cluster_pod_ip 1 c1)" --port 80 --proto tcp --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg v "$WEB" 'any(.[]; .dir == "out" and (.dst | startswith($v + ":80")) and .service == "default/web:http" and .backend != null)'
	run sa 1 ct --src 192.0.2.1 --json
	[ "$output" = "[]" ]
	run sa 1 ct --port 0
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid value '0' for '--port'"* ]]
}

@test "(inspect) routes name the node behind each pod CIDR" {
	run sa 1 routes --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg n "$(node_name 2)" --arg via "$(node_ip 2)" \
		'any(.[]; .dst == "10.244.2.0/24" and .via == $via and .node == $n)'
}

@test "(inspect) monitor shows a new flow with its backend and a drop with its reason" {
	out=$BATS_TEST_TMPDIR/mon.json
	sa_exec 1 monitor --json >"$out" 2>"$BATS_TEST_TMPDIR/mon.err" 3>&- &
	MON_PID=$!
	wait_for 5 lease_live 1
	get "$C1" "http://$WEB/" >/dev/null
	run get "$C1" "http://$LOC/"
	[ "$status" -ne 0 ]
	wait_for 10 jq -se 'any(.[]; .type == "flow" and .service == "default/web:http" and (.backendPod == "default/a1" or .backendPod == "default/b1") and .srcPod == "default/c1")' "$out"
	wait_for 10 jq -se 'any(.[]; .type == "drop" and .reason == "SL_DROP_NO_LOCAL_BACKEND" and .service == "default/loc:http")' "$out"
	# a host-network client: balanced by the socket programs at connect()
	on_node 1 host_exec timeout 5 "$SL_BUSYBOX" wget -q -O /dev/null "http://$WEB/"
	wait_for 10 jq -se 'any(.[]; .type == "flow" and .src == "this node" and .service == "default/web:http")' "$out"
	kill -TERM "$MON_PID"
	rc=0
	wait "$MON_PID" || rc=$?
	MON_PID=
	[ "$rc" -eq 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/mon.err" ]
	# it gave its lease back on exit
	run lease_live 1
	[ "$status" -ne 0 ]
}

@test "(inspect) a monitor killed with SIGKILL stops the events within its lease" {
	sa_exec 1 monitor --type drop --service default/loc >/dev/null 2>&1 3>&- &
	MON_PID=$!
	wait_for 5 lease_live 1
	kill -KILL "$MON_PID"
	MON_PID=
	# no exit handler ran: the lease runs out by itself (3 s)
	wait_for 8 lease_dead 1
}

@test "(inspect) explain walks a Service to its backends and a Local one to its drop" {
	c1=$(cluster_pod_ip 1 c1)
	run sa 1 explain "$c1" "$WEB:80/tcp" --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.srcLocal and .serviceId > 0 and (.deterministic | not) and (.outcomes | length) == 2'
	echo "$output" | jq -e --arg a "$(cluster_pod_ip 1 a1):8080" \
		'any(.outcomes[]; .dst == $a and .fate == "local" and .result == "SL_PATH_SVC_NEW")'
	echo "$output" | jq -e --arg b "$(cluster_pod_ip 2 b1):8080" \
		'any(.outcomes[]; .dst == $b and .fate == "fib" and (.why | contains("node '"$(node_name 2)"'")))'
	run sa 1 explain "$c1" "$LOC:80/tcp" --json
	echo "$output" | jq -e '.deterministic and .outcomes[0].fate == "drop" and .outcomes[0].result == "SL_DROP_NO_LOCAL_BACKEND"'
	run sa 1 explain "$c1" "$WEB:81/tcp"
	[[ "$output" == *"ICMP port unreachable"* ]]
	run sa 1 explain "$c1" "$WEB"
	[ "$status" -eq 2 ]
}

# explain_is SRC DST WANT: explain's first outcome's fate and result are WANT.
explain_is() { [ "$(sa 1 explain "$1" "$2" --json | jq -r '.outcomes[0] | "\(.fate) \(.result)"')" = "$3" ]; }

@test "(inspect) explain names the NetworkPolicy behind a denial, monitor shows it" {
	c1=$(cluster_pod_ip 1 c1)
	a1=$(cluster_pod_ip 1 a1)
	jq -cn '{apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy",
		metadata: {name: "deny-a1", namespace: "default"},
		spec: {podSelector: {matchLabels: {app: "a1"}}, policyTypes: ["Ingress"]}}' |
		kube create -f - >/dev/null
	wait_for 15 explain_is "$c1" "$a1:8080/tcp" "drop SL_DROP_POLICY_INGRESS"
	run sa 1 explain "$c1" "$a1:8080/tcp" --json
	echo "$output" | jq -e '.outcomes[0].policies.destination == "default/deny-a1"'
	run sa 1 explain "$c1" "$a1:8080/tcp"
	[[ "$output" == *"NetworkPolicies selecting the destination: default/deny-a1"* ]]
	sa_exec 1 monitor --type drop --pod default/a1 --json >"$BATS_TEST_TMPDIR/mon.json" 2>&3 3>&- &
	MON_PID=$!
	wait_for 5 lease_live 1
	run get "$C1" "http://$a1:8080/"
	[ "$status" -ne 0 ]
	wait_for 10 jq -se 'any(.[]; .reason == "SL_DROP_POLICY_INGRESS" and .dstPod == "default/a1")' "$BATS_TEST_TMPDIR/mon.json"
	kube delete networkpolicy deny-a1 >/dev/null
	wait_for 15 explain_is "$c1" "$a1:8080/tcp" "local SL_PATH_LOCAL"
}

@test "(inspect) the tables still answer after the agent was killed" {
	wait_for 15 named 1
	before=$(sa 1 backends --json)
	on_node 1 agent_kill
	run sa 1 services --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e 'any(.[]; .service == "default/web:http")'
	run sa 1 backends --json
	[ "$output" = "$before" ]
	run sa 1 endpoints --json
	echo "$output" | jq -e 'length == 2 and all(.[]; .pod != null)'
	run sa 1 ct --json
	[ "$status" -eq 0 ]
	on_node 1 agent_start
	# the agent stopped cleanly (status 0) also under ASan (make SAN=1)
	[ "$(on_node 1 agent_stop)" = 0 ]
	on_node 1 agent_start
}
