# SPDX-License-Identifier: Apache-2.0
# The fault matrix's helpers (e2e/faults.bats, make faults-full): traffic that
# counts its failed requests, leak checks against a baseline, the API stand-in
# restarted without its history, API writes at a pace, one table row per case.

# shellcheck shell=bash

SL_REPO=${SL_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=e2e/lib/services.bash
declare -F svc_apply >/dev/null || . "$SL_REPO/e2e/lib/services.bash"

# How long an API fault lasts ("a minute" in the issue; short in make test).
FAULT_SECS=${FAULT_SECS:-10}

# --- traffic -----------------------------------------------------------------------------

# traffic_start NAME NS VIP [PORT] [RATE]: new TCP connections from NS to
# VIP:PORT at RATE/s (100), each a full HTTP request, until traffic_stop;
# every failure is counted.
traffic_start() {
	local name=$1 ns=$2 vip=$3 port=${4:-80} rate=${5:-100} out
	out=$SL_FAULT_DIR/traffic.$name
	rm -f "$out.json"
	(exec nsenter --net="/run/netns/$ns" python3 -c '
import json, signal, socket, sys, time
vip, port, rate, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
ok = fail = 0; errs = {}; t0 = time.monotonic(); i = 0
while not stop:
    d = t0 + i / rate - time.monotonic(); i += 1
    if d > 0: time.sleep(d)
    try:
        s = socket.create_connection((vip, port), timeout=2)
        s.settimeout(2); s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b: break
            data += b
        s.close()
        if data.startswith(b"HTTP/1.0 200 "): ok += 1
        else: fail += 1; errs["bad answer"] = errs.get("bad answer", 0) + 1
    except Exception as e:
        fail += 1; k = type(e).__name__; errs[k] = errs.get(k, 0) + 1
el = time.monotonic() - t0
json.dump({"ok": ok, "fail": fail, "secs": round(el, 1), "rate": round((ok + fail) / el),
           "errors": errs}, open(out + ".tmp", "w"))
import os; os.rename(out + ".tmp", out + ".json")
' "$vip" "$port" "$rate" "$out") </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$out.pid"
}

# traffic_stop NAME: ends it; prints its counts as JSON.
traffic_stop() {
	local out=$SL_FAULT_DIR/traffic.$1
	kill -TERM "$(cat "$out.pid")" 2>/dev/null
	wait_for 10 test -s "$out.json" || { echo '{"ok":0,"fail":-1}'; return 1; }
	cat "$out.json"
}

# traffic_summary JSON: "N req/s, M requests" for the table.
traffic_summary() { jq -r '"\(.rate) req/s, \(.ok + .fail) requests"' <<<"$1"; }

# --- convergence and leaks ----------------------------------------------------------------

# conv_start; ...; conv_secs: seconds since conv_start, one decimal.
conv_start() { SL_CONV_T0=$(now_ms); }
conv_secs() { awk -v a="$SL_CONV_T0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# map_count NAME: entries of the current node's pinned map NAME.
map_count() { bpftool -j map dump pinned "$SL_PIN/$1" 2>/dev/null | jq length; }

# leak_snapshot: what the current node holds that a fault could leak: host
# veths, pod routes, leases, state files, our node routes, endpoint entries and
# anti-spoofing slots, service, backend and hostPort entries.
leak_snapshot() {
	printf 'veths=%s routes=%s leases=%s states=%s noderoutes=%s ep=%s slots=%s svc=%s be=%s hport=%s\n' \
		"$(host_veth_count)" "$(pod_route_count)" "$(lease_count)" "$(state_file_count)" \
		"$(node_routes | grep -c .)" "$(map_count sl_ep4)" "$(slot_count)" "$(map_count sl_svc4)" \
		"$(map_count sl_be4)" "$(map_count sl_hport4)"
}

# leaks_baseline: every node's snapshot, the reference of leaks_check.
leaks_baseline() {
	local i
	for ((i = 1; i <= SL_CLUSTER_N; i++)); do
		on_node "$i" leak_snapshot >"$SL_FAULT_DIR/base.$i"
	done
}

# leaks_diff: "none", or per node the counts that differ from the baseline.
leaks_diff() {
	local i now out=""
	for ((i = 1; i <= SL_CLUSTER_N; i++)); do
		now=$(on_node "$i" leak_snapshot)
		[ "$now" = "$(cat "$SL_FAULT_DIR/base.$i")" ] && continue
		out+="n$i: $(diff <(tr ' ' '\n' <"$SL_FAULT_DIR/base.$i") <(tr ' ' '\n' <<<"$now") |
			sed -n 's/^> //p' | tr '\n' ' ')"
	done
	echo "${out:-none}"
}

leaks_clean() { [ "$(leaks_diff)" = none ]; }

# wait_secs SECS CMD...: CMD until it succeeds, for at most SECS seconds of
# the clock (wait_for counts tries, too many for a slow CMD on a busy machine).
wait_secs() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# leaks_after: eventually (the agents reconcile within 15 s) no leak; prints
# "none" or what is left.
leaks_after() {
	wait_secs 15 leaks_clean
	leaks_diff
}

# fault_row FAULT TRAFFIC FAILED CONVERGENCE LEAKS: one row of the matrix.
fault_row() {
	printf '| %s | %s | %s | %s | %s |\n' "$@" >>"$SL_FAULT_DIR/table"
	printf '# %s: traffic %s, failed %s, converged in %s s, leaks %s\n' "$@" >&3
}

# fault_table: the matrix as a Markdown table.
fault_table() {
	echo "| fault | traffic during it | failed requests | convergence (s) | leaks |"
	echo "|---|---|---|---|---|"
	cat "$SL_FAULT_DIR/table" 2>/dev/null
}

# --- the API --------------------------------------------------------------------------------

# api_churn ARGS...: e2e/lib/api_churn.py against the stand-in, from the fabric.
api_churn() {
	nsenter --net="/run/netns/$SL_API_NS" python3 "$SL_REPO/e2e/lib/api_churn.py" \
		"$SL_API_URL" "$SL_API_TOKEN_FILE" "$SL_API_CA" "$@"
}

# apiserver_restart_fresh: the stand-in stopped and started again with the
# same objects, token and certificate but none of its history: it starts 1000
# resourceVersions on, everything before compacted, so every watch and
# relist from an old resourceVersion gets 410 Gone.
apiserver_restart_fresh() {
	local f=$SL_API_DIR/preload.json rv r i
	for r in namespaces nodes services endpointslices pods networkpolicies; do
		kube get "$r" -A -o json | jq -c '.items[] | del(.metadata.resourceVersion, .metadata.uid,
			.metadata.creationTimestamp, .metadata.generation)' || return 1
	done | jq -s . >"$f" || return 1
	rv=$(apiserver_stats | jq -r .resourceVersion) || return 1
	apiserver_stop || true # not our child: its wait fails
	rm -f "$SL_API_DIR/stdout"
	nsenter --net="/run/netns/$SL_API_NS" /usr/bin/python3 "$SL_REPO/e2e/apiserver/server.py" \
		--listen "$SL_API_IP:$SL_API_PORT" --cert "$SL_API_DIR/server.crt" --key "$SL_API_DIR/server.key" \
		--token-file "$SL_API_TOKEN_FILE" --log "$SL_API_LOG" --no-bootstrap --preload "$f" \
		--start-rv $((rv + 1000)) >"$SL_API_DIR/stdout" 2>>"$SL_API_DIR/stderr" </dev/null 3>&- &
	echo $! >"$SL_API_DIR/pid"
	for ((i = 0; i < 100; i++)); do
		[ "$(head -n 1 "$SL_API_DIR/stdout" 2>/dev/null)" = ready ] && return 0
		sleep 0.1
	done
	api_die "the restarted stand-in did not become ready"
}

# --- the CNI plugin ---------------------------------------------------------------------------

# cni_add_killed ID STEP: CNI ADD of pod ID (its namespace made) with the
# test hook SLUICE_TEST_KILL_AT=STEP; prints the plugin's exit status.
cni_add_killed() {
	local rc=0
	cni_conf "" | ns_exec "$SL_NODE" timeout 30 env -i PATH="$PATH" "${SL_SAN_ENV[@]}" CNI_COMMAND=ADD \
		CNI_CONTAINERID="$(pod_cid "$1")" CNI_NETNS="/run/netns/$(pod_ns "$1")" CNI_IFNAME=eth0 \
		CNI_PATH="$SL_CNI_PATH" SLUICE_TEST_KILL_AT="$2" "$SL_BUILD/sluice" \
		>/dev/null 2>>"$SL_CNI_STDERR" || rc=$?
	echo "$rc"
}

# The steps of ADD the hook knows (cni/cmd/cmd_add.c, in order).
export CNI_ADD_STEPS="lock ipam veth pod-config attach host-config state ep result"
