#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The fault the stand-in cannot play (make faults-full): the real
# kube-apiserver (e2e/lib/k8s.bash) speaks HTTP/2, and every watch of the
# agent rides one connection. The agent, started as the DaemonSet starts it,
# reaches the server through a TCP relay (e2e/lib/reset_proxy.py); the relay
# resets that one connection (RST both ways) while a client sends requests
# to a Service: the agent reconnects, relists or resumes, and a Service made
# after the reset is published; no request fails, nothing leaks.

load ../lib/faults
load ../lib/k8s

MANIFEST=$BATS_TEST_DIRNAME/../../manifests/sluice.yaml
PROXY_PORT=16443

setup_file() {
	local rc=0
	k8s_tools >/dev/null || rc=$?
	if [ "$rc" = 3 ]; then
		export SKIP_REASON="the pinned Kubernetes tools are not built: run 'make k8s-tools'"
		return 0
	fi
	[ "$rc" = 0 ] || return 1
	export SL_FAULT_DIR=$BATS_FILE_TMPDIR
	node_setup "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/n" || return 1
	node_state_save "$BATS_FILE_TMPDIR/node.state"
	k8s_start "$SL_FABRIC" "$SL_SCRATCH" || return 1
	k8s_node_create "$SL_NODE" "$SL_NODE_IP" >/dev/null || return 1
	# The agent's API address is the relay's.
	# (and its log at debug level, to see each watch end and resume)
	sed -e "s/api-server.invalid/$SL_K8S_IP/" -e "s/\"6443\"/\"$PROXY_PORT\"/" \
		-e 's/"logLevel": "info"/"logLevel": "debug"/' "$MANIFEST" >"$BATS_FILE_TMPDIR/sluice.yaml"
	kc apply -f "$BATS_FILE_TMPDIR/sluice.yaml" >/dev/null || return 1
	nsenter --net="/run/netns/$SL_K8S_NS" python3 "$SL_REPO/e2e/lib/reset_proxy.py" \
		"$SL_K8S_IP:$PROXY_PORT" "$SL_K8S_IP:$SL_K8S_PORT" "$BATS_FILE_TMPDIR/proxy.json" \
		</dev/null >"$BATS_FILE_TMPDIR/proxy.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/proxy.pid"
	wait_for 10 test -s "$BATS_FILE_TMPDIR/proxy.json" || return 1
	k8s_agent_start || return 1
}

teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/node.state" ] || return 0
	kill -TERM "$(cat "$BATS_FILE_TMPDIR/proxy.pid" 2>/dev/null)" 2>/dev/null
	node_state_load "$BATS_FILE_TMPDIR/node.state" || return 0
	k8s_stop "$SL_SCRATCH"
	node_teardown
}

setup() {
	[ -z "${SKIP_REASON:-}" ] || skip "$SKIP_REASON"
	node_state_load "$BATS_FILE_TMPDIR/node.state"
	k8s_load "$SL_SCRATCH"
	export SL_FAULT_DIR=$BATS_FILE_TMPDIR
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || [ -n "${SKIP_REASON:-}" ] && return 0
	tail -n 40 "$SL_AGENT_LOG" "$SL_SCRATCH/agent.out" 2>/dev/null | sed 's/^/# /' >&3
}

proxy() { jq -r ".$1" "$BATS_FILE_TMPDIR/proxy.json"; }
proxy_reset() { [ "$(proxy reset)" -ge 1 ]; }
proxy_open_is() { [ "$(proxy open)" -eq "$1" ]; }
all_synced() { agent_status 2>/dev/null | jq -e '(.resources | length) == 6 and all(.resources[]; .synced)' >/dev/null; }

