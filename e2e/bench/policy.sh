#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench-policy: how long a NetworkPolicy change takes to apply to new
# connections. A client pod on node 1 opens a new TCP connection to a server
# pod on node 2 every 5 ms (e2e/bench/policy_probe.py); N API writes
# alternately create a policy isolating the server (no allow) and delete it.
# For each write, the latency is from the moment the write is sent to the
# API to the SYN of the first connection that reflects it (refused by a drop
# after a create, accepted after a delete); its p99 over the N writes is
# judged against 1 s. Writes OUTDIR/policy.json.
#
# Usage: policy.sh OUTDIR      Env: N (writes, default 40)
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=e2e/lib/cluster.bash
. "$HERE/../lib/cluster.bash"

N=${N:-40}
NS=bench
TARGET_MS=1000
WAIT_S=5 # longest wait for one write to show before it counts as not applied

bench_die() {
	echo "bench-policy: $*" >&2
	exit 1
}

say() { printf 'bench-policy: %s\n' "$*" >&2; }

# pod_object I ID ROLE: the Pod as the scheduler and kubelet would have written it.
pod_object() {
	jq -cn --arg ns "$NS" --arg name "$3" --arg node "$(node_name "$1")" --arg hip "$(node_ip "$1")" \
		--arg ip "$(cluster_pod_ip "$1" "$2")" '{apiVersion: "v1", kind: "Pod",
		metadata: {name: $name, namespace: $ns, labels: {role: $name}},
		spec: {nodeName: $node, containers: [{name: "c", image: "x"}]},
		status: {phase: "Running", hostIP: $hip, podIP: $ip, podIPs: [{ip: $ip}],
			conditions: [{type: "Ready", status: "True"}]}}'
}

DENY='{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"bench"},"spec":{"podSelector":{"matchLabels":{"role":"server"}},"policyTypes":["Ingress"]}}'
NP_PATH=/apis/networking.k8s.io/v1/namespaces/$NS/networkpolicies

# write_policy I: write I (1-based): odd ones create the deny, even ones delete it.
write_policy() {
	if (($1 % 2)); then
		apiserver_curl POST "$NP_PATH" "$DENY" >/dev/null
	else
		apiserver_curl DELETE "$NP_PATH/deny" >/dev/null
	fi
}

# shows SINCE_NS WANT: a connection started after SINCE_NS ended WANT (ok|timeout).
shows() { awk -v t="$1" -v w="$2" '$1 >= t && $2 == w { f = 1; exit } END { exit !f }' "$PROBE_LOG"; }

bench_main() {
	local outdir=$1 i t0 srv_ip pid cli_ns srv_ns
	mkdir -p "$outdir" || exit 1
	outdir=$(cd "$outdir" && pwd)
	trap 'cluster_down' EXIT
	trap 'exit 130' INT TERM HUP
	cluster_up 2 "$(mktemp -d /tmp/sl-bench-policy.XXXXXX)" || bench_die "the cluster did not come up"
	on_node 1 pod_add c >/dev/null || bench_die "client pod not added"
	on_node 2 pod_add s >/dev/null || bench_die "server pod not added"
	srv_ip=$(cluster_pod_ip 2 s)
	cli_ns=$(cluster_pod_ns 1 c)
	srv_ns=$(cluster_pod_ns 2 s)
	kube create namespace "$NS" >/dev/null || bench_die "namespace not created"
	{ pod_object 1 c client && pod_object 2 s server; } | jq -cs '{apiVersion: "v1", kind: "List", items: .}' |
		kube apply -f - >/dev/null || bench_die "Pod objects not created"
	nsenter --net="/run/netns/$srv_ns" python3 -c '
import socket
s = socket.create_server(("0.0.0.0", 8080), backlog=4096)
while True:
    s.accept()[0].close()' </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$SL_CLUSTER_SCRATCH/n2/pids/policy-server"
	PROBE_LOG=$SL_CLUSTER_SCRATCH/probe.log
	nsenter --net="/run/netns/$cli_ns" python3 "$HERE/policy_probe.py" "$srv_ip" 8080 5 200 \
		</dev/null >"$PROBE_LOG" 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$SL_CLUSTER_SCRATCH/n1/pids/policy-probe"
	t0=$(date +%s%N)
	wait_for 10 shows "$t0" ok || bench_die "the client does not reach the server: $(tail -n 3 "$PROBE_LOG")"
	: >"$SL_CLUSTER_SCRATCH/writes"
	for ((i = 1; i <= N; i++)); do
		t0=$(date +%s%N)
		write_policy "$i" || bench_die "write $i refused by the API"
		echo "$t0 $((i % 2 ? 1 : 0))" >>"$SL_CLUSTER_SCRATCH/writes"
		wait_for "$WAIT_S" shows "$t0" "$( ((i % 2)) && echo timeout || echo ok)" ||
			say "write $i did not show within ${WAIT_S} s"
		sleep 0.3 # a few more connections under the new state, to catch a flap
	done
	sleep 0.3
	kill "$pid" 2>/dev/null
	python3 - "$SL_CLUSTER_SCRATCH/writes" "$PROBE_LOG" "$TARGET_MS" "$WAIT_S" >"$outdir/policy.json" <<-'EOF' || bench_die "no result"
		import json, sys
		writes = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
		probes = [(int(a), b) for a, b in (l.split() for l in open(sys.argv[2]) if len(l.split()) == 2)]
		probes.sort()
		target, wait_s = int(sys.argv[3]), int(sys.argv[4])
		lat, flaps, missing = [], 0, 0
		for i, (t0, deny) in enumerate(writes):
		    end = writes[i + 1][0] if i + 1 < len(writes) else float("inf")
		    want = "timeout" if deny else "ok"
		    after = [p for p in probes if t0 <= p[0] < end]
		    first = next((p for p in after if p[1] == want), None)
		    if first is None:
		        missing += 1
		        lat.append(wait_s * 1000.0)
		        continue
		    lat.append((first[0] - t0) / 1e6)
		    flaps += sum(1 for p in after if p[0] > first[0] and p[1] != want)
		s = sorted(lat)
		pct = lambda q: s[min(len(s) - 1, int(q * len(s)))]
		p99 = pct(0.99)
		print(json.dumps({"unit": "ms", "writes": len(lat), "p50": round(pct(0.5), 1),
		                  "p99": round(p99, 1), "max": round(s[-1], 1), "not_applied": missing,
		                  "flaps": flaps, "target_p99_ms": target, "met": p99 <= target and not missing,
		                  "latencies": [round(x, 1) for x in lat],
		                  "what": "API write sent -> SYN of the first new connection that reflects it "
		                          "(server on another node, a connection every 5 ms)"}))
	EOF
	jq -r '"policy change -> new connections: p50 \(.p50) ms, p99 \(.p99) ms, max \(.max) ms over \(.writes) writes (target p99 <= \(.target_p99_ms) ms: \(if .met then "met" else "MISSED" end)); not applied \(.not_applied), flaps \(.flaps)"' \
		"$outdir/policy.json"
}

case ${1:-} in
"")
	echo "usage: $0 OUTDIR" >&2
	exit 2
	;;
*) bench_main "$1" ;;
esac
