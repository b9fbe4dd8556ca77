#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Three real nodes (containerd + kubelet each, e2e/lib/k8s-node.bash) on one
# fabric with the real control plane: the DaemonSet from manifests/sluice.yaml
# runs on all, each agent routes to the other nodes' pod CIDRs (allocated by
# the controller-manager), and a pod on one node reaches backends on the two
# others through a ClusterIP Service. Each node has its own hostname (its Node
# name); CoreDNS (e2e/k8s/coredns/) answers as kube-dns through a ClusterIP
# that only sluice carries; a fourth node joins and leaves the running cluster.
# Under cross-node load (client pod on node 3, backends on nodes 1 and 2) the
# agent pods are deleted and the DaemonSet rolled to a rebuilt image with no
# request failed; the Services suite's essential cases run against the real
# EndpointSlice controller; a fifth node migrates from the real kube-proxy
# (iptables mode, in the node's namespaces only) to sluice as the README says.
# A NodePort Service the real API server allocates is reached from an
# external client namespace on the fabric, with both traffic policies, and
# so is a pod's hostPort that the kubelet hands to containerd and the CNI.
# The tier's start time is printed ("# start: N s").

load lib/node
load lib/cluster
load lib/containerd
load lib/k8s
load lib/k8s-node

MANIFEST=$BATS_TEST_DIRNAME/../manifests/sluice.yaml
NODES=3
# Kubernetes' own e2e specs (test/e2e/network of v1.34.4) run against this
# cluster: the upstream twins of kube-proxy's job that sluice does, NodePorts,
# external IPs, both traffic policies, health check node ports, affinity,
# reject, UDP conntrack, hostPorts, and of a CNI's: pods unSNATed, a second
# ServiceCIDR, zone-aware routing, a terminating pod reached, DNS through the
# kube-dns ClusterIP, kube-proxy's health and mode URLs (about 3 min in 4
# processes; all must run). Other sets, by SL_UPSTREAM_SET: "all" (make
# test-upstream), every sig-network spec but NetworkPolicy's, UPSTREAM_SKIP's
# and sluice's two known gaps; "netpol" (make test-upstream-netpol), the
# NetworkPolicy suite. SL_UPSTREAM_FOCUS replaces any of them.
UPSTREAM_SPECS=(
	'Services should be able to create a functioning NodePort service'
	'Services should have session affinity work for NodePort service'
	'Services should support externalTrafficPolicy=Local for type=NodePort'
	'Services should fail health check node port if there are only terminating endpoints'
	'Services should implement NodePort and HealthCheckNodePort correctly when ExternalTrafficPolicy changes'
	'Services should release NodePorts on delete'
	'Services should be able to change the type from ExternalName to NodePort'
	'Services should be able to change the type from NodePort to ExternalName'
	'Services should be able to update service type to NodePort listening on same port number but different protocols'
	'Services should be possible to connect to a service via ExternalIP when the external IP is not assigned to a node'
	'Services should be rejected when no endpoints exist'
	'Services should fallback to terminating endpoints when there are no ready endpoints with externallTrafficPolicy=Cluster'
	'Services should preserve source pod IP for traffic thru service cluster IP'
	'Conntrack should be able to preserve UDP traffic when server pod cycles for a NodePort service'
	'Conntrack proxy implementation should not be vulnerable to the invalid conntrack state bug'
	'Networking Granular Checks: Services should support basic nodePort: udp functionality'
	'HostPort validates that there is no conflict between pods with same hostPort but different hostIP and protocol'
	'NoSNAT Should be able to send traffic between Pods without SNAT'
	'Service CIDRs should create Services and serve on different Service CIDRs'
	'Traffic Distribution should route traffic to an endpoint in the same zone when using PreferClose'
	'Connectivity Pod Lifecycle should be able to connect from a Pod to a terminating Pod'
	'DNS should provide DNS for services'
	'Networking should check kube-proxy urls'
)
# Never here: what a single-stack IPv4 cluster without SCTP, cloud load
# balancers or Internet access cannot run, alpha features, and the check of
# kube-proxy's nf_conntrack CLOSE_WAIT sysctl (the node's netfilter timeout
# of a host-to-host connection; sluice sets no netfilter sysctl).
UPSTREAM_SKIP='\[Disruptive\]|\[Serial\]|SCTP|IPv6|\[Alpha\]|\[Provider:'
case ${SL_UPSTREAM_SET:-} in
all)
	UPSTREAM_FOCUS='\[sig-network\] '
	UPSTREAM_SKIP+='|\[Feature:|KubeProxy should set TCP CLOSE_WAIT|\[sig-network\] Netpol '
	# sluice's known gaps (README: Limitations): a host-network endpoint of
	# the entry node behind a NodePort; UDP datagrams fragmented to a Service.
	UPSTREAM_SKIP+='|should function for service endpoints using hostNetwork|should be able to handle large requests: udp'
	;;
