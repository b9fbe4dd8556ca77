#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench: every datapath in one run on one topology (lib/topo.bash),
# interleaved in rounds so drift hits every option alike, at several counts
# of Services present. Appends JSON records (kind meta, load, program, skip)
# to OUTDIR/records.jsonl; e2e/bench/report.py turns them into the report.
#
# Usage: datapath.sh OUTDIR
# Env:   BENCH_QUICK=1 (sizes "1 1000", 1 s runs, 1 round), BENCH_SIZES,
#        BENCH_DURATION (s per run), BENCH_ROUNDS (at the first size),
#        BENCH_SCALE_ROUNDS (at the others), BENCH_CONNECTIONS, BENCH_THREADS,
#        BENCH_BUDGET_S (longest a programming step may take),
#        BENCH_DATAPATHS (ids to run, default all), BENCH_KPR_MAX_SERVICES
#        (largest size of the real kube-proxy rows, default 1000),
#        BENCH_PERF_DIR (a perf profile of every run there; lib/load.bash).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=e2e/bench/lib/topo.bash
. "$HERE/lib/topo.bash"
# shellcheck source=e2e/bench/lib/load.bash
. "$HERE/lib/load.bash"
# shellcheck source=e2e/bench/lib/sluice.bash
. "$HERE/lib/sluice.bash"
# shellcheck source=e2e/bench/lib/kubeproxy.bash
. "$HERE/lib/kubeproxy.bash"
# shellcheck source=e2e/bench/lib/tproxy.bash
. "$HERE/lib/tproxy.bash"
# shellcheck source=e2e/bench/lib/kubeproxy-real.bash
. "$HERE/lib/kubeproxy-real.bash"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	SIZES=${BENCH_SIZES:-1 1000}
	DURATION=${BENCH_DURATION:-1}
	ROUNDS=${BENCH_ROUNDS:-1}
	SCALE_ROUNDS=${BENCH_SCALE_ROUNDS:-1}
	export BN_BUDGET_S=${BENCH_BUDGET_S:-30}
else
	SIZES=${BENCH_SIZES:-1 1000 10000 100000}
	DURATION=${BENCH_DURATION:-2}
	ROUNDS=${BENCH_ROUNDS:-3}
	SCALE_ROUNDS=${BENCH_SCALE_ROUNDS:-2}
	export BN_BUDGET_S=${BENCH_BUDGET_S:-100}
fi
export BN_CONNS=${BENCH_CONNECTIONS:-8} BN_THREADS=${BENCH_THREADS:-1} KP_CLUSTER_CIDR=$BN_CLUSTER_CIDR

# Every datapath in report order; the plain node each module row owns; the
# module prefix of lib/kubeproxy.bash and lib/tproxy.bash.
ALL=(direct direct-ptp sluice-tc sluice-tc-policy sluice-sock kube-proxy-iptables kube-proxy-nftables kp-iptables-nft
	kp-iptables-legacy kp-nftables kp-ipvs tproxy-haproxy tproxy-nginx ns-direct ns-direct-ptp ns-routed sluice-nodeport
	sluice-nodeport-dsr kube-proxy-iptables-np kube-proxy-nftables-np sluice-np-local kube-proxy-iptables-np-local kube-proxy-nftables-np-local)
declare -A NODE=([direct-ptp]=1 [kp-iptables-nft]=2 [kp-iptables-legacy]=3 [kp-nftables]=4
	[kp-ipvs]=5 [tproxy-haproxy]=6 [tproxy-nginx]=7 [kube-proxy-iptables]=8 [kube-proxy-nftables]=9
	[ns-direct-ptp]=1 [kube-proxy-iptables-np]=8 [kube-proxy-nftables-np]=9 [kube-proxy-iptables-np-local]=8 [kube-proxy-nftables-np-local]=9)
# lib/kubeproxy-real.bash, the real binary: one kube-proxy per row here, and
# its NodePort rows (ROW-np, ROW-np-local) are served by the same one.
KPR_ROWS=(kube-proxy-iptables kube-proxy-nftables)
declare -A MOD=([kp-iptables-nft]=kp_iptnft [kp-iptables-legacy]=kp_iptlegacy [kp-nftables]=kp_nft
	[kp-ipvs]=kp_ipvs [tproxy-haproxy]=tp_haproxy [tproxy-nginx]=tp_nginx)
