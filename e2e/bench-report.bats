#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# make bench's report (e2e/bench/report.py) on fixed records: ratios to direct,
# medians over rounds, the issue's targets, "> budget" and skipped rows, the
# PNG plots, malformed input and missing data. No root, no network.

# shellcheck disable=SC2154 # $stderr is set by run --separate-stderr
bats_require_minimum_version 1.5.0

REPORT=$BATS_TEST_DIRNAME/bench/report.py
TESTDATA=$BATS_TEST_DIRNAME/bench/testdata

setup_file() {
	export FIX=$BATS_FILE_TMPDIR/fixture
	cp -r "$TESTDATA" "$FIX"
	"$REPORT" "$FIX" >"$FIX/stdout" 2>"$FIX/stderr"
	echo $? >"$FIX/rc"
}

setup() {
	W=$BATS_TEST_TMPDIR
}

# load_field SIZE DATAPATH VARIANT MODE JQ-PATH: one field of a results.json load entry.
load_field() {
	jq -r --argjson s "$1" --arg d "$2" --arg v "$3" --arg m "$4" \
		".load[] | select(.size == \$s and .datapath == \$d and .variant == \$v and .mode == \$m) | $5" \
		"${RESULTS:-$FIX/results.json}"
}

# record SIZE DATAPATH ROUND RPS P99 ERRORS: one same-node keep-alive load record.
record() {
	printf '{"kind":"load","size":%s,"datapath":"%s","variant":"same","mode":"keepalive","round":%s,' "$1" "$2" "$3"
	printf '"requests":%s,"duration_s":10,"rps":%s,"errors":%s,' "$(($4 * 10))" "$4" "$6"
	printf '"latency_us":{"p50":100,"p90":150,"p99":%s,"p999":900,"mean":110,"max":2000},' "$5"
	printf '"cpu_us_per_req":20,"user_rss_kb":null}\n'
}

@test "(bench-report) the fixture gives results.json, report.md and a terminal table" {
	[ "$(cat "$FIX/rc")" -eq 0 ] || { cat "$FIX/stderr"; false; }
	jq -e '.meta.kernel == "6.18.44-fc-v782" and .meta.params.rounds == 2 and .meta.malformed_lines == 0' \
		"$FIX/results.json"
	grep -q '^## Same-node, 1 Service present' "$FIX/report.md"
	grep -q '^## Cross-node, 1 Service present' "$FIX/report.md"
	grep -Eq '^sluice-tc +9,800 \(0\.980\) +3,840 \(0\.960\)' "$FIX/stdout"
	grep -Eq '^ +MISSED +sluice-tc new connections ≥ 1\.8 × tproxy-haproxy \(same-node\)' "$FIX/stdout"
}

@test "(bench-report) ratios to direct are taken per size, variant and mode" {
	[ "$(load_field 1 sluice-tc same keepalive .ratio.rps)" = 0.98 ]
	[ "$(load_field 1 sluice-tc same close .ratio.rps)" = 0.96 ]
	[ "$(load_field 1 sluice-tc same keepalive .ratio.cpu_us_per_req)" = 1.1 ]
	[ "$(load_field 1 sluice-tc same keepalive .ratio.p99)" = 1.05 ]
	[ "$(load_field 1 sluice-tc cross keepalive .ratio.rps)" = 0.95 ]
	[ "$(load_field 1 tproxy-haproxy same keepalive .ratio.rps)" = 0.5 ]
	[ "$(load_field 100000 kp-iptables-legacy same close .ratio.rps)" = 0.15 ]
	[ "$(load_field 100000 kp-iptables-legacy same close .ratio.cpu_us_per_req)" = 6 ]
	[ "$(load_field 1 direct same keepalive .ratio.rps)" = 1 ]
	[ "$(load_field 1 tproxy-nginx same close .errors)" = 3 ]
	[ "$(load_field 1 tproxy-nginx same close .rounds)" = 2 ]
	[ "$(load_field 1 tproxy-haproxy same keepalive .user_rss_kb.median)" = 20480 ]
}