netpol) UPSTREAM_FOCUS='\[sig-network\] Netpol ' ;;
*) UPSTREAM_FOCUS="\\[sig-network\\] ($(IFS='|' && echo "${UPSTREAM_SPECS[*]}"))" ;;
esac
# make test's set must run every one of its specs: none may skip itself.
UPSTREAM_MIN=1
[ -n "${SL_UPSTREAM_SET:-}${SL_UPSTREAM_FOCUS:-}" ] || UPSTREAM_MIN=${#UPSTREAM_SPECS[@]}
UPSTREAM_FOCUS=${SL_UPSTREAM_FOCUS:-$UPSTREAM_FOCUS}

setup_file() {
	local rc=0 problem i
	SL_K8S_COMPONENTS+=(kubelet kube-scheduler kube-proxy crictl coredns agnhost regression-issue-74839 e2e.test ginkgo)
	k8s_tools >/dev/null || rc=$?
	if [ "$rc" = 3 ]; then
		export SKIP_REASON="the pinned Kubernetes v1.34.4, etcd and CoreDNS are not built: run 'make k8s-tools' (or SL_K8S_BUILD=1)"
		return 0
	fi
	[ "$rc" = 0 ] || return 1
	problem=$(ctrd_env_problem)
	[ -z "$problem" ] || { echo "$problem" >&2; return 1; }
	export MACHINE_SYSCTLS
	MACHINE_SYSCTLS=$(machine_sysctls)
	cluster_vars "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/c" "$NODES"
	cluster_state_save "$BATS_FILE_TMPDIR/cluster.state"
	sl_need_root && bpffs_ensure && mkdir -p "$SL_CLUSTER_SCRATCH" && fabric_setup || return 1
	export SL_IMAGES SL_PAUSE_REF SL_BUSYBOX_REF SL_CRICTL SL_COREDNS_REF SL_E2E_TEST SL_GINKGO
	SL_CRICTL=$(k8s_tool_path crictl) || return 1
	SL_E2E_TEST=$(k8s_tool_path e2e.test) || return 1
	SL_GINKGO=$(k8s_tool_path ginkgo) || return 1
	SL_IMAGES=$(SL_COREDNS=$(k8s_tool_path coredns) \
		SL_AGNHOST=$(k8s_tool_path agnhost) \
		SL_BOOM=$(k8s_tool_path regression-issue-74839) \
		"$SL_REPO/e2e/images/build.sh") || return 1
	SL_IMAGES+=$'\n'"sluice $("$SL_REPO/manifests/image.sh" "$SL_BUILD" "$SL_CLUSTER_SCRATCH/sluice.tar")" || return 1
	# A rebuilt image (its own /etc/sluice-image), for the rolling update.
	SL_IMAGES+=$'\n'"sluice-next $(SLUICE_IMAGE_REF=localhost/sluice:next \
		"$SL_REPO/manifests/image.sh" "$SL_BUILD" "$SL_CLUSTER_SCRATCH/sluice-next.tar")" || return 1
	SL_PAUSE_REF=$(awk '$1 == "pause" { print $2 }' <<<"$SL_IMAGES")
	SL_BUSYBOX_REF=$(awk '$1 == "busybox" { print $2 }' <<<"$SL_IMAGES")
	SL_COREDNS_REF=$(awk '$1 == "coredns" { print $2 }' <<<"$SL_IMAGES")
	# The tier's start: from here to every node Ready with sluice's agent (first test).
	now_ms >"$BATS_FILE_TMPDIR/start.ms"
	k8s_start "$SL_FABRIC" "$SL_CLUSTER_SCRATCH" && k8s_scheduler_start || return 1
	sed -e "s/api-server.invalid/$SL_K8S_IP/" -e "s/\"6443\"/\"$SL_K8S_PORT\"/" \
		-e "s|path: /sys/fs/cgroup$|path: $(cgroup2_root)|" "$MANIFEST" >"$SL_CLUSTER_SCRATCH/sluice.yaml"
	sed -e "s|@IMAGE@|$SL_COREDNS_REF|" -e "s|@DNS_IP@|$SL_K8S_DNS_IP|" \
		"$SL_REPO/e2e/k8s/coredns/coredns.yaml" >"$SL_CLUSTER_SCRATCH/coredns.yaml"
	kc apply -f "$SL_CLUSTER_SCRATCH/sluice.yaml" -f "$SL_CLUSTER_SCRATCH/coredns.yaml" >/dev/null || return 1
	for ((i = 1; i <= NODES; i++)); do
		(cluster_node_setup "$i" && knode_up) || return 1
	done
	for ((i = 1; i <= NODES; i++)); do
		wait_for 60 fabric_route_add "$i" || return 1
	done
}

# fabric_route_add I: the control plane's route to node I's pod CIDR, once
# the Node has one, so pods reach the API server (CoreDNS does) and get the
# answers. On kubeadm the control-plane node's own agent makes that route; the
# fabric runs no agent.
fabric_route_add() {
	local cidr
	cidr=$(k8s_node_cidr "$(node_name "$1")") && ip -n "$SL_FABRIC" route replace "$cidr" via "$(node_ip "$1")"
}

teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/cluster.state" ] || return 0
	cluster_state_load "$BATS_FILE_TMPDIR/cluster.state" || return 0
	k8s_vars "$SL_FABRIC" "$SL_CLUSTER_SCRATCH"
	local i left=""
	# Two slots more: the nodes the add/remove and the kube-proxy migration
	# tests join (idempotent if never up).
	SL_CLUSTER_N=$((NODES + 2))
	kproxy_stop "$SL_CLUSTER_N"
	for ((i = 1; i <= SL_CLUSTER_N; i++)); do
		on_node "$i" knode_down
	done
	k8s_stop "$SL_CLUSTER_SCRATCH"
	cluster_down
	# shellcheck disable=SC2153 # set by cluster_state_load
	left+=$(ip netns list | awk '{ print $1 }' | grep -E -- "-$SL_CLUSTER_RND(-|$)" | tr '\n' ' ')
	left+=$(find /sys/fs/bpf /sys/fs/cgroup -maxdepth 4 -name "*$SL_CLUSTER_RND*" 2>/dev/null | tr '\n' ' ')
	left+=$(awk -v r="$SL_CLUSTER_RND" 'index($0, r)' /proc/mounts | tr '\n' ' ')
	[ -z "${left// /}" ] || { echo "left behind: $left" >&2; return 1; }
	local now
	now=$(machine_sysctls)
	[ "$now" = "$MACHINE_SYSCTLS" ] || { printf 'machine sysctls changed:\n%s\n%s\n' "$MACHINE_SYSCTLS" "$now" >&2; return 1; }
}

# machine_sysctls: the machine-wide ones a kubelet or kube-proxy could write
# (the conntrack ones only once nf_conntrack is loaded).
machine_sysctls() {
	local k
	for k in kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward \
		net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established \
		net.netfilter.nf_conntrack_tcp_timeout_close_wait; do
		sysctl -e -n "$k" 2>/dev/null | sed "s/^/$k=/"
	done | tr '\n' ' '
}

