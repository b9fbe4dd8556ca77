#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# manifests/sluice.yaml against a real Kubernetes v1.34 control plane (etcd,
# kube-apiserver with Node,RBAC and service-account tokens,
# kube-controller-manager; e2e/lib/k8s.bash) in the fabric namespace: the
# server validates and applies it, and the real sluice-agent, started on an
# emulated node as the manifest's DaemonSet starts it (its ServiceAccount's
# token, in-cluster config, only the capabilities the manifest grants), syncs
# every resource and carries a Service made through that server. Then
# manifests/uninstall.sh clears the node. No kubelet: the agent is started by
# the suite, not by a kubelet from the image (that tier is not written yet).

load lib/node
load lib/k8s

MANIFEST=$BATS_TEST_DIRNAME/../manifests/sluice.yaml

machine_sysctls() { sysctl -n kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward | tr '\n' ' '; }

setup_file() {
	# Absent binaries are a skip only when nobody asked for them: `make test`
	# builds them (make deps), SL_K8S_BUILD=1 builds them here (~15 min cold).
	# (bats 1.8 cannot skip from setup_file: setup skips each test.)
	local rc=0
	k8s_tools >/dev/null || rc=$?
	if [ "$rc" = 3 ]; then
		export SKIP_REASON="the pinned Kubernetes v1.34.4 and etcd are not built: run 'make k8s-tools' (or SL_K8S_BUILD=1)"
		return 0
	fi
	[ "$rc" = 0 ] || return 1
	export MACHINE_SYSCTLS
	MACHINE_SYSCTLS=$(machine_sysctls)
	node_setup "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/n" || return 1
	node_state_save "$BATS_FILE_TMPDIR/node.state"
	k8s_start "$SL_FABRIC" "$SL_SCRATCH" || return 1
	# The node as its kubelet would register it; the controller-manager gives
	# it a pod CIDR, which the agent reads from the Node.
	k8s_node_create "$SL_NODE" "$SL_NODE_IP" >"$BATS_FILE_TMPDIR/pod-cidr" || return 1
	# The manifest as the README says to fill it in: the API server's address.
	sed -e "s/api-server.invalid/$SL_K8S_IP/" -e "s/\"6443\"/\"$SL_K8S_PORT\"/" "$MANIFEST" \
		>"$BATS_FILE_TMPDIR/sluice.yaml"
}

teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/node.state" ] || return 0
	node_state_load "$BATS_FILE_TMPDIR/node.state" || return 0
	k8s_stop "$SL_SCRATCH"
	node_teardown
	local left=""
	left+=$(ip netns list | awk '{ print $1 }' | grep -E -- "-$SL_RND(-|$)" | tr '\n' ' ')
	[ ! -e "$SL_PIN" ] || left+=" $SL_PIN"
	left+=$(awk -v r="$SL_RND" 'index($0, r)' /proc/mounts | tr '\n' ' ')
	[ -z "${left// /}" ] || { echo "left behind: $left" >&2; return 1; }
	[ "$(machine_sysctls)" = "$MACHINE_SYSCTLS" ] || { echo "machine sysctls changed: $MACHINE_SYSCTLS -> $(machine_sysctls)" >&2; return 1; }
}

setup() {
	[ -z "${SKIP_REASON:-}" ] || skip "$SKIP_REASON"
	node_state_load "$BATS_FILE_TMPDIR/node.state"
	k8s_load "$SL_SCRATCH"
	W=$BATS_TEST_TMPDIR
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || [ -n "${SKIP_REASON:-}" ] && return 0
	local f
	for f in "$SL_SCRATCH/agent.out" "$SL_AGENT_LOG" "$SL_K8S_DIR/kube-apiserver.log"; do
		[ -s "$f" ] || continue
		echo "# $f:" >&3
		tail -n 15 "$f" | sed 's/^/#   /' >&3
	done
}

sa_user=system:serviceaccount:kube-system:sluice-agent