@test "(bench-report) a metric is the median over rounds; min and max keep the outlier" {
	mkdir "$W/d"
	{
		record 1 direct 1 10000 200 0
		record 1 direct 2 50000 210 0
		record 1 direct 3 10100 900 0
		record 1 sluice-tc 1 9999 300 1
		record 1 sluice-tc 2 1 300 2
		record 1 sluice-tc 3 9090 300 3
	} >"$W/d/records.jsonl"
	run --separate-stderr "$REPORT" --no-plots -q "$W/d"
	[ "$status" -eq 0 ]
	RESULTS=$W/d/results.json
	[ "$(load_field 1 direct same keepalive .rps.median)" = 10100 ]
	[ "$(load_field 1 direct same keepalive '[.rps.min, .rps.max] | @tsv')" = "$(printf '10000\t50000')" ]
	[ "$(load_field 1 direct same keepalive .latency_us.p99.median)" = 210 ]
	[ "$(load_field 1 sluice-tc same keepalive .rps.median)" = 9090 ]
	[ "$(load_field 1 sluice-tc same keepalive .ratio.rps)" = 0.9 ]
	[ "$(load_field 1 sluice-tc same keepalive .errors)" = 6 ]
	[ "$(load_field 1 sluice-tc same keepalive .rounds)" = 3 ]
}

@test "(bench-report) the issue's targets are met, MISSED or not measured as the fixture says" {
	jq -r '.targets[] | "\(.id) \(.variant // "-") \(.mode // "-") \(.status) \(.measured)"' \
		"$FIX/results.json" >"$W/got"
	cat >"$W/want" <<-'EOF'
		ratio_to_direct same keepalive met 0.98
		ratio_to_direct same close met 0.96
		ratio_to_direct cross keepalive MISSED 0.95
		ratio_to_direct cross close met 0.95
		flat_over_sizes same keepalive met 1.0101
		flat_over_sizes same close MISSED 1.0667
		flat_over_sizes cross keepalive not measured null
		flat_over_sizes cross close not measured null
		vs_tproxy_haproxy same keepalive met 1.96
		vs_tproxy_haproxy same close MISSED 1.6
		vs_tproxy_haproxy cross keepalive met 1.9
		vs_tproxy_haproxy cross close MISSED 1.5833
		policy_to_tc same keepalive not measured null
		policy_to_tc same close not measured null
		policy_to_tc cross keepalive not measured null
		policy_to_tc cross close not measured null
		add_one_service - - met 0.25
		np_ratio_to_direct same keepalive met 0.96
		np_ratio_to_direct same close MISSED 0.93
		np_ratio_to_direct cross keepalive met 0.95
		np_ratio_to_direct cross close MISSED 0.9
		np_flat_over_sizes same keepalive met 1.0104
		np_flat_over_sizes same close MISSED 1.043
		np_flat_over_sizes cross keepalive met 1
		np_flat_over_sizes cross close met 1
		np_vs_kube_proxy same keepalive met 1.0211
		np_vs_kube_proxy same close MISSED 0.9949
		np_vs_kube_proxy cross keepalive met 1.0857
		np_vs_kube_proxy cross close met 1.0385
	EOF
	diff -u "$W/want" "$W/got"
	grep -q '| sluice-tc new connections flat within 3 % over sizes (same-node) | 1.0667 | \*\*MISSED\*\* |' \
		"$FIX/report.md"
}

@test "(bench-report) north-south rows: ratios to ns-direct, side by side over sizes, the best kube-proxy named" {
	# the ratio of a NodePort row is to the outside client's direct row, not to direct
	[ "$(load_field 100000 sluice-nodeport same close '.ratio.rps')" = 0.93 ]
	[ "$(load_field 1 ns-direct same keepalive '.ratio.rps')" = 1 ]
	# the real kube-proxy's, to the same client's direct row on its ptp-wired nodes
	[ "$(load_field 1 kube-proxy-iptables-np cross keepalive '.ratio.rps')" = 0.85 ]
	jq -c 'if .kind == "load" and .datapath == "ns-direct-ptp" and .variant == "cross" and .mode == "keepalive"
		then .rps /= 2 else . end' "$TESTDATA/records.jsonl" >"$W/records.jsonl"
	mkdir "$W/p" && mv "$W/records.jsonl" "$W/p/" && "$REPORT" --no-plots -q "$W/p"
	RESULTS=$W/p/results.json
	[ "$(load_field 1 kube-proxy-iptables-np cross keepalive '.ratio.rps')" = 1.7 ]
	[ "$(load_field 1 ns-direct-ptp cross keepalive '.ratio.rps')" = 0.5 ]
	unset RESULTS
	grep -q '^## North-south: NodePorts from outside the cluster$' "$FIX/report.md"
	grep -q '^| sluice-nodeport | same-node | 9,700 (0.970) | 3,880 (0.970) | 9,600 (0.960) | 3,720 (0.930) |$' \
		"$FIX/report.md"
	grep -q '^| kube-proxy-nftables-np | cross-node | 7,000 (0.875) | 2,600 (0.867) | skipped | skipped |$' \
		"$FIX/report.md"
	jq -e '.targets[] | select(.id == "np_vs_kube_proxy" and .variant == "same" and .mode == "close") |
		.detail == "1 Service: 0.995 × kube-proxy-nftables-np (judged on the lowest)"' "$FIX/results.json"
	# a drift of the machine that hits ns-direct alike cancels in the flatness
	cp -r "$TESTDATA" "$W/d"
	jq -c 'if .kind == "load" and .size == 100000 and (.datapath == "ns-direct" or .datapath == "sluice-nodeport")
		then .rps *= 0.8 | .requests = (.requests * 0.8 | floor) else . end' \
		"$TESTDATA/records.jsonl" >"$W/d/records.jsonl"
	run "$REPORT" --no-plots -q "$W/d"
	[ "$status" -eq 0 ]
	jq -e '.targets[] | select(.id == "np_flat_over_sizes" and .variant == "same" and .mode == "keepalive") |
		.status == "met" and .measured == 1.0104' "$W/d/results.json"
}

