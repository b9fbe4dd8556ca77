#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# sluice installed the way a user installs it, on a real node: a real control
# plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler v1.34.4;
# e2e/lib/k8s.bash), one emulated node running containerd and kubelet in a
# private mount namespace of its own (e2e/lib/k8s-node.bash), the image from
# `make image` imported, and `kubectl apply -f manifests/sluice.yaml`: the
# kubelet runs the DaemonSet (init containers, agent), the node turns Ready,
# and scheduled pods talk through a ClusterIP Service whose EndpointSlice the
# controller-manager made. The machine's sysctls and mounts stay unchanged.

load lib/node
load lib/containerd
load lib/k8s
load lib/k8s-node

MANIFEST=$BATS_TEST_DIRNAME/../manifests/sluice.yaml

# What the kubelet could change on the machine itself, to compare after it.
machine_snapshot() {
	echo "sysctls: $(sysctl -n kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward | tr '\n' ' ')"
	# Where the node's mounts would land if they escaped its namespace (other
	# suites may mount elsewhere meanwhile, e.g. podman's storage).
	echo "mounts: $(awk '$2 ~ /^\/(sys\/fs\/(bpf|cgroup)|proc\/sys|etc\/cni|opt|run$|var\/lib$|var\/lib\/(cni|sluice|kubelet)|var\/log)/' /proc/mounts | md5sum)"
	local d
	for d in /opt/cni /var/lib/sluice /var/lib/kubelet /etc/kubernetes /var/log/pods; do
		[ ! -e "$d" ] || echo "exists: $d"
	done
}

setup_file() {
	local rc=0 problem
	SL_K8S_COMPONENTS+=(kubelet kube-scheduler crictl)
	k8s_tools >/dev/null || rc=$?
	if [ "$rc" = 3 ]; then
		export SKIP_REASON="the pinned Kubernetes v1.34.4 and etcd are not built: run 'make k8s-tools' (or SL_K8S_BUILD=1)"
		return 0
	fi
	[ "$rc" = 0 ] || return 1
	problem=$(ctrd_env_problem)
	[ -z "$problem" ] || { echo "$problem" >&2; return 1; }
	export MACHINE_BEFORE
	MACHINE_BEFORE=$(machine_snapshot)
	node_setup "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/n" || return 1
	node_state_save "$BATS_FILE_TMPDIR/node.state"
	export SL_IMAGES SL_PAUSE_REF SL_BUSYBOX_REF SL_CRICTL
	# ctrd_teardown removes the pods through the CRI, as the kubelet would.
	SL_CRICTL=$(k8s_tool_path crictl) || return 1
	SL_IMAGES=$("$SL_REPO/e2e/images/build.sh") || return 1
	SL_IMAGES+=$'\n'"sluice $("$SL_REPO/manifests/image.sh" "$SL_BUILD" "$SL_SCRATCH/sluice.tar")" || return 1
	# A second image (its own /etc/sluice-image), for the rolling update.
	SL_IMAGES+=$'\n'"sluice-next $(SLUICE_IMAGE_REF=localhost/sluice:next \
		"$SL_REPO/manifests/image.sh" "$SL_BUILD" "$SL_SCRATCH/sluice-next.tar")" || return 1
	SL_PAUSE_REF=$(awk '$1 == "pause" { print $2 }' <<<"$SL_IMAGES")
	SL_BUSYBOX_REF=$(awk '$1 == "busybox" { print $2 }' <<<"$SL_IMAGES")
	k8s_start "$SL_FABRIC" "$SL_SCRATCH" || return 1
	k8s_scheduler_start || return 1
	# As the README says: the API server's address, and the cgroup2 hostPath
	# where this (hybrid) machine mounts cgroup2.
	sed -e "s/api-server.invalid/$SL_K8S_IP/" -e "s/\"6443\"/\"$SL_K8S_PORT\"/" \
		-e "s|path: /sys/fs/cgroup$|path: $(cgroup2_root)|" "$MANIFEST" >"$SL_SCRATCH/sluice.yaml"
	kc apply -f "$SL_SCRATCH/sluice.yaml" >/dev/null || return 1
	knode_up
}

teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/node.state" ] || return 0
	node_state_load "$BATS_FILE_TMPDIR/node.state" || return 0
	k8s_vars "$SL_FABRIC" "$SL_SCRATCH"
	knode_down
	k8s_stop "$SL_SCRATCH"
	node_teardown
	# Nothing of this node may outlive the suite.
	local after left=""
	left+=$(ip netns list | awk '{ print $1 }' | grep -E -- "-$SL_RND(-|$)" | tr '\n' ' ')
	[ ! -e "$SL_PIN" ] || left+=" $SL_PIN"
	left+=$(find /sys/fs/cgroup -maxdepth 4 -type d \( -name "$SL_CTRD_CGROUP" -o -name "sluice-$SL_RND" \) 2>/dev/null | tr '\n' ' ')
	left+=$(awk -v r="$SL_RND" 'index($0, r)' /proc/mounts | tr '\n' ' ')
	[ -z "${left// /}" ] || { echo "left behind: $left" >&2; return 1; }
	after=$(machine_snapshot)
	[ "$after" = "$MACHINE_BEFORE" ] || { printf 'machine changed:\n%s\n%s\n' "$MACHINE_BEFORE" "$after" >&2; return 1; }
}

setup() {
	[ -z "${SKIP_REASON:-}" ] || skip "$SKIP_REASON"
	node_state_load "$BATS_FILE_TMPDIR/node.state"
	k8s_load "$SL_SCRATCH"
	knode_vars
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || [ -n "${SKIP_REASON:-}" ] && return 0
	kc get nodes,pods -A -o wide >&3 2>&1
	local f
	for f in "$SL_KUBELET_LOG" "$SL_CTRD_LOG" "$SL_K8S_DIR/kube-scheduler.log"; do
		echo "# $f:" >&3
		grep -E '^E|level=error' "$f" | tail -n 8 | sed 's/^/#   /' >&3
	done
}

# slice_has IP: an EndpointSlice of Service web lists IP.
slice_has() {
	kc -n default get endpointslices -l kubernetes.io/service-name=web \
		-o jsonpath='{.items[*].endpoints[*].addresses[*]}' | grep -qwF "$1"
}

node_ready() {
	kc get node "$SL_NODE" -o json 2>/dev/null |
		jq -e '.status.conditions[] | select(.type == "Ready") | .status == "True"' >/dev/null
}

ds_ready() {
	kc -n kube-system get ds sluice-agent -o json | jq -e '.status.numberReady == 1' >/dev/null
}

@test "the kubelet runs the DaemonSet from the imported image and the node turns Ready" {
	wait_for 120 node_ready
	wait_for 60 ds_ready
	# Its init containers ran: the plugin in the node's /opt/cni/bin.
	for b in sluice host-local loopback; do
		knode_exec test -x "/opt/cni/bin/$b"
	done
	knode_exec test -s /etc/cni/net.d/10-sluice.conflist
}

@test "the agent pinned into the node's own bpffs and attached to the node's cgroup, not the machine's" {
	knode_exec test -e /sys/fs/bpf/sluice/sl_svc4
	[ ! -e /sys/fs/bpf/sluice/sl_svc4 ] || [ "$(stat -c %i /sys/fs/bpf/sluice)" != "$(knode_exec stat -c %i /sys/fs/bpf/sluice)" ]
	run bpftool -j cgroup show "$SL_CGROUP"
	[ "$status" = 0 ]
	jq -e 'length > 0' <<<"$output"
	# The machine's cgroup2 root carries no program of this agent.
	local node_progs
	node_progs=$output
	run bpftool -j cgroup show "$(cgroup2_root)"
	[ "$status" = 0 ]
	jq -e --argjson n "$node_progs" '[.[].id] - ($n | map(.id)) == [.[].id]' <<<"${output:-[]}"
}

@test "scheduled pods behind a Service with a selector talk through its ClusterIP" {
	kc apply -f - <<-EOF
		{"apiVersion": "v1", "kind": "List", "items": [
		 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
		  "spec": {"containers": [{"name": "httpd", "image": "$SL_BUSYBOX_REF", "imagePullPolicy": "Never",
		   "command": ["httpd", "-f", "-p", "$SL_HTTP_PORT", "-h", "/www"],
		   "readinessProbe": {"tcpSocket": {"port": $SL_HTTP_PORT}, "periodSeconds": 1}}]}},
		 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": "default"},
		  "spec": {"containers": [{"name": "sleep", "image": "$SL_BUSYBOX_REF", "imagePullPolicy": "Never",
		   "command": ["sleep", "3600"]}]}},
		 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
		  "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": $SL_HTTP_PORT}]}}]}
	EOF
	kc -n default wait --for=condition=Ready pod/web pod/client --timeout=90s
	local ip vip
	ip=$(kc -n default get pod web -o jsonpath='{.status.podIP}')
	[[ $ip == 10.244.* ]]
	# The controller-manager's EndpointSlice has the pod.
	wait_for 20 slice_has "$ip"
	vip=$(kc -n default get service web -o jsonpath='{.spec.clusterIP}')
	wait_for 10 kc -n default exec client -- timeout 5 wget -qO- "http://$vip/index.html"
	run kc -n default exec client -- timeout 5 wget -qO- "http://$vip/index.html"
	[ "$status" = 0 ]
	[ "$output" = "hello from busybox" ]
}

