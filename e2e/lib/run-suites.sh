#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the unit, BPF and e2e suites and prints one closing line summed over all:
# "N passed, N failed". Usage: run-suites.sh LOGDIR "UNIT..." "BPF..." "BATS..."
set -u
logdir=$1 unit=$2 bpf=$3 bats_files=$4
mkdir -p "$logdir"
passed=0 failed=0 skipped=0

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

if [ -n "$bats_files" ] && need_root e2e; then
	log="$logdir/e2e.tap"
	echo "== e2e (bats)"
	# shellcheck disable=SC2086
	bats --formatter tap $bats_files 2>&1 | tee "$log" | grep -E '^(not ok|ok|#)' | sed 's/^/   /'
	s=$(grep -cE '^ok .*# skip' "$log")
	p=$(grep -E '^ok ' "$log" | grep -cv '# skip')
	f=$(grep -cE '^not ok ' "$log")
	planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$log" | head -n1)
	# A run cut short (crash in setup_file) leaves tests unreported: count them as failed.
	if [ -n "$planned" ] && [ $((p + f + s)) -lt "$planned" ]; then
		f=$((planned - p - s))
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
