#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the unit, BPF and e2e suites and prints one closing line summed over all:
# "N passed, N failed". Usage: run-suites.sh LOGDIR "UNIT..." "BPF..." "BATS..."
set -u
logdir=$1 unit=$2 bpf=$3 bats_files=$4
mkdir -p "$logdir"
passed=0 failed=0 skipped=0
# Suites of the "real" lane (see below), plus the two NetworkPolicy suites,
# hostport, inspect, cluster and hardening to even the lanes out (the
# emulated lane also runs the sanitized suites and, last, the real
# kube-proxy's bench). The benches stay in one lane: their leak checks look
# at every /tmp/sl-bench.* directory.
REAL_LANE=${SL_E2E_REAL_LANE:-^(k8s-|containerd|podman|demo|netpol|hostport|inspect|cluster|hardening)}
# Suites of the emulated lane that need the pinned Kubernetes tools too (and
# skip without them): run last in that lane, after the tools' build, so a
# fresh machine runs them instead of skipping them.
TOOLS_LATE=${SL_E2E_TOOLS_LATE:-^bench-kubeproxy-real\.bats$}
# The real lane's suite that runs Kubernetes' own e2e tests: last in that
# lane, once their tools (built after the others) are there too.
UPSTREAM_LATE=${SL_E2E_UPSTREAM_LATE:-^k8s-cluster\.bats$}

# A C suite's last line is "N passed, N failed"; a suite that dies before it counts as one failure.
run_c() {
	local t=$1 log line p f
	log="$logdir/$(basename "$t").log"
	echo "== $(basename "$t")"
	"$t" >"$log" 2>&1
	local rc=$?
	grep -E '^(not ok|FAIL)' "$log" || true
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
	if [ -z "$line" ]; then
		echo "   $(basename "$t") exited $rc without a result line; see $log"
		tail -n 5 "$log" | sed 's/^/   | /'
		failed=$((failed + 1))
		return
	fi
	p=${line%% passed*}
	f=${line#*, }; f=${f%% failed*}
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	echo "   $line"
	passed=$((passed + p)) failed=$((failed + f))
}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "== $1: skipped (needs root)"
		skipped=$((skipped + 1))
		return 1
	fi
}

for t in $unit; do run_c "$t"; done
for t in $bpf; do need_root "$(basename "$t")" && run_c "$t"; done

