#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# NetworkPolicy through the whole path on two emulated nodes with the API
# stand-in: the objects are written to the API (Namespace, Pods with their
# IPs, NetworkPolicies), the verdicts observed in traffic, the counters in
# `status` and `policy`. The upstream twins and the truth tables live in
# their own suites; this one checks the agent and datapath contracts they use.

load lib/services

setup_file() {
	cluster_file_up 2 || return 1
	# node 1: server a1, client c1; node 2: client c2; all in namespace x.
	local p ip
	cluster_pods_add 1:a1 1:c1 2:c2 || return 1
	{ on_node 1 pod_serve a1 && on_node 1 udp_serve a1 5353; } || cluster_abort || return 1
	kube create -f - >/dev/null <<<'{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x","labels":{"kubernetes.io/metadata.name":"x"}}}'
	for p in 1:a1 1:c1 2:c2; do
		ip=$(cluster_pod_ip "${p%:*}" "${p#*:}")
		jq -cn --arg n "${p#*:}" --arg ip "$ip" --arg node "$(node_name "${p%:*}")" '{
			apiVersion: "v1", kind: "Pod", metadata: {name: $n, namespace: "x", labels: {pod: $n}},
			spec: {nodeName: $node, containers: [{name: "c", ports: [{name: "http", containerPort: 8080}]}]},
			status: {phase: "Running", podIP: $ip, podIPs: [{ip: $ip}]}}' | kube create -f - >/dev/null
	done
}

teardown_file() { cluster_down; }

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag
	kube delete networkpolicy --all -n x >/dev/null 2>&1 || true
}

ns_of() { cluster_pod_ns "$1" "$2"; }
policy_synced() { on_node "$1" agent_status | jq -e '.policy.syncs >= 1' >/dev/null; }
netpol() { kube create -f - >/dev/null; }
agent_policy() { "$SL_BUILD/sluice-agent" policy --pin-dir "$SL_PIN" --cni-state-dir "$SL_STATE_DIR" --json; }
# shellcheck disable=SC2016 # $1 and $2 expand in the sh -c child
reachable() { wait_for 15 sh -c 'timeout 3 nsenter --net=/run/netns/$1 '"$SL_BUSYBOX"' wget -q -O /dev/null "$2"' _ "$1" "$2"; }
# shellcheck disable=SC2016
unreachable() { wait_for 15 sh -c '! timeout 3 nsenter --net=/run/netns/$1 '"$SL_BUSYBOX"' wget -q -O /dev/null "$2"' _ "$1" "$2"; }

@test "(policy) without policies pods reach each other on one node and across nodes" {
	A1=$(cluster_pod_ip 1 a1)
	reachable "$(ns_of 1 c1)" "http://$A1:8080/"
	reachable "$(ns_of 2 c2)" "http://$A1:8080/"
}

@test "(policy) an ingress deny cuts both clients, the pod's node still reaches it, drops are counted per endpoint" {
	A1=$(cluster_pod_ip 1 a1)
	netpol <<<'{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"x"},"spec":{"podSelector":{"matchLabels":{"pod":"a1"}},"policyTypes":["Ingress"]}}'
	unreachable "$(ns_of 1 c1)" "http://$A1:8080/"
	unreachable "$(ns_of 2 c2)" "http://$A1:8080/"
	on_node 1 node_exec timeout 3 "$SL_BUSYBOX" wget -q -O /dev/null "http://$A1:8080/"
	run on_node 1 agent_policy
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg ip "$A1" '.endpoints[] | select(.ip == $ip) |
		.isolation.ingress and (.isolation.egress | not) and .drops.ingress > 0 and .policies[0].name == "deny"'
	run on_node 1 agent_status
	echo "$output" | jq -e '.policy.active and .policy.isolatedIngress == 1 and .metrics.SL_DROP_POLICY_INGRESS.packets > 0'
}

@test "(policy) a restarted agent rewrites nothing that did not change, and the deny holds" {
	A1=$(cluster_pod_ip 1 a1)
	netpol <<<'{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"x"},"spec":{"podSelector":{"matchLabels":{"pod":"a1"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"pod":"c2"}}}]}]}}'
	unreachable "$(ns_of 1 c1)" "http://$A1:8080/"
	# shellcheck disable=SC2016 # the node's own SL_PIN, expanded by its shell
	pin=$(on_node 1 sh -c 'echo $SL_PIN')
	before=$(bpftool -j map dump pinned "$pin/sl_ipcache4" | jq -c 'sort_by(.key)')
	on_node 1 agent_stop
	on_node 1 agent_start
	wait_for 15 policy_synced 1
	run on_node 1 agent_status
	echo "$output" | jq -e '.policy.writes == 0 and .policy.deletes == 0'
	[ "$(bpftool -j map dump pinned "$pin/sl_ipcache4" | jq -c 'sort_by(.key)')" = "$before" ]
	run timeout 3 nsenter --net="/run/netns/$(ns_of 1 c1)" "$SL_BUSYBOX" wget -q -O /dev/null "http://$A1:8080/"
	[ "$status" -ne 0 ]
	reachable "$(ns_of 2 c2)" "http://$A1:8080/"
}

