# SPDX-License-Identifier: Apache-2.0
# The NetworkPolicy model topology of upstream's netpol e2e and cyclonus on an
# emulated cluster: namespaces x, y, z, pods a, b, c in each (spread over the
# three nodes), servers on 80 and 81 for TCP, UDP and SCTP, a Service
# s-<ns>-<pod> per pod; and the check that probes the 81 pairs and compares
# them with the model (e2e/netpol/model.py) computed from the API's objects.

# shellcheck shell=bash

SL_REPO=${SL_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=e2e/lib/cluster.bash
declare -F cluster_vars >/dev/null || . "$SL_REPO/e2e/lib/cluster.bash"

NP_NAMESPACES="x y z"
NP_PODS="a b c"
NP_PORTS="80 81"
NP_PROTOS="TCP UDP SCTP"
NP_DIR=$SL_REPO/e2e/netpol
# Debian's python3 (as the stand-in uses): quicker to start than a pyenv one.
NP_PY=/usr/bin/python3
[ -x "$NP_PY" ] || NP_PY=python3

# np_node NS POD: the node a pod runs on; each node gets one of a, b, c and
# one pod of each namespace, so every pair shape (same node, cross node) exists.
np_node() {
	local i j
	i=$(($(np_index "$NP_NAMESPACES" "$1")))
	j=$(($(np_index "$NP_PODS" "$2")))
	echo $(((i + j) % 3 + 1))
}

np_index() {
	local i=0 w
	for w in $1; do
		[ "$w" = "$2" ] && echo "$i" && return 0
		i=$((i + 1))
	done
	return 1
}

# np_container_ports: one container per (port, protocol), ports named
# serve-<port>-<proto> as upstream's model.go names them.
np_containers() {
	local p pr out=()
	for p in $NP_PORTS; do
		for pr in $NP_PROTOS; do
			out+=("$(jq -cn --argjson p "$p" --arg pr "$pr" '{name: "cont-\($p)-\($pr | ascii_downcase)",
				image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
				ports: [{name: "serve-\($p)-\($pr | ascii_downcase)", containerPort: $p, protocol: $pr}]}')")
		done
	done
	printf '%s\n' "${out[@]}" | jq -cs .
}

# np_pod_object NS POD [IP]: the Pod as the scheduler (nodeName) and, with IP,
# the kubelet (podIP, phase Running) would have written it.
np_pod_object() {
	local n
	n=$(np_node "$1" "$2")
	jq -cn --arg ns "$1" --arg p "$2" --arg node "$(node_name "$n")" --arg hip "$(node_ip "$n")" \
		--arg ip "${3:-}" --argjson c "$(np_containers)" '{apiVersion: "v1", kind: "Pod",
		metadata: {name: $p, namespace: $ns, labels: {pod: $p}},
		spec: {nodeName: $node, containers: $c},
		status: (if $ip == "" then {phase: "Pending"} else {phase: "Running", hostIP: $hip,
			hostIPs: [{ip: $hip}], podIP: $ip, podIPs: [{ip: $ip}],
			conditions: [{type: "Ready", status: "True"}]} end)}'
}