# Rows whose cost can depend on the number of Services: measured at every size.
SCALED=" direct sluice-tc sluice-sock kube-proxy-iptables kube-proxy-nftables kp-iptables-nft kp-iptables-legacy kp-nftables kp-ipvs "
# North-south rows (lib/sluice.bash sb_np_up, kubeproxy-real.bash KPR_NP):
# their client is outside the cluster (EXT), the measured Services are
# reached on NodePorts; measured at every size, both variants (the real
# kube-proxy's Local row: its own node only).
NS_ROWS=" ns-direct ns-direct-ptp ns-routed sluice-nodeport sluice-nodeport-dsr kube-proxy-iptables-np kube-proxy-nftables-np sluice-np-local kube-proxy-iptables-np-local kube-proxy-nftables-np-local "
SCALED+=${NS_ROWS# }
EXT=
NP_SAME=
NP_CROSS=
NP_LOCAL=
MEASURED=2 # Services measured among the N present (3 with the north-south rows)
declare -A OFF=() # datapath -> why it stopped (unavailable, over budget)

REC=
KPR_SIZE= # the size the real kube-proxy rows were last programmed at
SB_SIZE=  # the size the sluice nodes were last programmed at
VIP_SAME=
VIP_CROSS=

bench_die() {
	echo "bench: $*" >&2
	exit 1
}

say() { printf 'bench: %s\n' "$*" >&2; }

rec() { printf '%s\n' "$1" >>"$REC"; }

rec_skip() { rec "$(jq -cn --arg d "$1" --arg r "$2" --argjson n "${3:-null}" '{kind: "skip", datapath: $d, reason: $r} + (if $n == null then {} else {size: $n} end)')"; }

rec_program() {
	rec "$(jq -cn --arg d "$1" --argjson n "$2" --arg op "$3" --arg ms "$4" --arg st "$5" --argjson b "$BN_BUDGET_S" \
		'{kind: "program", size: $n, datapath: $d, op: $op, ms: (if $ms == "" then null else ($ms | tonumber) end), status: $st, budget_s: $b}')"
}

wanted() { [ -z "${BENCH_DATAPATHS:-}" ] || [[ " $BENCH_DATAPATHS " == *" $1 "* ]]; }

ver() { "$@" 2>&1 | head -n1; }

rec_meta() {
	rec "$(jq -cn --arg date "$(date -u +%FT%TZ)" --arg kernel "$(uname -r)" \
		--arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" --argjson cpus "$(nproc)" \
		--arg nginx "$(ver nginx -v)" --arg haproxy "$(ver haproxy -v)" --arg wrk "$(ver wrk -v)" \
		--arg kubeproxy "$(kpr_tools >/dev/null 2>&1 && kpr_version || echo "not built")" \
		--arg iptables "$(ver iptables --version)" --arg nft "$(ver nft --version)" \
		--arg sluice "$(git -C "$SL_REPO" describe --always --dirty 2>/dev/null || echo unknown)" \
		--argjson d "$DURATION" --argjson r "$ROUNDS" --argjson sr "$SCALE_ROUNDS" --argjson c "$BN_CONNS" \
		--argjson t "$BN_THREADS" --argjson b "$BN_BUDGET_S" --argjson q "$([ "${BENCH_QUICK:-0}" = 1 ] && echo true || echo false)" \
		--arg sizes "$SIZES" '{kind: "meta", date: $date, kernel: $kernel, cpu_model: $cpu, cpus: $cpus,
		versions: {nginx: $nginx, haproxy: $haproxy, wrk: $wrk, iptables: $iptables, nft: $nft, sluice: $sluice, kube_proxy: $kubeproxy},
		params: {duration_s: $d, rounds: $r, scale_rounds: $sr, connections: $c, threads: $t,
			sizes: ($sizes | split(" ") | map(select(. != "") | tonumber)), quick: $q, budget_s: $b,
			services_counted: "N Services present, the measured ones among them (the real kube-proxy rows: the measured of both kube-proxies, one API server)",
			position: "measured Service at the middle of KUBE-SERVICES (iptables rows)"}}')"
}

# --- where each row sends its load ------------------------------------------------------

