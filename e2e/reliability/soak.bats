#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# make soak: SOAK_MINUTES (10) on two emulated nodes: Services,
# EndpointSlices and Pod objects churned at SOAK_RATE (50) changes/s through
# the API stand-in, real pods added and deleted by CNI on node 2 meanwhile,
# while a client sends requests to a Service whose endpoints stay ready. Zero
# of those may fail; every agent's RSS and open fds are sampled every
# SOAK_SAMPLE_SECS (5) into SOAK_OUT/soak.csv with a plot; once the churn
# ends and its objects are deleted, the map entries return to the baseline.

load ../lib/faults

SOAK_MINUTES=${SOAK_MINUTES:-10}
SOAK_RATE=${SOAK_RATE:-50}
SOAK_SAMPLE_SECS=${SOAK_SAMPLE_SECS:-5}
SOAK_OUT=${SOAK_OUT:-${SL_BUILD:-.}/soak}

setup_file() {
	export SL_FAULT_DIR=$BATS_FILE_TMPDIR
	cluster_file_up 2 || return 1
	cluster_pods_add 1:c1 1:a1 2:b1 2:b2 || return 1
	{ on_node 1 tcp_serve a1 9090 && on_node 2 tcp_serve b1 9090 && on_node 2 tcp_serve b2 9090; } ||
		cluster_abort || return 1
	VIP=$(svc_apply stable '[{"name":"http","port":80,"targetPort":9090}]') || cluster_abort || return 1
	export VIP
	eps_apply stable '[{"name":"http","port":9090,"protocol":"TCP"}]' \
		"$(ep "$(cluster_pod_ip 1 a1)" 1)" "$(ep "$(cluster_pod_ip 2 b1)" 2)" || cluster_abort || return 1
	wait_for 15 ns_exec "$(cluster_pod_ns 1 c1)" timeout 3 "$SL_BUSYBOX" wget -q -O /dev/null "http://$VIP/" ||
		cluster_abort || return 1
	leaks_baseline
}

teardown_file() { cluster_down; }

teardown() { [ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag; }

# sample T: one CSV row: seconds, then per node the agent's RSS (kB) and open
# fds, and its service and backend map entries.
sample() {
	local i pid row=$1
	for ((i = 1; i <= SL_CLUSTER_N; i++)); do
		pid=$(on_node "$i" agent_pid)
		row+=",$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"),$(find "/proc/$pid/fd" -mindepth 1 | wc -l)"
		row+=",$(on_node "$i" map_count sl_svc4),$(on_node "$i" map_count sl_be4)"
	done
	echo "$row"
}

# sampler SECONDS: samples until told to stop (SL_FAULT_DIR/stop-sampler).
sampler() {
	local t0=$SECONDS
	echo "secs,rss_kb_n1,fds_n1,svc4_n1,be4_n1,rss_kb_n2,fds_n2,svc4_n2,be4_n2"
	while [ ! -e "$SL_FAULT_DIR/stop-sampler" ]; do
		sample $((SECONDS - t0))
		sleep "$SOAK_SAMPLE_SECS"
	done
	sample $((SECONDS - t0))
}

# pod_churn SECONDS: real pods on node 2 added and deleted by CNI, one a second.
pod_churn() {
	local end=$((SECONDS + $1)) n=0
	while [ "$SECONDS" -lt "$end" ]; do
		on_node 2 pod_add "s$((n % 4))" >/dev/null 2>&1 && on_node 2 pod_del "s$((n % 4))" >/dev/null 2>&1
		n=$((n + 1))
		sleep 1
	done
	echo "$n"
}

plot() {
	command -v gnuplot >/dev/null || return 0
	gnuplot <<-EOF
		set datafile separator ","
		set key autotitle columnhead
		set xlabel "seconds"
		set terminal dumb 110 32
		set output "$SOAK_OUT/plot.txt"
		set title "agent RSS (kB) under churn"
		plot "$SOAK_OUT/soak.csv" using 1:2 with lines, "" using 1:6 with lines
		set terminal pngcairo size 900,500
		set output "$SOAK_OUT/soak.png"
		set multiplot layout 2,1
		plot "$SOAK_OUT/soak.csv" using 1:2 with lines, "" using 1:6 with lines
		set title "open fds"
		plot "$SOAK_OUT/soak.csv" using 1:3 with lines, "" using 1:7 with lines
		unset multiplot
	EOF
}

@test "(soak) churn at $SOAK_RATE changes/s for $SOAK_MINUTES min: no failed request, RSS and fds flat, maps back to baseline" {
	local secs=$((SOAK_MINUTES * 60)) out churn pods sampler_pid churn_pid pods_pid first last
	mkdir -p "$SOAK_OUT"
	rm -f "$SL_FAULT_DIR/stop-sampler"
	sampler >"$SOAK_OUT/soak.csv" 3>&- &
	sampler_pid=$!
	traffic_start t "$(cluster_pod_ns 1 c1)" "$VIP" 80 50
	api_churn soak soak "$secs" --rate "$SOAK_RATE" --node "$(node_name 2)" \
		--ip "$(cluster_pod_ip 1 a1)" --ip "$(cluster_pod_ip 2 b1)" --ip "$(cluster_pod_ip 2 b2)" \
		>"$SOAK_OUT/churn.json" 2>&1 3>&- &
	churn_pid=$!
	pod_churn "$secs" >"$SOAK_OUT/pods" 3>&- &
	pods_pid=$!
	wait "$churn_pid" "$pods_pid"
	out=$(traffic_stop t)
	api_churn delete soak >/dev/null
	conv_start
	wait_for 60 leaks_clean
	touch "$SL_FAULT_DIR/stop-sampler"
	wait "$sampler_pid"
	churn=$(cat "$SOAK_OUT/churn.json")
	pods=$(cat "$SOAK_OUT/pods")
	plot || true
	first=$(sed -n 2p "$SOAK_OUT/soak.csv")
	last=$(tail -n 1 "$SOAK_OUT/soak.csv")
	{
		echo "soak: $SOAK_MINUTES min, API churn $churn, $pods pod ADD+DEL on node 2"
		echo "traffic to the stable Service: $out"
		echo "first sample: $first"
		echo "last sample:  $last"
		echo "max RSS kB: n1 $(cut -d, -f2 "$SOAK_OUT/soak.csv" | sort -n | tail -1), n2 $(cut -d, -f6 "$SOAK_OUT/soak.csv" | sort -n | tail -1)"
		echo "maps back to baseline in $(conv_secs) s: $(leaks_diff)"
	} | tee "$SOAK_OUT/summary.txt" >&3
	[ -s "$SOAK_OUT/plot.txt" ] && sed 's/^/# /' "$SOAK_OUT/plot.txt" >&3
	[ "$(jq .fail <<<"$out")" -eq 0 ]
	[ "$(jq .changes <<<"$churn")" -ge $((secs * SOAK_RATE * 9 / 10)) ]
	[ "$(leaks_diff)" = none ]
	# fds flat (the first and last samples differ by at most 2); RSS within 2x of the first sample
	awk -F, -v a="$first" -v b="$last" 'BEGIN { split(a, x); split(b, y)
		for (i = 3; i <= 7; i += 4) if (y[i] - x[i] > 2 || x[i] - y[i] > 2) exit 1
		for (i = 2; i <= 6; i += 4) if (y[i] > 2 * x[i]) exit 1 }'
}
