# SPDX-License-Identifier: Apache-2.0
# The real kube-proxy rows of `make bench`: the pinned kube-proxy v1.34.4
# binary (e2e/k8s/build.sh) in iptables mode and in nftables mode, each on a
# plain node of the bench topology (lib/topo.bash, no sluice there), against a
# real etcd + kube-apiserver (e2e/lib/k8s.bash) started for the bench in the
# fabric namespace at $KPR_API_IP (the API stand-in keeps 172.18.0.1). The
# Services and their EndpointSlices are written through that API server, in
# namespace "bench", the same set kube_rules.py models for the shape rows
# (filler i: 10.100.0.0+i:80, endpoints 10.246.X.Y and 10.247.X.Y:8080).
#
# Both kube-proxies watch the same API, so each programs both rows' measured
# Services: 4 measured (10.111.K.1 same-node, 10.111.K.2 cross-node backend,
# K = each row's plain node) plus N-4 fillers make N in the rules. With the
# north-south rows (KPR_NP=1) those two are NodePorts too (ports
# kpr_nodeport, externalTrafficPolicy Cluster: masqueraded), and a third per
# row joins them, 10.111.K.3 with externalTrafficPolicy Local and its
# endpoint on the row's node (nodeName bench-ROW): 6 measured.
#
# Machine-wide state: the conntrack flags are 0 ("leave as-is"), so no
# nf_conntrack sysctl is written; everything else kube-proxy sets
# (route_localnet, its rules) is per network namespace. The iptables calls
# take a lock file of the scratch dir (XTABLES_LOCKFILE), not /run/xtables.lock.
#
# Timings (ms, wall clock, rules polled every 50 ms in the node's namespace):
#   full       the API write of all N Services (kubectl create) -> all in the rules
#   add/change/remove  one Service POSTed / its EndpointSlice PATCHed / DELETEd
#              -> the rules show it
#   full_sync  kube-proxy started on a cleaned node with N present -> all in the rules

# shellcheck shell=bash

KPR_API_IP=${KPR_API_IP:-172.18.0.251} # .250 is the outside client (cluster.bash)
SL_K8S_IP=$KPR_API_IP
# shellcheck source=e2e/lib/k8s.bash
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../lib/k8s.bash"

declare -A KPR_MODE=([kube-proxy-iptables]=iptables [kube-proxy-nftables]=nftables)
# shellcheck disable=SC2034 # read by datapath.sh
KPR_MAX=${BENCH_KPR_MAX_SERVICES:-1000}
# shellcheck disable=SC2034 # read by datapath.sh
KPR_MEASURED=4
KPR_FILLERS=0
KPR_NP=${KPR_NP:-0}

kpr_err() {
	printf 'kube-proxy-real: %s\n' "$*" >&2
	return 1
}

kpr_us() { echo "${EPOCHREALTIME/[.,]/}"; }

# kpr_tools: the control plane's binaries and SL_KUBE_PROXY; status 3 when
# one is not built (make k8s-tools), like k8s_tools.
kpr_tools() {
	k8s_tools || return
	SL_KUBE_PROXY=$(k8s_tool_path kube-proxy) || return
	export SL_KUBE_PROXY
}

# kpr_dir ROW: its state directory (pid, log, kubeconfig).
kpr_dir() { echo "$SL_K8S_DIR/$1"; }

# KPR_SVC_JQ: jq's svc(NAME; VIP; EPS; NP; ETP; NODE): a selector-less
# Service VIP:80 -> :8080 and its EndpointSlice with the ready endpoints EPS;
# NP (a NodePort, "" for none) makes it a NodePort with externalTrafficPolicy
# ETP, its endpoints on Node NODE.
# shellcheck disable=SC2016 # jq variables, not the shell's
KPR_SVC_JQ='def svc($n; $vip; $eps; $np; $etp; $node):
	{apiVersion: "v1", kind: "Service", metadata: {name: $n, namespace: "bench"},
	 spec: ({clusterIP: $vip, ports: [{port: 80, targetPort: 8080, protocol: "TCP"}
		+ (if $np == "" then {} else {nodePort: ($np | tonumber)} end)]}
		+ (if $np == "" then {} else {type: "NodePort", externalTrafficPolicy: $etp} end))},
	{apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
	 metadata: {name: $n, namespace: "bench", labels: {"kubernetes.io/service-name": $n,
	   "endpointslice.kubernetes.io/managed-by": "bench.sluice.dev"}},
	 addressType: "IPv4", ports: [{port: 8080, protocol: "TCP"}],
	 endpoints: [$eps[] | {addresses: [.], conditions: {ready: true}}
		+ (if $node == "" then {} else {nodeName: $node} end)]};'