@test "the real API server accepts manifests/sluice.yaml as shipped (apply --dry-run=server)" {
	run kc apply --dry-run=server -f "$MANIFEST"
	[ "$status" = 0 ]
	for o in serviceaccount/sluice-agent clusterrole.rbac.authorization.k8s.io/sluice-agent \
		clusterrolebinding.rbac.authorization.k8s.io/sluice-agent configmap/sluice-config \
		daemonset.apps/sluice-agent; do
		grep -q "^$o created (server dry run)$" <<<"$output"
	done
	# A dry run stores nothing.
	run kc -n kube-system get daemonset sluice-agent
	[ "$status" != 0 ]
}

@test "kubectl apply creates the ServiceAccount, ClusterRole, binding, ConfigMap and DaemonSet" {
	kc apply -f "$BATS_FILE_TMPDIR/sluice.yaml"
	kc -n kube-system get serviceaccount sluice-agent
	kc get clusterrole sluice-agent
	kc get clusterrolebinding sluice-agent
	[ "$(kc -n kube-system get configmap sluice-config -o jsonpath='{.data.KUBERNETES_SERVICE_HOST}')" = "$SL_K8S_IP" ]
	run kc -n kube-system get daemonset sluice-agent -o json
	[ "$status" = 0 ]
	jq -e '.spec.template.spec.hostNetwork == true and
		.spec.template.spec.priorityClassName == "system-node-critical" and
		.spec.updateStrategy.rollingUpdate.maxUnavailable == 1' <<<"$output"
	# A second apply changes nothing.
	run kc apply -f "$BATS_FILE_TMPDIR/sluice.yaml"
	[ "$status" = 0 ]
	[ "$(grep -c ' unchanged$' <<<"$output")" = 5 ]
}

@test "the agent's ServiceAccount may list and watch what the agent reads, and nothing else" {
	local r v
	for r in services endpointslices.discovery.k8s.io nodes pods namespaces networkpolicies.networking.k8s.io; do
		for v in list watch; do
			[ "$(kc auth can-i "$v" "$r" --all-namespaces --as "$sa_user")" = yes ]
		done
		[ "$(kc auth can-i get "$r" --all-namespaces --as "$sa_user" || true)" = no ]
	done
	for r in "create events" "patch nodes/status" "list secrets" "update services" "delete pods"; do
		# shellcheck disable=SC2086
		[ "$(kc auth can-i $r --all-namespaces --as "$sa_user" || true)" = no ]
	done
}

@test "a kubelet's node identity is refused what the agent needs (why the manifest has its own ServiceAccount)" {
	k8s_client_cert node "system:node:$SL_NODE" system:nodes
	k8s_kubeconfig "$W/node.kubeconfig" node
	local r
	for r in endpointslices.discovery.k8s.io nodes namespaces networkpolicies.networking.k8s.io; do
		run nsenter --net="/run/netns/$SL_K8S_NS" "$SL_KUBECTL_BIN" --kubeconfig "$W/node.kubeconfig" \
			--cache-dir "$W/cache" get "$r" --all-namespaces
		[ "$status" != 0 ]
		grep -q "forbidden" <<<"$output"
	done
	nsenter --net="/run/netns/$SL_K8S_NS" "$SL_KUBECTL_BIN" --kubeconfig "$W/node.kubeconfig" \
		--cache-dir "$W/cache" get services --all-namespaces
}

@test "the agent started as the DaemonSet starts it syncs every resource in-cluster, with no 403" {
	k8s_agent_start
	# The status file is published on a timer: wait for the synced one.
	wait_for 10 all_synced
	run agent_status
	[ "$status" = 0 ]
	jq -e --arg u "$SL_K8S_URL" '.api.mode == "in-cluster" and .api.server == $u' <<<"$output"
	jq -e '[.resources[].name] | sort == ["endpointslices", "namespaces", "networkpolicies", "nodes", "pods", "services"]' <<<"$output"
	jq -e 'all(.resources[]; .synced == true and .errors == 0 and (.resourceVersion | length) > 0)' <<<"$output"
	jq -e --arg c "$(cat "$BATS_FILE_TMPDIR/pod-cidr")" '.podCIDR == $c' <<<"$output"
	# The conflist hands pods the pod CIDR the controller-manager allocated.
	jq -e --arg c "$(cat "$BATS_FILE_TMPDIR/pod-cidr")" '.plugins[0].ipam.ranges[0][0].subnet == $c' "$SL_CONFLIST"
	run grep -E '\b403\b|[Ff]orbidden' "$SL_AGENT_LOG" "$SL_SCRATCH/agent.out"
	[ "$status" = 1 ]
	# The init container's work: plugin, IPAM and loopback as files, not links.
	for b in sluice host-local loopback; do
		[ -f "$SL_CNI_BIN/$b" ] && [ ! -L "$SL_CNI_BIN/$b" ]
	done
}