# target DP VARIANT: "NS CGROUP URL" of the row (CGROUP "-" for none).
target() {
	local dp=$1 v=$2 k
	case $dp in
	direct)
		if [ "$v" = same ]; then echo "$(sluice_pod_ns 1 c) - http://$(sluice_pod_ip 1 s):$BN_PORT/"; else
			echo "$(sluice_pod_ns 1 c) - http://$(sluice_pod_ip 2 s):$BN_PORT/"; fi
		;;
	direct-ptp)
		k=${NODE[$dp]}
		if [ "$v" = same ]; then echo "$(ptp_client_ns "$k") - http://$(ptp_server_ip "$k"):$BN_PORT/"; else
			echo "$(ptp_client_ns "$k") - http://$(ptp_server_ip 0):$BN_PORT/"; fi
		;;
	ns-direct) echo "$EXT - http://$(sluice_pod_ip "$([ "$v" = same ] && echo 1 || echo 2)" s):$BN_PORT/" ;;
	ns-direct-ptp) echo "$EXT - http://$(backend_ip "$dp" "$v"):$BN_PORT/" ;;
	ns-routed) echo "$EXT - http://$(sluice_pod_ip 2 s):$BN_PORT/" ;;
	sluice-nodeport | sluice-nodeport-dsr)
		if [ "$v" = same ]; then echo "$EXT - http://$(node_ip 1):$NP_SAME/"; else
			echo "$EXT - http://$(node_ip 1):$NP_CROSS/"; fi
		;;
	sluice-np-local) echo "$EXT - http://$(node_ip "$([ "$v" = same ] && echo 1 || echo 2)"):$NP_LOCAL/" ;;
	kube-proxy-*-np) echo "$EXT - http://$(ptp_node_ip "${NODE[$dp]}"):$(kpr_nodeport "${NODE[$dp]}" "$v")/" ;;
	kube-proxy-*-np-local) echo "$EXT - http://$(ptp_node_ip "${NODE[$dp]}"):$(kpr_nodeport "${NODE[$dp]}" local)/" ;;
	sluice-tc | sluice-tc-policy | sluice-sock)
		local cg=-
		[ "$dp" = sluice-sock ] && cg=$(on_node 1 printenv SL_CGROUP)
		if [ "$v" = same ]; then echo "$(sluice_pod_ns 1 c) $cg http://$VIP_SAME/"; else
			echo "$(sluice_pod_ns 1 c) $cg http://$VIP_CROSS/"; fi
		;;
	*)
		k=${NODE[$dp]}
		if [ "$v" = same ]; then echo "$(ptp_client_ns "$k") - http://10.111.$k.1/"; else
			echo "$(ptp_client_ns "$k") - http://10.111.$k.2/"; fi
		;;
	esac
}

# client_ip DP VARIANT: the address the backend must see (every row keeps
# it but a NodePort's remote backend, which sees the node: SNAT, and
# kube-proxy's Cluster NodePort, which masquerades every external packet: the
# address the node routes to the backend from).
client_ip() {
	case $1 in
	sluice-nodeport) if [ "$2" = cross ]; then node_ip 1; else echo "$SL_EXTERNAL_IP"; fi ;;
	kube-proxy-*-np)
		ip -n "$(ptp_node_ns "${NODE[$1]}")" -o route get "$(backend_ip "$1" "$2")" |
			sed -n 's/.* src \([0-9.]*\).*/\1/p'
		;;
	ns-direct | ns-direct-ptp | ns-routed | sluice-nodeport-dsr | sluice-np-local | kube-proxy-*-np-local) echo "$SL_EXTERNAL_IP" ;;
	direct | sluice-*) sluice_pod_ip 1 c ;;
	*) ptp_client_ip "${NODE[$1]}" ;;
	esac
}

# backend_ip DP VARIANT: the server that must answer (/who).
backend_ip() {
	case $1 in
	direct | sluice-* | ns-direct | ns-routed) sluice_pod_ip "$([ "$2" = same ] && echo 1 || echo 2)" s ;;
	kube-proxy-*-np-local) ptp_server_ip "${NODE[$1]}" ;;
	*) ptp_server_ip "$([ "$2" = same ] && echo "${NODE[$1]}" || echo 0)" ;;
	esac
}

