# SPDX-License-Identifier: Apache-2.0
# A real Kubernetes control plane for the e2e suites: etcd v3.6.4,
# kube-apiserver and kube-controller-manager v1.34.4 (built by
# e2e/k8s/build.sh) inside the fabric namespace, the apiserver on
# 172.18.0.1:6443 with TLS from a throwaway CA, RBAC (Node,RBAC), service
# account tokens, NodeRestriction and API priority and fairness, as kubeadm
# runs it. Nothing listens in the machine's namespace. And the agent started
# the way manifests/sluice.yaml's DaemonSet starts it (k8s_agent_start).
#
# Source after e2e/lib/node.bash. State lives in SCRATCH/k8s/.

# shellcheck shell=bash

SL_REPO=${SL_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SL_K8S_IP=${SL_K8S_IP:-172.18.0.1}
SL_K8S_PORT=${SL_K8S_PORT:-6443}
SL_K8S_SVC_CIDR=10.96.0.0/12
# The cluster DNS address the kubelets hand to pods (kubeadm's: the 10th of the range).
export SL_K8S_DNS_IP=10.96.0.10
SL_K8S_CLUSTER_CIDR=10.244.0.0/16
SL_K8S_READY_SECS=${SL_K8S_READY_SECS:-60}
SL_K8S_COMPONENTS=(etcd kube-apiserver kube-controller-manager kubectl)

k8s_die() {
	printf 'k8s.bash: %s\n' "$*" >&2
	return 1
}

# k8s_tools: the pinned binaries from the cache (SL_ETCD, SL_KUBE_APISERVER,
# SL_KUBE_CONTROLLER_MANAGER, SL_KUBECTL_BIN). Builds missing ones only when
# SL_K8S_BUILD=1; otherwise status 3 if one is missing.
k8s_tools() {
	local out name path mode=--cached
	[ "${SL_K8S_BUILD:-}" != 1 ] || mode=
	out=$("$SL_REPO/e2e/k8s/build.sh" $mode "${SL_K8S_COMPONENTS[@]}") || return
	while read -r name path; do
		case $name in
		etcd) SL_ETCD=$path ;;
		kube-apiserver) SL_KUBE_APISERVER=$path ;;
		kube-controller-manager) SL_KUBE_CONTROLLER_MANAGER=$path ;;
		kubectl) SL_KUBECTL_BIN=$path ;;
		esac
	done <<<"$out"
	export SL_ETCD SL_KUBE_APISERVER SL_KUBE_CONTROLLER_MANAGER SL_KUBECTL_BIN
}

# k8s_tool_path NAME: the path of one pinned tool in the cache; status 3 (and
# nothing printed) when it is not built.
k8s_tool_path() {
	local out
	out=$("$SL_REPO/e2e/k8s/build.sh" --cached "$1") || return
	printf '%s\n' "${out#* }"
}

# k8s_vars NS SCRATCH: every name and path of one control plane.
k8s_vars() {
	export SL_K8S_NS=$1 SL_K8S_DIR=$2/k8s
	export SL_K8S_URL="https://$SL_K8S_IP:$SL_K8S_PORT" SL_K8S_CA=$2/k8s/pki/ca.crt
	export SL_K8S_ADMIN=$2/k8s/admin.kubeconfig
}

# k8s_load SCRATCH: the state k8s_start saved, in another process.
k8s_load() {
	[ -f "$1/k8s/tools" ] || k8s_die "no control plane state in $1" || return 1
	k8s_vars "$(cat "$1/k8s/ns")" "$1"
	# shellcheck disable=SC1091
	. "$1/k8s/tools"
}

# k8s_openssl ARGS...: openssl, its chatter in the log, shown on failure.
k8s_openssl() {
	openssl "$@" 2>>"$SL_K8S_DIR/openssl.log" || {
		cat "$SL_K8S_DIR/openssl.log" >&2
		k8s_die "openssl $1 failed"
	}
}