@test "the agent runs with exactly the capabilities the manifest grants" {
	agent_running
	local want have
	want=$(jq -r '.spec.template.spec.containers[] | select(.name == "agent") |
		.securityContext.capabilities.add | map("cap_" + ascii_downcase) | sort | join(",")' "$SL_SCRATCH/ds.json")
	have=$(caps_of "$(agent_pid)")
	[ "$have" = "$want" ]
}

# caps_of PID: its effective capabilities, sorted, comma-separated
# (setpriv --list-caps prints the names in capability-number order).
caps_of() {
	local mask i=0 name out=()
	mask=$((16#$(awk '/^CapEff:/ { print $2 }' "/proc/$1/status")))
	while read -r name; do
		((mask >> i & 1)) && out+=("cap_$name")
		i=$((i + 1))
	done < <(setpriv --list-caps)
	printf '%s\n' "${out[@]}" | sort | paste -sd,
}

@test "/healthz and /livez answer 200 where the DaemonSet's probes ask" {
	local probe host port path
	for probe in readinessProbe livenessProbe; do
		read -r host port path < <(jq -r --arg p "$probe" '.spec.template.spec.containers[] |
			select(.name == "agent") | .[$p].httpGet | "\(.host) \(.port) \(.path)"' "$SL_SCRATCH/ds.json")
		run node_exec curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$host:$port$path"
		[ "$output" = 200 ]
	done
}

@test "a Service and EndpointSlice made through the real API server carry a ClusterIP request from pod to pod" {
	local backend vip
	pod_add web >/dev/null
	pod_add client >/dev/null
	backend=$(pod_ip web)
	ns_serve "$(pod_ns web)"
	kc create -f - <<-EOF
		{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
		 "spec": {"ports": [{"name": "http", "port": 80, "targetPort": $SL_HTTP_PORT, "protocol": "TCP"}]}}
	EOF
	kc create -f - <<-EOF
		{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
		 "metadata": {"name": "web-1", "namespace": "default",
		  "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "e2e"}},
		 "addressType": "IPv4",
		 "endpoints": [{"addresses": ["$backend"], "conditions": {"ready": true}, "nodeName": "$SL_NODE"}],
		 "ports": [{"name": "http", "port": $SL_HTTP_PORT, "protocol": "TCP"}]}
	EOF
	vip=$(kc -n default get service web -o jsonpath='{.spec.clusterIP}')
	[ -n "$vip" ]
	wait_for 10 http_get "$(pod_ns client)" "http://$vip/index.html"
	run http_get "$(pod_ns client)" "http://$vip/index.html"
	[ "$status" = 0 ]
	[ -n "$output" ]
	agent_status | jq -e '.maps[] | select(.name == "sl_svc4") | .entries > 0'
	# Deleted through the API server, the Service leaves the datapath.
	kc -n default delete service web
	wait_for 10 unreachable "$(pod_ns client)" "http://$vip/index.html"
}

unreachable() { ! http_get "$@" >/dev/null 2>&1; }

all_synced() { agent_status 2>/dev/null | jq -e 'all(.resources[]; .synced == true)' >/dev/null; }

# agent_routes: the node has routes of the agent's routing protocol (0x53).
agent_routes() { [ -n "$(ip -n "$SL_NODE" -4 route show proto 0x53)" ]; }

# in_image ROOTFS CMD...: CMD chrooted in ROOTFS, in private mount and pid
# namespaces with their own /proc (nothing mounted on the machine).
in_image() {
	local r=$1
	shift
	unshare --mount --propagation private --pid --fork --mount-proc="$r/proc" chroot "$r" "$@"
}

@test "the image from make image runs every container of the DaemonSet: mount-bpffs, install-cni, the agent" {
	local m layer r=$W/rootfs ref cmd agent
	ref=$("$BATS_TEST_DIRNAME/../manifests/image.sh" "$SL_BUILD" "$W/sluice.tar" | awk '{ print $1 }')
	# The DaemonSet names the image this builds.
	[ "$(jq -r '[.spec.template.spec.initContainers[], .spec.template.spec.containers[]] | map(.image) | unique[]' "$SL_SCRATCH/ds.json")" = "$ref" ]
	mkdir -p "$W/lay" "$r"
	tar -C "$W/lay" -xf "$W/sluice.tar"
	m=$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$W/lay/index.json")
	layer=$(jq -r '.layers[0].digest | sub("sha256:"; "")' "$W/lay/blobs/sha256/$m")
	tar -C "$r" -xf "$W/lay/blobs/sha256/$layer"
	mkdir -p "$r/sys/fs/bpf" "$r/host/opt/cni/bin"
	for c in mount-bpffs install-cni; do
		mapfile -t cmd < <(jq -r --arg n "$c" '.spec.template.spec.initContainers[] | select(.name == $n) |
			(.command + (.args // []))[]' "$SL_SCRATCH/ds.json")
		in_image "$r" "${cmd[@]}"
	done
	[ -x "$r/host/opt/cni/bin/sluice" ] && [ -x "$r/host/opt/cni/bin/loopback" ] && [ -x "$r/host/opt/cni/bin/host-local" ]
	# bpffs was mounted in the private namespace only.
	run awk -v r="$r" 'index($2, r) == 1' /proc/mounts
	[ -z "$output" ]
	agent=$(jq -r '.spec.template.spec.containers[] | select(.name == "agent") | .command[0]' "$SL_SCRATCH/ds.json")
	run in_image "$r" "$agent" version
	[ "$status" = 0 ]
	[ "$output" = "$("$SL_BUILD/sluice-agent" version)" ]
	# The plugin's libraries are there too.
	run in_image "$r" /bin/busybox env CNI_COMMAND=VERSION /usr/bin/sluice </dev/null
	[ "$status" = 0 ]
	jq -e '.supportedVersions | index("1.0.0")' <<<"$output"
}

@test "manifests/uninstall.sh removes the pins, the conflist, the agent's routes and the plugin" {
	# A second node gives the agent a route to manage.
	k8s_node_create "sl-peer-$SL_RND" 172.18.0.9 >/dev/null
	wait_for 10 agent_routes
	# The DaemonSet deleted, as the README's uninstall says first.
	kc delete -f "$BATS_FILE_TMPDIR/sluice.yaml"
	[ "$(agent_stop)" = 0 ]
	[ -e "$SL_PIN" ] && [ -e "$SL_CONFLIST" ] && [ -e "$SL_CNI_BIN/sluice" ]
	run node_exec env SLUICE_PIN_DIR="$SL_PIN" SLUICE_CNI_CONF_DIR="$SL_CONF_DIR" \
		SLUICE_CNI_BIN_DIR="$SL_CNI_BIN" SLUICE_STATE_DIR="$SL_STATE_DIR" \
		"$BATS_TEST_DIRNAME/../manifests/uninstall.sh"
	[ "$status" = 0 ]
	grep -q "^remove route " <<<"$output"
	[ ! -e "$SL_PIN" ] && [ ! -e "$SL_CONFLIST" ] && [ ! -e "$SL_CNI_BIN/sluice" ] && [ ! -e "$SL_STATE_DIR" ]
	run agent_routes
	[ "$status" != 0 ]
	# loopback and host-local stay: other plugins use them.
	[ -e "$SL_CNI_BIN/loopback" ] && [ -e "$SL_CNI_BIN/host-local" ]
}
