#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The agent's initial sync against the API stand-in preloaded with S Services
# and S EndpointSlices (E endpoints each): time from agent start to every
# resource synced, the agent's peak RSS, the stand-in's own serving time, and
# the time from one change (kubectl label of a Service) to the agent seeing it.
# With PODS=1 the Pod behind every endpoint is preloaded too, spread with the
# Services over NSS namespaces, plus POLICIES NetworkPolicies (pod and
# namespace selectors), and the time from a policy write to the agent having
# applied it to a local endpoint (sl_ep4 isolation flag) is measured.
# Usage: sync.sh OUTDIR   (env: S=10000 E=5 PODS=0 NSS=1 POLICIES=0).
# Writes OUTDIR/sync.json (OUTDIR/sync-policy.json with PODS=1).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=e2e/lib/cluster.bash
. "$HERE/../lib/cluster.bash"

S=${S:-10000}
E=${E:-5}
PODS=${PODS:-0}
NSS=${NSS:-1}
POLICIES=${POLICIES:-0}
NS=bench
NS_LIST=bench
TARGET_SYNC_MS=3000
TARGET_RSS_KB=$((40 * 1024))
OUT_NAME=sync.json
if [ "$PODS" = 1 ]; then
	SL_API_READY_SECS=60 # a 120k-object preload (apiserver.bash set its default at source)
	NS_LIST=$(seq -f 'pns-%g' 0 $((NSS - 1)) | paste -sd,)
	NS=pns-$((S / 2 % NSS)) # the namespace of svc-S/2, labelled by change_latency
	TARGET_RSS_KB=$((64 * 1024))
	OUT_NAME=sync-policy.json
fi

bench_die() {
	echo "bench-sync: $*" >&2
	exit 1
}

# ts_ms ISO: milliseconds since the epoch of an agent log timestamp (UTC).
ts_ms() { echo $(($(date -d "$1" +%s%N) / 1000000)); }

# log_ts PATTERN: the timestamp (ms) of the agent log's first line matching PATTERN.
log_ts() {
	local line
	line=$(grep -m1 -- "$1" "$SL_AGENT_LOG") || return 1
	ts_ms "${line%% *}"
}

# change_latency SERVICE: labels SERVICE with kubectl while a watch of our own
# stamps when the stand-in streamed the change and a poller stamps when the
# running agent's status file shows a services resourceVersion at least the
# change's. Prints {watch_ms, agent_ms, kubectl_ms} (wall clock, ms since epoch).
change_latency() {
	local svc=$1 out=$SL_CLUSTER_SCRATCH/latency.json rv t0 t1 i py
	rv=$(apiserver_stats | jq -r .resourceVersion)
	nsenter --net="/run/netns/$SL_FABRIC" python3 - "$SL_API_URL" "$SL_API_CA" "$SL_API_TOKEN_FILE" \
		"/api/v1/namespaces/$NS/services?watch=1&resourceVersion=$rv&fieldSelector=metadata.name%3D$svc" \
		"$SL_STATE_DIR/agent-status.json" >"$out" 2>"$out.err" <<-'EOF' &
			import http.client, json, ssl, sys, threading, time, urllib.parse
			url, ca, tokf, path, status = sys.argv[1:6]
			u = urllib.parse.urlsplit(url)
			conn = http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile=ca), timeout=30)
			conn.request("GET", path, headers={"Authorization": "Bearer " + open(tokf).read().strip()})
			resp = conn.getresponse()
			print("ready", flush=True)
			line = resp.readline()
			watch_ms = time.time() * 1000
			ev = json.loads(line)
			rv = int(ev["object"]["metadata"]["resourceVersion"])
			deadline = time.time() + 20
			agent_ms = None
			while time.time() < deadline:
			    try:
			        with open(status) as fh:
			            st = json.load(fh)
			        res = [r for r in st.get("resources", []) if r.get("name") == "services"]
			        if res and int(res[0].get("resourceVersion") or 0) >= rv:
			            agent_ms = time.time() * 1000
			            break
			    except (OSError, ValueError):
			        pass
			    time.sleep(0.002)
			print(json.dumps({"type": ev["type"], "rv": rv, "watch_ms": round(watch_ms, 1),
			                  "agent_ms": None if agent_ms is None else round(agent_ms, 1)}), flush=True)
		EOF
	py=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(head -n1 "$out" 2>/dev/null)" = ready ] && break
		sleep 0.05
	done
	t0=${EPOCHREALTIME/./}
	kube label service -n "$NS" "$svc" sluice-bench-touch="$RANDOM" --overwrite >/dev/null ||
		bench_die "kubectl label failed"
	t1=${EPOCHREALTIME/./}
	wait "$py" || bench_die "the change watcher failed: $(cat "$out.err")"
	tail -n1 "$out" | jq -c --argjson k0 "$((t0 / 1000))" --argjson k1 "$((t1 / 1000))" \
		'. + {kubectl_start_ms: $k0, kubectl_end_ms: $k1}'
}

