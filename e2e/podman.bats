#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A real container runtime on an emulated node: podman (CNI backend) finds the
# agent's conflist, calls the sluice plugin, and its containers talk to pods.

load lib/node
load lib/podman

setup_file() {
	node_setup "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/n" || return 1
	agent_start || return 1
	pod_add 1 >/dev/null || return 1
	ns_serve "$(pod_ns 1)" || return 1
	# A missing runtime piece is a missing dependency (make deps), not a skip.
	local problem
	problem=$(podman_env_problem)
	[ -z "$problem" ] || { echo "$problem" >&2; return 1; }
	podman_setup || return 1
	# Only pod 1 is attached so far.
	export BASE
	BASE=$(node_snapshot)
}

teardown_file() {
	podman_vars
	podman_teardown
	node_teardown
}

teardown() { [ -n "${BATS_TEST_COMPLETED:-}" ] || node_diag; }

@test "(podman) a container on the sluice network gets a /32 from the pod CIDR" {
	run podman_run localhost/busybox ip -o -4 addr show dev eth0
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ inet\ 10\.244\.0\.[0-9]+/32 ]]
	run podman_run localhost/busybox ip -4 route show default
	[ "$status" -eq 0 ]
	[[ $output == "default via 169.254.1.1 dev eth0"* ]]
}

@test "(podman) a container reaches a pod over HTTP with its own IP, and by ping" {
	run podman_run localhost/busybox sh -c \
		"ip -o -4 addr show dev eth0 | sed 's|.*inet \([0-9.]*\)/.*|\1|'; timeout 5 wget -q -O - http://$(pod_ip 1):$SL_HTTP_PORT/cgi-bin/ip"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} == 10.244.0.* ]]
	[ "${lines[1]}" = "${lines[0]}" ]
	run podman_run --cap-add NET_RAW localhost/busybox ping -c 1 -W 2 "$(pod_ip 1)"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "(podman) a pod reaches a server in a container, and removing it detaches it" {
	local name=web-$SL_RND ip
	run sl_podman run -d --name "$name" --network sluice --cgroup-parent "/$SL_PODMAN_CGROUP" \
		localhost/busybox httpd -f -p "$SL_HTTP_PORT" -h /www
	echo "$output"
	[ "$status" -eq 0 ]
	ip=$(sl_podman inspect -f '{{.NetworkSettings.Networks.sluice.IPAddress}}' "$name")
	[[ $ip == 10.244.0.* ]]
	ep_has "$ip"
	wait_for 5 http_get "$(pod_ns 1)" "http://$ip:$SL_HTTP_PORT/index.html"
	run http_get "$(pod_ns 1)" "http://$ip:$SL_HTTP_PORT/index.html"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from podman" ]
	run sl_podman rm -f -t 0 "$name"
	[ "$status" -eq 0 ]
	run ep_has "$ip"
	[ "$status" -ne 0 ]
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(podman) containers run with --rm leave no attachment behind" {
	run podman_run localhost/busybox true
	[ "$status" -eq 0 ]
	[ "$(node_snapshot)" = "$BASE" ]
	[ -z "$(sl_podman ps -aq)" ]
}

# sl_hport4's entry count (the datapath's hostPorts on this node).
hport_count() { bpftool -j map dump pinned "$SL_PIN/sl_hport4" | jq length; }

# This node's agent runs without an API server, so it attaches no uplink
# program: clients off the node are e2e/hostport.bats's (a cluster).
@test "(podman) -p publishes a container's port through the datapath, and removing it unpublishes" {
	local name=pub-$SL_RND url="http://$SL_NODE_IP:18090/index.html"
	run sl_podman run -d --name "$name" --network sluice -p "18090:$SL_HTTP_PORT" \
		--cgroup-parent "/$SL_PODMAN_CGROUP" localhost/busybox httpd -f -p "$SL_HTTP_PORT" -h /www
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(hport_count)" -eq 1 ]
	wait_for 5 http_get "$(pod_ns 1)" "$url"
	[ "$(http_get "$(pod_ns 1)" "$url")" = "hello from podman" ] # from a pod
	[ "$(host_exec timeout 5 "$SL_BUSYBOX" wget -q -O - "http://127.0.0.1:18090/index.html")" = "hello from podman" ]
	run sl_podman rm -f -t 0 "$name"
	[ "$status" -eq 0 ]
	[ "$(hport_count)" -eq 0 ]
	run http_get "$(pod_ns 1)" "$url"
	[ "$status" -ne 0 ]
	[ "$(node_snapshot)" = "$BASE" ]
}
