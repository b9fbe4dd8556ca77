#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs each libFuzzer target for SECONDS on its seed corpus and prints one line per
# target (executions, rate, new inputs, crash or not). Exits 1 if any target crashed.
# Usage: fuzz/run.sh BUILD_DIR SECONDS TARGET...
# New inputs go to BUILD_DIR/corpus/<target> (the seeds in fuzz/corpus stay as they
# are); a crash leaves its input in BUILD_DIR/crashes/<target>/ and its log beside it.
set -u
dir=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
crashed=0 total=0
for t in "$@"; do
	name=${t#fuzz_}
	work=$dir/corpus/$name crashes=$dir/crashes/$name log=$dir/logs/$name.log
	mkdir -p "$work" "$crashes" "$dir/logs" "$here/corpus/$name"
	# -close_fd_mask=1: stdout closed (a parser printing there would be a finding of its own kind).
	"$dir/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -close_fd_mask=1 -artifact_prefix="$crashes/" \
		"$work" "$here/corpus/$name" </dev/null >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
	found=$(grep -cE '^==[0-9]+==ERROR|^SUMMARY: (Address|Undefined|Leak)|runtime error:|deadly signal|Timeout' "$log")
	total=$((total + ${execs:-0}))
	if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
		crashed=$((crashed + 1))
		printf '  %-16s CRASH (exit %d) after %s executions; see %s\n' "$name" "$rc" "${execs:-?}" "$log"
		grep -m3 -E 'ERROR|SUMMARY|runtime error' "$log" | sed 's/^/    | /'
	else
		printf '  %-16s %10s executions  %7s/s  corpus %s\n' "$name" "${execs:-?}" "${rate:-?}" \
			"$(find "$work" "$here/corpus/$name" -type f | wc -l)"
	fi
done
echo "fuzz: $# targets, $total executions, $crashed crashed (${secs}s each)"
[ "$crashed" -eq 0 ]