# kpr_svc NAME VIP EP...: svc() as JSON objects; KPR_SVC_NP "NODEPORT ETP
# NODE" for a NodePort.
kpr_svc() {
	local name=$1 vip=$2 np etp node
	shift 2
	read -r np etp node <<<"${KPR_SVC_NP:-}"
	jq -cn --arg n "$name" --arg vip "$vip" --arg np "$np" --arg etp "$etp" --arg node "$node" --args \
		"$KPR_SVC_JQ"' svc($n; $vip; $ARGS.positional; $np; $etp; $node)' "$@"
}

# kpr_nodeport K VARIANT: the fixed NodePort of plain node K's measured
# Service (same, cross: externalTrafficPolicy Cluster; local: Local).
kpr_nodeport() {
	case $2 in
	same) echo $((30800 + 10 * $1)) ;;
	cross) echo $((30801 + 10 * $1)) ;;
	local) echo $((30802 + 10 * $1)) ;;
	esac
}

# kpr_fillers LO HI: fillers LO <= i < HI as kube_rules.py numbers them, in
# one jq run (10,000 take seconds, not minutes of one jq each).
kpr_fillers() {
	jq -cn --argjson lo "$1" --argjson hi "$2" "$KPR_SVC_JQ"'
		def octets: [. / 16777216, . / 65536, . / 256, .] | map(floor % 256 | tostring) | join(".");
		range($lo; $hi) as $i | ($i / 256 | floor % 256 | tostring) as $hi8 |
		svc("filler-\($i)"; (174325760 + $i | octets);
			["10.246.\($hi8).\($i % 256)", "10.247.\($hi8).\($i % 256)"]; ""; ""; "")'
}

# kpr_create FILE: every object of FILE (JSON objects, one a line) created,
# in 4 kubectl runs side by side.
kpr_create() {
	local f=$1 part pids=() rc=0 p
	[ -s "$f" ] || return 0
	split -n l/4 -d "$f" "$f.part" || return 1
	for part in "$f".part*; do
		[ -s "$part" ] || continue
		jq -s '{apiVersion: "v1", kind: "List", items: .}' "$part" >"$part.json" || return 1
		kc create -f "$part.json" >/dev/null &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	rm -f "$f".part*
	return "$rc"
}

# kpr_api METHOD PATH [CONTENT_TYPE]: one request as the admin, body on stdin.
kpr_api() {
	nsenter --net="/run/netns/$SL_K8S_NS" curl -sSf --max-time 10 -X "$1" --cacert "$SL_K8S_CA" \
		--cert "$SL_K8S_DIR/pki/admin.crt" --key "$SL_K8S_DIR/pki/admin.key" \
		-H "Content-Type: ${3:-application/json}" --data-binary @- "$SL_K8S_URL$2" >/dev/null
}

# --- reading a node's rules ----------------------------------------------------------

# kpr_rules ROW NS: kube-proxy's rules in NS as text.
kpr_rules() {
	case ${KPR_MODE[$1]} in
	iptables) nsenter --net="/run/netns/$2" iptables-save -t nat 2>/dev/null ;;
	nftables) nsenter --net="/run/netns/$2" nft list table ip kube-proxy 2>/dev/null ;;
	esac
}

# kpr_dispatch ROW NS: one line per Service of namespace bench that the
# rules dispatch (iptables: its KUBE-SERVICES jump, nftables: its entry in
# the service-ips map).
kpr_dispatch() {
	case ${KPR_MODE[$1]} in
	iptables) kpr_rules "$1" "$2" | grep '^-A KUBE-SERVICES .*"bench/.* cluster IP".* -j KUBE-SVC-' ;;
	nftables) nsenter --net="/run/netns/$2" nft list map ip kube-proxy service-ips 2>/dev/null |
		grep -o 'goto service-[^ ,]*-bench/[^ ,]*' ;;
	esac
}

kpr_count() { kpr_dispatch "$@" | grep -c .; }

kpr_count_is() { [ "$(kpr_count "$1" "$2")" = "$3" ]; }