# user_rss DP: kB of the row's user-space parts (the agent, a proxy), or null.
user_rss() {
	case $1 in
	sluice-*) sb_agent_rss 1 ;;
	kube-proxy-*) kpr_rss_kb "$(kpr_row "$1")" ;;
	tproxy-*) "${MOD[$1]}_rss_kb" "$(ptp_node_ns "${NODE[$1]}")" ;;
	*) echo null ;;
	esac
}

# check DP VARIANT: the row answers, from the right backend, which sees the client.
check() {
	local ns cg url got want path
	read -r ns cg url <<<"$(target "$1" "$2")"
	[ "$cg" = - ] && cg=
	for path in ip who; do
		if [ "$path" = ip ]; then want=$(client_ip "$1" "$2"); else want=$(backend_ip "$1" "$2"); fi
		got=$(bash -c '[ -z "$1" ] || echo $$ >"$1/cgroup.procs" || exit 1; shift; exec "$@"' _ "$cg" \
			nsenter --net="/run/netns/$ns" curl -sS --max-time 5 "$url$path" 2>&1)
		[ "$got" = "$want" ] || { echo "GET $url$path from the client answered '$got', want '$want'"; return 1; }
	done
}

# policy_check: the "sluice-tc + policy" row works with its policy on, and
# the policy is not vacuous: the other server (not allowed) is refused.
policy_check() {
	local v ret=0
	sb_policy on || { echo "the agents did not publish the policy within 20 s"; return 1; }
	for v in same cross; do
		check sluice-tc-policy "$v" || { ret=1; break; }
	done
	if [ "$ret" = 0 ] && nsenter --net="/run/netns/$(sluice_pod_ns 2 s)" \
		curl -sS --max-time 2 "http://$(sluice_pod_ip 1 s):$BN_PORT/ip" >/dev/null 2>&1; then
		echo "the server on node 2 reached the isolated server on node 1"
		ret=1
	fi
	sb_policy off || { echo "the agents did not drop the policy within 20 s"; ret=1; }
	return "$ret"
}

# --- programming ------------------------------------------------------------------------------

# spec K VARIANT [BACKEND_K]: the measured Service of module row on plain node K.
spec() {
	local k=$1 v=$2
	if [ "$v" = same ]; then echo "10.111.$k.1:80=$(ptp_server_ip "$k"):$BN_PORT"; else
		echo "10.111.$k.2:80=$(ptp_server_ip 0):$BN_PORT"; fi
}

# module_step DP N OP CMD...: runs one programming step of a module row, records its time.
module_step() {
	local dp=$1 n=$2 op=$3 out rc
	shift 3
	out=$("$@" 2>>"$SL_CLUSTER_SCRATCH/bench-module.log")
	rc=$?
	case $rc in
	0) rec_program "$dp" "$n" "$op" "$out" ok ;;
	124)
		rec_program "$dp" "$n" "$op" "" budget
		return 124
		;;
	*)
		rec_program "$dp" "$n" "$op" "" error
		say "$dp $op at $n Services failed: $(tail -n 3 "$SL_CLUSTER_SCRATCH/bench-module.log")"
		return 1
		;;
	esac
}

# program_module DP N FILLERS: the whole set, then one Service added, changed, removed.
program_module() {
	local dp=$1 n=$2 fillers=$3 m=${MOD[$1]} k=${NODE[$1]} ns rc
	ns=$(ptp_node_ns "$k")
	module_step "$dp" "$n" full "${m}_program" "$ns" "$fillers" "$(spec "$k" same)" "$(spec "$k" cross)"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		"${m}_clear" "$ns" >/dev/null 2>&1
		OFF[$dp]="programming $fillers fillers $([ "$rc" = 124 ] && echo "took longer than the ${BN_BUDGET_S} s budget" || echo failed)"
		return 1
	fi
	module_step "$dp" "$n" add "${m}_add" "$ns" "10.111.$k.3:80=$(ptp_server_ip "$k"):$BN_PORT" &&
		module_step "$dp" "$n" change "${m}_change" "$ns" "10.111.$k.3:80=$(ptp_server_ip 0):$BN_PORT" &&
		module_step "$dp" "$n" remove "${m}_remove" "$ns" "10.111.$k.3:80"
	return 0
}