# k8s_cert NAME SUBJECT EXT: NAME.key + NAME.crt signed by the CA.
k8s_cert() {
	local p=$SL_K8S_DIR/pki/$1
	k8s_openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
		-keyout "$p.key" -out "$p.csr" &&
		k8s_openssl x509 -req -in "$p.csr" -CA "$SL_K8S_CA" -CAkey "$SL_K8S_DIR/pki/ca.key" \
			-CAcreateserial -days 2 -out "$p.crt" -extfile <(printf '%s\n' "$3") &&
		chmod 600 "$p.key"
}

# k8s_client_cert NAME CN [O]: a client certificate (the apiserver's x509 authn).
k8s_client_cert() {
	k8s_cert "$1" "/CN=$2${3:+/O=$3}" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
}

# k8s_pki: the CA, the apiserver's serving certificate, the service-account
# key pair, and client certificates for the admin and the controller-manager.
k8s_pki() {
	local d=$SL_K8S_DIR/pki
	mkdir -p "$d" &&
		k8s_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj /CN=sluice-e2e-ca -keyout "$d/ca.key" -out "$SL_K8S_CA" &&
		k8s_cert apiserver /CN=kube-apiserver "subjectAltName=IP:$SL_K8S_IP,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth" &&
		k8s_openssl ecparam -name prime256v1 -genkey -noout -out "$d/sa.key" &&
		k8s_openssl ec -in "$d/sa.key" -pubout -out "$d/sa.pub" &&
		k8s_client_cert admin sluice-e2e-admin system:masters &&
		k8s_client_cert kcm system:kube-controller-manager &&
		k8s_client_cert scheduler system:kube-scheduler &&
		k8s_client_cert kubelet-client kube-apiserver-kubelet-client system:masters &&
		chmod 600 "$d/ca.key" "$d/sa.key"
}

# k8s_kubeconfig FILE CERT_NAME: a kubeconfig authenticating with pki/CERT_NAME.
k8s_kubeconfig() {
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $SL_K8S_URL
    certificate-authority: $SL_K8S_CA
users:
- name: u
  user:
    client-certificate: $SL_K8S_DIR/pki/$2.crt
    client-key: $SL_K8S_DIR/pki/$2.key
contexts:
- name: e2e
  context: {cluster: e2e, user: u}
current-context: e2e
EOF
}

# k8s_spawn NAME CMD...: CMD in the fabric namespace, in the background, its
# pid in NAME.pid and its output in NAME.log; no descriptor of the caller kept.
k8s_spawn() {
	local name=$1
	shift
	nsenter --net="/run/netns/$SL_K8S_NS" "$@" </dev/null >"$SL_K8S_DIR/$name.log" 2>&1 3>&- &
	echo $! >"$SL_K8S_DIR/$name.pid"
}

