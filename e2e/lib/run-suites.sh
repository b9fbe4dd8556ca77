#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the unit, BPF and e2e suites and prints one closing line summed over all:
# "N passed, N failed". Usage: run-suites.sh LOGDIR "UNIT..." "BPF..." "BATS..."
set -u
logdir=$1 unit=$2 bpf=$3 bats_files=$4
mkdir -p "$logdir"
passed=0 failed=0 skipped=0
# Suites of the "real" lane (see below), plus netpol-cyclonus to even the
# lanes out (about 7 and 8 minutes). The benches stay in one lane: their leak
# checks look at every /tmp/sl-bench.* directory.
REAL_LANE=${SL_E2E_REAL_LANE:-^(k8s-|containerd|podman|demo|netpol-cyclonus)}

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

# k8s_tools_wait: when make test builds the pinned Kubernetes tools in the
# background, waits (at most an hour) for that build's exit code.
k8s_tools_wait() {
	local rc=${SL_K8S_TOOLS_RC:-} i=0
	[ -n "$rc" ] || return 0
	while [ ! -s "$rc" ] && [ $i -lt 3600 ]; do
		sleep 1
		i=$((i + 1))
	done
	if [ "$(cat "$rc" 2>/dev/null)" != 0 ]; then
		echo "   [real] k8s tools build failed or timed out; see ${rc%.rc}.log"
		tail -n 5 "${rc%.rc}.log" 2>/dev/null | sed 's/^/   [real] | /'
	else
		echo "   [real] k8s tools ready after waiting ${i} s"
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
	real=() emu=()
	for f in $bats_files; do
		if [ "${SL_E2E_LANES:-2}" != 1 ] && [[ $(basename "$f") =~ $REAL_LANE ]]; then
			real+=("$f")
		else
			emu+=("$f")
		fi
	done
	{ k8s_tools_wait && bats_lane real "${real[@]}"; } &
	bats_lane emu "${emu[@]}"
	wait
	tap_count "$logdir/e2e-real.tap"
	tap_count "$logdir/e2e-emu.tap"
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
