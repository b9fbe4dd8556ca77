#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs each libFuzzer target for SECONDS on its seed corpus and prints one line per
# target (executions, rate, new inputs, crash or not). Exits 1 if any target crashed.
# Usage: fuzz/run.sh BUILD_DIR SECONDS TARGET...
# New inputs go to BUILD_DIR/corpus/<target> (the seeds in fuzz/corpus stay as they
# are); a crash leaves its input in BUILD_DIR/crashes/<target>/ and its log beside it.
# FUZZ_JOBS targets (default: one per CPU) run at a time; the lines keep the targets' order.
set -u
dir=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
jobs=${FUZZ_JOBS:-$(nproc)}

# one TARGET: runs it, leaves "crashed? executions" in its .res and its line in its .line.
one() {
	local t=$1 name=${1#fuzz_} work crashes log rc execs rate found
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
	if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
		echo "1 ${execs:-0}" >"$dir/logs/$name.res"
		{
			printf '  %-16s CRASH (exit %d) after %s executions; see %s\n' "$name" "$rc" "${execs:-?}" "$log"
			grep -m3 -E 'ERROR|SUMMARY|runtime error' "$log" | sed 's/^/    | /'
		} >"$dir/logs/$name.line"
	else
		echo "0 ${execs:-0}" >"$dir/logs/$name.res"
		printf '  %-16s %10s executions  %7s/s  corpus %s\n' "$name" "${execs:-?}" "${rate:-?}" \
			"$(find "$work" "$here/corpus/$name" -type f | wc -l)" >"$dir/logs/$name.line"
	fi
}

mkdir -p "$dir/logs"
for t in "$@"; do
	rm -f "$dir/logs/${t#fuzz_}.res" "$dir/logs/${t#fuzz_}.line"
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	one "$t" &
done
wait
crashed=0 total=0
for t in "$@"; do
	name=${t#fuzz_}
	cat "$dir/logs/$name.line" 2>/dev/null || printf '  %-16s CRASH (no result)\n' "$name"
	read -r c e 2>/dev/null <"$dir/logs/$name.res" || { c=1 e=0; }
	crashed=$((crashed + c)) total=$((total + e))
done
echo "fuzz: $# targets, $total executions, $crashed crashed (${secs}s each, $jobs at a time)"
[ "$crashed" -eq 0 ]
