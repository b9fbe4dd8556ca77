#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CNI plugin latency on an emulated node: N pods ADDed then DELeted one at a
# time, then the same with P at once, with the in-process IPAM (the agent's
# default, "ipam": {"type": "sluice"}) and delegated to host-local, pod by pod
# interleaved; then, for each IPAM alone, a burst of B ADDs at once and B DELs
# at once (a kubelet restarting a full node). Times only the plugin's own
# execution (fork + exec + its IPAM call), measured inside the node namespace.
# Targets: P at once p50 <= 2 x the sequential p50; the burst all succeeds
# and leaks nothing (the bench fails otherwise).
# Usage: cni.sh OUTDIR   (env: N=100 P=10 B=50). Writes OUTDIR/cni.json.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=e2e/lib/node.bash
. "$HERE/../lib/node.bash"

export N=${N:-100}
export P=${P:-10}
export B=${B:-50}
# pods per IPAM: the rounds use 1..N, the burst 1..B of the IPAM's block
export M=$((N > B ? N : B))

# bench_input CMD I IPAM: writes pod I's request for that IPAM, before the
# round, so that P at once times the plugins and not the harness's jq. DEL
# passes the ADD's result back as prevResult, as a runtime does.
bench_input() {
	local cmd=$1 i=$2 ipam=$3 res
	res=$SL_SCRATCH/bench/$i
	if [ "$cmd" = ADD ]; then
		jq -c --arg t "$ipam" '.ipam.type = $t' <<<"$SL_BENCH_CONF" >"$res.in"
	else # no ADD result (its ADD failed): an empty request, which fails
		jq -c --arg t "$ipam" --slurpfile r "$res.add" '.ipam.type = $t | . + {prevResult: $r[0]}' \
			<<<"$SL_BENCH_CONF" >"$res.in" 2>/dev/null || : >"$res.in"
	fi
}

# bench_op CMD I IPAM: one plugin invocation for pod I with its prepared
# request; prints "IPAM µs". Runs inside the node namespace. ADD keeps the
# result for the DEL; a DEL that succeeds drops it.
bench_op() {
	local cmd=$1 i=$2 ipam=$3 cid ns res t0 t1 rc
	cid=$(pod_cid "b$i") ns=/run/netns/$(pod_ns "b$i") res=$SL_SCRATCH/bench/$i
	t0=${EPOCHREALTIME/./}
	timeout 30 env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" CNI_NETNS="$ns" \
		CNI_IFNAME=eth0 CNI_PATH="$SL_CNI_PATH" "$SL_BUILD/sluice" <"$res.in" >"$res.out" 2>>"$SL_CNI_STDERR"
	rc=$?
	t1=${EPOCHREALTIME/./}
	if [ "$rc" -ne 0 ]; then
		echo "bench: $cmd of pod $i failed ($rc): $(cat "$res.out")" >&2
		return 1
	fi
	if [ "$cmd" = ADD ]; then mv "$res.out" "$res.add"; else rm -f "$res.add"; fi
	echo "$ipam $((t1 - t0))"
}

# The IPAMs measured: in-process (the agent's default), then delegated.
BENCH_IPAMS="sluice host-local"
# node_snapshot of a node the pods left clean
BENCH_CLEAN="veths=0 routes=0 leases=0 eps=0 states=0"

# bench_jobs: "IPAM POD" for N pods per IPAM, interleaved (pod i of the first
# IPAM, then pod M+i of the second, ...) so that the drift of a shared machine
# falls on every IPAM alike.
bench_jobs() {
	local i k ipam
	for ((i = 1; i <= N; i++)); do
		k=0
		for ipam in $BENCH_IPAMS; do
			echo "$ipam $((k * M + i))"
			k=$((k + 1))
		done
	done
}

# bench_round MODE CMD: every IPAM's N pods, one at a time or P at once;
# samples in <IPAM>-MODE-CMD.us.
bench_round() {
	local mode=$1 cmd=$2 d=$SL_SCRATCH/bench ipam i
	bench_jobs | while read -r ipam i; do bench_input "$cmd" "$i" "$ipam"; done
	if [ "$mode" = seq ]; then
		bench_jobs | while read -r ipam i; do bench_op "$cmd" "$i" "$ipam" || exit 1; done >"$d/$mode-$cmd.all" || return 1
	else
		export -f bench_op pod_cid pod_ns
		# shellcheck disable=SC2016 # $1 $2 $3 are bash -c's arguments
		bench_jobs | xargs -P "$P" -L1 bash -c 'bench_op "$1" "$3" "$2"' _ "$cmd" >"$d/$mode-$cmd.all" || return 1
	fi
	for ipam in $BENCH_IPAMS; do
		awk -v t="$ipam" '$1 == t { print $2 }' "$d/$mode-$cmd.all" >"$d/$ipam-$mode-$cmd.us"
		[ "$(grep -c . "$d/$ipam-$mode-$cmd.us")" -eq "$N" ] || return 1
	done
}