# kpr_extra_at ROW NS IP: the rules send Service bench/extra to IP:8080.
# iptables: followed from its KUBE-SERVICES jump through its KUBE-SVC chain to
# a KUBE-SEP DNAT (past 1000 endpoints kube-proxy drops the SEP comments);
# nftables: its endpoint chain, named for Service and endpoint, exists.
kpr_extra_at() {
	case ${KPR_MODE[$1]} in
	iptables) kpr_rules "$1" "$2" | awk -v to="--to-destination $3:8080" '
		{ l[NR] = $0 }
		/^-A KUBE-SERVICES .*"bench\/extra cluster IP"/ { svc = $NF }
		END {
			for (i = 1; i <= NR; i++) { split(l[i], f, " "); if (f[2] == svc && l[i] ~ /-j KUBE-SEP-/) sep[f[length(f)]] = 1 }
			for (i = 1; i <= NR; i++) { split(l[i], f, " "); if ((f[2] in sep) && index(l[i], to)) found = 1 }
			exit !found
		}' ;;
	nftables) kpr_rules "$1" "$2" | grep -q "chain endpoint-[^ ]*-bench/extra[^ ]*__${3//./\\.}/8080 " ;;
	esac
}

# kpr_extra_gone ROW NS: Service bench/extra is no longer dispatched.
kpr_extra_gone() { ! kpr_dispatch "$1" "$2" | grep -q 'bench/extra'; }

# kpr_wait_ms T0 CMD...: polls CMD every 50 ms within the budget; prints the
# ms from T0 (kpr_us) to the first success, 124 without output past the budget.
kpr_wait_ms() {
	local t0=$1 end=$((SECONDS + ${BN_BUDGET_S:-120})) us
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 124
		sleep 0.05
	done
	us=$(($(kpr_us) - t0))
	printf '%d.%03d\n' $((us / 1000)) $((us % 1000))
}

# --- kube-proxy itself --------------------------------------------------------------------

# kpr_start ROW NS NODE_IP: kube-proxy in NS, its Node's name bench-ROW.
kpr_start() {
	local row=$1 ns=$2 ip=$3 d
	d=$(kpr_dir "$row")
	(
		for f in /proc/"$BASHPID"/fd/*; do
			f=${f##*/}
			[ "$f" -gt 2 ] && eval "exec $f>&-"
		done 2>/dev/null
		exec nsenter --net="/run/netns/$ns" env XTABLES_LOCKFILE="$d/xtables.lock" "$SL_KUBE_PROXY" \
			--kubeconfig "$d/kubeconfig" --hostname-override "bench-$row" --bind-address "$ip" \
			--proxy-mode "${KPR_MODE[$row]}" --cluster-cidr "$BN_CLUSTER_CIDR" \
			--conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 \
			--conntrack-tcp-timeout-close-wait=0 --conntrack-udp-timeout=0 \
			--conntrack-udp-timeout-stream=0 --healthz-bind-address "$ip:10256" \
			--metrics-bind-address 127.0.0.1:10249
	) </dev/null >>"$d/kube-proxy.log" 2>&1 &
	echo $! >"$d/pid"
}

kpr_pid() { cat "$(kpr_dir "$1")/pid" 2>/dev/null; }

# kpr_stop ROW: SIGTERM, bounded, then SIGKILL.
kpr_stop() {
	local pid i
	pid=$(kpr_pid "$1") || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	rm -f "$(kpr_dir "$1")/pid"
}

# kpr_cleanup ROW NS: kube-proxy's own --cleanup of its rules in NS.
kpr_cleanup() {
	local d
	d=$(kpr_dir "$1")
	nsenter --net="/run/netns/$2" env XTABLES_LOCKFILE="$d/xtables.lock" "$SL_KUBE_PROXY" --cleanup \
		--proxy-mode "${KPR_MODE[$1]}" >>"$d/cleanup.log" 2>&1
}

kpr_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(kpr_pid "$1")/status" 2>/dev/null || echo null; }

kpr_version() { "$SL_KUBE_PROXY" --version 2>/dev/null | awk '{ print $2 }'; }

# --- the whole set ------------------------------------------------------------------------