@test "(bench-report) the DSR NodePort row sits beside sluice-nodeport, judged on its remote backend only when it ran" {
	jq -e '[.targets[] | select(.id == "np_dsr_ratio_to_direct")] | length == 0' "$FIX/results.json"
	mkdir "$W/dsr"
	# the same loads again as sluice-nodeport-dsr, its cross-node ones 10 % faster
	jq -c '., (select(.kind == "load" and .datapath == "sluice-nodeport") | .datapath = "sluice-nodeport-dsr" |
		if .variant == "cross" then .rps *= 1.1 else . end)' "$TESTDATA/records.jsonl" >"$W/dsr/records.jsonl"
	"$REPORT" --no-plots -q "$W/dsr"
	grep -q '^| sluice-nodeport-dsr | cross-node |' "$W/dsr/report.md"
	grep -q 'sluice-nodeport-dsr.*Direct Server Return' "$W/dsr/report.md"
	jq -e '[.targets[] | select(.id == "np_dsr_ratio_to_direct")] | length == 2 and all(.[]; .variant == "cross")' \
		"$W/dsr/results.json"
	np=$(RESULTS=$W/dsr/results.json load_field 1 sluice-nodeport cross keepalive '.ratio.rps')
	dsr=$(RESULTS=$W/dsr/results.json load_field 1 sluice-nodeport-dsr cross keepalive '.ratio.rps')
	python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(abs(b - 1.1 * a) > 0.01)' "$np" "$dsr"
}

@test "(bench-report) flatness is judged on the ratio to direct: drift that hits direct alike cancels" {
	cp -r "$TESTDATA" "$W/d"
	# the machine 20 % slower at 100,000 Services: direct and sluice-tc alike
	jq -c 'if .kind == "load" and .size == 100000 and (.datapath == "direct" or .datapath == "sluice-tc")
		then .rps *= 0.8 | .requests = (.requests * 0.8 | floor) else . end' \
		"$TESTDATA/records.jsonl" >"$W/d/records.jsonl"
	run "$REPORT" --no-plots -q "$W/d"
	[ "$status" -eq 0 ]
	jq -e '.targets[] | select(.id == "flat_over_sizes" and .variant == "same" and .mode == "keepalive") |
		.status == "met" and .measured == 1.0101' "$W/d/results.json"
	# sluice-tc alone 20 % slower there: no longer flat
	jq -c 'if .kind == "load" and .size == 100000 and .datapath == "sluice-tc"
		then .rps *= 0.8 | .requests = (.requests * 0.8 | floor) else . end' \
		"$TESTDATA/records.jsonl" >"$W/d/records.jsonl"
	run "$REPORT" --no-plots -q "$W/d"
	[ "$status" -eq 0 ]
	jq -e '.targets[] | select(.id == "flat_over_sizes" and .variant == "same" and .mode == "keepalive") |
		.status == "MISSED" and .measured > 1.2' "$W/d/results.json"
}

