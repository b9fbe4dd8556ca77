#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# make bench's driver (e2e/bench/datapath.sh), run short: every datapath row
# works on the bench topology (answers from the right backend, which sees the
# client's IP), each gets its load records and programming times at two
# sizes, the report is written, and nothing is left behind.

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	export OUT=$BATS_FILE_TMPDIR/out
	# The topology's names carry this id, so the leak check below sees only
	# what this run made, whatever else runs on the machine meanwhile.
	SL_CLUSTER_RND=$(printf '%04x' $((RANDOM % 65536)))
	export SL_CLUSTER_RND
	find /tmp -maxdepth 1 -name "sl-bench.*" | sort >"$BATS_FILE_TMPDIR/scratch-before"
	# The real kube-proxy rows have their own suite (bench-kubeproxy-real.bats).
	BENCH_DATAPATHS="direct direct-ptp sluice-tc sluice-sock kp-iptables-nft kp-iptables-legacy kp-nftables"
	export BENCH_DATAPATHS="$BENCH_DATAPATHS kp-ipvs tproxy-haproxy tproxy-nginx ns-direct ns-routed sluice-nodeport sluice-nodeport-dsr sluice-np-local"
	BENCH_SIZES="1 200" BENCH_DURATION=1 BENCH_ROUNDS=1 BENCH_SCALE_ROUNDS=1 BENCH_BUDGET_S=60 \
		timeout 600 "$BATS_TEST_DIRNAME/bench/datapath.sh" "$OUT" >"$BATS_FILE_TMPDIR/run.log" 2>&1
	echo $? >"$BATS_FILE_TMPDIR/rc"
}

records() { jq -c "select($1)" "$OUT/records.jsonl"; }

@test "the driver ran to its end" {
	run cat "$BATS_FILE_TMPDIR/rc"
	[ "$output" = 0 ] || { tail -n 30 "$BATS_FILE_TMPDIR/run.log"; false; }
	grep -q 'bench: records:' "$BATS_FILE_TMPDIR/run.log"
}

@test "the meta record names the machine, the versions and the parameters" {
	run records '.kind == "meta"'
	[ "${#lines[@]}" = 1 ]
	jq -e '.kernel != "" and .cpus > 0 and (.versions.nginx | test("nginx")) and
		(.versions.haproxy | test("HAProxy")) and .params.sizes == [1, 200] and .params.rounds == 1' <<<"$output"
}

@test "every row works: no datapath or size was skipped but IPVS where the kernel lacks it" {
	run records '.kind == "skip" and .datapath != "kp-ipvs"'
	[ -z "$output" ] || { echo "$output"; false; }
	if [ ! -e /proc/net/ip_vs ]; then
		records '.kind == "skip" and .datapath == "kp-ipvs" and .size == null' | jq -e '.reason == "kernel has no IPVS"'
	fi
}

