#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CNI plugin latency on an emulated node: N pods ADDed then DELeted one at a
# time, then the same with P at once, then a burst of B ADDs at once and B
# DELs at once (a kubelet restarting a full node). Times only the plugin's own
# execution (fork + exec + its IPAM call), measured inside the node namespace.
# Targets: P at once p50 <= 2 x the sequential p50; the burst all succeeds
# and leaks nothing.
# Usage: cni.sh OUTDIR   (env: N=100 P=10 B=50). Writes OUTDIR/cni.json.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=e2e/lib/node.bash
. "$HERE/../lib/node.bash"

export N=${N:-100}
export P=${P:-10}
export B=${B:-50}

# bench_op CMD I: one plugin invocation for pod I; prints its duration in µs.
# Runs inside the node namespace. ADD saves the result; DEL passes it back as
# prevResult, as a runtime does.
bench_op() {
	local cmd=$1 i=$2 cid ns in res t0 t1 rc
	cid=$(pod_cid "b$i") ns=/run/netns/$(pod_ns "b$i") res=$SL_SCRATCH/bench/$i
	if [ "$cmd" = ADD ]; then
		in=$SL_BENCH_CONF
	else
		in=$(jq -c --slurpfile r "$res.add" '. + {prevResult: $r[0]}' <<<"$SL_BENCH_CONF")
	fi
	t0=${EPOCHREALTIME/./}
	timeout 30 env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" CNI_NETNS="$ns" \
		CNI_IFNAME=eth0 CNI_PATH="$SL_CNI_PATH" "$SL_BUILD/sluice" <<<"$in" >"$res.out" 2>>"$SL_CNI_STDERR"
	rc=$?
	t1=${EPOCHREALTIME/./}
	if [ "$rc" -ne 0 ]; then
		echo "bench: $cmd of pod $i failed ($rc): $(cat "$res.out")" >&2
		return 1
	fi
	[ "$cmd" = ADD ] && mv "$res.out" "$res.add"
	echo $((t1 - t0))
}

# bench_round MODE CMD OUT: all N pods, one at a time or P at once; true when
# every one succeeded (OUT has one line per success).
bench_round() {
	local mode=$1 cmd=$2 out=$3 i
	if [ "$mode" = seq ]; then
		for ((i = 1; i <= N; i++)); do bench_op "$cmd" "$i" || return 1; done >"$out"
	else
		export -f bench_op pod_cid pod_ns
		# shellcheck disable=SC2016 # $1 $2 are bash -c's arguments
		seq 1 "$N" | xargs -P "$P" -I{} bash -c 'bench_op "$1" "$2"' _ "$cmd" {} >"$out" || return 1
	fi
	[ "$(grep -c . "$out")" -eq "$N" ]
}