setup() {
	[ -z "${SKIP_REASON:-}" ] || skip "$SKIP_REASON"
	cluster_state_load "$BATS_FILE_TMPDIR/cluster.state"
	k8s_load "$SL_CLUSTER_SCRATCH"
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || [ -n "${SKIP_REASON:-}" ] && return 0
	kc get nodes,pods -A -o wide >&3 2>&1
}

nodes_ready() {
	[ "$(kc get nodes -o json | jq '[.items[].status.conditions[] | select(.type == "Ready" and .status == "True")] | length')" = "${1:-$NODES}" ]
}
# ds_ready [N]: N (default NODES) agents scheduled and ready.
ds_ready() {
	kc -n kube-system get ds sluice-agent -o json |
		jq -e --argjson n "${1:-$NODES}" '.status.desiredNumberScheduled == $n and .status.numberReady == $n' >/dev/null
}

# routes_to_peers I [N]: node I has a route of the agent (proto 0x53) to every
# other node's pod CIDR, nodes 1..N (default NODES).
routes_to_peers() {
	local i=$1 j cidr
	for ((j = 1; j <= ${2:-$NODES}; j++)); do
		[ "$j" = "$i" ] && continue
		cidr=$(k8s_node_cidr "$(node_name "$j")") || return 1
		ip -n "$(node_name "$i")" -4 route show proto 0x53 | grep -q "^$cidr via $(node_ip "$j") " || return 1
	done
}

@test "the DaemonSet runs on every node, all turn Ready, each agent routes to the others' pod CIDRs" {
	wait_for 120 nodes_ready
	wait_for 60 ds_ready
	echo "# start: $((($(now_ms) - $(cat "$BATS_FILE_TMPDIR/start.ms")) / 1000)) s (control plane ready," \
		"$NODES nodes Ready, sluice DaemonSet ready on all; target 90 s)" >&3
	for ((i = 1; i <= NODES; i++)); do
		wait_for 10 routes_to_peers "$i"
	done
}

@test "each node has a hostname of its own, its Node's name, which its hostNetwork pods see" {
	local i name items="" machine
	machine=$(hostname)
	for ((i = 1; i <= NODES; i++)); do
		items+="${items:+,}{\"apiVersion\": \"v1\", \"kind\": \"Pod\",
		 \"metadata\": {\"name\": \"hostnet-$i\", \"namespace\": \"default\"},
		 \"spec\": {\"nodeName\": \"$(node_name "$i")\", \"hostNetwork\": true,
		  \"terminationGracePeriodSeconds\": 0, \"containers\": [{\"name\": \"sleep\",
		  \"image\": \"$SL_BUSYBOX_REF\", \"imagePullPolicy\": \"Never\", \"command\": [\"sleep\", \"3600\"]}]}}"
	done
	kc apply -f - <<<"{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [$items]}"
	kc -n default wait --for=condition=Ready pod/hostnet-1 pod/hostnet-2 pod/hostnet-3 --timeout=60s
	for ((i = 1; i <= NODES; i++)); do
		name=$(node_name "$i")
		# The kubelet runs without --hostname-override: the Node's name is the UTS hostname.
		[ "$(kc -n default exec "hostnet-$i" -- hostname)" = "$name" ]
		[ "$(kc get node "$name" -o jsonpath='{.metadata.labels.kubernetes\.io/hostname}')" = "$name" ]
		[ "$(kc get node "$name" -o jsonpath='{.status.addresses[?(@.type=="Hostname")].address}')" = "$name" ]
	done
	[ "$(hostname)" = "$machine" ]
	kc -n default delete pod hostnet-1 hostnet-2 hostnet-3 --wait=false >/dev/null
}

# web_pod NAME NODE_INDEX: a busybox httpd pod labelled app=web on that node.
web_pod() {
	cat <<-EOF
		{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "$1", "namespace": "default", "labels": {"app": "web"}},
		 "spec": {"nodeName": "$(node_name "$2")", "containers": [{"name": "httpd", "image": "$SL_BUSYBOX_REF",
		  "imagePullPolicy": "Never", "command": ["httpd", "-f", "-v", "-p", "$SL_HTTP_PORT", "-h", "/www"],
		  "readinessProbe": {"tcpSocket": {"port": $SL_HTTP_PORT}, "periodSeconds": 1}}]}}
	EOF
}

slice_count() {
	[ "$(kc -n default get endpointslices -l kubernetes.io/service-name=web -o json |
		jq '[.items[].endpoints[]? | select(.conditions.ready)] | length')" = "$1" ]
}

@test "a pod on one node reaches backends on the two other nodes through a ClusterIP Service" {
	kc apply -f - <<-EOF
		{"apiVersion": "v1", "kind": "List", "items": [
		 $(web_pod web-1 1), $(web_pod web-2 2),
		 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": "default"},
		  "spec": {"nodeName": "$(node_name 3)", "containers": [{"name": "sleep", "image": "$SL_BUSYBOX_REF",
		   "imagePullPolicy": "Never", "command": ["sleep", "3600"]}]}},
		 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
		  "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": $SL_HTTP_PORT}]}}]}
	EOF
	kc -n default wait --for=condition=Ready pod/web-1 pod/web-2 pod/client --timeout=90s
	local vip ip client_ip i
	vip=$(kc -n default get service web -o jsonpath='{.spec.clusterIP}')
	client_ip=$(kc -n default get pod client -o jsonpath='{.status.podIP}')
	# Each pod has an address from its own node's pod CIDR.
	for i in 1 2; do
		ip=$(kc -n default get pod "web-$i" -o jsonpath='{.status.podIP}')
		[ "${ip%.*}.0/24" = "$(k8s_node_cidr "$(node_name "$i")")" ]
	done
	[ "${client_ip%.*}.0/24" = "$(k8s_node_cidr "$(node_name 3)")" ]
	wait_for 20 slice_count 2
	wait_for 20 kc -n default exec client -- timeout 5 wget -qO- "http://$vip/index.html"
	# Every request answered, in one exec: 20 new connections across nodes.
	run kc -n default exec client -- sh -c "n=0; for i in \$(seq 20); do
		[ \"\$(timeout 5 wget -qO- http://$vip/index.html)\" = 'hello from busybox' ] || n=\$((n + 1)); done; echo failed=\$n"
	[ "$output" = failed=0 ]
	# Both backends served some (httpd -v logs each client; 2^-19 odds to miss one).
	for i in 1 2; do
		kc -n default logs "web-$i" | grep -qF "$client_ip"
	done
	# The backend sees the client pod's own address across nodes.
	run kc -n default exec client -- timeout 5 wget -qO- "http://$vip/cgi-bin/ip"
	[ "$output" = "$client_ip" ]
}