# program_sluice N FILLERS: fillers through the API; node 1's map time for one
# Service added, changed, removed; node 3 restarted to program the whole set.
program_sluice() {
	local n=$1 fillers=$2 ms op full
	ms=$(sb_fillers_to "$fillers") || {
		OFF[sluice-tc]="the agents did not publish $fillers fillers within ${BN_BUDGET_S} s"
		OFF[sluice-sock]=${OFF[sluice-tc]}
		rec_program sluice-tc "$n" full "" budget
		return 1
	}
	say "sluice: $fillers fillers through the API published by node 1 in $ms ms"
	for op in add change remove; do
		if ms=$(sb_op_ms "$op"); then
			rec_program sluice-tc "$n" "$op" "$ms" ok
		else
			rec_program sluice-tc "$n" "$op" "" error
		fi
	done
	if full=$(sb_full "$fillers"); then
		rec_program sluice-tc "$n" full "${full% *}" ok
		rec_program sluice-tc "$n" full_sync "${full#* }" ok
	else
		rec_program sluice-tc "$n" full "" error
	fi
}

# kpr_row DP: the KPR_ROWS row whose kube-proxy serves DP.
kpr_row() { echo "${1%%-np*}"; }

# kpr_np_wanted: a real kube-proxy NodePort row is wanted.
kpr_np_wanted() {
	local dp
	for dp in $NS_ROWS; do
		[[ $dp != kube-proxy-* ]] || ! wanted "$dp" || return 0
	done
	return 1
}

# kpr_live: the real kube-proxies wanted (for their own row or a NodePort
# row) and still running.
kpr_live() {
	local dp
	for dp in "${KPR_ROWS[@]}"; do
		{ wanted "$dp" || wanted "$dp-np" || wanted "$dp-np-local"; } && [ -z "${OFF[$dp]:-}" ] && echo "$dp"
	done
}

# on_sluice DP: DP runs on the sluice nodes, with the fillers of program_sluice.
on_sluice() { [[ $1 == direct || $1 == sluice-* || $1 == ns-direct || $1 == ns-routed ]]; }

# row_off DP: why DP is off (its own reason, its kube-proxy's, or the sluice
# fillers'), or nothing.
row_off() {
	local why=${OFF[$1]:-}
	[[ -n $why || $1 != kube-proxy-* ]] || why=${OFF[$(kpr_row "$1")]:-}
	! on_sluice "$1" || [ "$1" = direct ] || why=${why:-${OFF[sluice-tc]:-}}
	echo "$why"
}

# kpr_measure N OP T0 PRED [ARG]: every live real row's ms from T0 until
# "PRED ROW NS [ARG]" holds, polled side by side, recorded as OP.
kpr_measure() {
	local n=$1 op=$2 t0=$3 pred=$4 arg=${5:-} dp pids=() rc
	local -a rows
	mapfile -t rows < <(kpr_live)
	for dp in "${rows[@]}"; do
		kpr_wait_ms "$t0" "$pred" "$dp" "$(ptp_node_ns "${NODE[$dp]}")" ${arg:+"$arg"} >"$BN_SCRATCH/$dp.ms" &
		pids+=($!)
	done
	for dp in "${rows[@]}"; do
		rc=0
		wait "${pids[0]}" || rc=$?
		pids=("${pids[@]:1}")
		case $rc in
		0) rec_program "$dp" "$n" "$op" "$(cat "$BN_SCRATCH/$dp.ms")" ok ;;
		124) rec_program "$dp" "$n" "$op" "" budget ;;
		*) rec_program "$dp" "$n" "$op" "" error ;;
		esac
		say "$dp $op at $n Services: $(cat "$BN_SCRATCH/$dp.ms" 2>/dev/null || echo "over budget") ms"
	done
}

