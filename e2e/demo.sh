#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo: one emulated node running sluice-agent and three pods wired by the
# sluice CNI plugin; shows pod-to-pod ping and HTTP, then waits for Ctrl-C or
# `make demo-down`. Usage: demo.sh up|down
set -u

# shellcheck source=e2e/lib/node.bash
. "$(dirname "$0")/lib/node.bash"

DEMO_DIR=${SL_DEMO_DIR:-$SL_BUILD/demo}
STATE=$DEMO_DIR/state

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }

demo_pid_alive() {
	local pid
	pid=$(sed -n 's/^DEMO_PID=//p' "$STATE" 2>/dev/null)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

demo_teardown() {
	echo
	echo "demo: tearing down"
	node_teardown
	rm -f "$STATE"
}

demo_up() {
	local i veth
	if [ -e "$STATE" ]; then
		if demo_pid_alive; then
			echo "demo: already running (pid $(sed -n 's/^DEMO_PID=//p' "$STATE")); stop it with 'make demo-down'" >&2
			exit 1
		fi
		echo "demo: removing what a previous demo left behind"
		demo_down
	fi
	mkdir -p "$DEMO_DIR"
	trap demo_teardown EXIT
	trap 'exit 130' INT TERM HUP
	node_vars "$(sl_rand_hex)" "$DEMO_DIR/node"
	node_state_save "$STATE"
	echo "DEMO_PID=$$" >>"$STATE"

	bold "1. Node $SL_NODE (${SL_NODE_IP} on a bridge in $SL_FABRIC), agent with pins in $SL_PIN"
	node_setup "$SL_RND" "$SL_SCRATCH" || exit 1
	agent_start || exit 1
	"$SL_BUILD/sluice-agent" status --pin-dir "$SL_PIN" | head -n 20

	bold "2. Three pods, each wired by CNI ADD"
	for i in 1 2 3; do
		pod_add "$i" >/dev/null || exit 1
		printf '   pod %s  netns %-16s  ip %-12s  host veth %s\n' "$i" "$(pod_ns "$i")" "$(pod_ip "$i")" "$(pod_host_veth "$i")"
	done
	ns_serve "$(pod_ns 1)" || exit 1

	bold "3. Pod 2 pings pod 1 (the datapath redirects veth to veth)"
	pod_exec 2 ping -c 3 -W 2 "$(pod_ip 1)"

	bold "4. Pod 2 fetches http://$(pod_ip 1):$SL_HTTP_PORT/ from busybox httpd in pod 1"
	http_get "$(pod_ns 2)" "http://$(pod_ip 1):$SL_HTTP_PORT/index.html"
	printf '   pod 1 saw the request come from: '
	http_get "$(pod_ns 2)" "http://$(pod_ip 1):$SL_HTTP_PORT/cgi-bin/ip"

	veth=$(pod_host_veth 1)
	bold "5. Things to look at (in another terminal)"
	cat <<-EOF
		   agent status:     $SL_BUILD/sluice-agent status --pin-dir $SL_PIN
		   tc program:       nsenter --net=/run/netns/$SL_NODE tc filter show dev $veth ingress
		   pinned objects:   ls $SL_PIN; bpftool map dump pinned $SL_PIN/sl_ep4
		   CNI conflist:     cat $SL_CONFLIST
		   a shell in pod 3: nsenter --net=/run/netns/$(pod_ns 3) sh
		   agent log:        tail -f $SL_AGENT_LOG
		   CNI log:          tail -f $SL_CNI_LOG
	EOF
	bold "Running. Ctrl-C or 'make demo-down' stops the demo and removes everything."
	while [ -e "$STATE" ]; do
		sleep 1 &
		wait $! 2>/dev/null
	done
}

demo_down() {
	local i
	if [ ! -e "$STATE" ]; then
		echo "demo: not running"
		return 0
	fi
	if demo_pid_alive; then
		kill -TERM "$(sed -n 's/^DEMO_PID=//p' "$STATE")"
		for ((i = 0; i < 200; i++)); do
			[ -e "$STATE" ] || { echo "demo: stopped"; return 0; }
			sleep 0.1
		done
		echo "demo: the demo process did not stop within 20 s; tearing down here" >&2
	fi
	node_state_load "$STATE"
	node_teardown
	rm -f "$STATE"
	echo "demo: stopped"
}

case ${1:-} in
up) demo_up ;;
down) demo_down ;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