# bench_burst IPAM K CMD: B invocations at once, pods K*M+1..K*M+B of that
# IPAM; failures are counted, not fatal (DEL runs for every pod). Samples in
# IPAM-burst-CMD.us, one line per success.
bench_burst() {
	local ipam=$1 k=$2 cmd=$3 d=$SL_SCRATCH/bench i
	for ((i = k * M + 1; i <= k * M + B; i++)); do bench_input "$cmd" "$i" "$ipam"; done
	export -f bench_op pod_cid pod_ns
	# shellcheck disable=SC2016 # $1 $2 $3 are bash -c's arguments
	seq $((k * M + 1)) $((k * M + B)) | xargs -P "$B" -I{} bash -c 'bench_op "$1" "$2" "$3"' _ "$cmd" {} "$ipam" |
		awk '{ print $2 }' >"$d/$ipam-burst-$cmd.us"
}

# stats FILE: {n, p50_ms, p99_ms, mean_ms, max_ms} from µs samples (all null
# but n when there are none).
stats() {
	sort -n "$1" | jq -sc '
		def pct(p): if length == 0 then null else .[((length * p) | ceil) - 1] end;
		def ms: if . == null then null else . / 1000 | . * 100 | round / 100 end;
		{n: length, p50_ms: (pct(0.5) | ms), p99_ms: (pct(0.99) | ms),
		 mean_ms: (if length == 0 then null else add / length end | ms), max_ms: (max | ms)}'
}

# floor_op WHAT I: the same wrapper timing one /bin/true ("exec") or one IPAM
# ADD of host-local alone ("ipam"): the part of an ADD the plugin cannot cut
# (each exec here costs what a process start costs on this machine).
floor_op() {
	local what=$1 i=$2 t0 t1 rc
	local -a cmd=(/bin/true)
	[ "$what" = ipam ] && cmd=("$(cni_find_plugin host-local)")
	t0=${EPOCHREALTIME/./}
	timeout 30 env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="floor-$i" CNI_NETNS=/dev/null \
		CNI_IFNAME=eth0 CNI_PATH="$SL_CNI_PATH" "${cmd[@]}" <<<"$SL_FLOOR_CONF" >/dev/null 2>>"$SL_CNI_STDERR"
	rc=$?
	t1=${EPOCHREALTIME/./}
	[ "$rc" -eq 0 ] || { echo "bench: $what floor run $i failed ($rc)" >&2; return 1; }
	echo $((t1 - t0))
}

# Inside the node namespace: the floors, then the four rounds (every IPAM in
# each), then each IPAM's burst; each round's wall time in ms.
bench_inner() {
	local d=$SL_SCRATCH/bench mode cmd t0 i ipam what k=0
	mkdir -p "$d"
	export SL_BENCH_CONF SL_FLOOR_CONF
	SL_BENCH_CONF=$(cni_conf "")
	# host-local alone, on a lease dir of its own that is removed afterwards.
	SL_FLOOR_CONF=$(jq -c --arg dd "$d/floor-leases" '.ipam.type = "host-local" | .ipam.dataDir = $dd' <<<"$SL_BENCH_CONF")
	for ((i = 1; i <= N; i++)); do floor_op exec "$i" || return 1; done >"$d/floor-exec.us"
	for ((i = 1; i <= N; i++)); do floor_op ipam "$i" || return 1; done >"$d/floor-ipam.us"
	rm -rf "$d/floor-leases"
	# P at once: a bare process start, what no plugin's parallel ADD can beat
	# on this machine, and host-local alone, what a delegated one cannot.
	export -f floor_op cni_find_plugin
	for what in exec ipam; do
		# shellcheck disable=SC2016 # $1 $2 are bash -c's arguments
		seq 1 "$N" | xargs -P "$P" -I{} bash -c 'floor_op "$1" "$2"' _ "$what" {} >"$d/floor-$what-par.us" || return 1
	done
	rm -rf "$d/floor-leases"
	for mode in seq par; do
		for cmd in ADD DEL; do
			t0=$(now_ms)
			bench_round "$mode" "$cmd" || return 1
			echo $(($(now_ms) - t0)) >"$d/$mode-$cmd.wall"
		done
	done
	for ipam in $BENCH_IPAMS; do
		for cmd in ADD DEL; do
			t0=$(now_ms)
			bench_burst "$ipam" "$k" "$cmd"
			echo $(($(now_ms) - t0)) >"$d/$ipam-burst-$cmd.wall"
		done
		node_snapshot >"$d/$ipam-burst.after"
		k=$((k + 1))
	done
}