@test "(bench-report) a step over the budget reads \"> budget\"; a skipped datapath shows its reason" {
	jq -e '.program[] | select(.datapath == "kp-iptables-nft" and .size == 100000 and .op == "full") |
		.status == "budget" and .rendered == "> budget" and .ms == null' "$FIX/results.json"
	grep -q '^| kp-iptables-nft | 100,000 | > budget | – | – | – | – |$' "$FIX/report.md"
	[ "$(grep -c '^| kp-ipvs | skipped: kernel has no IPVS |' "$FIX/report.md")" -eq 2 ]
	grep -Eq '^kp-ipvs +skipped: kernel has no IPVS$' "$FIX/stdout"
	grep -q '^- kp-iptables-nft at 100,000 Services: skipped, programming 100000 Services ran over the 120 s budget$' \
		"$FIX/report.md"
	jq -e '.skipped | map(select(.datapath == "kp-ipvs" and .size == null)) | length == 1' "$FIX/results.json"
}

@test "(bench-report) sluice's whole set from the API has its own column, other rows read \"–\" there" {
	grep -q '| Full set from the API |$' "$FIX/report.md"
	grep -q '^| sluice-tc | 100,000 | 850 | 0.250 | 0.300 | 0.200 | 4,200 |$' "$FIX/report.md"
	grep -q '^| sluice-tc | 1 | 0.500 | 0.100 | 0.120 | 0.090 | – |$' "$FIX/report.md"
	jq -e '.program[] | select(.datapath == "sluice-tc" and .size == 100000 and .op == "full_sync") |
		.status == "ok" and .ms == 4200' "$FIX/results.json"
}

@test "(bench-report) the four plots are real PNGs, linked from report.md" {
	local p
	for p in throughput latency cost programming; do
		file -b "$FIX/$p.png" | grep -q '^PNG image data, [0-9]* x [0-9]*'
		[ "$(stat -c %s "$FIX/$p.png")" -gt 15000 ]
		grep -q "^!\[.*\]($p.png)$" "$FIX/report.md"
		jq -e --arg p "$p" '.plots[$p] == "ok"' "$FIX/results.json"
	done
}

@test "(bench-report) malformed lines are skipped with a warning and counted" {
	cp -r "$TESTDATA" "$W/d"
	n=$(wc -l <"$W/d/records.jsonl")
	printf '%s\n' 'not json' '{"kind":"load","size":1,"datapath":"sluice-tc"}' '{"kind":"load","size":1,' \
		>>"$W/d/records.jsonl"
	run --separate-stderr "$REPORT" --no-plots -q "$W/d"
	[ "$status" -eq 0 ]
	[[ $stderr == *"records.jsonl:$((n + 1)): skipped malformed line: not JSON"* ]]
	[[ $stderr == *"records.jsonl:$((n + 2)): skipped malformed line: load record with missing or bad 'variant'"* ]]
	[[ $stderr == *"records.jsonl:$((n + 3)): skipped malformed line: not JSON"* ]]
	RESULTS=$W/d/results.json
	jq -e '.meta.malformed_lines == 3' "$RESULTS"
	[ "$(load_field 1 sluice-tc same keepalive .ratio.rps)" = 0.98 ]
	grep -q '3 malformed line(s) in records.jsonl were skipped' "$W/d/report.md"
}

@test "(bench-report) missing data reads \"not measured\" instead of failing" {
	mkdir "$W/d"
	record 1 sluice-tc 1 9000 300 0 >"$W/d/records.jsonl"
	run --separate-stderr "$REPORT" -q "$W/d"
	[ "$status" -eq 0 ]
	jq -e '[.targets[].status] | unique == ["not measured"]' "$W/d/results.json"
	jq -e '.subbench == {"bpf": null, "cni": null, "sync": null} and .meta.kernel == null' "$W/d/results.json"
	RESULTS=$W/d/results.json
	[ "$(load_field 1 sluice-tc same keepalive .ratio)" = null ]
	grep -q '^| direct | not measured |' "$W/d/report.md"
	grep -q '^- Programming time against the number of Services: not plotted: no programming time measured$' \
		"$W/d/report.md"
}

@test "(bench-report) without gnuplot everything but the PNGs is still written" {
	cp -r "$TESTDATA" "$W/d"
	run --separate-stderr env GNUPLOT="$W/no-gnuplot" "$REPORT" -q "$W/d"
	[ "$status" -eq 0 ]
	[[ $stderr == *"no-gnuplot not found: no PNG plots"* ]]
	jq -e '.plots.throughput == "not plotted: gnuplot not found"' "$W/d/results.json"
	[ -s "$W/d/report.md" ] && [ -s "$W/d/throughput.dat" ]
	[ "$(find "$W/d" -name '*.png' | wc -l)" -eq 0 ]
}