# bats_lane NAME FILES...: one bats run, its TAP in $logdir/e2e-NAME.tap, its
# lines echoed live with the lane's name.
bats_lane() {
	local name=$1
	shift
	[ $# -gt 0 ] || return 0
	bats --timing --formatter tap "$@" 2>&1 | tee "$logdir/e2e-$name.tap" |
		grep --line-buffered -E '^(not ok|ok|#)' | sed -u "s/^/   [$name] /"
}

# Suites run on the ASan+UBSan build of sluice and sluice-agent when
# SL_E2E_SAN_BUILD names it (make test: build/san): the parsers' and the long
# paths' suites by default, every suite with make test SAN=1.
SAN_SUITES=${SL_E2E_SAN_SUITES:-^(cni-bad-input|cni-ipam|cni-lifecycle|services|policy-core|faults)\.bats$}

# san_suite LANE FILE: FILE alone on the sanitized binaries, every report in a
# directory of its own, which must stay empty: one more result in the TAP,
# "not ok" with the reports when it is not. Leaks are checked at each clean
# exit (detect_leaks; an agent ended by SIGKILL is not checked).
san_suite() {
	local lane=$1 f=$2 name dir tap n
	name=$(basename "$f" .bats)
	dir=$logdir/san-$name tap=$logdir/e2e-$lane-san-$name.tap
	rm -rf "$dir" && mkdir -p "$dir"
	ASAN_OPTIONS="detect_leaks=1:exitcode=23:log_path=$dir/asan" \
		UBSAN_OPTIONS="print_stacktrace=1:log_path=$dir/ubsan" \
		SLUICE_BUILD=$SL_E2E_SAN_BUILD bats_lane "$lane-san-$name" "$f"
	n=$(find "$dir" -type f | wc -l)
	if [ "$n" -eq 0 ]; then
		echo "ok 999 ($name) no ASan/UBSan report from sluice or sluice-agent" | tee -a "$tap"
	else
		echo "not ok 999 ($name) $n ASan/UBSan reports in $dir" | tee -a "$tap"
		find "$dir" -type f -exec head -n 30 {} + | sed 's/^/   | /'
	fi | sed -u "s/^/   [$lane] /"
}

# san_selftest: a program that leaks 64 bytes, run with the suites' options,
# must leave its report where they look, or their empty directories prove
# nothing. One failure when it does not.
san_selftest() {
	local d=$logdir/san-selftest
	rm -rf "$d" && mkdir -p "$d"
	printf '#include <stdlib.h>\nvoid *p;\nint main(void) { p = malloc(64); p = 0; return 0; }\n' |
		cc -fsanitize=address,undefined -x c - -o "$d/leaky" 2>"$d/cc.out" &&
		ASAN_OPTIONS="detect_leaks=1:exitcode=23:log_path=$d/asan" "$d/leaky"
	if [ $? -eq 23 ] && grep -qs '64 byte(s) leaked' "$d"/asan.*; then
		passed=$((passed + 1))
		return 0
	fi
	echo "   sanitizer self-test: a 64-byte leak left no report in $d; the sanitized suites prove nothing"
	failed=$((failed + 1))
}

# lane_run NAME FILES...: the sanitized suites one by one, then the rest in one run.
lane_run() {
	local lane=$1 f rest=()
	shift
	for f in "$@"; do
		if [ -n "${SL_E2E_SAN_BUILD:-}" ] && [[ $(basename "$f") =~ $SAN_SUITES ]]; then
			san_suite "$lane" "$f"
		else
			rest+=("$f")
		fi
	done
	bats_lane "$lane" "${rest[@]}"
}

# k8s_tools_wait LANE [RC]: when make test builds the pinned Kubernetes tools
# in the background, waits (at most an hour) for that build's exit code, in
# the file RC (default $SL_K8S_TOOLS_RC).
k8s_tools_wait() {
	local lane=$1 rc=${2-${SL_K8S_TOOLS_RC:-}} i=0
	[ -n "$rc" ] || return 0
	while [ ! -s "$rc" ] && [ $i -lt 3600 ]; do
		sleep 1
		i=$((i + 1))
	done
	if [ "$(cat "$rc" 2>/dev/null)" != 0 ]; then
		echo "   [$lane] k8s tools build failed or timed out; see ${rc%.rc}.log"
		tail -n 5 "${rc%.rc}.log" 2>/dev/null | sed "s/^/   [$lane] | /"
	else
		echo "   [$lane] k8s tools ready after waiting ${i} s"
	fi
	return 0
}

# tap_count TAP: adds a lane's results to the totals.
tap_count() {
	local log=$1 p f s planned
	[ -f "$log" ] || return 0
	s=$(grep -cE '^ok .*# skip' "$log")
	p=$(grep -E '^ok ' "$log" | grep -cv '# skip')
	f=$(grep -cE '^not ok ' "$log")
	planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$log" | head -n1)
	# A run cut short (crash in setup_file) leaves tests unreported: count them as failed.
	if [ -n "$planned" ] && [ $((p + f + s)) -lt "$planned" ]; then
		f=$((planned - p - s))
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# Two lanes run side by side: the suites that run real Kubernetes parts
# (control plane, kubelet, containerd, podman: mostly waiting on daemons) and
# the rest. Each suite's names carry its own random id, so the lanes share
# nothing; SL_E2E_LANES=1 runs everything in one lane.
if [ -n "$bats_files" ] && need_root e2e; then
	echo "== e2e (bats)"
	rm -f "$logdir"/e2e-*.tap
	[ -z "${SL_E2E_SAN_BUILD:-}" ] || san_selftest
	real=() emu=() late=() real_late=()
	for f in $bats_files; do
		if [ "${SL_E2E_LANES:-2}" != 1 ] && [[ $(basename "$f") =~ $UPSTREAM_LATE ]]; then
			real_late+=("$f")
		elif [ "${SL_E2E_LANES:-2}" != 1 ] && [[ $(basename "$f") =~ $REAL_LANE ]]; then
			real+=("$f")
		elif [[ $(basename "$f") =~ $TOOLS_LATE ]]; then
			late+=("$f")
		else
			emu+=("$f")
		fi
	done
	{
		k8s_tools_wait real && lane_run real "${real[@]}"
		[ ${#real_late[@]} -eq 0 ] ||
			{ k8s_tools_wait real-late "${SL_K8S_UPSTREAM_RC:-}" && lane_run real-late "${real_late[@]}"; }
	} &
	lane_run emu "${emu[@]}"
	[ ${#late[@]} -eq 0 ] || { k8s_tools_wait emu-late && lane_run emu-late "${late[@]}"; }
	wait
	for f in "$logdir"/e2e-*.tap; do tap_count "$f"; done
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