# kpr_up SCRATCH ROW,NS,NODE_IP,VIP,IP,VIP,IP,K...: the control plane, the
# namespace, one kube-proxy per row, healthy; the measured Services
# (same-node, cross-node VIP and backend) prepared for the first write; with
# KPR_NP=1 NodePorts of plain node K, and the Local one (10.111.K.3).
kpr_up() {
	local scratch=$1 a row ns ip d
	shift
	kpr_tools || return
	k8s_start "$SL_FABRIC" "$scratch" || return 1
	kc create namespace bench >/dev/null || return 1
	: >"$SL_K8S_DIR/measured.json"
	for a in "$@"; do
		IFS=, read -r row ns ip _ <<<"$a"
		d=$(kpr_dir "$row")
		mkdir -p "$d" && k8s_client_cert "kp-$row" system:kube-proxy &&
			k8s_kubeconfig "$d/kubeconfig" "kp-$row" || return 1
		kc create -f - >/dev/null <<<"{\"apiVersion\": \"v1\", \"kind\": \"Node\", \"metadata\": {\"name\": \"bench-$row\"},
			\"status\": {\"addresses\": [{\"type\": \"InternalIP\", \"address\": \"$ip\"}]}}" || return 1
		kpr_measured "$a" >>"$SL_K8S_DIR/measured.json" || return 1
	done
	for a in "$@"; do
		IFS=, read -r row ns ip _ <<<"$a"
		kpr_start "$row" "$ns" "$ip"
	done
	for a in "$@"; do
		IFS=, read -r row ns ip _ <<<"$a"
		wait_for 30 kpr_healthy "$ip" ||
			kpr_err "$row did not get healthy: $(tail -n 5 "$(kpr_dir "$row")/kube-proxy.log")" || return 1
	done
}

# kpr_measured ROW,NS,NODE_IP,VIP,IP,VIP,IP,K: the measured Services of one row.
kpr_measured() {
	local row same sameip cross crossip k
	IFS=, read -r row _ _ same sameip cross crossip k <<<"$1"
	if [ "$KPR_NP" != 1 ]; then
		kpr_svc "m-$row-same" "$same" "$sameip" && kpr_svc "m-$row-cross" "$cross" "$crossip"
		return
	fi
	KPR_SVC_NP="$(kpr_nodeport "$k" same) Cluster" kpr_svc "m-$row-same" "$same" "$sameip" &&
		KPR_SVC_NP="$(kpr_nodeport "$k" cross) Cluster" kpr_svc "m-$row-cross" "$cross" "$crossip" &&
		KPR_SVC_NP="$(kpr_nodeport "$k" local) Local bench-$row" kpr_svc "m-$row-local" "10.111.$k.3" "$sameip"
}

# kpr_healthy NODE_IP: kube-proxy's /healthz on the node answers 200 (it synced).
kpr_healthy() { nsenter --net="/run/netns/$SL_K8S_NS" curl -sf --max-time 2 "http://$1:10256/healthz" >/dev/null; }

# kpr_down: every kube-proxy, then the control plane.
kpr_down() {
	local d
	[ -n "${SL_K8S_DIR:-}" ] && [ -d "$SL_K8S_DIR" ] || return 0
	for d in "$SL_K8S_DIR"/kube-proxy-*/; do
		[ -d "$d" ] && kpr_stop "$(basename "$d")"
	done
	k8s_stop ""
}

# kpr_fillers_prepare N: the objects that bring the API to N fillers (it
# only grows; the measured Services with the first write) into
# $SL_K8S_DIR/fillers.json; kpr_fillers_write sends them.
kpr_fillers_prepare() {
	: >"$SL_K8S_DIR/fillers.json"
	[ -e "$SL_K8S_DIR/measured.written" ] || cat "$SL_K8S_DIR/measured.json" >"$SL_K8S_DIR/fillers.json"
	[ "$1" -le "$KPR_FILLERS" ] || kpr_fillers "$KPR_FILLERS" "$1" >>"$SL_K8S_DIR/fillers.json"
}

kpr_fillers_write() {
	kpr_create "$SL_K8S_DIR/fillers.json" && KPR_FILLERS=$1 && touch "$SL_K8S_DIR/measured.written"
}

# kpr_extra_add IP / kpr_extra_move IP / kpr_extra_delete: Service bench/extra
# (10.111.250.3:80) created with endpoint IP, moved to IP, deleted; one
# request per object, as a controller writes them.
kpr_extra_add() {
	local s e
	{ read -r s && read -r e; } < <(kpr_svc extra 10.111.250.3 "$1")
	kpr_api POST /api/v1/namespaces/bench/services <<<"$s" &&
		kpr_api POST /apis/discovery.k8s.io/v1/namespaces/bench/endpointslices <<<"$e"
}

kpr_extra_move() {
	jq -cn --arg ip "$1" '{endpoints: [{addresses: [$ip], conditions: {ready: true}}]}' |
		kpr_api PATCH /apis/discovery.k8s.io/v1/namespaces/bench/endpointslices/extra application/merge-patch+json
}

kpr_extra_delete() {
	kpr_api DELETE /api/v1/namespaces/bench/services/extra </dev/null &&
		kpr_api DELETE /apis/discovery.k8s.io/v1/namespaces/bench/endpointslices/extra </dev/null
}