# ext_get URL: one request from the external client (a namespace on the fabric, no node).
ext_get() { timeout 5 nsenter --net="/run/netns/$(cat "$BATS_FILE_TMPDIR/ext")" "$SL_BUSYBOX" wget -q -O - "$1"; }
ext_says() { [ "$(ext_get "$1")" = "$2" ]; }
ext_fails() { ! ext_get "$1" >/dev/null 2>&1; }
# ext_hc NODE PORT: "CODE localEndpoints" of the health check node port, from outside.
ext_hc() {
	local out
	out=$(nsenter --net="/run/netns/$(cat "$BATS_FILE_TMPDIR/ext")" curl -sS -m 3 -w '\n%{http_code}' \
		"http://$(node_ip "$1"):$2/") || return 1
	echo "$(tail -n1 <<<"$out") $(head -n -1 <<<"$out" | jq -r .localEndpoints)"
}
ext_hc_is() { [ "$(ext_hc "$1" "$2")" = "$3" ]; }
ext_hc_gone() { ! ext_hc "$1" "$2" >/dev/null 2>&1; }

@test "(nodeport, real) a NodePort the real API server allocated answers from outside on every node; as a LoadBalancer with policy Local it keeps the client's address, only nodes with endpoints answer, the health check node port says so" {
	local np hc i
	[ -f "$BATS_FILE_TMPDIR/ext" ] || cluster_external_add >"$BATS_FILE_TMPDIR/ext"
	# The previous test's pods: web-1 on node 1, web-2 on node 2; none on node 3.
	kc apply -f - <<-EOF
		{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-np", "namespace": "default"},
		 "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": $SL_HTTP_PORT}]}}
	EOF
	np=$(kc -n default get service web-np -o jsonpath='{.spec.ports[0].nodePort}')
	[ "$np" -ge 30000 ]
	[ "$np" -le 32767 ]
	for ((i = 1; i <= NODES; i++)); do
		wait_for 20 ext_says "http://$(node_ip "$i"):$np/index.html" 'hello from busybox'
	done
	# Cluster policy, node 3 has no endpoint: the backend on another node sees node 3's address.
	ext_says "http://$(node_ip 3):$np/cgi-bin/ip" "$(node_ip 3)"
	# A LoadBalancer (no cloud controller: no ingress IP) keeps its nodePort
	# and, with policy Local, gets a health check node port from the API server.
	kc -n default patch service web-np -p '{"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}}'
	[ "$(kc -n default get service web-np -o jsonpath='{.spec.ports[0].nodePort}')" = "$np" ]
	hc=$(kc -n default get service web-np -o jsonpath='{.spec.healthCheckNodePort}')
	[ "$hc" -ge 30000 ]
	[ "$hc" -le 32767 ]
	wait_for 20 ext_says "http://$(node_ip 1):$np/cgi-bin/ip" "$SL_EXTERNAL_IP"
	wait_for 20 ext_fails "http://$(node_ip 3):$np/index.html"
	wait_for 20 ext_hc_is 1 "$hc" "200 1"
	wait_for 20 ext_hc_is 3 "$hc" "503 0"
	# Deleted: both ports are released on every node.
	kc -n default delete service web-np
	for ((i = 1; i <= NODES; i++)); do
		wait_for 20 ext_fails "http://$(node_ip "$i"):$np/index.html"
		wait_for 20 ext_hc_gone "$i" "$hc"
	done
}

