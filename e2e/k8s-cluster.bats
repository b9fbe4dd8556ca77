#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Three real nodes (containerd + kubelet each, e2e/lib/k8s-node.bash) on one
# fabric with the real control plane: the DaemonSet from manifests/sluice.yaml
# runs on all, each agent routes to the other nodes' pod CIDRs (allocated by
# the controller-manager), and a pod on one node reaches backends on the two
# others through a ClusterIP Service. Each node has its own hostname (its Node
# name); CoreDNS (e2e/k8s/coredns/) answers as kube-dns through a ClusterIP
# that only sluice carries; a fourth node joins and leaves the running cluster.
# The tier's start time is printed ("# start: N s").

load lib/node
load lib/cluster
load lib/containerd
load lib/k8s
load lib/k8s-node

MANIFEST=$BATS_TEST_DIRNAME/../manifests/sluice.yaml
NODES=3

setup_file() {
	local rc=0 problem i
	SL_K8S_COMPONENTS+=(kubelet kube-scheduler crictl coredns)
	k8s_tools >/dev/null || rc=$?
	if [ "$rc" = 3 ]; then
		export SKIP_REASON="the pinned Kubernetes v1.34.4, etcd and CoreDNS are not built: run 'make k8s-tools' (or SL_K8S_BUILD=1)"
		return 0
	fi
	[ "$rc" = 0 ] || return 1
	problem=$(ctrd_env_problem)
	[ -z "$problem" ] || { echo "$problem" >&2; return 1; }
	export MACHINE_SYSCTLS
	MACHINE_SYSCTLS=$(sysctl -n kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward | tr '\n' ' ')
	cluster_vars "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/c" "$NODES"
	cluster_state_save "$BATS_FILE_TMPDIR/cluster.state"
	sl_need_root && bpffs_ensure && mkdir -p "$SL_CLUSTER_SCRATCH" && fabric_setup || return 1
	export SL_IMAGES SL_PAUSE_REF SL_BUSYBOX_REF SL_CRICTL SL_COREDNS_REF
	SL_CRICTL=$("$SL_REPO/e2e/k8s/build.sh" --cached crictl | awk '{ print $2 }') || return 1
	SL_IMAGES=$(SL_COREDNS=$("$SL_REPO/e2e/k8s/build.sh" --cached coredns | awk '{ print $2 }') \
		"$SL_REPO/e2e/images/build.sh") || return 1
	SL_IMAGES+=$'\n'"sluice $("$SL_REPO/manifests/image.sh" "$SL_BUILD" "$SL_CLUSTER_SCRATCH/sluice.tar")" || return 1
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
	# One slot more: the node the add/remove test joins (idempotent if never up).
	SL_CLUSTER_N=$((NODES + 1))
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
	[ "$(sysctl -n kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward | tr '\n' ' ')" = "$MACHINE_SYSCTLS" ]
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
