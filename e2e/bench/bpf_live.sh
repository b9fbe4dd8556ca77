#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench-bpf-live: ns per established packet of sl_from_pod on real
# traffic. One node, a client and a server pod, a Service in front of the
# server; a TCP connection through the ClusterIP (and one straight to the pod
# IP) exchanges N small request/response pairs, so nearly every packet both
# ways is a conntrack hit (3 of the 2N+ are the handshake). The kernel's
# run-time statistics (BPF_ENABLE_STATS, held only while the traffic runs)
# give run_time_ns/run_cnt of the program; a no-op program in front of it on
# the same hooks gives the clock reads both pay, subtracted
# (bpf/tests/bench_live.c). Rounds: no NetworkPolicy; policies that select
# only another pod (0 allows); the server isolated for ingress with 100 and
# 10,000 allows (one admits the client on 8080, the others a port range);
# and no NetworkPolicy again, to show drift over the run.
# Writes OUTDIR/bpf_live.json.
#
# Usage: bpf_live.sh OUTDIR      Env: N (round trips per run, default 20000)
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=e2e/lib/services.bash
. "$HERE/../lib/services.bash"

N=${N:-20000}
TARGET_NS=150

bench_die() {
	echo "bench-bpf-live: $*" >&2
	exit 1
}

PINGPONG='
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for _ in range(int(sys.argv[3])):
    s.sendall(b"x" * 64)
    got = 0
    while got < 64:
        b = s.recv(64 - got)
        if not b:
            sys.exit("closed")
        got += len(b)
s.close()'

ECHO='
import socket, threading
def echo(c):
    while True:
        b = c.recv(4096)
        if not b:
            break
        c.sendall(b)
    c.close()
s = socket.create_server(("0.0.0.0", 8080), backlog=64)
while True:
    threading.Thread(target=echo, args=(s.accept()[0],), daemon=True).start()'

pod_object() { # NAME IP ROLE
	jq -cn --arg name "$1" --arg ip "$2" --arg role "$3" --arg node "$(node_name 1)" --arg hip "$(node_ip 1)" '{
		apiVersion: "v1", kind: "Pod",
		metadata: {name: $name, namespace: "default", labels: {role: $role, app: $name}},
		spec: {nodeName: $node, containers: [{name: "c", image: "x",
			ports: [{containerPort: 8080, protocol: "TCP"}]}]},
		status: {phase: "Running", hostIP: $hip, podIP: $ip, podIPs: [{ip: $ip}],
			conditions: [{type: "Ready", status: "True"}]}}'
}

# policy ALLOWS: 0 selects role=other only; else the server admits the
# client on 8080 and on ALLOWS-1 ports of a range (one allow entry each).
policy() {
	jq -cn --argjson n "$1" '{apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy",
		metadata: {name: "bench", namespace: "default"},
		spec: {podSelector: {matchLabels: {role: (if $n == 0 then "other" else "server" end)}},
			policyTypes: ["Ingress"],
			ingress: [{from: [{podSelector: {matchLabels: {role: "client"}}}],
				ports: ([{port: 8080, protocol: "TCP"}] + (if $n > 1 then
					[{port: 20000, endPort: (20000 + $n - 2), protocol: "TCP"}] else [] end))}]}}'
}

policy_in_force() { # ALLOWS ISOLATED ACTIVE
	on_node 1 agent_status | jq -e --argjson n "$1" --argjson i "$2" --argjson a "$3" \
		'.policy.allowEntries == $n and .policy.isolatedIngress == $i and .policy.active == $a' >/dev/null
}

# measure WHAT DST PORT: one JSON line, the run's statistics.
measure() {
	local out
	nsenter --net="/run/netns/$CLI_NS" python3 -c "$PINGPONG" "$2" "$3" 200 ||
		bench_die "$1: the client does not reach $2:$3"
	out=$(nsenter --net="/run/netns/$NODE_NS" "$SL_BUILD/bench/bpf_bench_live" -- \
		nsenter --net="/run/netns/$CLI_NS" python3 -c "$PINGPONG" "$2" "$3" "$N") ||
		bench_die "$1: no measurement"
	jq -c --arg w "$1" '. + {path: $w}' <<<"$out"
}