# program_kpr N: the real kube-proxies get N Services through the API (the
# whole set, then one Service added, moved, removed), then restart from
# clean rules with N present.
program_kpr() {
	local n=$1 fillers t0 dp ns want ms
	fillers=$((n > KPR_MEASURED ? n - KPR_MEASURED : 0))
	want=$((fillers + KPR_MEASURED))
	if [ "$n" -gt "$KPR_MAX" ]; then
		for dp in $(kpr_live); do OFF[$dp]="the real API server is loaded with at most $KPR_MAX Services (BENCH_KPR_MAX_SERVICES)"; done
		return 1
	fi
	kpr_fillers_prepare "$fillers" || return 1
	t0=$(kpr_us)
	if ! kpr_fillers_write "$fillers"; then
		for dp in $(kpr_live); do OFF[$dp]="creating $fillers fillers through the real API server failed"; done
		return 1
	fi
	say "real API server: $(wc -l <"$SL_K8S_DIR/fillers.json") objects (Services, EndpointSlices) written in $((($(kpr_us) - t0) / 1000)) ms"
	kpr_measure "$n" full "$t0" kpr_count_is "$want"
	t0=$(kpr_us)
	kpr_extra_add "$(ptp_server_ip 8)" && kpr_measure "$n" add "$t0" kpr_extra_at "$(ptp_server_ip 8)"
	t0=$(kpr_us)
	kpr_extra_move "$(ptp_server_ip 0)" && kpr_measure "$n" change "$t0" kpr_extra_at "$(ptp_server_ip 0)"
	t0=$(kpr_us)
	kpr_extra_delete && kpr_measure "$n" remove "$t0" kpr_extra_gone
	for dp in $(kpr_live); do
		ns=$(ptp_node_ns "${NODE[$dp]}")
		kpr_stop "$dp"
		kpr_cleanup "$dp" "$ns" || say "$dp: kube-proxy --cleanup failed"
		t0=$(kpr_us)
		kpr_start "$dp" "$ns" "$(ptp_node_ip "${NODE[$dp]}")"
		if ms=$(kpr_wait_ms "$t0" kpr_count_is "$dp" "$ns" "$want"); then
			rec_program "$dp" "$n" full_sync "$ms" ok
		else
			rec_program "$dp" "$n" full_sync "" budget
			# recorded as over the budget; its load rows still need the rules
			kpr_wait_ms "$(kpr_us)" kpr_count_is "$dp" "$ns" "$want" >/dev/null ||
				say "$dp: not all $want Services in its rules after twice the ${BN_BUDGET_S} s budget"
		fi
	done
}

# kpr_bench_up: the real control plane and kube-proxies, or the rows off with why.
kpr_bench_up() {
	local dp args=() k rc=0 why
	[ -n "$(kpr_live)" ] || return 0
	kpr_tools >/dev/null 2>&1 || rc=$?
	if [ "$rc" = 0 ]; then
		kpr_np_wanted && KPR_NP=1
		KPR_MEASURED=0
		for dp in $(kpr_live); do
			k=${NODE[$dp]}
			args+=("$dp,$(ptp_node_ns "$k"),$(ptp_node_ip "$k"),10.111.$k.1,$(ptp_server_ip "$k"),10.111.$k.2,$(ptp_server_ip 0),$k")
			KPR_MEASURED=$((KPR_MEASURED + (KPR_NP == 1 ? 3 : 2)))
		done
		kpr_up "$SL_CLUSTER_SCRATCH" "${args[@]}" && return 0
		why="the real control plane or kube-proxy did not come up (see $SL_CLUSTER_SCRATCH/k8s)"
	else
		why="the pinned Kubernetes v1.34.4 is not built: make k8s-tools"
	fi
	for dp in $(kpr_live); do OFF[$dp]=$why; done
	for dp in "${ALL[@]}"; do
		if [[ $dp == kube-proxy-* ]] && wanted "$dp"; then
			rec_skip "$dp" "$why"
			say "$dp skipped: $why"
		fi
	done
}

# ext_ptp_routes: the outside client routes the pod CIDRs of ns-direct-ptp's
# plain nodes via them, as it routes the sluice nodes'.
ext_ptp_routes() {
	local k
	for k in "${NODE[ns-direct-ptp]}" 0; do
		ip -n "$EXT" route add "$(ptp_pod_cidr "$k")" via "$(ptp_node_ip "$k")" || return 1
	done
}

# row_mode DP: the --nodeport-mode sluice's nodes 1 and 2 must run for DP
# (lib/sluice.bash sb_mode): snat for sluice-nodeport, dsr for its DSR twin
# (the same Services and client); nothing for the rows it does not change.
row_mode() {
	case $1 in
	sluice-nodeport) echo snat ;;
	sluice-nodeport-dsr) echo dsr ;;
	esac
}

