#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# make leak-check: the agent's long paths under LeakSanitizer. The agent and
# the plugin are the ASan+UBSan build ($SLUICE_BUILD = build/san); the agent
# runs against the API stand-in through full relists (410 after a
# compaction) and LEAK_UPDATES (10,000) Service updates, then exits on
# SIGTERM, when LeakSanitizer checks the heap: zero leaked bytes.

load ../lib/faults

LEAK_UPDATES=${LEAK_UPDATES:-10000}
LEAK_RELISTS=${LEAK_RELISTS:-5}

setup_file() {
	nm -D "$SL_BUILD/sluice-agent" 2>/dev/null | grep -q __asan_init ||
		ldd "$SL_BUILD/sluice-agent" | grep -q libasan || {
		echo "# $SL_BUILD/sluice-agent is not an ASan build (make leak-check builds one)" >&3
		return 1
	}
	export SL_FAULT_DIR=$BATS_FILE_TMPDIR
	# LeakSanitizer works here (ptrace allowed, not under another tracer):
	# a program that leaks 64 bytes is caught, or this check is worthless.
	printf '#include <stdlib.h>\nvoid *p;\nint main(void) { p = malloc(64); p = 0; return 0; }\n' |
		cc -fsanitize=address -x c - -o "$BATS_FILE_TMPDIR/leaky" || return 1
	local rc=0
	ASAN_OPTIONS=detect_leaks=1:exitcode=23 "$BATS_FILE_TMPDIR/leaky" 2>"$BATS_FILE_TMPDIR/leaky.out" || rc=$?
	if [ "$rc" -ne 23 ] || ! grep -q '64 byte(s) leaked' "$BATS_FILE_TMPDIR/leaky.out"; then
		echo "# LeakSanitizer does not work here (status $rc): $(head -c 300 "$BATS_FILE_TMPDIR/leaky.out")" >&3
		return 1
	fi
	# every report to a file of its own; a leak makes the exit status 23
	export ASAN_OPTIONS="detect_leaks=1:exitcode=23:log_path=$BATS_FILE_TMPDIR/asan"
	export UBSAN_OPTIONS="print_stacktrace=1:log_path=$BATS_FILE_TMPDIR/ubsan"
	cluster_file_up 1 || return 1
	cluster_pods_add 1:c1 1:a1 || return 1
	on_node 1 tcp_serve a1 9090 || cluster_abort || return 1
}

teardown_file() { cluster_down; }

teardown() { [ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag; }

relists() { on_node 1 agent_status | jq '[.resources[].relists] | add'; }
relists_ge() { [ "$(relists)" -ge "$1" ]; }

@test "(leak-check) full relists and $LEAK_UPDATES Service updates leak no byte under LeakSanitizer" {
	local i r0 rc out
	api_churn burst leak 100 >/dev/null
	r0=$(relists)
	# full relists: compacted past the agent's resourceVersion, watches dropped
	for ((i = 1; i <= LEAK_RELISTS; i++)); do
		# a write no agent watches (another proxy's Service) moves the
		# resourceVersion past every watch's, then everything is compacted
		jq -cn --arg n "other-$i" '{objects: [{apiVersion: "v1", kind: "Service",
			metadata: {name: $n, namespace: "default",
				labels: {"service.kubernetes.io/service-proxy-name": "other"}},
			spec: {clusterIP: "10.96.99.\($n | ltrimstr("other-"))", ports: [{port: 80, protocol: "TCP"}]}}]}' \
			>"$BATS_TEST_TMPDIR/other.json"
		apiserver_objects "$BATS_TEST_TMPDIR/other.json" >/dev/null
		apiserver_fault '{"compact":true,"dropWatches":true}' >/dev/null
		wait_for 20 relists_ge $((r0 + 6 * i))
	done
	echo "relists: $r0 -> $(relists)" >&3
	out=$(api_churn burst leak 100 --updates "$LEAK_UPDATES" 2>&1 | tail -n 1)
	echo "$out" >&3
	[[ $out == *"updates=$LEAK_UPDATES "* ]]
	wait_for 30 on_node 1 agent_synced
	api_churn delete leak >/dev/null
	# a pod added and deleted through the ASan plugin as well
	cluster_pod_add 1 p >/dev/null
	on_node 1 pod_del p
	rc=$(on_node 1 agent_stop)
	echo "agent exit status: $rc" >&3
	cat "$BATS_FILE_TMPDIR"/asan.* "$BATS_FILE_TMPDIR"/ubsan.* 2>/dev/null | head -n 60 >&3 || true
	[ "$rc" -eq 0 ]
	[ -z "$(ls "$BATS_FILE_TMPDIR"/asan.* "$BATS_FILE_TMPDIR"/ubsan.* 2>/dev/null)" ]
	echo "LeakSanitizer: 0 bytes leaked" >&3
}