round() { # NAME ALLOWS|none
	local isolated=0 allows=0 active=false
	if [ "$2" = none ]; then
		kube delete networkpolicy bench --ignore-not-found >/dev/null
	else
		policy "$2" | kube apply -f - >/dev/null || bench_die "policy not written"
		allows=$2 active=true
		(($2 > 0)) && isolated=1
	fi
	wait_for 60 policy_in_force "$allows" "$isolated" "$active" || bench_die "$1: the policy is not in force"
	measure service "$SVC_IP" 80 | jq -c --arg r "$1" '. + {round: $r}'
	measure pod "$SRV_IP" 8080 | jq -c --arg r "$1" '. + {round: $r}'
}

bench_main() {
	local outdir=$1 cli_ip
	mkdir -p "$outdir" || exit 1
	outdir=$(cd "$outdir" && pwd)
	[ -x "$SL_BUILD/bench/bpf_bench_live" ] || bench_die "build $SL_BUILD/bench/bpf_bench_live first"
	trap 'cluster_down' EXIT
	trap 'exit 130' INT TERM HUP
	cluster_up 1 "$(mktemp -d /tmp/sl-bench-live.XXXXXX)" || bench_die "the cluster did not come up"
	cli_ip=$(on_node 1 pod_add c) || bench_die "client pod not added"
	SRV_IP=$(on_node 1 pod_add s) || bench_die "server pod not added"
	CLI_NS=$(cluster_pod_ns 1 c)
	NODE_NS=$(on_node 1 node_ns)
	{ pod_object client "$cli_ip" client && pod_object srv "$SRV_IP" server; } |
		jq -cs '{apiVersion: "v1", kind: "List", items: .}' | kube apply -f - >/dev/null ||
		bench_die "Pod objects not created"
	SVC_IP=$(svc_apply srv '[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]') ||
		bench_die "Service not created"
	eps_apply srv '[{"name":"http","port":8080,"protocol":"TCP"}]' "$(ep "$SRV_IP" 1)" ||
		bench_die "EndpointSlice not created"
	nsenter --net="/run/netns/$(cluster_pod_ns 1 s)" python3 -c "$ECHO" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$SL_CLUSTER_SCRATCH/n1/pids/live-server"
	wait_for 10 nsenter --net="/run/netns/$CLI_NS" python3 -c "$PINGPONG" "$SRV_IP" 8080 1 ||
		bench_die "the server does not answer"
	{
		round none none
		round 0 0
		round 100 100
		round 10000 10000
		round none-again none # drift over the run shows against the first
	} >"$SL_CLUSTER_SCRATCH/live.jsonl"
	jq -s --argjson n "$N" --argjson t "$TARGET_NS" '{unit: "ns/packet", round_trips: $n,
		target_established_ns: $t,
		what: "sl_from_pod run_time_ns/run_cnt on real traffic (BPF_ENABLE_STATS) minus a no-op program on the same hooks",
		results: [.[] | (.progs[] | select(.name == "sl_from_pod")) as $p |
			{round, path, runs: $p.runs, ns: $p.ns, clock_ns: .noop_ns, net_ns: $p.net_ns}]}' "$SL_CLUSTER_SCRATCH/live.jsonl" >"$outdir/bpf_live.json" ||
		bench_die "no result"
	jq -r '"sl_from_pod on an established TCP stream, ns/packet net of the clock (no-op: \(.results[0].clock_ns) ns)",
		(.results[] | "  policy \(.round | tostring | (. + "           ")[:11]) via \(.path | (. + "   ")[:7]): \(.net_ns) ns over \(.runs) packets")' \
		"$outdir/bpf_live.json"
}

case ${1:-} in
"")
	echo "usage: $0 OUTDIR" >&2
	exit 2
	;;
*) bench_main "$1" ;;
esac