# ep_flags IP: "identity flags" of IP's sl_ep4 entry.
ep_flags() {
	local IFS=. k v
	read -r -a k <<<"$1"
	unset IFS
	mapfile -t v < <(bpftool -j map lookup pinned "$SL_PIN/sl_ep4" key "${k[@]}" 2>/dev/null |
		jq -r '.value[]')
	[ "${#v[@]}" -ge 16 ] || return 1
	echo "$((v[8] + v[9] * 256 + v[10] * 65536)) $((v[12]))"
}

# policy_latency N: a local endpoint for svc-S/2's first pod (written into
# sl_ep4 as the CNI plugin would), then N times a NetworkPolicy selecting it
# created and deleted with kubectl; each time the ms from kubectl's start to
# the agent having set (cleared) the endpoint's ingress isolation. Prints a
# JSON list of the samples.
policy_latency() {
	local n=$1 i=$((S / 2)) k ip ipk want t0 t1 flags samples=() doc
	k=$((i * E))
	ip="10.$((244 + (k >> 16) % 8)).$(((k >> 8) & 255)).$((k & 255))"
	local IFS=.
	read -r -a ipk <<<"$ip"
	unset IFS
	bpftool map update pinned "$SL_PIN/sl_ep4" key "${ipk[@]}" \
		value 1 0 0 0 0x92 0x10 0 0 0 0 0 0 0 0 0 0 2 0 0 0 0 1 2 0 0 0 0 2 0 0 0 0 ||
		bench_die "could not write the stand-in endpoint"
	# shellcheck disable=SC2016 # expanded by eval, at each try
	wait_for 10 eval '[ "$(ep_flags "$ip" | cut -d" " -f1)" -ge 256 ]' ||
		bench_die "the agent never gave $ip an identity: $(ep_flags "$ip")"
	doc=$(jq -cn --arg ns "$NS" --arg app "svc-$i" '{apiVersion: "networking.k8s.io/v1",
		kind: "NetworkPolicy", metadata: {name: "bench-latency", namespace: $ns},
		spec: {podSelector: {matchLabels: {app: $app}}, policyTypes: ["Ingress"]}}')
	for ((j = 0; j < 2 * n; j++)); do
		t0=${EPOCHREALTIME/./}
		if ((j % 2 == 0)); then
			want=1
			kube create -f - <<<"$doc" >/dev/null || bench_die "kubectl create failed"
		else
			want=0
			kube delete networkpolicy -n "$NS" bench-latency >/dev/null ||
				bench_die "kubectl delete failed"
		fi
		for ((w = 0; w < 2000; w++)); do
			flags=$(ep_flags "$ip" | cut -d" " -f2)
			[ "$((flags & 1))" = "$want" ] && break
		done
		t1=${EPOCHREALTIME/./}
		[ "$((flags & 1))" = "$want" ] || bench_die "the agent never applied policy change $j"
		samples+=("$(((t1 - t0) / 1000))")
		sleep 0.2
	done
	printf '%s\n' "${samples[@]}" | jq -sc .
}