# web_service NAME IP: a Service and its EndpointSlice through the real server; prints the ClusterIP.
web_service() {
	kc create -f - >/dev/null <<-EOF || return 1
		{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "$1", "namespace": "default"},
		 "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"}]}}
	EOF
	kc create -f - >/dev/null <<-EOF || return 1
		{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
		 "metadata": {"name": "$1-1", "namespace": "default",
		  "labels": {"kubernetes.io/service-name": "$1", "endpointslice.kubernetes.io/managed-by": "e2e"}},
		 "addressType": "IPv4",
		 "endpoints": [{"addresses": ["$2"], "conditions": {"ready": true}, "nodeName": "$SL_NODE"}],
		 "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}]}
	EOF
	kc get service "$1" -o jsonpath='{.spec.clusterIP}'
}

vip_in_map() {
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1
	bpftool -j map dump pinned "$SL_PIN/sl_svc4" | jq -e --arg v "$(printf '0x%02x 0x%02x 0x%02x 0x%02x' "$@")" \
		'any(.[]; (.key[0:4] | join(" ")) == $v)' >/dev/null
}

vip_gone() { ! vip_in_map "$1"; }

# reset_once N: the relay resets every connection; then Service webN is
# made (N odd) or web(N-1) deleted (N even) through the real server, and the
# agent must follow. Sets RESET to "OPEN SECS": connections reset, seconds to
# converge (not printed: VIPS must outlive the call).
reset_once() {
	local n=$1 open t
	open=$(proxy open)
	kill -USR1 "$(cat "$BATS_FILE_TMPDIR/proxy.pid")"
	conv_start
	if ((n % 2)); then
		VIPS[n]=$(web_service "web$n" "$(pod_ip web)")
		wait_for 60 vip_in_map "${VIPS[n]}" || return 1
	else
		kc delete service "web$((n - 1))" >/dev/null && kc delete endpointslice "web$((n - 1))-1" >/dev/null
		wait_for 60 vip_gone "${VIPS[n - 1]}" || return 1
	fi
	wait_for 30 all_synced || return 1
	t=$(conv_secs)
	sleep 3 # the watches settle on their connection(s)
	RESET="$open $t"
}

@test "(faults-real) the one HTTP/2 connection all watches share is reset: no request fails, every change after it is published" {
	local vip out n r opens="" worst=0 single=0 base
	VIPS=()
	wait_for 20 all_synced
	pod_add web >/dev/null
	pod_add cl >/dev/null
	tcp_serve web 9090
	vip=$(web_service web "$(pod_ip web)")
	wait_for 20 vip_in_map "$vip"
	sleep 3
	base=$(leak_snapshot)
	traffic_start t "$(pod_ns cl)" "$vip"
	sleep 2
	# Resets until one hit a single connection carrying all six watches (the
	# agent opens one per watch at start, and after a reconnect multiplexes
	# them on one when they reconnect together), at most 6, an even count.
	for ((n = 1; n <= 6; n++)); do
		reset_once "$n"
		r=$RESET
		echo "reset $n: ${r% *} connection(s) open before, converged in ${r#* } s" >&3
		opens+="${opens:+, }${r% *}"
		[ "${r% *}" = 1 ] && single=1
		worst=$(awk -v a="$worst" -v b="${r#* }" 'BEGIN { print (b > a) ? b : a }')
		((n % 2 == 0 && single)) && break
	done
	out=$(traffic_stop t)
	echo "relay: $(proxy accepted) connections accepted, $(proxy reset) reset" >&3
	fault_row "API connection reset (real kube-apiserver, HTTP/2; $n resets, connections open at each: $opens)" \
		"$(traffic_summary "$out")" "$(jq .fail <<<"$out")" "$worst (slowest)" \
		"$([ "$(leak_snapshot)" = "$base" ] && echo none || echo "$(leak_snapshot) vs $base")"
	fault_table | tail -n 1 >&3
	# the row joins faults.bats' table when both run (make faults-full)
	[ ! -f "$SL_BUILD/faults-table.md" ] || fault_table | tail -n 1 >>"$SL_BUILD/faults-table.md"
	[ "$single" = 1 ]
	[ "$(jq .fail <<<"$out")" -eq 0 ]
	[ "$(leak_snapshot)" = "$base" ]
}