@test "(bench-report) a directory without records.jsonl is a clear error" {
	mkdir "$W/d"
	run --separate-stderr "$REPORT" "$W/d"
	[ "$status" -eq 1 ]
	[[ $stderr == "report.py: cannot read $W/d/records.jsonl: No such file or directory" ]]
	[ ! -e "$W/d/results.json" ]
}

@test "(bench-report) the sub-benches are embedded in results.json and summarised in report.md" {
	jq -e '(.subbench.bpf.results | length) == 3 and .subbench.cni.pods == 20 and
		.subbench.sync.objects.services == 1000' "$FIX/results.json"
	grep -q '^| ADD one at a time | 20 | 38.2 | 44.1 | 1,152 |$' "$FIX/report.md"
	grep -q '^| 100,000 | 419 | 757 | 1,124 | 255 | 278 |$' "$FIX/report.md"
	grep -q '^Target conntrack hit ≤ 150 ns: net of the harness 140–220 ns over the sizes: \*\*MISSED\*\*' \
		"$FIX/report.md"
	grep -q '^| Agent start → every resource synced | 480 ms | < 3000 ms: met |$' "$FIX/report.md"
}

@test "(bench-report) the conntrack-hit target is judged on the repeated Service packet when bpf.json has it" {
	cp -r "$TESTDATA" "$W/d"
	jq '.results |= [.[] | . + {svc_repeat: 210.5, svc_repeat_median: (140 + .services / 2000)}]' \
		"$TESTDATA/bpf.json" >"$W/d/bpf.json"
	run --separate-stderr "$REPORT" "$W/d"
	[ "$status" -eq 0 ]
	grep -q '^Target conntrack hit ≤ 150 ns: an established Service packet repeated in one run (svc_repeat, median) 140–190 ns over the sizes: \*\*MISSED\*\* (judged on the worst)\.$' \
		"$W/d/report.md"
	[ "$(grep -c 'net of the harness' "$W/d/report.md")" -eq 0 ]
}

@test "(bench-report) bench-cni's burst rows and parallel targets are judged per IPAM" {
	cp -r "$TESTDATA" "$W/d"
	# the fixture's rounds as the in-process IPAM's and host-local's; the
	# burst: host-local lost one DEL and left a lease
	jq '. as $r | {ipam: "sluice"} + . + {
		burst: {pods: 50, add_ok: 50, del_ok: 50, after: "veths=0 routes=0 leases=0 eps=0 states=0",
			add: (.parallel.add + {n: 50, p50_ms: 120.5}), del: (.parallel.del + {n: 50})},
		ratio_parallel_p50: {add: 1.8, del: 2.4},
		delegated: ({ipam: "host-local"} + ($r | {sequential, parallel}) + {
			burst: {pods: 50, add_ok: 50, del_ok: 49, after: "veths=0 routes=0 leases=1 eps=0 states=0",
				add: .parallel.add, del: .parallel.del},
			ratio_parallel_p50: {add: 1.5, del: 1.9}})}' \
		"$TESTDATA/cni.json" >"$W/d/cni.json"
	run --separate-stderr "$REPORT" --no-plots -q "$W/d"
	[ "$status" -eq 0 ]
	grep -q '^| ADD 50 at once, IPAM sluice | 50 | 120 | 1,038 | 1,333 |$' "$W/d/report.md"
	grep -q '^| DEL 50 at once, IPAM host-local | 20 | 319 | 1,276 | 1,750 |$' "$W/d/report.md"
	grep -q '^- IPAM sluice: 10 at once p50 / one at a time p50: ADD 1.8×, DEL 2.4× (target ≤ 2: \*\*MISSED\*\*)$' \
		"$W/d/report.md"
	grep -q '^- IPAM host-local: 10 at once p50 / one at a time p50: ADD 1.5×, DEL 1.9× (target ≤ 2: met)$' \
		"$W/d/report.md"
	grep -q '^- IPAM sluice: 50 at once: 50/50 ADDs, 50/50 DELs, after: .* (target all succeed, nothing left: met)$' \
		"$W/d/report.md"
	grep -q '^- IPAM host-local: 50 at once: 50/50 ADDs, 49/50 DELs, after: .*leases=1.* nothing left: \*\*MISSED\*\*)$' \
		"$W/d/report.md"
	jq -e '.subbench.cni.burst.pods == 50 and .subbench.cni.delegated.burst.del_ok == 49' "$W/d/results.json"
}