# mode_for DP: the sluice agents switched to DP's mode, if it has one; the
# outside client's way to node 2's server through node 1 for ns-routed alone
# (a host route, removed for every other row, which reach it directly).
# Non-zero when ns-routed's packets would not go through node 1.
mode_for() {
	local m pod got
	m=$(row_mode "$1")
	[ -z "$m" ] || sb_mode "$m" || say "the sluice agents did not come back in --nodeport-mode $m"
	[ -n "$EXT" ] || return 0
	pod=$(sluice_pod_ip 2 s)
	if [ "$1" != ns-routed ]; then
		ip -n "$EXT" route del "$pod/32" 2>/dev/null || true
		return 0
	fi
	ip -n "$EXT" route replace "$pod/32" via "$(node_ip 1)" || return 1
	got=$(ip -n "$EXT" -o route get "$pod")
	[[ $got == *" via $(node_ip 1) "* ]] || { say "ns-routed: the outside client routes $got"; return 1; }
}

# --- one size ------------------------------------------------------------------------------------

# row_variants DP FIRST: the variants DP is measured in at this size: both at
# the first size and for the north-south rows at every size (the remote
# backend is their SNAT case), but the real kube-proxy's Local NodePort,
# whose one backend is on its own node.
row_variants() {
	case $1 in
	kube-proxy-*-np-local) echo same ;;
	ns-routed) echo cross ;;
	*) if [ "$2" = 1 ] || [[ $NS_ROWS == *" $1 "* ]]; then echo same cross; else echo same; fi ;;
	esac
}