k8s_pid_alive() {
	local pid
	pid=$(cat "$SL_K8S_DIR/$1.pid" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# k8s_readyz: the apiserver answers /readyz with 200 (admin credentials).
k8s_readyz() {
	k8s_pid_alive kube-apiserver || return 2
	nsenter --net="/run/netns/$SL_K8S_NS" curl -sf --max-time 2 --cacert "$SL_K8S_CA" \
		--cert "$SL_K8S_DIR/pki/admin.crt" --key "$SL_K8S_DIR/pki/admin.key" \
		"$SL_K8S_URL/readyz" >/dev/null
}

# k8s_start NS SCRATCH: etcd, kube-apiserver (ready) and kube-controller-manager
# in NS, whose bridge gets SL_K8S_IP.
k8s_start() {
	local ns=$1 scratch=$2 d
	[ -e "/run/netns/$ns" ] || k8s_die "no network namespace $ns" || return 1
	k8s_tools || return
	k8s_vars "$ns" "$scratch"
	d=$SL_K8S_DIR
	mkdir -p "$d/etcd" "$d/kcm-certs" "$d/apiserver-certs" "$d/flex" "$d/kube-cache" || return 1
	printf '%s\n' "$ns" >"$d/ns"
	declare -p SL_ETCD SL_KUBE_APISERVER SL_KUBE_CONTROLLER_MANAGER SL_KUBECTL_BIN |
		sed 's/^declare -x /declare -gx /' >"$d/tools" || return 1
	ip -n "$ns" addr add "$SL_K8S_IP/16" dev br0 || return 1
	k8s_pki || return 1
	k8s_kubeconfig "$SL_K8S_ADMIN" admin && k8s_kubeconfig "$d/kcm.kubeconfig" kcm || return 1
	k8s_spawn etcd "$SL_ETCD" --name e2e --data-dir "$d/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster e2e=http://127.0.0.1:2380 --unsafe-no-fsync || return 1
	k8s_spawn kube-apiserver "$SL_KUBE_APISERVER" --etcd-servers http://127.0.0.1:2379 \
		--bind-address "$SL_K8S_IP" --advertise-address "$SL_K8S_IP" --secure-port "$SL_K8S_PORT" \
		--tls-cert-file "$d/pki/apiserver.crt" --tls-private-key-file "$d/pki/apiserver.key" \
		--client-ca-file "$SL_K8S_CA" --cert-dir "$d/apiserver-certs" \
		--service-account-key-file "$d/pki/sa.pub" --service-account-signing-key-file "$d/pki/sa.key" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range "$SL_K8S_SVC_CIDR" --authorization-mode Node,RBAC \
		--enable-admission-plugins NodeRestriction --allow-privileged=true \
		--kubelet-preferred-address-types InternalIP --profiling=false \
		--kubelet-client-certificate "$d/pki/kubelet-client.crt" \
		--kubelet-client-key "$d/pki/kubelet-client.key" || return 1
	if ! wait_for "$SL_K8S_READY_SECS" k8s_readyz; then
		tail -n 20 "$d/etcd.log" "$d/kube-apiserver.log" >&2
		k8s_die "kube-apiserver not ready within $SL_K8S_READY_SECS s"
		return 1
	fi
	k8s_spawn kube-controller-manager "$SL_KUBE_CONTROLLER_MANAGER" \
		--kubeconfig "$d/kcm.kubeconfig" --authentication-kubeconfig "$d/kcm.kubeconfig" \
		--authorization-kubeconfig "$d/kcm.kubeconfig" --leader-elect=false \
		--use-service-account-credentials --service-account-private-key-file "$d/pki/sa.key" \
		--root-ca-file "$SL_K8S_CA" --cert-dir "$d/kcm-certs" --flex-volume-plugin-dir "$d/flex" \
		--bind-address 127.0.0.1 --allocate-node-cidrs --cluster-cidr "$SL_K8S_CLUSTER_CIDR" \
		--node-cidr-mask-size 24 --service-cluster-ip-range "$SL_K8S_SVC_CIDR" || return 1
	# The controller-manager makes the namespaces' default ServiceAccounts.
	wait_for 30 k8s_default_sa || k8s_die "no default ServiceAccount in 30 s"
}

k8s_default_sa() { kc -n default get serviceaccount default >/dev/null 2>&1; }

# k8s_scheduler_start: kube-scheduler (pinned) beside the control plane.
k8s_scheduler_start() {
	local d=$SL_K8S_DIR bin
	bin=$(k8s_tool_path kube-scheduler) || return 1
	k8s_kubeconfig "$d/scheduler.kubeconfig" scheduler || return 1
	k8s_spawn kube-scheduler "$bin" --kubeconfig "$d/scheduler.kubeconfig" \
		--authentication-kubeconfig "$d/scheduler.kubeconfig" \
		--authorization-kubeconfig "$d/scheduler.kubeconfig" --leader-elect=false \
		--bind-address 127.0.0.1
}

# k8s_stop [SCRATCH]: SIGTERM in reverse start order, bounded, then SIGKILL.
k8s_stop() {
	[ -z "${1:-}" ] || k8s_vars "$(cat "$1/k8s/ns" 2>/dev/null)" "$1"
	local c pid i
	for c in kube-scheduler kube-controller-manager kube-apiserver etcd; do
		pid=$(cat "$SL_K8S_DIR/$c.pid" 2>/dev/null) || continue
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		rm -f "$SL_K8S_DIR/$c.pid"
	done
	return 0
}

# kc ARGS...: the pinned kubectl as the cluster admin, in the fabric namespace.
kc() {
	nsenter --net="/run/netns/$SL_K8S_NS" "$SL_KUBECTL_BIN" --kubeconfig "$SL_K8S_ADMIN" \
		--cache-dir "$SL_K8S_DIR/kube-cache" "$@"
}

# k8s_node_create NAME IP: a Node object as a kubelet registers it (InternalIP);
# the controller-manager allocates its pod CIDR. Prints the pod CIDR.
k8s_node_create() {
	kc create -f - >/dev/null <<EOF || return 1
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "$1"},
 "status": {"addresses": [{"type": "InternalIP", "address": "$2"}]}}
EOF
	wait_for 30 k8s_node_cidr "$1" >/dev/null || k8s_die "node $1 got no pod CIDR in 30 s" || return 1
	k8s_node_cidr "$1"
}

