# SPDX-License-Identifier: Apache-2.0
# One load run of `make bench`: wrk from a client pod against a URL, with the
# machine's CPU time over the run. Sourced after topo.bash.

# shellcheck shell=bash

BN_THREADS=${BN_THREADS:-1}
BN_CONNS=${BN_CONNS:-8}

# cpu_busy_ticks: the machine's non-idle CPU time (USER_HZ ticks, all CPUs):
# user, nice, system, irq, softirq, steal. Softirq is where most packet work
# of every datapath runs, so per-process accounting would miss it.
cpu_busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# bn_load NS CGROUP MODE URL SECONDS: wrk in netns NS (inside CGROUP when not
# empty, so the node's socket programs see it); MODE keepalive or close (a new
# connection per request). Prints one JSON object: requests, duration_s, rps,
# errors, latency_us {p50,p90,p99,p999,mean,max}, cpu_us_per_req.
# BENCH_PERF_DIR (to profile, not to measure: perf's own work is in the
# CPU figures then): each run is also recorded machine-wide with call
# graphs, into DIR/$BN_PERF_LABEL.data.
bn_load() {
	local ns=$1 cg=$2 mode=$3 url=$4 secs=$5 hdr=() out c0 c1 hz line perf=
	[ "$mode" = close ] && hdr=(-H "Connection: close")
	hz=$(getconf CLK_TCK)
	if [ -n "${BENCH_PERF_DIR:-}" ]; then
		perf record -q -a -g -o "$BENCH_PERF_DIR/${BN_PERF_LABEL:-run}.data" -- sleep "$secs" >/dev/null 2>&1 &
		perf=$!
	fi
	c0=$(cpu_busy_ticks)
	out=$(bash -c '[ -z "$1" ] || echo $$ >"$1/cgroup.procs" || exit 1; shift; exec "$@"' _ "$cg" \
		nsenter --net="/run/netns/$ns" "${BN_CLIENT_PIN[@]}" timeout $((secs + 15)) \
		wrk -t"$BN_THREADS" -c"$BN_CONNS" -d"${secs}s" --timeout 2s \
		-s "$BN_CONF_DIR/wrk-report.lua" "${hdr[@]}" "$url" 2>&1)
	c1=$(cpu_busy_ticks)
	[ -z "$perf" ] || wait "$perf"
	line=$(sed -n 's/^BENCHJSON //p' <<<"$out")
	[ -n "$line" ] || sl_die "wrk against $url from $ns gave no summary: $(tail -n 3 <<<"$out")" || return 1
	jq -c --argjson ticks "$((c1 - c0))" --argjson hz "$hz" '{
		requests, duration_s: (.duration_us / 1e6),
		rps: (if .duration_us > 0 then .requests * 1e6 / .duration_us else 0 end),
		errors: (.socket_errors + .status_errors),
		latency_us: {p50, p90, p99, p999, mean, max},
		cpu_us_per_req: (if .requests > 0 then $ticks * 1e6 / $hz / .requests else null end)}' <<<"$line"
}

# proc_rss_kb PID...: summed VmRSS of the processes.
proc_rss_kb() {
	local p sum=0 v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) && sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}
