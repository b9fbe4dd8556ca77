#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Three real nodes (containerd + kubelet each, e2e/lib/k8s-node.bash) on one
# fabric with the real control plane: the DaemonSet from manifests/sluice.yaml
# runs on all, each agent routes to the other nodes' pod CIDRs (allocated by
# the controller-manager), and a pod on one node reaches backends on the two
# others through a ClusterIP Service.

load lib/node
load lib/containerd
load lib/k8s
load lib/k8s-node

MANIFEST=$BATS_TEST_DIRNAME/../manifests/sluice.yaml
NODES=3

setup_file() {
	local rc=0 problem i
	SL_K8S_COMPONENTS+=(kubelet kube-scheduler crictl)
	k8s_tools >/dev/null || rc=$?
	if [ "$rc" = 3 ]; then
		export SKIP_REASON="the pinned Kubernetes v1.34.4 and etcd are not built: run 'make k8s-tools' (or SL_K8S_BUILD=1)"
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
	export SL_IMAGES SL_PAUSE_REF SL_BUSYBOX_REF SL_CRICTL
	SL_CRICTL=$("$SL_REPO/e2e/k8s/build.sh" --cached crictl | awk '{ print $2 }') || return 1
	SL_IMAGES=$("$SL_REPO/e2e/images/build.sh") || return 1
	SL_IMAGES+=$'\n'"sluice $("$SL_REPO/manifests/image.sh" "$SL_BUILD" "$SL_CLUSTER_SCRATCH/sluice.tar")" || return 1
	SL_PAUSE_REF=$(awk '$1 == "pause" { print $2 }' <<<"$SL_IMAGES")
	SL_BUSYBOX_REF=$(awk '$1 == "busybox" { print $2 }' <<<"$SL_IMAGES")
	k8s_start "$SL_FABRIC" "$SL_CLUSTER_SCRATCH" && k8s_scheduler_start || return 1
	sed -e "s/api-server.invalid/$SL_K8S_IP/" -e "s/\"6443\"/\"$SL_K8S_PORT\"/" \
		-e "s|path: /sys/fs/cgroup$|path: $(cgroup2_root)|" "$MANIFEST" >"$SL_CLUSTER_SCRATCH/sluice.yaml"
	kc apply -f "$SL_CLUSTER_SCRATCH/sluice.yaml" >/dev/null || return 1
	for ((i = 1; i <= NODES; i++)); do
		(cluster_node_setup "$i" && knode_up) || return 1
	done
}

teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/cluster.state" ] || return 0
	cluster_state_load "$BATS_FILE_TMPDIR/cluster.state" || return 0
	k8s_vars "$SL_FABRIC" "$SL_CLUSTER_SCRATCH"
	local i left=""
	for ((i = 1; i <= NODES; i++)); do
		on_node "$i" knode_down
	done
	k8s_stop "$SL_CLUSTER_SCRATCH"
	cluster_down
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
	[ "$(kc get nodes -o json | jq '[.items[].status.conditions[] | select(.type == "Ready" and .status == "True")] | length')" = "$NODES" ]
}
ds_ready() { kc -n kube-system get ds sluice-agent -o json | jq -e --argjson n "$NODES" '.status.numberReady == $n' >/dev/null; }

# routes_to_peers I: node I has a route of the agent (proto 0x53) to every other node's pod CIDR.
routes_to_peers() {
	local i=$1 j cidr
	for ((j = 1; j <= NODES; j++)); do
		[ "$j" = "$i" ] && continue
		cidr=$(k8s_node_cidr "$(node_name "$j")") || return 1
		ip -n "$(node_name "$i")" -4 route show proto 0x53 | grep -q "^$cidr via $(node_ip "$j") " || return 1
	done
}

@test "the DaemonSet runs on every node, all turn Ready, each agent routes to the others' pod CIDRs" {
	wait_for 120 nodes_ready
	wait_for 60 ds_ready
	for ((i = 1; i <= NODES; i++)); do
		wait_for 10 routes_to_peers "$i"
	done
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