@test "(hostport, real) a pod's hostPort through the kubelet and containerd answers on its node's address only, from outside, another node and a pod; gone with the pod" {
	[ -f "$BATS_FILE_TMPDIR/ext" ] || cluster_external_add >"$BATS_FILE_TMPDIR/ext"
	kc apply -f - <<-EOF
		{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hp", "namespace": "default"},
		 "spec": {"nodeName": "$(node_name 1)", "terminationGracePeriodSeconds": 0,
		  "containers": [{"name": "httpd", "image": "$SL_BUSYBOX_REF", "imagePullPolicy": "Never",
		   "command": ["httpd", "-f", "-p", "$SL_HTTP_PORT", "-h", "/www"],
		   "ports": [{"containerPort": $SL_HTTP_PORT, "hostPort": 8088, "protocol": "TCP"}],
		   "readinessProbe": {"tcpSocket": {"port": $SL_HTTP_PORT}, "periodSeconds": 1}}]}}
	EOF
	kc -n default wait --for=condition=Ready pod/hp --timeout=60s
	wait_for 20 ext_says "http://$(node_ip 1):8088/index.html" 'hello from busybox'
	# The client's address is kept (DNAT only, as the portmap plugin does).
	ext_says "http://$(node_ip 1):8088/cgi-bin/ip" "$SL_EXTERNAL_IP"
	ext_fails "http://$(node_ip 2):8088/index.html"
	# From node 2's host network and from the client pod on node 3.
	[ "$(on_node 2 host_exec timeout 5 "$SL_BUSYBOX" wget -q -O - "http://$(node_ip 1):8088/index.html")" = 'hello from busybox' ]
	[ "$(kc -n default exec client -- timeout 5 wget -qO- "http://$(node_ip 1):8088/index.html")" = 'hello from busybox' ]
	kc -n default delete pod hp --wait=true --timeout=60s
	wait_for 20 ext_fails "http://$(node_ip 1):8088/index.html"
}

@test "(upstream) Kubernetes' own sig-network e2e tests pass (e2e.test v1.34.4, unchanged)" {
	local i
	# One zone per node: Traffic Distribution's specs need three.
	for ((i = 1; i <= NODES; i++)); do
		kc label node "$(node_name "$i")" --overwrite "topology.kubernetes.io/zone=zone-$i" >/dev/null
	done
	k8s_upstream_e2e "${SL_UPSTREAM_SET:-network}" "$UPSTREAM_FOCUS" "$UPSTREAM_SKIP" "$UPSTREAM_MIN"
}

@test "CoreDNS answers as kube-dns through its ClusterIP over UDP, carried by sluice; the Service is reached by name" {
	local vip
	# The previous test's Service and client pod.
	vip=$(kc -n default get service web -o jsonpath='{.spec.clusterIP}')
	kc -n kube-system rollout status deployment/coredns --timeout=90s
	[ "$(kc -n kube-system get service kube-dns -o jsonpath='{.spec.clusterIP}')" = "$SL_K8S_DNS_IP" ]
	# The kubelet hands pods the cluster DNS address and search path.
	run kc -n default exec client -- cat /etc/resolv.conf
	[[ $output == *"nameserver $SL_K8S_DNS_IP"* ]]
	[[ $output == *"search default.svc.cluster.local svc.cluster.local cluster.local"* ]]
	# busybox nslookup: one UDP query to the nameserver; no kube-proxy runs here.
	run kc -n default exec client -- nslookup -type=a web.default.svc.cluster.local
	echo "$output"
	[ "$status" = 0 ]
	[[ $output == *"Server:"*"$SL_K8S_DNS_IP"* ]]
	[[ $output == *"Address: $vip"* ]]
	run kc -n default exec client -- timeout 5 wget -qO- http://web.default.svc.cluster.local/index.html
	[ "$output" = "hello from busybox" ]
	# The short name through the search path.
	run kc -n default exec client -- timeout 5 wget -qO- http://web/index.html
	[ "$output" = "hello from busybox" ]
	# A name that does not exist is an NXDOMAIN answer, not a timeout.
	run kc -n default exec client -- nslookup -type=a nothere.default.svc.cluster.local
	[ "$status" != 0 ]
	[[ $output == *"NXDOMAIN"* ]]
}

# load_start NAME URL: from the client pod (node 3), one request every 0.1 s
# to URL until load_stop; counts in $BATS_FILE_TMPDIR/NAME.out.
load_start() {
	kc -n default exec client -- sh -c "rm -f /tmp/stop-$1; n=0 t=0; while [ ! -e /tmp/stop-$1 ]; do
		t=\$((t + 1)); timeout 2 wget -qO- $2 >/dev/null || n=\$((n + 1)); sleep 0.1; done
		echo requests=\$t failed=\$n" >"$BATS_FILE_TMPDIR/$1.out" 2>&1 &
	echo $! >"$BATS_FILE_TMPDIR/$1.pid"
}

# load_stop NAME: ends the load; fails unless it ran >= 20 requests, none failed.
load_stop() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/$1.pid")
	# Still running: the load spanned what happened meanwhile.
	kill -0 "$pid"
	kc -n default exec client -- touch "/tmp/stop-$1"
	wait "$pid"
	cat "$BATS_FILE_TMPDIR/$1.out" >&3
	grep -Eqx 'requests=([2-9][0-9]|[0-9]{3,}) failed=0' "$BATS_FILE_TMPDIR/$1.out"
}

agent_on() {
	kc -n kube-system get pods -l app.kubernetes.io/name=sluice --field-selector "spec.nodeName=$(node_name "$1")" \
		-o jsonpath='{.items[0].metadata.name}'
}

# node_svc_map_id I: the id of node I's pinned Service map (in its own bpffs).
node_svc_map_id() {
	(cluster_use "$1" && knode_vars &&
		knode_exec bpftool -j map show pinned /sys/fs/bpf/sluice/sl_svc4 | jq -r .id)
}

# replaced I OLD: node I's agent is a pod other than OLD, and ready.
replaced() {
	local now
	now=$(agent_on "$1") && [ -n "$now" ] && [ "$now" != "$2" ] && agents_ready_on "$(node_name "$1")"
}

@test "agent pods deleted on the client's and a backend's node under cross-node load: restarted by kubelet, maps reused, no request fails" {
	local vip old1 old3 id1 id3
	vip=$(kc -n default get service web -o jsonpath='{.spec.clusterIP}')
	old1=$(agent_on 1) old3=$(agent_on 3)
	id1=$(node_svc_map_id 1) id3=$(node_svc_map_id 3)
	[ -n "$id1" ] && [ -n "$id3" ]
	# From node 3 to backends on nodes 1 and 2: every request crosses nodes.
	load_start delete "http://$vip/index.html"
	sleep 2
	kc -n kube-system delete pod "$old1" "$old3" --wait=false
	wait_for 60 replaced 1 "$old1"
	wait_for 60 replaced 3 "$old3"
	sleep 2
	load_stop delete
	[ "$(node_svc_map_id 1)" = "$id1" ]
	[ "$(node_svc_map_id 3)" = "$id3" ]
}

ds_rolled_out() {
	kc -n kube-system get ds sluice-agent -o json | jq -e --argjson n "$NODES" '.status.updatedNumberScheduled == $n and
		.status.numberReady == $n and .status.observedGeneration == .metadata.generation' >/dev/null &&
		[ "$(kc -n kube-system get pods -l app.kubernetes.io/name=sluice -o json |
			jq -r '[.items[] | select(.metadata.deletionTimestamp == null) | .spec.containers[0].image] | unique | join(" ")')" = "$1" ]
}

@test "a rolling update of the DaemonSet to a rebuilt image under cross-node load, node by node: maps reused, no request fails" {
	local vip i ids=() t0
	vip=$(kc -n default get service web -o jsonpath='{.spec.clusterIP}')
	for ((i = 1; i <= NODES; i++)); do
		ids[i]=$(node_svc_map_id "$i")
	done
	load_start roll "http://$vip/index.html"
	sleep 2
	t0=$(now_ms)
	kc -n kube-system set image daemonset/sluice-agent '*=localhost/sluice:next'
	wait_for 120 ds_rolled_out localhost/sluice:next
	echo "# rolled out on $NODES nodes: $((($(now_ms) - t0) / 1000)) s" >&3
	sleep 2
	load_stop roll
	for ((i = 1; i <= NODES; i++)); do
		[ "$(node_svc_map_id "$i")" = "${ids[i]}" ]
		[ "$(kc -n kube-system exec "$(agent_on "$i")" -c agent -- /bin/busybox cat /etc/sluice-image)" = localhost/sluice:next ]
	done
}

# echo_deploy REPLICAS: Deployment echo, busybox httpd answering GET / with
# its pod's name, on a port named "http"; Service echo targets the name.
echo_deploy() {
	kc apply -f - <<-EOF
		{"apiVersion": "v1", "kind": "List", "items": [
		 {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo", "namespace": "default"},
		  "spec": {"replicas": $1, "selector": {"matchLabels": {"app": "echo"}},
		   "template": {"metadata": {"labels": {"app": "echo"}}, "spec": {"terminationGracePeriodSeconds": 0,
		    "containers": [{"name": "httpd", "image": "$SL_BUSYBOX_REF", "imagePullPolicy": "Never",
		     "command": ["sh", "-c", "mkdir /tmp/w && cp -r /www/cgi-bin /tmp/w/ && hostname >/tmp/w/index.html && exec httpd -f -p $SL_HTTP_PORT -h /tmp/w"],
		     "ports": [{"name": "http", "containerPort": $SL_HTTP_PORT}],
		     "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1}}]}}}},
		 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": "default"},
		  "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": "http"}]}}]}
	EOF
}

# echo_pods: the names of the ready pods in Service echo's EndpointSlices, sorted.
echo_pods() {
	kc -n default get endpointslices -l kubernetes.io/service-name=echo -o json |
		jq -r '[.items[].endpoints[]? | select(.conditions.ready) | .targetRef.name] | sort | join(" ")'
}
echo_pods_are() { [ "$(echo_pods)" = "$1" ]; }
echo_count() { [ "$(echo_pods | wc -w)" = "$1" ]; }

# answers N: the distinct answers of N requests to Service echo from the client pod, sorted.
answers() {
	kc -n default exec client -- sh -c "for i in \$(seq $1); do timeout 5 wget -qO- http://echo/; done" | sort -u | xargs
}
answers_are() { [ "$(answers "$1")" = "$2" ]; }
# spread: 30 requests reach every ready pod (one missed: 3 * (2/3)^30 = 1.5e-5).
spread() { answers_are 30 "$(echo_pods)"; }
affine() { [ "$(answers 8 | wc -w)" = 1 ]; }
# refused VIP: the client pod's connect to VIP:80 is refused, inside wget's 5 s.
refused() {
	kc -n default exec client -- sh -c "timeout 5 wget -qO- http://$1/ 2>&1; echo rc=\$?" >"$BATS_TEST_TMPDIR/refused"
	grep -q 'Connection refused' "$BATS_TEST_TMPDIR/refused" && grep -qx 'rc=1' "$BATS_TEST_TMPDIR/refused"
}
echo_replaced() { [ "$(echo_pods)" != "$1" ] && echo_count 1; }

@test "(services, real) a Deployment's pods behind a Service with a named targetPort: the controller-manager's EndpointSlice, every pod answers" {
	echo_deploy 3
	kc -n default rollout status deployment/echo --timeout=90s
	wait_for 30 echo_count 3
	# The slice carries the port the name resolved to.
	[ "$(kc -n default get endpointslices -l kubernetes.io/service-name=echo -o jsonpath='{.items[0].ports[0].port}')" = "$SL_HTTP_PORT" ]
	wait_for 20 kc -n default exec client -- timeout 5 wget -qO- http://echo/
	spread
}

@test "(services, real) session affinity ClientIP keeps one backend; switched back to None it spreads again" {
	kc -n default patch service echo -p '{"spec": {"sessionAffinity": "ClientIP"}}'
	wait_for 15 affine
	run answers 20
	[ "$(wc -w <<<"$output")" = 1 ]
	kc -n default patch service echo -p '{"spec": {"sessionAffinity": "None"}}'
	wait_for 15 spread
}

@test "(services, real) endpoints follow the Deployment scaled down and its pod deleted (real EndpointSlice controller)" {
	local one new
	kc -n default scale deployment/echo --replicas=1
	wait_for 60 echo_count 1
	one=$(echo_pods)
	wait_for 15 answers_are 10 "$one"
	# The ReplicaSet replaces the deleted pod; only the new one answers.
	kc -n default delete pod "$one" --wait=false
	wait_for 60 echo_replaced "$one"
	new=$(echo_pods)
	wait_for 15 answers_are 10 "$new"
}

@test "(services, real) should be rejected when no endpoints exist: scaled to 0, a pod's and a node's connect refused" {
	local vip
	vip=$(kc -n default get service echo -o jsonpath='{.spec.clusterIP}')
	kc -n default scale deployment/echo --replicas=0
	wait_for 60 echo_count 0
	# Refused, not dropped: wget ends with "Connection refused" well inside its 5 s.
	wait_for 15 refused "$vip"
	refused "$vip"
	# From node 2's own network (the socket-level balancer refuses the connect).
	run on_node 2 host_exec python3 -c '
import socket, sys, time
t = time.monotonic()
try: socket.create_connection((sys.argv[1], 80), timeout=5)
except ConnectionRefusedError: print(int((time.monotonic() - t) * 1000)); sys.exit(0)
sys.exit(1)' "$vip"
	[ "$status" = 0 ]
	[ "$output" -lt 1000 ]
	kc -n default delete deployment echo --wait=false
}

# agents_ready_on NODE...: each of these nodes runs one ready sluice agent pod.
agents_ready_on() {
	kc -n kube-system get pods -l app.kubernetes.io/name=sluice -o json |
		jq -e --args '$ARGS.positional as $want | [.items[] | select(.spec.nodeName as $n | $want | index($n)) |
		select(any(.status.conditions[]?; .type == "Ready" and .status == "True")) | .spec.nodeName] | sort == ($want | sort)' \
			"$@" >/dev/null
}

# peer_route I CIDR VIA: node I has the agent's route to CIDR via VIA.
peer_route() { ip -n "$(node_name "$1")" -4 route show proto 0x53 | grep -q "^$2 via $3 "; }
no_peer_route() { ! ip -n "$(node_name "$1")" -4 route show proto 0x53 | grep -q "^$2 "; }

@test "a node joins the running cluster (agent ready, routes both ways, pods reachable) and leaves it (routes gone)" {
	local n=$((NODES + 1)) name cidr ip i t0
	name=$(node_name "$n")
	[ -s "$SL_CLUSTER_SCRATCH/n1/kubelet/kubelet.pid" ] # where knode_up keeps the kubelet's pid
	t0=$(now_ms)
	(SL_CLUSTER_N=$n && cluster_node_setup "$n" && knode_up)
	wait_for 90 nodes_ready "$n"
	wait_for 60 ds_ready "$n"
	cidr=$(k8s_node_cidr "$name")
	fabric_route_add "$n"
	for ((i = 1; i <= NODES; i++)); do
		wait_for 20 peer_route "$i" "$cidr" "$(node_ip "$n")"
	done
	wait_for 20 routes_to_peers "$n" "$n"
	echo "# node joined: $((($(now_ms) - t0) / 1000)) s (kubelet up to every agent's route to it)" >&3
	# busybox httpd as pid 1 ignores SIGTERM: no 30 s grace period to sit out.
	kc apply -f - <<<"$(web_pod edge "$n" | jq '.metadata.labels = {app: "edge"} | .spec.terminationGracePeriodSeconds = 0')"
	kc -n default wait --for=condition=Ready pod/edge --timeout=60s
	ip=$(kc -n default get pod edge -o jsonpath='{.status.podIP}')
	[ "${ip%.*}.0/24" = "$cidr" ]
	run kc -n default exec client -- timeout 5 wget -qO- "http://$ip:$SL_HTTP_PORT/index.html"
	[ "$output" = "hello from busybox" ]
	# Leaving: drained, kubelet and runtime stopped, the Node deleted.
	t0=$(now_ms)
	kc -n default delete pod edge --timeout=60s >/dev/null
	# knode_down is a teardown (every step tried, failures ignored): not under errexit.
	(set +e && SL_CLUSTER_N=$n && on_node "$n" knode_down)
	run kill -0 "$(cat "$SL_CLUSTER_SCRATCH/n$n/kubelet/kubelet.pid")"
	[ "$status" != 0 ]
	kc delete node "$name" --timeout=60s >/dev/null
	ip -n "$SL_FABRIC" route del "$cidr"
	for ((i = 1; i <= NODES; i++)); do
		wait_for 30 no_peer_route "$i" "$cidr"
		routes_to_peers "$i"
	done
	echo "# node left: $((($(now_ms) - t0) / 1000)) s (drain to every agent's route to it gone)" >&3
	# The remaining agents stay ready (the DaemonSet's status waits for the
	# pod garbage collector's 40 s quarantine of the gone node's pod).
	wait_for 30 agents_ready_on "$(node_name 1)" "$(node_name 2)" "$(node_name 3)"
	nodes_ready "$NODES"
}

# kproxy_start I: the real kube-proxy v1.34.4 (iptables mode) as node I's own
# process, in the node's namespaces only (network, mount: its xtables lock in
# the node's /run, UTS: its Node name), with kubeadm's defaults (healthz on
# 0.0.0.0:10256) and the node's address (no Node object exists before its kubelet)
# except conntrack: kubeadm's sizes nf_conntrack_max, which is machine-wide,
# so 0 ("leave as is") as kind does; --cluster-cidr as kubeadm sets it.
kproxy_start() {
	(
		cluster_use "$1" && knode_vars || exit 1
		local d=$SL_SCRATCH/kube-proxy bin
		bin=$(k8s_tool_path kube-proxy) || exit 1
		mkdir -p "$d" && k8s_client_cert "kube-proxy-$SL_NODE" system:kube-proxy &&
			k8s_kubeconfig "$d/kubeconfig" "kube-proxy-$SL_NODE" || exit 1
		nsenter -t "$(ctrd_holder_pid)" -m -n -u "$bin" --kubeconfig "$d/kubeconfig" \
			--bind-address "$SL_NODE_IP" --proxy-mode iptables --cluster-cidr "$SL_K8S_CLUSTER_CIDR" \
			--conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 \
			--conntrack-tcp-timeout-close-wait=0 --conntrack-udp-timeout=0 --conntrack-udp-timeout-stream=0 \
			</dev/null >>"$d/kube-proxy.log" 2>&1 3>&- &
		echo $! >"$d/pid"
	)
}

# kproxy_stop I: SIGTERM (its DaemonSet pod deleted), bounded, then SIGKILL.
kproxy_stop() {
	local f=$SL_CLUSTER_SCRATCH/n$1/kube-proxy/pid pid
	pid=$(cat "$f" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
	rm -f "$f"
}

# on_knode I CMD...: CMD in node I's namespaces, as its host processes see it.
on_knode() { (cluster_use "$1" && knode_vars && knode_exec "${@:2}"); }

# kproxy_has_web I: kube-proxy's rules on node I dispatch Service default/web.
kproxy_has_web() { on_knode "$1" iptables-save -t nat | grep -q '^-A KUBE-SERVICES .*"default/web cluster IP"'; }

# host_gets I URL N: N requests from node I's own network (its cgroup: the
# socket programs see them); prints the distinct answers, fails on any failure.
host_gets() {
	local i out=""
	for ((i = 0; i < $3; i++)); do
		out+=$(on_node "$1" host_exec timeout 5 "$SL_BUSYBOX" wget -qO- "$2")$'\n' || return 1
	done
	sort -u <<<"$out" | grep . | xargs
}

# kube_chains I: the KUBE-* names in node I's iptables and ip6tables rules
# and its nft tables named kube-proxy, one a line (the kubelet's own make
# IPv6 twins when ip6tables' nat table exists, so names, not counts).
kube_chains() {
	on_knode "$1" sh -c 'iptables-save; ip6tables-save; nft list tables' |
		grep -o -e 'KUBE-[A-Z0-9-]*' -e 'kube-proxy' | sort -u
}

@test "migrating a node from the real kube-proxy (iptables): a Service works through it, sluice installed, kube-proxy stopped and --cleanup, the Service keeps working, no KUBE- rule left" {
	local m=$((NODES + 2)) name vip i
	# shellcheck disable=SC2031 # for on_node and cluster_use in this test
	SL_CLUSTER_N=$m
	name=$(node_name "$m")
	vip=$(kc -n default get service web -o jsonpath='{.spec.clusterIP}')
	# A node with containerd, its kubelet not started yet: nothing of sluice.
	(cluster_node_setup "$m" && knode_vars && mkdir -p "$SL_CTRD_DIR" "$SL_KUBELET_DIR" &&
		knode_holder_start && knode_cgroups && knode_containerd_start)
	# Its Node, as the kubelet registers it before kube-proxy's pod starts
	# (kube-proxy waits 30 s for it); the kubelet adopts it later.
	kc create -f - >/dev/null <<<"{\"apiVersion\": \"v1\", \"kind\": \"Node\", \"metadata\": {\"name\": \"$name\"},
		\"status\": {\"addresses\": [{\"type\": \"InternalIP\", \"address\": \"$(node_ip "$m")\"}]}}"
	# Its gateway (a Service's address is routed before kube-proxy's DNAT
	# rewrites it), and the pod network as the previous plugin left it:
	# routes to each node's pod CIDR (host-gw).
	ip -n "$name" route add default via "$SL_K8S_IP"
	for ((i = 1; i <= NODES; i++)); do
		ip -n "$name" route add "$(k8s_node_cidr "$(node_name "$i")")" via "$(node_ip "$i")" proto static
	done
	run on_node "$m" host_exec timeout 2 "$SL_BUSYBOX" wget -qO- "http://$vip/index.html"
	[ "$status" != 0 ]
	# kube-proxy programs the Service; the node's own connections go through its DNAT.
	kproxy_start "$m"
	wait_for 30 kproxy_has_web "$m"
	wait_for 10 on_node "$m" host_exec timeout 1 "$SL_BUSYBOX" wget -qO- "http://$vip/index.html"
	[ "$(host_gets "$m" "http://$vip/index.html" 10)" = "hello from busybox" ]
	on_knode "$m" iptables-save -c -t nat | grep -q '^\[[1-9][0-9]*:[0-9]*\] -A KUBE-SEP-.*"default/web" .* -j DNAT'
	# Install sluice first: the kubelet joins, the DaemonSet's agent starts
	# beside kube-proxy (whose /healthz holds 0.0.0.0:10256).
	(cluster_use "$m" && knode_vars && knode_kubelet_start)
	wait_for 90 agents_ready_on "$(node_name 1)" "$(node_name 2)" "$(node_name 3)" "$name"
	[ "$(host_gets "$m" "http://$vip/index.html" 5)" = "hello from busybox" ]
	# Then remove kube-proxy: stopped, its rules removed by its own --cleanup.
	kproxy_stop "$m"
	on_knode "$m" "$(k8s_tool_path kube-proxy)" --cleanup \
		>>"$SL_CLUSTER_SCRATCH/n$m/kube-proxy/cleanup.log" 2>&1
	# What is left is the kubelet's own (KUBE-FIREWALL, KUBE-KUBELET-CANARY,
	# KUBE-IPTABLES-HINT), as on node 1, which never ran kube-proxy.
	run kube_chains "$m"
	echo "$output"
	[ "$output" = "$(kube_chains 1)" ]
	[[ $output != *KUBE-SERVICES* && $output != *KUBE-SVC-* && $output != *kube-proxy* ]]
	# And the previous plugin's routes: the agent, which left them alone, puts its own.
	for ((i = 1; i <= NODES; i++)); do
		ip -n "$name" route del "$(k8s_node_cidr "$(node_name "$i")")" proto static
	done
	wait_for 15 routes_to_peers "$m" "$NODES"
	[ "$(host_gets "$m" "http://$vip/index.html" 20)" = "hello from busybox" ]
	run on_node "$m" host_exec timeout 5 "$SL_BUSYBOX" wget -qO- "http://$vip/cgi-bin/ip"
	[ "$output" = "$(node_ip "$m")" ]
	# The agent, without its probes beside kube-proxy, serves them now, not restarted.
	kc -n kube-system logs "$(agent_on "$m")" -c agent >"$BATS_TEST_TMPDIR/agent.log"
	grep -q 'Failed to serve /healthz .*trying again' "$BATS_TEST_TMPDIR/agent.log"
	grep -q 'Serving /healthz' "$BATS_TEST_TMPDIR/agent.log"
	on_knode "$m" curl -sf http://127.0.0.1:10256/livez
	[ "$(kc -n kube-system get pod "$(agent_on "$m")" -o jsonpath='{.status.containerStatuses[0].restartCount}')" = 0 ]
}