run_size() {
	local n=$1 first=$2
	local fillers=$((n > MEASURED ? n - MEASURED : 0)) dp rows=() variants rounds=$SCALE_ROUNDS r v mode i
	local ns cg url out why BN_PERF_LABEL
	say "--- $n Services ($fillers fillers + $MEASURED measured)"
	[ "$first" = 1 ] && rounds=$ROUNDS
	for dp in "${ALL[@]}"; do
		wanted "$dp" || continue
		[ "$first" = 1 ] || [[ $SCALED == *" $dp "* ]] || continue
		why=$(row_off "$dp")
		if [ -n "$why" ]; then
			[ "$first" = 1 ] || rec_skip "$dp" "$why" "$n"
			continue
		fi
		if on_sluice "$dp"; then
			# the fillers through the API, whichever row of the sluice nodes comes first
			[ "$SB_SIZE" = "$n" ] || { SB_SIZE=$n && program_sluice "$n" "$fillers"; }
			why=$(row_off "$dp")
			[ -z "$why" ] || { rec_skip "$dp" "$why" "$n"; continue; }
		fi
		case $dp in
		sluice-tc-policy)
			if ! why=$(policy_check); then
				OFF[$dp]=$why
				rec_skip "$dp" "$why" "$n"
				say "$dp skipped: $why"
				continue
			fi
			;;
		kube-proxy-*)
			# one API write programs both real rows: done at the first of them
			[ "$KPR_SIZE" = "$n" ] || { KPR_SIZE=$n && program_kpr "$n"; }
			why=$(row_off "$dp")
			[ -z "$why" ] || { rec_skip "$dp" "$why" "$n"; continue; }
			;;
		kp-* | tproxy-*)
			program_module "$dp" "$n" "$fillers" || { rec_skip "$dp" "${OFF[$dp]}" "$n"; continue; }
			;;
		esac
		read -ra variants <<<"$(row_variants "$dp" "$first")"
		mode_for "$dp"
		for v in "${variants[@]}"; do
			if ! why=$(check "$dp" "$v"); then
				rec_skip "$dp" "$v: $why" "$n"
				say "$dp ($v) does not work, skipped: $why"
				continue 2
			fi
		done
		rows+=("$dp")
	done
	say "rows: ${rows[*]}"
	for ((r = 1; r <= rounds; r++)); do
		# each round starts one row later, so that over as many rounds as
		# rows every row runs once in every position: a drift within a
		# round (or a row's setup, as the policy row's write) does not
		# always fall on the same neighbour
		for ((i = 0; i < ${#rows[@]}; i++)); do
			dp=${rows[(i + r - 1) % ${#rows[@]}]}
			# the same client, Service and server as sluice-tc, the policy on
			[ "$dp" != sluice-tc-policy ] || sb_policy on || say "the policy is not published"
			if ! mode_for "$dp"; then
				rec_skip "$dp" "round $r: the outside client's route through node 1 is not in place" "$n"
				continue
			fi
			read -ra variants <<<"$(row_variants "$dp" "$first")"
			for v in "${variants[@]}"; do
				for mode in keepalive close; do
					read -r ns cg url <<<"$(target "$dp" "$v")"
					[ "$cg" = - ] && cg=
					BN_PERF_LABEL=$dp-$v-$mode-$n-r$r
					if ! out=$(bn_load "$ns" "$cg" "$mode" "$url" "$DURATION" 2>&1); then
						rec_skip "$dp" "$v $mode round $r: $out" "$n"
						continue
					fi
					rec "$(jq -c --argjson n "$n" --arg d "$dp" --arg v "$v" --arg m "$mode" --argjson r "$r" \
						--argjson rss "$(user_rss "$dp")" \
						'{kind: "load", size: $n, datapath: $d, variant: $v, mode: $m, round: $r} + . + {user_rss_kb: $rss}' <<<"$out")"
					printf '  %-20s %-5s %-9s round %d: %8.0f req/s  p99 %6.0f us\n' "$dp" "$v" "$mode" "$r" \
						"$(jq .rps <<<"$out")" "$(jq .latency_us.p99 <<<"$out")" >&2
				done
			done
			[ "$dp" != sluice-tc-policy ] || sb_policy off || say "the policy is not withdrawn"
		done
	done
}

bench_main() {
	local outdir=$1 dp first=1 n why
	mkdir -p "$outdir" || exit 1
	REC=$(cd "$outdir" && pwd)/records.jsonl
	: >"$REC"
	trap 'kpr_down; bench_topo_down' EXIT
	trap 'exit 130' INT TERM HUP
	rec_meta
	# The socket-level rows need the agents' --sock-lb-pods; the tc rows run
	# their client outside the node's cgroup, where no socket program is.
	export SL_AGENT_EXTRA_ARGS=--sock-lb-pods
	bench_topo_up "$(mktemp -d /tmp/sl-bench.XXXXXX)" 9 || { cluster_diag; bench_die "the topology did not come up"; }
	export BN_SCRATCH=$SL_CLUSTER_SCRATCH/modules
	mkdir -p "$BN_SCRATCH" || exit 1
	for dp in "${ALL[@]}"; do
		wanted "$dp" || continue
		case $dp in
		kp-* | tproxy-*)
			if ! why=$("${MOD[$dp]}_probe" "$(ptp_node_ns "${NODE[$dp]}")"); then
				OFF[$dp]=${why:-probe failed}
				rec_skip "$dp" "${OFF[$dp]}"
				say "$dp skipped: ${OFF[$dp]}"
			fi
			;;
		esac
	done
	kpr_bench_up
	read -r VIP_SAME VIP_CROSS <<<"$(sb_measured_up)" || bench_die "the measured Services were not created"
	sb_pods_up || bench_die "the Pod objects of the measured pods were not created"
	for dp in $NS_ROWS; do wanted "$dp" && MEASURED=3; done
	if [ "$MEASURED" = 3 ]; then
		EXT=$(cluster_external_add) || bench_die "the outside client did not come up"
		! wanted ns-direct-ptp || ext_ptp_routes || bench_die "the outside client's routes to the plain nodes were refused"
		bn_sysctls "$EXT" || bench_die "the outside client's sysctls were refused"
		read -r NP_SAME NP_CROSS NP_LOCAL <<<"$(sb_np_up)" || bench_die "the NodePort Services were not created"
	fi
	wait_until 15 check sluice-tc same || say "sluice-tc does not answer yet: $(check sluice-tc same)"
	for n in $SIZES; do
		run_size "$n" "$first"
		first=0
	done
	say "records: $REC"
}

case ${1:-} in
"")
	echo "usage: $0 OUTDIR" >&2
	exit 2
	;;
*) bench_main "$1" ;;
esac
