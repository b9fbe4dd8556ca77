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

# cpu_each_ticks: a line per CPU, its busy ticks (as above) and all its ticks.
cpu_each_ticks() { awk '$1 ~ /^cpu[0-9]+$/ { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6 }' /proc/stat; }

# cpu_each_busy BEFORE AFTER: each CPU's busy percent between two
# cpu_each_ticks, a JSON array. The load is bound by its busiest CPU: on
# the pinned bench, CPU 0 runs wrk and the softirq of all it sends.
cpu_each_busy() {
	paste -d' ' <(echo "$1") <(echo "$2") |
		awk '{ t = $4 - $2; printf "%s%.1f", (NR > 1 ? "," : "["), (t > 0 ? 100 * ($3 - $1) / t : 0) } END { print "]" }'
}

# bn_load NS CGROUP MODE URL SECONDS: wrk in netns NS (inside CGROUP when not
# empty, so the node's socket programs see it); MODE keepalive or close (a new
# connection per request). Prints one JSON object: requests, duration_s, rps,
# errors, latency_us {p50,p90,p99,p999,mean,max}, cpu_us_per_req,
# cpu_busy_pct (per CPU).
# BENCH_PERF_DIR (to profile, not to measure: perf's own work is in the
# CPU figures then): each run is also recorded machine-wide with call
# graphs, into DIR/$BN_PERF_LABEL.data.
bn_load() {
	local ns=$1 cg=$2 mode=$3 url=$4 secs=$5 hdr=() out c0 c1 e0 e1 hz line perf=
	[ "$mode" = close ] && hdr=(-H "Connection: close")
	hz=$(getconf CLK_TCK)
	if [ -n "${BENCH_PERF_DIR:-}" ]; then
		perf record -q -a -g -o "$BENCH_PERF_DIR/${BN_PERF_LABEL:-run}.data" -- sleep "$secs" >/dev/null 2>&1 &
		perf=$!
	fi
	c0=$(cpu_busy_ticks) e0=$(cpu_each_ticks)
	out=$(bash -c '[ -z "$1" ] || echo $$ >"$1/cgroup.procs" || exit 1; shift; exec "$@"' _ "$cg" \
		nsenter --net="/run/netns/$ns" "${BN_CLIENT_PIN[@]}" timeout $((secs + 15)) \
		wrk -t"$BN_THREADS" -c"$BN_CONNS" -d"${secs}s" --timeout 2s \
		-s "$BN_CONF_DIR/wrk-report.lua" "${hdr[@]}" "$url" 2>&1)
	c1=$(cpu_busy_ticks) e1=$(cpu_each_ticks)
	[ -z "$perf" ] || wait "$perf"
	line=$(sed -n 's/^BENCHJSON //p' <<<"$out")
	[ -n "$line" ] || sl_die "wrk against $url from $ns gave no summary: $(tail -n 3 <<<"$out")" || return 1
	jq -c --argjson ticks "$((c1 - c0))" --argjson hz "$hz" --argjson each "$(cpu_each_busy "$e0" "$e1")" '{
		requests, duration_s: (.duration_us / 1e6),
		rps: (if .duration_us > 0 then .requests * 1e6 / .duration_us else 0 end),
		errors: (.socket_errors + .status_errors),
		latency_us: {p50, p90, p99, p999, mean, max},
		cpu_us_per_req: (if .requests > 0 then $ticks * 1e6 / $hz / .requests else null end),
		cpu_busy_pct: $each}' <<<"$line"
}

# proc_rss_kb PID...: summed VmRSS of the processes.
proc_rss_kb() {
	local p sum=0 v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) && sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}
