#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo: a 3-node emulated cluster (one sluice-agent per node), a pod on
# each node plus a second one on node 1; shows cross-node ping and HTTP, the
# routes the agents installed, a Service load-balanced across nodes with the
# client IP kept (kubectl get svc,endpointslices, then the requests), and how
# to point kubectl at the cluster; then waits for Ctrl-C or `make demo-down`.
# The agents learn from a real etcd + kube-apiserver + controller-manager
# v1.34.4 (e2e/lib/k8s.bash, at 172.18.0.250 in the fabric) when the pinned
# binaries are built (make k8s-tools), else from the API stand-in, saying so.
# Usage: demo.sh up|down
set -u

# shellcheck source=e2e/lib/services.bash
. "$(dirname "$0")/lib/services.bash"
SL_K8S_IP=172.18.0.250
# shellcheck source=e2e/lib/k8s.bash
. "$(dirname "$0")/lib/k8s.bash"

DEMO_DIR=${SL_DEMO_DIR:-$SL_BUILD/demo}
STATE=$DEMO_DIR/state
NODES=3

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }

demo_pid() { sed -n 's/^DEMO_PID=//p' "$STATE" 2>/dev/null; }

demo_pid_alive() {
	local pid
	pid=$(demo_pid)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

demo_teardown() {
	echo
	echo "demo: tearing down"
	demo_real_down
	cluster_down
	rm -f "$STATE"
}

# pod_line I ID: one line about pod ID on node I.
pod_line() {
	printf '   pod %s on %s  netns %-20s  ip %s\n' "$2" "$(node_name "$1")" "$(cluster_pod_ns "$1" "$2")" \
		"$(cluster_pod_ip "$1" "$2")"
}

# demo_real_down: the real control plane, if this demo started one.
demo_real_down() {
	[ -f "$SL_CLUSTER_SCRATCH/k8s/ns" ] && k8s_stop "$SL_CLUSTER_SCRATCH"
	return 0
}

# demo_real_api: the real control plane in the fabric, the Nodes in it with
# the pod CIDRs they have, and every agent restarted against it (the cluster's
# kubeconfig, which kube and the agents read, now names the real server).
# Status 3 when the binaries are not built.
demo_real_api() {
	local i cidr
	k8s_tools >/dev/null 2>&1 || return 3
	k8s_start "$SL_FABRIC" "$SL_CLUSTER_SCRATCH" || return 1
	for ((i = 1; i <= NODES; i++)); do
		cidr=$(node_pod_cidr "$i")
		kc create -f - >/dev/null <<-EOF || return 1
			{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "$(node_name "$i")"},
			 "spec": {"podCIDR": "$cidr", "podCIDRs": ["$cidr"]},
			 "status": {"addresses": [{"type": "InternalIP", "address": "$(node_ip "$i")"}]}}
		EOF
	done
	cp "$SL_K8S_ADMIN" "$SL_KUBECONFIG" || return 1
	SL_KUBECTL=$SL_KUBECTL_BIN
	for ((i = 1; i <= NODES; i++)); do
		on_node "$i" agent_stop >/dev/null && on_node "$i" agent_start || return 1
	done
	wait_for 10 cluster_agents_ready
}

# demo_who I ID: pod ID's server on node I answers /who with its name.
demo_who() { on_node "$1" demo_who_write "$2" "$1"; }
demo_who_write() { echo "pod $1 on node $2" >"$(www_dir)/who"; }

# demo_service A_IP C_IP: Service "web" (no selector: its EndpointSlice names
# pod a on node 1 and pod c on node 3), shown, then requested from pod b on
# node 2: which backend answered, and whom it saw.
demo_service() {
	local vip i who seen
	vip=$(svc_apply web "[{\"name\":\"http\",\"port\":80,\"targetPort\":$SL_HTTP_PORT}]" '{"selector":null}') || return 1
	eps_apply web "[{\"name\":\"http\",\"port\":$SL_HTTP_PORT,\"protocol\":\"TCP\"}]" \
		"$(ep "$1" 1)" "$(ep "$2" 3)" >/dev/null || return 1
	vip=$(kube get service web -o jsonpath='{.spec.clusterIP}') || return 1
	kube get svc,endpointslices -o wide
	wait_for 10 http_get "$(cluster_pod_ns 2 b)" "http://$vip/who" >/dev/null
	for ((i = 1; i <= 24; i++)); do
		who=$(http_get "$(cluster_pod_ns 2 b)" "http://$vip/who")
		seen=$(http_get "$(cluster_pod_ns 2 b)" "http://$vip/cgi-bin/ip")
		printf '   pod b -> http://%s/  answered by %-16s  which saw the client as %s\n' "$vip" "$who" "$seen"
	done
}