k8s_node_cidr() {
	local c
	c=$(kc get node "$1" -o jsonpath='{.spec.podCIDR}' 2>/dev/null) && [ -n "$c" ] && echo "$c"
}

# --- the agent as manifests/sluice.yaml's DaemonSet runs it --------------------
#
# k8s_agent_start: reads the applied DaemonSet and ConfigMap back from the API
# server and starts the agent on the current node (node.bash) as the kubelet
# would: the install-cni init container's command first, then the agent
# container's command and args with its env resolved ($(NODE_NAME),
# configMapKeyRef), its config file from the ConfigMap, a token of its
# ServiceAccount in the service-account dir, and only the capabilities its
# securityContext adds. What differs is where the node's paths are: this
# node shares the machine's filesystem, so flags (which win over the config
# file) move pin dir, CNI dirs, state and cgroup into the node's own. The
# pid and exit status files are node.bash's (agent_stop, agent_status work).

# k8s_ds_container NAME: the DaemonSet's (init) container NAME as JSON.
k8s_ds_container() {
	jq -ec --arg n "$1" '.spec.template.spec | [.initContainers[]?, .containers[]] |
		map(select(.name == $n))[0]' "$SL_SCRATCH/ds.json"
}

# k8s_caps CONTAINER_JSON: setpriv's bounding set for the container's
# capabilities (drop ALL is required: a container keeps the runtime's set otherwise).
k8s_caps() {
	jq -er '.securityContext.capabilities as $c | select($c.drop == ["ALL"]) |
		(["-all"] + [($c.add // [])[] | "+" + ascii_downcase]) | join(",")' <<<"$1" ||
		k8s_die "container $(jq -r .name <<<"$1") does not drop ALL capabilities"
}

# k8s_env CONTAINER_JSON: NAME=VALUE lines of its env, resolved like the kubelet.
k8s_env() {
	jq -er --slurpfile cm "$SL_SCRATCH/cm.json" --arg node "$SL_NODE" '.env[] |
		"\(.name)=" + (.value // (.valueFrom |
		if .fieldRef.fieldPath == "spec.nodeName" then $node
		else $cm[0].data[.configMapKeyRef.key] // error("unresolved env") end))' <<<"$1"
}

# k8s_expand ARG ENV_LINES: ARG with every $(NAME) replaced from ENV_LINES.
k8s_expand() {
	local arg=$1 line
	while IFS= read -r line; do
		arg=${arg//"\$(${line%%=*})"/${line#*=}}
	done <<<"$2"
	printf '%s\n' "$arg"
}

# k8s_sa_dir DIR: what the kubelet mounts for the pod's ServiceAccount.
k8s_sa_dir() {
	local sa
	sa=$(jq -r .spec.template.spec.serviceAccountName "$SL_SCRATCH/ds.json")
	mkdir -p "$1" && kc -n kube-system create token "$sa" --duration 1h >"$1/token" &&
		cp "$SL_K8S_CA" "$1/ca.crt" && echo kube-system >"$1/namespace"
}

# k8s_agent_install_cni: the install-cni init container, into the node's bin dir.
k8s_agent_install_cni() {
	local c caps cmd mnt
	c=$(k8s_ds_container install-cni) && caps=$(k8s_caps "$c") || return 1
	mnt=$(jq -er '.volumeMounts[] | select(.name == "cni-bin") | .mountPath' <<<"$c") || return 1
	mapfile -t cmd < <(jq -r '(.command + (.args // []))[]' <<<"$c")
	cmd[0]=$SL_BUILD/${cmd[0]##*/}
	cmd=("${cmd[@]/#"$mnt"/"$SL_CNI_BIN"}")
	setpriv --bounding-set "$caps" --inh-caps=-all -- "${cmd[@]}" >>"$SL_SCRATCH/install-cni.out" 2>&1
}

k8s_agent_start() {
	local c caps env cmd=() a cfg cfgdir envv=() f
	kc -n kube-system get daemonset sluice-agent -o json >"$SL_SCRATCH/ds.json" &&
		kc -n kube-system get configmap sluice-config -o json >"$SL_SCRATCH/cm.json" || return 1
	k8s_agent_install_cni || k8s_die "install-cni failed: $(cat "$SL_SCRATCH/install-cni.out")" || return 1
	c=$(k8s_ds_container agent) && caps=$(k8s_caps "$c") && env=$(k8s_env "$c") || return 1
	# The ConfigMap's files where the container's volumeMount puts them.
	cfg=$(jq -er '.volumeMounts[] | select(.name == "config") | .mountPath' <<<"$c") || return 1
	cfgdir=$SL_SCRATCH/mnt-config
	mkdir -p "$cfgdir" && jq -r '.data["config.json"]' "$SL_SCRATCH/cm.json" >"$cfgdir/config.json" || return 1
	k8s_sa_dir "$SL_SCRATCH/sa" || return 1
	while IFS= read -r a; do
		a=$(k8s_expand "$a" "$env")
		cmd+=("${a/"$cfg/"/"$cfgdir/"}")
	done < <(jq -r '(.command + (.args // []))[]' <<<"$c")
	cmd[0]=$SL_BUILD/${cmd[0]##*/}
	mapfile -t envv <<<"$env"
	mkdir -p "$SL_CGROUP" || return 1
	rm -f "$SL_SCRATCH/agent.pid" "$SL_SCRATCH/agent.rc" "$SL_CONFLIST"
	(
		# No descriptor of the caller (bats) kept open by the agent.
		for f in /proc/"$BASHPID"/fd/*; do
			f=${f##*/}
			[ "$f" -gt 2 ] && eval "exec $f>&-"
		done 2>/dev/null
		if bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$SL_SCRATCH/agent.pid" \
			nsenter --net="/run/netns/$SL_NODE" env -i PATH=/usr/bin:/bin "${envv[@]}" \
			setpriv --bounding-set "$caps" --inh-caps=-all -- "${cmd[@]}" \
			--sa-dir "$SL_SCRATCH/sa" --pin-dir "$SL_PIN" --cni-conf-dir "$SL_CONF_DIR" \
			--cni-bin-dir "$SL_CNI_BIN" --cni-state-dir "$SL_STATE_DIR" \
			--ipam-data-dir "$SL_IPAM_DIR" --cni-log-file "$SL_CNI_LOG" \
			--log-file "$SL_AGENT_LOG" --cgroup "$SL_CGROUP" >>"$SL_SCRATCH/agent.out" 2>&1; then
			echo 0 >"$SL_SCRATCH/agent.rc"
		else
			echo $? >"$SL_SCRATCH/agent.rc"
		fi
	) </dev/null >/dev/null 2>&1 3>&- &
	if ! wait_for 30 agent_started || ! wait_for 10 agent_ready; then
		tail -n 20 "$SL_SCRATCH/agent.out" "$SL_AGENT_LOG" >&2 2>/dev/null
		k8s_die "the agent did not get ready (exit status: $(cat "$SL_SCRATCH/agent.rc" 2>/dev/null))"
		return 1
	fi
}

# k8s_upstream_e2e NAME FOCUS [SKIP [MIN]]: Kubernetes' own e2e tests (e2e.test
# of v1.34.4, $SL_E2E_TEST, unchanged) whose full names match the regular
# expression FOCUS (and not SKIP), run by the ginkgo CLI ($SL_GINKGO) in
# $SL_UPSTREAM_PROCS processes (default 4: the specs mostly wait for pods) in
# the fabric namespace, so the test process is a client outside the cluster as
# in upstream's CI. One line per spec to fd 3 ("passed 12 s  [sig-network]
# ..."; a spec that skipped itself with its reason); the report and log in
# SCRATCH/k8s/upstream-NAME/. Fails unless every spec that ran passed and at
# least MIN (default 1) did. The run is bounded by $SL_UPSTREAM_MINUTES
# (default 24).
k8s_upstream_e2e() {
	local dir=$SL_K8S_DIR/upstream-$1 focus=$2 skip=${3:-'\[Disruptive\]|\[Serial\]'} min=${4:-1} rc=0
	local minutes=${SL_UPSTREAM_MINUTES:-24} nodes
	mkdir -p "$dir"
	# The suite counts the schedulable nodes in its first process only; the
	# others would skip every spec that wants two nodes. Upstream's CI says it.
	nodes=$(kc get nodes -o json | jq '[.items[] | select(.spec.unschedulable != true)] | length') || return 1
	(cd "$dir" && nsenter --net="/run/netns/$SL_K8S_NS" timeout $((minutes * 60 + 60)) "$SL_GINKGO" \
		--procs "${SL_UPSTREAM_PROCS:-4}" --no-color --timeout "${minutes}m" --output-dir "$dir" \
		--json-report report.json --focus "$focus" --skip "$skip" "$SL_E2E_TEST" -- \
		--kubeconfig "$SL_K8S_ADMIN" --kubectl-path "$SL_KUBECTL_BIN" --provider skeleton --num-nodes "$nodes" \
		--report-dir "$dir" >"$dir/e2e.log" 2>&1 3>&-) || rc=$?
	# A spec the focus left out is "skipped" without a failure; one that
	# skipped itself carries its reason there.
	jq -r '.[0].SpecReports[]? | select(.LeafNodeType == "It" and (.State != "skipped" or .Failure)) |
		"\(.State) \(.RunTime / 1e9 | floor) s  \(.ContainerHierarchyTexts + [.LeafNodeText] | join(" "))" +
		if .State == "skipped" then ": \(.Failure.Message | split("\n")[0])" else "" end' \
		"$dir/report.json" >&3 2>/dev/null
	jq -e --argjson min "$min" '[.[0].SpecReports[]? | select(.LeafNodeType == "It" and .State != "skipped")] |
		length >= $min and all(.State == "passed")' "$dir/report.json" >/dev/null 2>&1 && [ "$rc" = 0 ] && return 0
	grep -a -E '\[FAILED\]|\[TIMEDOUT\]|\[PANICKED\]' "$dir/e2e.log" | head -n 40 >&2
	echo "k8s_upstream_e2e $1: ginkgo status $rc; log $dir/e2e.log" >&2
	return 1
}