agent_pod() { kc -n kube-system get pods -l app.kubernetes.io/name=sluice -o jsonpath='{.items[0].metadata.name}'; }
svc_map_id() { knode_exec bpftool -j map show pinned /sys/fs/bpf/sluice/sl_svc4 | jq -r .id; }
new_agent_ready() { [ "$(agent_pod)" != "$1" ] && ds_ready; }

@test "the agent's pod deleted under traffic: the kubelet starts a new one, the pinned maps are reused, no request fails" {
	local old id vip
	old=$(agent_pod)
	id=$(svc_map_id)
	[ -n "$id" ]
	vip=$(kc -n default get service web -o jsonpath='{.spec.clusterIP}')
	# 300 requests, one every 0.1 s, from the client pod while the agent restarts.
	kc -n default exec client -- sh -c "n=0; for i in \$(seq 300); do
		timeout 2 wget -qO- http://$vip/index.html >/dev/null || n=\$((n + 1)); sleep 0.1; done; echo failed=\$n" \
		>"$BATS_TEST_TMPDIR/load.out" 2>&1 &
	local load=$!
	sleep 2
	kc -n kube-system delete pod "$old" --wait=false
	wait_for 60 new_agent_ready "$old"
	# The restart happened while the requests ran.
	kill -0 "$load"
	wait "$load"
	grep -qx 'failed=0' "$BATS_TEST_TMPDIR/load.out"
	# The new agent reused the pinned map (same id), and serves the Service.
	[ "$(svc_map_id)" = "$id" ]
	run kc -n default exec client -- timeout 5 wget -qO- "http://$vip/index.html"
	[ "$output" = "hello from busybox" ]
}

ds_rolled_out() {
	kc -n kube-system get ds sluice-agent -o json | jq -e '.status.updatedNumberScheduled == 1 and
		.status.numberReady == 1 and .status.observedGeneration == .metadata.generation' >/dev/null &&
		[ "$(kc -n kube-system get pods -l app.kubernetes.io/name=sluice -o jsonpath='{.items[*].spec.containers[0].image}')" = "$1" ]
}

@test "a rolling update of the DaemonSet to a rebuilt image under traffic: the pinned maps are reused, no request fails" {
	local id vip
	id=$(svc_map_id)
	vip=$(kc -n default get service web -o jsonpath='{.spec.clusterIP}')
	kc -n default exec client -- sh -c "n=0; for i in \$(seq 300); do
		timeout 2 wget -qO- http://$vip/index.html >/dev/null || n=\$((n + 1)); sleep 0.1; done; echo failed=\$n" \
		>"$BATS_TEST_TMPDIR/load.out" 2>&1 &
	local load=$!
	sleep 2
	kc -n kube-system set image daemonset/sluice-agent '*=localhost/sluice:next'
	wait_for 60 ds_rolled_out localhost/sluice:next
	kill -0 "$load"
	wait "$load"
	grep -qx 'failed=0' "$BATS_TEST_TMPDIR/load.out"
	[ "$(svc_map_id)" = "$id" ]
	# The agent now runs from the other image.
	[ "$(kc -n kube-system exec "$(agent_pod)" -c agent -- /bin/busybox cat /etc/sluice-image)" = localhost/sluice:next ]
}

agent_pods_gone() { [ -z "$(kc -n kube-system get pods -l app.kubernetes.io/name=sluice -o name)" ]; }
node_not_ready() { ! node_ready; }

@test "uninstall as the README says: kubectl delete, then uninstall.sh on the node with its default paths" {
	kc delete -f "$SL_SCRATCH/sluice.yaml"
	wait_for 60 agent_pods_gone
	run knode_exec "$BATS_TEST_DIRNAME/../manifests/uninstall.sh"
	[ "$status" = 0 ]
	grep -qx "remove /sys/fs/bpf/sluice" <<<"$output"
	for p in /sys/fs/bpf/sluice /etc/cni/net.d/10-sluice.conflist /opt/cni/bin/sluice /var/lib/sluice; do
		run knode_exec test -e "$p"
		[ "$status" != 0 ]
	done
	knode_exec test -x /opt/cni/bin/loopback
	# Without the plugin's conflist the runtime's network is not ready.
	wait_for 30 node_not_ready
}