# stats FILE: {n, p50_ms, p99_ms, mean_ms, max_ms} from µs samples.
stats() {
	sort -n "$1" | jq -sc '
		def pct(p): .[((length * p) | ceil) - 1];
		def ms: . / 1000 | . * 100 | round / 100;
		{n: length, p50_ms: (pct(0.5) | ms), p99_ms: (pct(0.99) | ms),
		 mean_ms: ((add / length) | ms), max_ms: (max | ms)}'
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

# Inside the node namespace: the floors, then the four rounds, each round's
# wall time in ms.
bench_inner() {
	local d=$SL_SCRATCH/bench mode cmd t0 i
	mkdir -p "$d"
	export SL_BENCH_CONF SL_FLOOR_CONF
	SL_BENCH_CONF=$(cni_conf "")
	# host-local alone, on a lease dir of its own that is removed afterwards.
	SL_FLOOR_CONF=$(jq -c --arg dd "$d/floor-leases" '.ipam.dataDir = $dd' <<<"$SL_BENCH_CONF")
	for ((i = 1; i <= N; i++)); do floor_op exec "$i" || return 1; done >"$d/floor-exec.us"
	for ((i = 1; i <= N; i++)); do floor_op ipam "$i" || return 1; done >"$d/floor-ipam.us"
	rm -rf "$d/floor-leases"
	# host-local alone P at once: what the plugin's own parallel ADD cannot beat.
	export -f floor_op cni_find_plugin
	# shellcheck disable=SC2016 # $1 is bash -c's argument
	seq 1 "$N" | xargs -P "$P" -I{} bash -c 'floor_op ipam "$1"' _ {} >"$d/floor-ipam-par.us" || return 1
	rm -rf "$d/floor-leases"
	for mode in seq par; do
		for cmd in ADD DEL; do
			t0=$(now_ms)
			bench_round "$mode" "$cmd" "$d/$mode-$cmd.us" || return 1
			echo $(($(now_ms) - t0)) >"$d/$mode-$cmd.wall"
		done
	done
	# The burst: failures are counted, not fatal; DEL runs for every pod.
	for cmd in ADD DEL; do
		t0=$(now_ms)
		N=$B P=$B bench_round par "$cmd" "$d/burst-$cmd.us"
		echo $(($(now_ms) - t0)) >"$d/burst-$cmd.wall"
	done
	node_snapshot >"$d/burst.after"
}

bench_main() {
	local outdir=$1 i d mode cmd json line leaks what
	mkdir -p "$outdir" || exit 1
	outdir=$(cd "$outdir" && pwd)
	trap node_teardown EXIT
	trap 'exit 130' INT TERM HUP
	node_setup "$(sl_rand_hex)" "$(mktemp -d /tmp/sl-bench.XXXXXX)" || exit 1
	agent_start || exit 1
	for ((i = 1; i <= (N > B ? N : B); i++)); do ip netns add "$(pod_ns "b$i")" || exit 1; done
	echo "bench: $N pods, sequential then $P in parallel, then $B at once, on node $SL_NODE ($(nproc) CPUs, kernel $(uname -r))"
	nsenter --net="/run/netns/$SL_NODE" "$0" __inner || { echo "bench: failed; see $SL_CNI_LOG" >&2; exit 1; }
	d=$SL_SCRATCH/bench
	leaks=$(node_snapshot)
	json=$(jq -n --argjson n "$N" --argjson p "$P" --arg kernel "$(uname -r)" --argjson cpus "$(nproc)" \
		--arg leaks "$leaks" --arg date "$(date -u +%FT%TZ)" \
		--argjson sa "$(stats "$d/seq-ADD.us")" --argjson sd "$(stats "$d/seq-DEL.us")" \
		--argjson pa "$(stats "$d/par-ADD.us")" --argjson pd "$(stats "$d/par-DEL.us")" \
		--argjson wsa "$(cat "$d/seq-ADD.wall")" --argjson wsd "$(cat "$d/seq-DEL.wall")" \
		--argjson wpa "$(cat "$d/par-ADD.wall")" --argjson wpd "$(cat "$d/par-DEL.wall")" \
		--argjson fe "$(stats "$d/floor-exec.us")" --argjson fipam "$(stats "$d/floor-ipam.us")" \
		--argjson fipamp "$(stats "$d/floor-ipam-par.us")" \
		--argjson b "$B" --argjson bao "$(grep -c . "$d/burst-ADD.us")" --argjson bdo "$(grep -c . "$d/burst-DEL.us")" \
		--arg bafter "$(cat "$d/burst.after")" \
		'{date: $date, kernel: $kernel, cpus: $cpus, pods: $n, after: $leaks,
		  floor: {exec: $fe, ipam_add: $fipam, ipam_add_parallel: $fipamp},
		  sequential: {add: ($sa + {wall_ms: $wsa}), del: ($sd + {wall_ms: $wsd})},
		  parallel: {workers: $p, add: ($pa + {wall_ms: $wpa}), del: ($pd + {wall_ms: $wpd})},
		  burst: {pods: $b, add_ok: $bao, del_ok: $bdo, after: $bafter},
		  ratio_parallel_p50: {add: ($pa.p50_ms / $sa.p50_ms * 100 | round / 100),
				       del: ($pd.p50_ms / $sd.p50_ms * 100 | round / 100),
				       ipam_add: ($fipamp.p50_ms / $fipam.p50_ms * 100 | round / 100)}}')
	printf '%s\n' "$json" >"$outdir/cni.json"
	printf '\n%-18s %8s %8s %8s %8s %10s %8s\n' "CNI plugin (ms)" p50 p99 mean max "wall" "ops/s"
	for mode in sequential parallel; do
		for cmd in add del; do
			line=$(jq -r --arg m "$mode" --arg c "$cmd" '.[$m][$c] as $s |
				[$s.p50_ms, $s.p99_ms, $s.mean_ms, $s.max_ms, $s.wall_ms,
				 (($s.n * 1000 / $s.wall_ms) | round)] | @tsv' <<<"$json")
			# shellcheck disable=SC2086
			printf '%-18s %8s %8s %8s %8s %10s %8s\n' "${cmd^^} $([ $mode = parallel ] && echo "x$P" || echo seq)" $line
		done
	done
	for what in exec ipam_add ipam_add_parallel; do
		line=$(jq -r --arg w "$what" '.floor[$w] as $s | [$s.p50_ms, $s.p99_ms, $s.mean_ms, $s.max_ms] | @tsv' <<<"$json")
		# shellcheck disable=SC2086
		printf '%-18s %8s %8s %8s %8s\n' "floor: ${what/_add_parallel/ x$P}" $line
	done
	echo "(floor: exec = one process start through the same wrapper; ipam_add = host-local alone,"
	echo " ipam xP = host-local alone P at once. An ADD execs the plugin and host-local, so its p50"
	echo " cannot go below exec + ipam_add, nor P at once below ipam xP.)"
	echo
	jq -r --argjson p "$P" '.ratio_parallel_p50 as $r |
		"\($p) at once p50 / sequential p50: ADD \($r.add)x, DEL \($r.del)x (target <= 2); host-local alone: \($r.ipam_add)x",
		(.burst | "\(.pods) at once: \(.add_ok)/\(.pods) ADDs and \(.del_ok)/\(.pods) DELs succeeded; after: \(.after)")' <<<"$json"
	echo "after all DELs: $leaks"
	echo "written: $outdir/cni.json"
	[ "$leaks" = "veths=0 routes=0 leases=0 eps=0 states=0" ] || { echo "bench: the DELs leaked: $leaks" >&2; exit 1; }
	jq -e '.burst.add_ok == .burst.pods and .burst.del_ok == .burst.pods' <<<"$json" >/dev/null ||
		{ echo "bench: the burst of $B had failures" >&2; exit 1; }
}

case ${1:-} in
__inner) bench_inner ;;
"")
	echo "usage: $0 OUTDIR" >&2
	exit 2
	;;
*) bench_main "$1" ;;
esac