# rounds_json IPAM: {sequential, parallel, burst, ratio_parallel_p50} of one
# IPAM's rounds; wall_ms is the whole round's, every IPAM's pods together
# (the burst's: that IPAM's alone).
rounds_json() {
	local d=$SL_SCRATCH/bench
	jq -n --argjson p "$P" --argjson b "$B" \
		--argjson sa "$(stats "$d/$1-seq-ADD.us")" --argjson sd "$(stats "$d/$1-seq-DEL.us")" \
		--argjson pa "$(stats "$d/$1-par-ADD.us")" --argjson pd "$(stats "$d/$1-par-DEL.us")" \
		--argjson wsa "$(cat "$d/seq-ADD.wall")" --argjson wsd "$(cat "$d/seq-DEL.wall")" \
		--argjson wpa "$(cat "$d/par-ADD.wall")" --argjson wpd "$(cat "$d/par-DEL.wall")" \
		--argjson ba "$(stats "$d/$1-burst-ADD.us")" --argjson bd "$(stats "$d/$1-burst-DEL.us")" \
		--argjson wba "$(cat "$d/$1-burst-ADD.wall")" --argjson wbd "$(cat "$d/$1-burst-DEL.wall")" \
		--arg bafter "$(cat "$d/$1-burst.after")" \
		'def r(a; b): a / b * 100 | round / 100;
		{sequential: {add: ($sa + {wall_ms: $wsa}), del: ($sd + {wall_ms: $wsd})},
		  parallel: {workers: $p, add: ($pa + {wall_ms: $wpa}), del: ($pd + {wall_ms: $wpd})},
		  burst: {pods: $b, add_ok: $ba.n, del_ok: $bd.n, after: $bafter,
			  add: ($ba + {wall_ms: $wba}), del: ($bd + {wall_ms: $wbd})},
		  ratio_parallel_p50: {add: r($pa.p50_ms; $sa.p50_ms), del: r($pd.p50_ms; $sd.p50_ms)}}'
}

# targets JSON: the in-process IPAM's sequential p50/p99 against one bare
# process start, measured in the same run (ADD and DEL alike); then, for each
# IPAM, P at once against one at a time and the burst.
targets() {
	jq -r '.floor.exec as $f | .sequential as $s |
		["add", "del"][] as $c |
		[$s[$c].p50_ms / $f.p50_ms, $s[$c].p99_ms / $f.p50_ms] as [$r50, $r99] |
		"target \($c | ascii_upcase) (in-process IPAM): p50 \($r50 * 100 | round / 100) x exec (<= 1.5) " +
		"\(if $r50 <= 1.5 then "met" else "MISSED" end), p99 \($r99 * 100 | round / 100) x exec (<= 2.5) " +
		"\(if $r99 <= 2.5 then "met" else "MISSED" end)"' <<<"$1"
	jq -r '"\(.parallel.workers) at once p50 / one at a time p50 of a bare process start: \(.ratio_parallel_p50_exec)x"' <<<"$1"
	jq -r --arg clean "$BENCH_CLEAN" 'def met(ok): if ok then "met" else "MISSED" end;
		def burst_ok: .add_ok == .pods and .del_ok == .pods and .after == $clean;
		(., .delegated) as $r |
		($r.ipam | if . == "sluice" then "in-process IPAM" else . end) as $name |
		($r.ratio_parallel_p50 | "target \($r.parallel.workers) at once p50 / sequential p50 (\($name)): " +
			"ADD \(.add)x \(met(.add <= 2)), DEL \(.del)x \(met(.del <= 2)) (<= 2)"),
		($r.burst | "target \(.pods) at once (\($name)): \(.add_ok)/\(.pods) ADDs, \(.del_ok)/\(.pods) DELs, " +
			"after: \(.after) \(met(burst_ok))")' <<<"$1"
}

# cni_row JSON WHAT MODE CMD: one line of the table; WHAT is own (in-process)
# or delegated.
cni_row() {
	local what=$2 mode=$3 cmd=$4 line label
	# rounds run every IPAM's pods together, the burst one IPAM's alone
	line=$(jq -r --arg w "$what" --arg m "$mode" --arg c "$cmd" \
		--argjson k "$(if [ "$mode" = burst ]; then echo 1; else wc -w <<<"$BENCH_IPAMS"; fi)" \
		'(if $w == "own" then . else .delegated end)[$m][$c] as $s |
		[$s.p50_ms, $s.p99_ms, $s.mean_ms, $s.max_ms, $s.wall_ms,
		 (($s.n * $k * 1000 / $s.wall_ms) | round)] | map(. // "-") | @tsv' <<<"$1")
	case $mode in
	sequential) label=seq ;;
	parallel) label=x$P ;;
	*) label=x$B ;;
	esac
	# shellcheck disable=SC2086
	printf '%-26s %8s %8s %8s %8s %10s %8s\n' \
		"${cmd^^} $label $([ "$what" = own ] && echo in-process || echo host-local)" $line
}