# np_service_objects NS POD IP: Service s-NS-POD and its EndpointSlice.
np_service_objects() {
	local n ports
	n=$(np_node "$1" "$2")
	ports=$(for p in $NP_PORTS; do for pr in $NP_PROTOS; do
		jq -cn --argjson p "$p" --arg pr "$pr" '{name: "service-port-\($pr | ascii_downcase)-\($p)", port: $p, protocol: $pr}'
	done; done | jq -cs .)
	jq -cn --arg ns "$1" --arg p "$2" --arg ip "$3" --arg node "$(node_name "$n")" --argjson ports "$ports" '
		{apiVersion: "v1", kind: "Service", metadata: {name: "s-\($ns)-\($p)", namespace: $ns},
		 spec: {type: "ClusterIP", selector: {pod: $p}, ports: [$ports[] | . + {targetPort: .port}]}},
		{apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", addressType: "IPv4",
		 metadata: {name: "s-\($ns)-\($p)-1", namespace: $ns,
			labels: {"kubernetes.io/service-name": "s-\($ns)-\($p)",
				"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
		 endpoints: [{addresses: [$ip], nodeName: $node, conditions: {ready: true, serving: true, terminating: false},
			targetRef: {kind: "Pod", namespace: $ns, name: $p}}],
		 ports: $ports}'
}

np_list() { jq -cs '{apiVersion: "v1", kind: "List", items: .}'; }

np_netns() { echo "sl-p-$SL_CLUSTER_RND-$(np_node "$1" "$2")-$1-$2"; }

# np_serve NS POD: the pod's servers (e2e/netpol/serve.py), pid kept for cluster_down.
np_serve() {
	local ns
	ns=$(np_netns "$1" "$2")
	# shellcheck disable=SC2086 # one argument per port
	nsenter --net="/run/netns/$ns" "$NP_PY" "$NP_DIR/serve.py" "$1/$2" $NP_PORTS \
		</dev/null >>"$SL_CLUSTER_SCRATCH/serve.log" 2>&1 3>&- &
	echo $! >"$SL_CLUSTER_SCRATCH/n$(np_node "$1" "$2")/pids/serve-$1-$2"
	wait_for 5 sh -c "nsenter --net=/run/netns/$ns ss -Hlun 'sport = :81' | grep -q ." ||
		sl_die "servers of $1/$2 did not start: $(tail -n 5 "$SL_CLUSTER_SCRATCH/serve.log")"
}

# netpol_up DIR: the cluster and the model topology; DIR/topo.json lists the
# pods (ns, name, node, netns, ip, svc). Waits until the agents route every
# pair and Service (the no-policy matrix: everything allowed).
netpol_up() {
	local dir=$1 ns p ip
	NP_TOPO=$dir/topo.json
	cluster_up 3 "$dir/c" || return 1
	for ns in $NP_NAMESPACES; do
		jq -cn --arg n "$ns" '{apiVersion: "v1", kind: "Namespace", metadata: {name: $n, labels: {ns: $n}}}'
	done | np_list | kube create -f - >/dev/null || return 1
	for ns in $NP_NAMESPACES; do for p in $NP_PODS; do np_pod_object "$ns" "$p"; done; done |
		np_list | kube create -f - >/dev/null || return 1
	for ns in $NP_NAMESPACES; do
		for p in $NP_PODS; do
			ip=$(on_node "$(np_node "$ns" "$p")" pod_add "$ns-$p") || return 1
			echo "$ns $p $ip"
		done
	done >"$dir/ips" || return 1
	while read -r ns p ip; do
		np_pod_object "$ns" "$p" "$ip"
		np_service_objects "$ns" "$p" "$ip"
	done <"$dir/ips" | np_list | kube apply -f - >/dev/null || return 1
	while read -r ns p ip; do np_serve "$ns" "$p" || return 1; done <"$dir/ips"
	kube get services -A -o json >"$dir/svcs.json" || return 1
	while read -r ns p ip; do
		jq -cn --arg ns "$ns" --arg p "$p" --arg ip "$ip" --arg netns "$(np_netns "$ns" "$p")" \
			--argjson node "$(np_node "$ns" "$p")" --slurpfile s "$dir/svcs.json" '{ns: $ns, name: $p,
			node: $node, netns: $netns, ip: $ip, svc: ($s[0].items[] |
			select(.metadata.namespace == $ns and .metadata.name == "s-\($ns)-\($p)") | .spec.clusterIP)}'
	done <"$dir/ips" | jq -cs '{pods: .}' >"$NP_TOPO" || return 1
	netpol_check --deadline 30 >&2
}

# netpol_setup_file: a netpol suite's setup_file: the cluster of netpol_up
# in BATS_FILE_TMPDIR, its state saved for every test (diagnosed and torn
# down when it does not come up).
netpol_setup_file() {
	netpol_up "$BATS_FILE_TMPDIR" || {
		cluster_diag
		cluster_down
		return 1
	}
	cluster_state_save "$BATS_FILE_TMPDIR/cluster.state"
}

# netpol_setup: a netpol suite's setup: the cluster state and topology of
# netpol_setup_file; RELABELED (set by a test that relabels) cleared.
netpol_setup() {
	cluster_state_load "$BATS_FILE_TMPDIR/cluster.state"
	export NP_TOPO=$BATS_FILE_TMPDIR/topo.json
	# shellcheck disable=SC2034 # read by the suites' teardown
	RELABELED=
}

# netpol_state FILE: the API objects the model reads.
netpol_state() { kube get namespaces,pods,networkpolicies -A -o json >"$1"; }

# netpol_check [matrix.py options]: the probed matrix equals the model's for
# the API's current objects (within NP_CHECK_DEADLINE s, default 8);
# prints the truth tables when not.
netpol_check() {
	local st
	st=$(mktemp "${BATS_TEST_TMPDIR:-/tmp}/np-state.XXXXXX") || return 1
	netpol_state "$st" || return 1
	"$NP_PY" "$NP_DIR/matrix.py" "$NP_TOPO" "$st" --deadline "${NP_CHECK_DEADLINE:-8}" "$@"
	local rc=$?
	rm -f "$st"
	return $rc
}

# np_apply: NetworkPolicy object(s), YAML or JSON, on stdin.
np_apply() { kube apply -f - >/dev/null; }

# np_delete_all: every NetworkPolicy of the model's namespaces goes.
np_delete_all() { kube delete networkpolicies --all -A >/dev/null; }

# np_labels_reset: pods and namespaces get back their model labels only.
np_labels_reset() {
	{
		kube get namespaces -o json | jq -c '.items[] | select(.metadata.labels.ns != null or
			(.metadata.name | IN("x", "y", "z"))) | .metadata.labels = {ns: .metadata.name,
			"kubernetes.io/metadata.name": .metadata.name}'
		kube get pods -A -o json | jq -c '.items[] | .metadata.labels = {pod: .metadata.name}'
	} | np_list | kube replace -f - >/dev/null
}

