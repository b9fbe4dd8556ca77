#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# make demo (e2e/demo.sh) as a user runs it: up until it says it is running,
# then `demo.sh down` from another process. The Service step must show
# kubectl get svc,endpointslices and requests from pod b (node 2) answered by
# both backends (pods a on node 1, c on node 3), each seeing b's own IP; with
# the pinned Kubernetes built it runs on the real control plane. Nothing is
# left behind.

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	export DEMO_DIR=$BATS_FILE_TMPDIR/demo LOG=$BATS_FILE_TMPDIR/demo.log
	SL_DEMO_DIR=$DEMO_DIR timeout 300 "$BATS_TEST_DIRNAME/demo.sh" up >"$LOG" 2>&1 3>&- &
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q 'Running\.' "$LOG" 2>/dev/null && break
		kill -0 $! 2>/dev/null || break
		sleep 0.2
	done
	sed 's/\x1b\[[0-9;]*m//g' "$LOG" >"$BATS_FILE_TMPDIR/demo.txt"
	RND=$(grep -o 'in sl-f-[0-9a-f]*' "$BATS_FILE_TMPDIR/demo.txt" | head -n 1 | sed 's/in sl-f-//')
	export RND
	SL_DEMO_DIR=$DEMO_DIR "$BATS_TEST_DIRNAME/demo.sh" down >"$BATS_FILE_TMPDIR/down.log" 2>&1 3>&-
}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	OUT=$BATS_FILE_TMPDIR/demo.txt
}

@test "(demo) it comes up and says which API server it runs on" {
	grep -q '^Running\.' "$OUT" || { tail -n 30 "$OUT"; false; }
	if "$BATS_TEST_DIRNAME/k8s/build.sh" --cached kube-apiserver etcd kube-controller-manager kubectl >/dev/null 2>&1; then
		grep -q 'real control plane: etcd, kube-apiserver, kube-controller-manager v1.34.4' "$OUT"
		grep -q '"api":"kubeconfig","synced":6' "$OUT"
	else
		grep -q 'not built (make k8s-tools): using the API stand-in' "$OUT"
	fi
}

@test "(demo) the Service is shown with its EndpointSlice naming both backends" {
	grep -q '^service/web ' "$OUT"
	grep -q '^endpointslice.discovery.k8s.io/web-1 ' "$OUT"
}

@test "(demo) requests from node 2 are answered by pods on nodes 1 and 3, which see the client's own IP" {
	local b
	b=$(grep -o 'pod b on sl-n-[0-9a-f]*-2 .* ip [0-9.]*' "$OUT" | awk '{ print $NF }')
	[ -n "$b" ]
	[ "$(grep -c 'answered by pod . on node . *which saw the client as' "$OUT")" = 24 ]
	grep -q 'answered by pod a on node 1 *which saw the client as' "$OUT"
	grep -q 'answered by pod c on node 3 *which saw the client as' "$OUT"
	run bash -c "grep 'which saw the client as' '$OUT' | grep -v 'client as $b\$'"
	[ -z "$output" ] || { echo "seen as another address: $output"; false; }
}

@test "(demo) demo.sh down removes everything" {
	grep -q 'demo: stopped' "$BATS_FILE_TMPDIR/down.log"
	[ -n "$RND" ]
	run bash -c "ip netns list | grep -e '-$RND\$' -e '-$RND-'"
	[ -z "$output" ]
	run pgrep -f "$DEMO_DIR"
	[ "$status" = 1 ]
	[ ! -e "$DEMO_DIR/state" ]
	run grep "$RND" /proc/mounts
	[ "$status" = 1 ]
}
