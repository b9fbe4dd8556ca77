#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The real kube-proxy rows of `make bench` (e2e/bench/lib/kubeproxy-real.bash),
# run short through the bench's driver beside the ptp floor: the pinned
# kube-proxy v1.34.4 binary in iptables and nftables mode, fed Services and
# EndpointSlices by a real kube-apiserver in the fabric namespace, answers
# from the right backend with the client's IP kept (the driver's check asks
# /who and /ip before any load), yields load records and programming times at
# two sizes, leaves the machine's sysctls as they were and leaves nothing
# behind.

machine_sysctls() {
	sysctl -n net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established \
		net.netfilter.nf_conntrack_tcp_timeout_close_wait net.ipv4.ip_forward vm.overcommit_memory \
		kernel.panic kernel.panic_on_oops | tr '\n' ' '
}

ROWS="kube-proxy-iptables kube-proxy-nftables"

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	"$BATS_TEST_DIRNAME/k8s/build.sh" --cached kube-proxy kube-apiserver etcd >/dev/null 2>&1 || return 0
	export OUT=$BATS_FILE_TMPDIR/out BUILT=1
	SL_CLUSTER_RND=$(printf '%04x' $((RANDOM % 65536)))
	export SL_CLUSTER_RND
	machine_sysctls >"$BATS_FILE_TMPDIR/sysctls-before"
	find /tmp -maxdepth 1 -name "sl-bench.*" | sort >"$BATS_FILE_TMPDIR/scratch-before"
	BENCH_DATAPATHS="direct-ptp $ROWS" BENCH_SIZES="1 200" BENCH_DURATION=1 BENCH_ROUNDS=1 \
		BENCH_SCALE_ROUNDS=1 BENCH_BUDGET_S=60 \
		timeout 600 "$BATS_TEST_DIRNAME/bench/datapath.sh" "$OUT" >"$BATS_FILE_TMPDIR/run.log" 2>&1 3>&-
	echo $? >"$BATS_FILE_TMPDIR/rc"
	machine_sysctls >"$BATS_FILE_TMPDIR/sysctls-after"
}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	[ -n "${BUILT:-}" ] || skip "the pinned Kubernetes v1.34.4 is not built: make k8s-tools"
}

records() { jq -c "select($1)" "$OUT/records.jsonl"; }

@test "(real kube-proxy) the driver ran to its end" {
	run cat "$BATS_FILE_TMPDIR/rc"
	[ "$output" = 0 ] || { tail -n 30 "$BATS_FILE_TMPDIR/run.log"; false; }
	grep -q 'bench: records:' "$BATS_FILE_TMPDIR/run.log"
}

@test "(real kube-proxy) no row was skipped: each answered from its backend with the client IP kept" {
	run records '.kind == "skip"'
	[ -z "$output" ] || { echo "$output"; false; }
	grep -q "bench: rows: direct-ptp $ROWS" "$BATS_FILE_TMPDIR/run.log"
	records '.kind == "meta"' | jq -e '.versions.kube_proxy | test("^v1\\.34\\.4")'
}

@test "(real kube-proxy) both rows have load records: both variants and modes at 1 Service, same-node at 200" {
	local dp v m
	for dp in $ROWS; do
		for v in same cross; do
			for m in keepalive close; do
				records ".kind == \"load\" and .size == 1 and .datapath == \"$dp\" and .variant == \"$v\" and .mode == \"$m\"" |
					jq -e '.rps > 0 and .errors == 0 and .user_rss_kb > 0'
			done
		done
		for m in keepalive close; do
			records ".kind == \"load\" and .size == 200 and .datapath == \"$dp\" and .variant == \"same\" and .mode == \"$m\"" |
				jq -e '.rps > 0'
		done
	done
}

@test "(real kube-proxy) sync times through the API: whole set, one Service added, changed, removed, restart" {
	local dp n op
	for dp in $ROWS; do
		for n in 1 200; do
			for op in full add change remove full_sync; do
				records ".kind == \"program\" and .datapath == \"$dp\" and .size == $n and .op == \"$op\"" |
					jq -e '.status == "ok" and .ms > 0 and .ms < 60000'
			done
		done
	done
}

@test "(real kube-proxy) the machine's sysctls are unchanged (conntrack, forwarding, panic, overcommit)" {
	[ "$(cat "$BATS_FILE_TMPDIR/sysctls-before")" = "$(cat "$BATS_FILE_TMPDIR/sysctls-after")" ]
	[ ! -e /run/xtables.lock ] || [ /run/xtables.lock -ot "$BATS_FILE_TMPDIR/sysctls-before" ]
}

@test "(real kube-proxy) nothing is left behind: namespaces, kube-proxy, apiserver, etcd" {
	run bash -c "ip netns list | awk '{ print \$1 }' | grep -e '-$SL_CLUSTER_RND\$' -e '-$SL_CLUSTER_RND-'"
	[ -z "$output" ] || { echo "left: $output"; false; }
	run pgrep -f 'sl-bench\..*/k8s/'
	[ "$status" = 1 ] || { pgrep -af 'sl-bench\..*/k8s/'; false; }
	run bash -c "comm -13 '$BATS_FILE_TMPDIR/scratch-before' <(find /tmp -maxdepth 1 -name 'sl-bench.*' | sort)"
	[ -z "$output" ] || { echo "left: $output"; false; }
}