# np_sctp: the kernel can open SCTP sockets (autoloads the module if it can).
np_sctp() { "$NP_PY" -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)' 2>/dev/null; }

# np_pod_ip NS POD: from the topology.
np_pod_ip() { jq -r --arg ns "$1" --arg p "$2" '.pods[] | select(.ns == $ns and .name == $p) | .ip' "$NP_TOPO"; }

# netpol_steady_start STATE2_CMD...: probes in the background, for
# NP_STEADY_SECONDS (default 6), while the caller changes the API from its
# current objects to what STATE2_CMD... produces when run with a state file
# path appended (e.g. the model's own rewrite); netpol_steady_wait collects
# the verdict: the cells both states agree on never flipped.
netpol_steady_start() {
	NP_STEADY_DIR=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/np-steady.XXXXXX") || return 1
	netpol_state "$NP_STEADY_DIR/before" || return 1
	"$@" "$NP_STEADY_DIR/before" "$NP_STEADY_DIR/after" || return 1
	"$NP_PY" "$NP_DIR/matrix.py" "$NP_TOPO" "$NP_STEADY_DIR/before" --steady "$NP_STEADY_DIR/after" \
		--deadline "${NP_STEADY_SECONDS:-6}" >"$NP_STEADY_DIR/out" 2>&1 &
	NP_STEADY_PID=$!
}

netpol_steady_wait() {
	local rc=0
	wait "$NP_STEADY_PID" || rc=$?
	cat "$NP_STEADY_DIR/out"
	return $rc
}

# np_state_relabel KIND NS NAME KEY VALUE BEFORE AFTER: AFTER is BEFORE with
# one label set (VALUE "-": removed) on a pod (KIND pod) or namespace (KIND ns, NS "-").
np_state_relabel() {
	jq --arg k "$1" --arg ns "$2" --arg n "$3" --arg key "$4" --arg v "$5" '.items |= map(
		if ((($k == "ns" and .kind == "Namespace") or ($k == "pod" and .kind == "Pod" and .metadata.namespace == $ns))
			and .metadata.name == $n)
		then (if $v == "-" then del(.metadata.labels[$key]) else .metadata.labels[$key] = $v end) else . end)' \
		"$6" >"$7"
}
