#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Hardening of the agent on one emulated node with the API stand-in: its
# listening sockets are on localhost, TLS to the API server is verified
# (a wrong CA is refused before the token is sent), and it runs with exactly
# the capabilities manifests/sluice.yaml grants it, each of them needed.
# (Path traversal in every name that becomes a path: e2e/cni-bad-input.bats
# and the agent's unit tests.)

load lib/cluster

MANIFEST=$BATS_TEST_DIRNAME/../manifests/sluice.yaml

setup_file() {
	cluster_file_up 1 || return 1
}

teardown_file() { cluster_down; }

setup() { cluster_state_load "$BATS_FILE_TMPDIR/cluster.state" && cluster_use 1; }

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag
	agent_running || agent_start >/dev/null 2>&1 || true
}

# agent_listening: "PROTO LOCAL_ADDRESS" of every socket the agent listens on
# (TCP) or has bound (UDP), in its node's namespace.
agent_listening() {
	local pid
	pid=$(agent_pid)
	node_exec ss -Hlntup | awk -v p="pid=$pid," 'index($0, p) { print $1, $5 }'
}

@test "(hardening) every socket the agent listens on is bound to localhost" {
	run agent_listening
	echo "$output"
	[ "$status" -eq 0 ]
	# at least /healthz and /livez (:10256)
	[ "$(grep -c . <<<"$output")" -ge 1 ]
	grep -q ' 127.0.0.1:10256$' <<<"$output"
	# none elsewhere
	[ "$(grep -cvE ' (127\.[0-9.]+|\[::1\]):[0-9]+$' <<<"$output")" -eq 0 ]
}

# kubeconfig_with FILTER: the cluster's kubeconfig changed by a yq-free sed FILTER.
kubeconfig_with() {
	sed "$1" "$SL_CLUSTER_SCRATCH/kubeconfig" >"$BATS_TEST_TMPDIR/kubeconfig"
	echo "$BATS_TEST_TMPDIR/kubeconfig"
}

@test "(hardening) TLS to the API server: a wrong CA is refused before any request; skip-verify only when configured" {
	local ca=$BATS_TEST_TMPDIR/other-ca kc requests pid
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ca.key" -out "$ca.crt" -days 1 \
		-subj /CN=not-the-cluster-ca 2>/dev/null
	grep -q 'certificate-authority' "$SL_CLUSTER_SCRATCH/kubeconfig"
	kc=$(kubeconfig_with "s#certificate-authority: .*#certificate-authority: $ca.crt#")
	agent_stop >/dev/null
	sleep 1 # the stopped agent's watches are logged as they end
	requests=$(wc -l <"$SL_API_LOG")
	# the agent cannot verify the server: it says so and syncs nothing
	: >"$SL_AGENT_LOG"
	(SL_AGENT_KUBECONFIG=$kc agent_start >/dev/null 2>&1) 3>&- &
	pid=$!
	wait_for 15 grep -qiE 'SSL certificate problem|certificate verify failed|unable to get local issuer' "$SL_AGENT_LOG"
	grep -iE 'certificate|SSL|TLS' "$SL_AGENT_LOG" | tail -n 3
	run agent_synced
	[ "$status" -ne 0 ]
	agent_stop >/dev/null
	wait "$pid" || true
	# no request reached the server: the bearer token was never sent
	[ "$(wc -l <"$SL_API_LOG")" -eq "$requests" ]
	# the same wrong CA with insecure-skip-tls-verify: true (configured
	# otherwise) connects
	kc=$(kubeconfig_with "s#certificate-authority: .*#insecure-skip-tls-verify: true#")
	SL_AGENT_KUBECONFIG=$kc agent_start
	wait_for 15 agent_synced
	agent_stop >/dev/null
	agent_start
}

# manifest_caps: the capabilities the DaemonSet adds to the agent container
# (lower case), and that it drops ALL first.
manifest_caps() {
	python3 - "$MANIFEST" <<-'EOF'
		import sys, yaml
		for d in yaml.safe_load_all(open(sys.argv[1])):
		    if d and d.get("kind") == "DaemonSet":
		        for c in d["spec"]["template"]["spec"]["containers"]:
		            if c["name"] == "agent":
		                caps = c["securityContext"]["capabilities"]
		                assert caps.get("drop") == ["ALL"], caps
		                print(" ".join(sorted(x.lower() for x in caps["add"])))
	EOF
}

# agent_with_caps CAP...: the agent restarted with exactly these capabilities.
agent_with_caps() {
	local set=-all c
	for c in "$@"; do set+=",+$c"; done
	agent_stop >/dev/null
	SL_AGENT_WRAP="setpriv --bounding-set $set --inh-caps=-all --" agent_start
}

@test "(hardening) the agent runs with exactly the manifest's capabilities, and needs each of them" {
	local caps c others
	caps=$(manifest_caps)
	echo "manifest: $caps"
	[ "$caps" = "bpf net_admin perfmon" ]
	# with exactly these: it loads, pins, syncs, and a pod gets wired
	# shellcheck disable=SC2086
	agent_with_caps $caps
	wait_for 15 agent_synced
	cluster_pod_add 1 capz >/dev/null
	ns_ping "$(pod_ns capz)" "$(node_ip 1)"
	pod_del capz
	# without any one of them it cannot start
	for c in $caps; do
		others=$(tr ' ' '\n' <<<"$caps" | grep -vx "$c" | tr '\n' ' ')
		# shellcheck disable=SC2086
		run agent_with_caps $others
		echo "without $c: status $status"
		[ "$status" -ne 0 ]
	done
	agent_stop >/dev/null
	agent_start
}