bench_main() {
	local outdir=$1 i d mode cmd json line leaks what
	mkdir -p "$outdir" || exit 1
	outdir=$(cd "$outdir" && pwd)
	trap node_teardown EXIT
	trap 'exit 130' INT TERM HUP
	node_setup "$(sl_rand_hex)" "$(mktemp -d /tmp/sl-bench.XXXXXX)" || exit 1
	agent_start || exit 1
	for ((i = 1; i <= 2 * M; i++)); do ip netns add "$(pod_ns "b$i")" || exit 1; done
	echo "bench: $N pods per IPAM ($BENCH_IPAMS, interleaved), sequential then $P in parallel, then $B at once per IPAM, on node $SL_NODE ($(nproc) CPUs, kernel $(uname -r))"
	nsenter --net="/run/netns/$SL_NODE" "$0" __inner || { echo "bench: failed; see $SL_CNI_LOG" >&2; exit 1; }
	d=$SL_SCRATCH/bench
	leaks=$(node_snapshot)
	# The in-process rounds at the top level (the agent's default); the
	# delegated ones under "delegated".
	json=$(jq -n --argjson n "$N" --arg kernel "$(uname -r)" --argjson cpus "$(nproc)" \
		--arg leaks "$leaks" --arg date "$(date -u +%FT%TZ)" \
		--argjson fe "$(stats "$d/floor-exec.us")" --argjson fipam "$(stats "$d/floor-ipam.us")" \
		--argjson fipamp "$(stats "$d/floor-ipam-par.us")" --argjson fep "$(stats "$d/floor-exec-par.us")" \
		--argjson own "$(rounds_json sluice)" --argjson del "$(rounds_json host-local)" \
		'{date: $date, kernel: $kernel, cpus: $cpus, pods: $n, after: $leaks,
		  floor: {exec: $fe, ipam_add: $fipam, exec_parallel: $fep, ipam_add_parallel: $fipamp},
		  ipam: "sluice"} + $own + {ratio_parallel_p50_exec: ($fep.p50_ms / $fe.p50_ms * 100 | round / 100)} +
		 {delegated: ({ipam: "host-local"} + $del |
			.ratio_parallel_p50.ipam_add = ($fipamp.p50_ms / $fipam.p50_ms * 100 | round / 100))}')
	printf '%s\n' "$json" >"$outdir/cni.json"
	# wall and ops/s are the round's, every IPAM's pods together.
	printf '\n%-26s %8s %8s %8s %8s %10s %8s\n' "CNI plugin (ms)" p50 p99 mean max "wall" "ops/s"
	for what in own delegated; do
		for mode in sequential parallel burst; do
			for cmd in add del; do
				cni_row "$json" "$what" "$mode" "$cmd"
			done
		done
	done
	for what in exec ipam_add exec_parallel ipam_add_parallel; do
		line=$(jq -r --arg w "$what" '.floor[$w] as $s | [$s.p50_ms, $s.p99_ms, $s.mean_ms, $s.max_ms] | @tsv' <<<"$json")
		# shellcheck disable=SC2086
		printf '%-26s %8s %8s %8s %8s\n' "floor: $(sed "s/_add//; s/_parallel/ x$P/" <<<"$what")" $line
	done
	echo "(floor: exec = one process start through the same wrapper; ipam = host-local's ADD alone;"
	echo " xP = P of them at once. A delegated ADD execs the plugin and host-local, so its p50 cannot"
	echo " go below exec + ipam, nor P at once below ipam xP; an in-process ADD is one process start."
	echo " wall and ops/s of the seq and xP rows are the round's, both IPAMs together.)"
	targets "$json"
	echo
	echo "after all DELs: $leaks"
	echo "written: $outdir/cni.json"
	[ "$leaks" = "$BENCH_CLEAN" ] || { echo "bench: the DELs leaked: $leaks" >&2; exit 1; }
	jq -e --arg clean "$BENCH_CLEAN" '[., .delegated] | map(.burst | .add_ok == .pods and .del_ok == .pods and
		.after == $clean) | all' <<<"$json" >/dev/null || { echo "bench: a burst of $B had failures or leaks" >&2; exit 1; }
}

case ${1:-} in
__inner) bench_inner ;;
"")
	echo "usage: $0 OUTDIR" >&2
	exit 2
	;;
*) bench_main "$1" ;;
esac