@test "at one Service every row has both variants and both modes, with answers and no errors" {
	local dp n
	for dp in direct direct-ptp sluice-tc sluice-sock kp-iptables-nft kp-iptables-legacy kp-nftables \
		tproxy-haproxy tproxy-nginx ns-direct sluice-nodeport sluice-nodeport-dsr sluice-np-local; do
		n=$(records ".kind == \"load\" and .size == 1 and .datapath == \"$dp\" and .requests > 0 and .errors == 0
			and .latency_us.p99 > 0 and .cpu_us_per_req > 0
			and (.cpu_busy_pct | length) == $(nproc) and (.cpu_busy_pct | max) > 0" | jq -r '"\(.variant) \(.mode)"' | sort -u | wc -l)
		[ "$n" = 4 ] || { echo "$dp: $n of 4 variant/mode pairs measured"; records ".datapath == \"$dp\""; false; }
	done
	# ns-routed: the remote backend only, reached through node 1
	run bash -c "jq -r 'select(.kind == \"load\" and .datapath == \"ns-routed\" and .requests > 0 and .errors == 0)
		| \"\(.size) \(.variant) \(.mode)\"' '$OUT/records.jsonl' | sort -u | xargs"
	[ "$output" = "1 cross close 1 cross keepalive 200 cross close 200 cross keepalive" ]
}

@test "the user-space rows report their memory, the kernel-only ones none" {
	records '.kind == "load" and (.datapath | startswith("sluice-") or startswith("tproxy-"))' |
		jq -se 'length > 0 and all(.[]; .user_rss_kb > 1000)'
	records '.kind == "load" and (.datapath | startswith("kp-") or startswith("direct"))' |
		jq -se 'length > 0 and all(.[]; .user_rss_kb == null)'
}

@test "at 200 Services the rows whose cost may grow with them are measured again, the others not" {
	run bash -c "jq -r 'select(.kind == \"load\" and .size == 200) | .datapath' '$OUT/records.jsonl' | sort -u | xargs"
	[ "$output" = "direct kp-iptables-legacy kp-iptables-nft kp-nftables ns-direct ns-routed sluice-nodeport sluice-nodeport-dsr sluice-np-local sluice-sock sluice-tc" ]
	# the north-south rows in both variants there too: the remote backend is their SNAT case
	run bash -c "jq -r 'select(.kind == \"load\" and .size == 200 and .variant == \"cross\") | .datapath' '$OUT/records.jsonl' | sort -u | xargs"
	[ "$output" = "ns-direct ns-routed sluice-nodeport sluice-nodeport-dsr sluice-np-local" ]
}

@test "programming times: the whole set and one Service added, changed, removed, per row and size" {
	local dp n op
	for dp in sluice-tc kp-iptables-nft kp-iptables-legacy kp-nftables; do
		for n in 1 200; do
			for op in full add change remove; do
				records ".kind == \"program\" and .datapath == \"$dp\" and .size == $n and .op == \"$op\"" |
					jq -e '.status == "ok" and .ms > 0' >/dev/null ||
					{ echo "$dp $op at $n: $(records ".kind == \"program\" and .datapath == \"$dp\"")"; false; }
			done
		done
	done
	records '.kind == "program" and .datapath == "sluice-tc" and .op == "full_sync"' | jq -se 'length == 2 and all(.[]; .ms > 0)'
	records '.kind == "program" and (.datapath | startswith("tproxy-")) and .op == "full"' | jq -se 'length == 2 and all(.[]; .status == "ok")'
}

@test "the report is written from the records: tables, targets and four plots" {
	run "$BATS_TEST_DIRNAME/bench/report.py" --quiet "$OUT"
	[ "$status" = 0 ] || { echo "$output"; false; }
	grep -q 'TPROXY or eBPF' "$OUT/report.md"
	grep -q '^| sluice-tc |' "$OUT/report.md"
	grep -q '^| sluice-nodeport |' "$OUT/report.md"
	grep -q '^| sluice-nodeport-dsr |' "$OUT/report.md"
	jq -e '.targets | length > 0' "$OUT/results.json"
	for p in throughput latency cost programming; do
		file "$OUT/$p.png" | grep -q 'PNG image'
	done
}

@test "nothing is left behind: namespaces, scratch, servers, proxies" {
	run bash -c "ip netns list | awk '{ print \$1 }' | grep -e '-$SL_CLUSTER_RND\$' -e '-$SL_CLUSTER_RND-'"
	[ -z "$output" ] || { echo "left: $output"; false; }
	run bash -c "comm -13 '$BATS_FILE_TMPDIR/scratch-before' <(find /tmp -maxdepth 1 -name 'sl-bench.*' | sort)"
	[ -z "$output" ] || { echo "left: $output"; false; }
	run pgrep -f 'sl-bench\.'
	[ "$status" = 1 ] || { pgrep -af 'sl-bench\.'; false; }
}

@test "the driver refuses to run without an output directory" {
	run "$BATS_TEST_DIRNAME/bench/datapath.sh"
	[ "$status" = 2 ]
	[[ $output == *usage* ]]
}