bench_main() {
	local outdir=$1 pid t_spawn t_synced agent_ms hwm rss list_bench stats0 stats1 lat json preload
	local pol_lat
	mkdir -p "$outdir" || exit 1
	outdir=$(cd "$outdir" && pwd)
	trap cluster_down EXIT
	trap 'exit 130' INT TERM HUP
	sl_need_root || exit 1
	bpffs_ensure || exit 1
	kubectl_ensure || exit 1
	cluster_vars "$(sl_rand_hex)" "$(mktemp -d /tmp/sl-bench-sync.XXXXXX)" 1
	preload=$SL_CLUSTER_SCRATCH/preload.json
	echo "bench-sync: $S Services + $S EndpointSlices ($((S * E)) endpoints) preloaded; one agent ($(nproc) CPUs, kernel $(uname -r))"
	local extra=()
	[ "$PODS" = 1 ] && extra=(--pods --policies "$POLICIES") &&
		echo "bench-sync: plus $((S * E)) Pods in $NSS namespaces and $POLICIES NetworkPolicies"
	python3 "$SL_REPO/e2e/apiserver/gen_objects.py" -n "$S" -m "$E" --namespaces "$NS_LIST" \
		"${extra[@]}" -o "$preload" ||
		bench_die "gen_objects.py failed"
	fabric_setup || exit 1
	# No periodic bookmarks: the services resourceVersion in the agent's
	# status moves only with the change being timed.
	apiserver_start "$SL_FABRIC" "$SL_CLUSTER_SCRATCH" --preload "$preload" --bookmark-interval 3600 ||
		bench_die "the stand-in did not start with the preload"
	(cluster_node_setup 1) || exit 1
	node_object_create 1 || bench_die "could not create the Node object"
	cluster_use 1

	# the stand-in alone: the same paged lists the agent makes, timed by a plain client
	list_bench=$(nsenter --net="/run/netns/$SL_FABRIC" python3 "$SL_REPO/e2e/apiserver/list_bench.py" \
		--server "$SL_API_URL" --ca "$SL_API_CA" --token-file "$SL_API_TOKEN_FILE" --limit 500 --gzip \
		/api/v1/services /apis/discovery.k8s.io/v1/endpointslices) || bench_die "list_bench.py failed"
	stats0=$(apiserver_stats) || exit 1

	t_spawn=$(now_ms)
	agent_start || bench_die "the agent did not sync; see $SL_AGENT_LOG"
	pid=$(agent_pid)
	wait_for 120 agent_synced || bench_die "the agent's status never showed every resource synced"
	t_synced=$(log_ts "Synced every resource") || bench_die "no 'Synced every resource' line in $SL_AGENT_LOG"
	agent_ms=$(sed -n 's/.*Synced every resource with the API in \([0-9]*\) ms.*/\1/p' "$SL_AGENT_LOG" | head -n1)
	stats1=$(apiserver_stats) || exit 1
	agent_status | jq -e --argjson s "$S" '[.resources[] | select(.name == "services" or .name == "endpointslices") | .objects >= $s] == [true, true]' >/dev/null ||
		bench_die "the agent does not hold $S services and $S endpointslices: $(agent_status | jq -c .resources)"

	sleep 1.5 # the status file is rewritten at most once a second: start the change from a quiet agent
	lat=$(change_latency "svc-$((S / 2))") || exit 1
	pol_lat=null
	[ "$PODS" = 1 ] && { pol_lat=$(policy_latency 5) || exit 1; }
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")

	json=$(jq -n --arg date "$(date -u +%FT%TZ)" --arg kernel "$(uname -r)" --argjson cpus "$(nproc)" \
		--argjson s "$S" --argjson e "$E" \
		--argjson sync_ms "$((t_synced - t_spawn))" --argjson agent_ms "${agent_ms:-null}" \
		--argjson hwm "$hwm" --argjson rss "$rss" --argjson lb "$list_bench" \
		--argjson s0 "$stats0" --argjson s1 "$stats1" --argjson lat "$lat" \
		--argjson tsync "$TARGET_SYNC_MS" --argjson trss "$TARGET_RSS_KB" \
		--argjson pods "$([ "$PODS" = 1 ] && echo $((S * E)) || echo 0)" --argjson nss "$NSS" \
		--argjson npol "$([ "$PODS" = 1 ] && echo "$POLICIES" || echo 0)" --argjson pl "$pol_lat" '
		{date: $date, kernel: $kernel, cpus: $cpus,
		 objects: {services: $s, endpointslices: $s, endpoints: ($s * $e), pods: $pods,
			   namespaces: $nss, networkpolicies: $npol},
		 policy_apply_ms: (if $pl == null then null else {samples: $pl, max: ($pl | max),
				   median: ($pl | sort | .[length / 2 | floor])} end),
		 agent: {start_to_synced_ms: $sync_ms, own_sync_ms: $agent_ms,
			 peak_rss_kb: $hwm, rss_kb: $rss},
		 standin: {list_seconds_during_sync: (($s1.listSeconds - $s0.listSeconds) * 1000 | round / 1000),
			   list_bytes_during_sync: ($s1.listBytes - $s0.listBytes),
			   lists_during_sync: ($s1.lists - $s0.lists),
			   plain_client_list_seconds: $lb.totalSeconds, plain_client: $lb},
		 change: ($lat + {stream_to_agent_ms: (if $lat.agent_ms == null then null else ($lat.agent_ms - $lat.watch_ms | . * 10 | round / 10) end),
				  kubectl_start_to_agent_ms: (if $lat.agent_ms == null then null else ($lat.agent_ms - $lat.kubectl_start_ms | . * 10 | round / 10) end)}),
		 targets: {sync_ms: $tsync, peak_rss_kb: $trss,
			   sync_met: ($sync_ms < $tsync), rss_met: ($hwm < $trss)}}')
	printf '%s\n' "$json" >"$outdir/$OUT_NAME"
	jq -r '
		"",
		"initial sync (\(.objects.services) Services, \(.objects.endpointslices) EndpointSlices, \(.objects.endpoints) endpoints, \(.objects.pods) Pods, \(.objects.networkpolicies) NetworkPolicies)",
		"  agent start -> all resources synced   \(.agent.start_to_synced_ms) ms   (target < \(.targets.sync_ms) ms: \(if .targets.sync_met then "met" else "MISSED" end); agent'"'"'s own count \(.agent.own_sync_ms) ms)",
		"  agent peak RSS (VmHWM)                \(.agent.peak_rss_kb / 1024 | . * 10 | round / 10) MB   (target < \(.targets.peak_rss_kb / 1024) MB: \(if .targets.rss_met then "met" else "MISSED" end); now \(.agent.rss_kb / 1024 | . * 10 | round / 10) MB)",
		"  stand-in serving the agent'"'"'s lists    \(.standin.list_seconds_during_sync * 1000 | round) ms in \(.standin.lists_during_sync) list requests, \(.standin.list_bytes_during_sync / 1048576 | . * 10 | round / 10) MB",
		"  same lists by a plain client          \(.standin.plain_client_list_seconds * 1000 | round) ms",
		"one change (kubectl label service)",
		"  stand-in streamed it -> agent status  \(.change.stream_to_agent_ms) ms   (a watch of our own stamps the stream)",
		"  kubectl started -> agent status       \(.change.kubectl_start_to_agent_ms) ms   (kubectl itself ran \(.change.kubectl_end_ms - .change.kubectl_start_ms) ms)",
		if .policy_apply_ms then "policy write (kubectl start) -> applied to the endpoint in sl_ep4: median \(.policy_apply_ms.median) ms, max \(.policy_apply_ms.max) ms, samples \(.policy_apply_ms.samples)" else empty end' \
		<<<"$json"
	echo
	echo "written: $outdir/$OUT_NAME"
	jq -e '.change.agent_ms != null' <<<"$json" >/dev/null || bench_die "the agent never showed the change"
}

case ${1:-} in
"")
	echo "usage: $0 OUTDIR" >&2
	exit 2
	;;
*) bench_main "$1" ;;
esac