demo_up() {
	local i p a b c rc
	if [ -e "$STATE" ]; then
		if demo_pid_alive; then
			echo "demo: already running (pid $(demo_pid)); stop it with 'make demo-down'" >&2
			exit 1
		fi
		echo "demo: removing what a previous demo left behind"
		demo_down
	fi
	mkdir -p "$DEMO_DIR"
	trap demo_teardown EXIT
	trap 'exit 130' INT TERM HUP
	# The state file names everything before anything exists, so 'make
	# demo-down' can clean up after a demo that died halfway.
	cluster_vars "$(sl_rand_hex)" "$DEMO_DIR/cluster" "$NODES"
	cluster_state_save "$STATE"
	echo "DEMO_PID=$$" >>"$STATE"

	bold "1. $NODES nodes, their agents, and the Kubernetes API in $SL_FABRIC"
	cluster_up "$NODES" "$SL_CLUSTER_SCRATCH" || { cluster_diag; exit 1; }
	rc=0
	demo_real_api || rc=$?
	case $rc in
	0) echo "   real control plane: etcd, kube-apiserver, kube-controller-manager v1.34.4 on $SL_K8S_URL" ;;
	3) echo "   the pinned Kubernetes is not built (make k8s-tools): using the API stand-in on $SL_API_URL" ;;
	*) cluster_diag; exit 1 ;;
	esac
	kube get nodes -o custom-columns='NAME:.metadata.name,POD-CIDR:.spec.podCIDR,INTERNAL-IP:.status.addresses[0].address'
	for ((i = 1; i <= NODES; i++)); do
		printf '   agent on %s: %s\n' "$(node_name "$i")" \
			"$(on_node "$i" agent_status | jq -c '{ready, api: .api.mode, synced: ([.resources[] | select(.synced)] | length)}')"
	done

	bold "2. Each agent routes the other nodes' pod CIDRs via their IPs (protocol 0x53)"
	for ((i = 1; i <= NODES; i++)); do
		echo "   $(node_name "$i"):"
		node_routes "$i" | sed 's/^/      /'
	done

	bold "3. A pod on each node, and a second pod on node 1, wired by CNI ADD"
	for p in 1:a 2:b 3:c 1:d; do
		cluster_pod_add "${p%:*}" "${p#*:}" >/dev/null || { cluster_diag; exit 1; }
	done
	pod_line 1 a && pod_line 2 b && pod_line 3 c && pod_line 1 d
	a=$(cluster_pod_ip 1 a) b=$(cluster_pod_ip 2 b) c=$(cluster_pod_ip 3 c)
	on_node 1 ns_serve "$(cluster_pod_ns 1 a)" || exit 1
	on_node 3 ns_serve "$(cluster_pod_ns 3 c)" || exit 1

	bold "4. Pod b (node 2) pings pod a (node 1); pod a pings pod c (node 3)"
	ns_exec "$(cluster_pod_ns 2 b)" ping -c 2 -W 2 "$a"
	ns_exec "$(cluster_pod_ns 1 a)" ping -c 2 -W 2 "$c"

	bold "5. HTTP across nodes: the server sees the client's own pod IP"
	printf '   pod b -> http://%s:%s/  ' "$a" "$SL_HTTP_PORT"
	http_get "$(cluster_pod_ns 2 b)" "http://$a:$SL_HTTP_PORT/index.html"
	printf '   pod a saw the request come from: '
	http_get "$(cluster_pod_ns 2 b)" "http://$a:$SL_HTTP_PORT/cgi-bin/ip"
	printf '   pod c saw pod d (node 1) as:      '
	http_get "$(cluster_pod_ns 1 d)" "http://$c:$SL_HTTP_PORT/cgi-bin/ip"

	bold "6. A Service across nodes: backends pod a (node 1) and pod c (node 3), client pod b (node 2)"
	demo_who 1 a && demo_who 3 c || exit 1
	demo_service "$a" "$c" || { cluster_diag; exit 1; }

	bold "7. Point kubectl at the cluster (in another terminal)"
	cat <<-EOF
		   nsenter --net=/run/netns/$SL_FABRIC $SL_KUBECTL --kubeconfig $SL_KUBECONFIG get nodes
		   e.g. delete node 3 and watch its route vanish from the others:
		   nsenter --net=/run/netns/$SL_FABRIC $SL_KUBECTL --kubeconfig $SL_KUBECONFIG delete node $(node_name 3)
		   ip -n $(node_name 1) route show proto 0x53
	EOF

	bold "8. Other things to look at"
	cat <<-EOF
		   agent status:   $SL_BUILD/sluice-agent status --pin-dir /sys/fs/bpf/sluice-$SL_CLUSTER_RND-1 --cni-state-dir $SL_CLUSTER_SCRATCH/n1/state
		   agent logs:     tail -f $SL_CLUSTER_SCRATCH/n*/agent.log
		   API log:        tail -f $([ -f "$SL_CLUSTER_SCRATCH/k8s/ns" ] && echo "$SL_K8S_DIR/kube-apiserver.log" || echo "$SL_API_LOG")
		   a shell in b:   nsenter --net=/run/netns/$(cluster_pod_ns 2 b) sh
	EOF
	bold "Running. Ctrl-C or 'make demo-down' stops the demo and removes everything."
	while [ -e "$STATE" ]; do
		sleep 1 &
		wait $! 2>/dev/null
	done
}

demo_down() {
	local i
	if [ ! -e "$STATE" ]; then
		echo "demo: not running"
		return 0
	fi
	if demo_pid_alive; then
		kill -TERM "$(demo_pid)"
		for ((i = 0; i < 300; i++)); do
			[ -e "$STATE" ] || { echo "demo: stopped"; return 0; }
			sleep 0.1
		done
		echo "demo: the demo process did not stop within 30 s; tearing down here" >&2
	fi
	if grep -q ' SL_CLUSTER_RND=' "$STATE"; then
		cluster_state_load "$STATE" && demo_real_down && cluster_down
	else # a state file from the one-node demo
		node_state_load "$STATE" && node_teardown
	fi
	rm -f "$STATE"
	echo "demo: stopped"
}

case ${1:-} in
up) demo_up ;;
down) demo_down ;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