@test "(policy) an allow from a pod on another node by a named port opens TCP only to it" {
	A1=$(cluster_pod_ip 1 a1)
	netpol <<<'{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"allow-c2","namespace":"x"},"spec":{"podSelector":{"matchLabels":{"pod":"a1"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"pod":"c2"}}}],"ports":[{"port":"http"}]}]}}'
	reachable "$(ns_of 2 c2)" "http://$A1:8080/"
	unreachable "$(ns_of 1 c1)" "http://$A1:8080/"
	run udp_ask "$(ns_of 2 c2)" "$A1" 5353
	[ "$status" -ne 0 ]
}

@test "(policy) an egress ipBlock with an except cuts only the excepted address" {
	A1=$(cluster_pod_ip 1 a1)
	netpol <<<'{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"eg","namespace":"x"},"spec":{"podSelector":{"matchLabels":{"pod":"c1"}},"policyTypes":["Egress"],"egress":[{"to":[{"ipBlock":{"cidr":"10.244.0.0/16","except":["'"$A1"'/32"]}}]}]}}'
	unreachable "$(ns_of 1 c1)" "http://$A1:8080/"
	reachable "$(ns_of 2 c2)" "http://$A1:8080/"
	run on_node 1 agent_status
	echo "$output" | jq -e '.policy.isolatedEgress == 1'
	kube delete networkpolicy eg -n x >/dev/null
	reachable "$(ns_of 1 c1)" "http://$A1:8080/"
}

@test "(policy) a policy that cannot be enforced as written isolates what it selects and is reported" {
	A1=$(cluster_pod_ip 1 a1)
	# The API rejects an except outside its cidr, as the real server's validation
	# does: stored raw, as an object written before that validation would be.
	echo '{"objects":[{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"bad","namespace":"x"},"spec":{"podSelector":{"matchLabels":{"pod":"a1"}},"policyTypes":["Ingress"],"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["192.168.0.0/16"]}}]}]}}]}' >"$BATS_TEST_TMPDIR/bad.json"
	apiserver_objects "$BATS_TEST_TMPDIR/bad.json" >/dev/null
	unreachable "$(ns_of 1 c1)" "http://$A1:8080/"
	run on_node 1 agent_status
	echo "$output" | jq -e '.policy.invalidPolicies == 1 and .policy.invalid[0].name == "bad"'
	kube delete networkpolicy bad -n x >/dev/null
	reachable "$(ns_of 1 c1)" "http://$A1:8080/"
}

@test "(policy) Service traffic is judged on the backend's port with the client's address, both ends" {
	A1=$(cluster_pod_ip 1 a1)
	vip=$(svc_apply web '[{"name":"http","port":80,"targetPort":8080}]')
	eps_apply web '[{"name":"http","port":8080,"protocol":"TCP"}]' "$(ep "$A1" 1)"
	reachable "$(ns_of 1 c1)" "http://$vip/"
	netpol <<<'{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"svc","namespace":"x"},"spec":{"podSelector":{"matchLabels":{"pod":"a1"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"pod":"c2"}}}],"ports":[{"port":8080}]}]}}'
	unreachable "$(ns_of 1 c1)" "http://$vip/"
	reachable "$(ns_of 2 c2)" "http://$vip/"
	# egress to port 80 does not open the backend's 8080
	netpol <<<'{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"c2-out","namespace":"x"},"spec":{"podSelector":{"matchLabels":{"pod":"c2"}},"policyTypes":["Egress"],"egress":[{"ports":[{"port":80}]}]}}'
	unreachable "$(ns_of 2 c2)" "http://$vip/"
	kube delete networkpolicy svc c2-out -n x >/dev/null
	reachable "$(ns_of 1 c1)" "http://$vip/"
	reachable "$(ns_of 2 c2)" "http://$vip/"
	svc_delete web
}

@test "(policy) a NodePort flow from outside is judged by the backend's ingress, and its replies still come from the node address" {
	A1=$(cluster_pod_ip 1 a1)
	ext=$(cluster_external_add)
	svc_apply np '[{"name":"http","port":80,"targetPort":8080}]' '{"type":"NodePort","externalTrafficPolicy":"Local"}' >/dev/null
	eps_apply np '[{"name":"http","port":8080,"protocol":"TCP"}]' "$(ep "$A1" 1)"
	np=$(kube get service np -o jsonpath='{.spec.ports[0].nodePort}')
	url="http://$(node_ip 1):$np/"
	reachable "$ext" "$url"
	netpol <<<'{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"x"},"spec":{"podSelector":{"matchLabels":{"pod":"a1"}},"policyTypes":["Ingress"]}}'
	unreachable "$ext" "$url"
	# allowed by the client's own address: the pod's reply must still be
	# reverse-NATed to node:NodePort (its conntrack entry is not a policy one)
	netpol <<<'{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"ext","namespace":"x"},"spec":{"podSelector":{"matchLabels":{"pod":"a1"}},"ingress":[{"from":[{"ipBlock":{"cidr":"'"$SL_EXTERNAL_IP"'/32"}}],"ports":[{"port":8080}]}]}}'
	reachable "$ext" "$url"
	svc_delete np
}
