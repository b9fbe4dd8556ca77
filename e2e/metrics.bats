#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The agent's Prometheus /metrics on one emulated node with the API stand-in:
# checked by Prometheus's own promtool, values that move with traffic and CNI
# calls, and the Grafana dashboard and README naming only what it exports.

load lib/services

bats_require_minimum_version 1.5.0

setup_file() {
	cluster_file_up 1 || return 1
	cluster_pods_add 1:c1 1:s1 || return 1
	on_node 1 pod_serve s1 || cluster_abort || return 1
}

teardown_file() { cluster_down; }

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || cluster_diag
	[ -z "${SVC:-}" ] || svc_delete "$SVC" || true
}

setup() { SVC=; }

# scrape: node 1's /metrics, from the agent's default address in the node's namespace.
scrape() { on_node 1 node_exec curl -sS --max-time 5 http://127.0.0.1:10249/metrics; }

# value TEXT NAME [LABEL=\"V\"...]: the sum of the samples of NAME in TEXT
# whose labels include every LABEL="V" given; 0 when there is none.
value() {
	local text=$1 name=$2
	shift 2
	awk -v n="$name" -v want="$*" 'BEGIN { c = split(want, w, " ") }
		/^#/ { next }
		{ split($1, a, "{"); if (a[1] != n) next
		  for (i = 1; i <= c; i++) if (index($1, w[i]) == 0) next
		  s += $NF }
		END { printf "%.0f\n", s }' <<<"$text"
}

# families TEXT: every metric family TEXT declares, sorted.
families() { awk '$1 == "#" && $2 == "TYPE" { print $3 }' <<<"$1" | sort -u; }

@test "(metrics) /metrics is valid for promtool and carries every part of the node's state" {
	local out
	out=$(on_node 1 node_exec curl -sS -D "$BATS_TEST_TMPDIR/head" --max-time 5 http://127.0.0.1:10249/metrics)
	grep -qi '^content-type: text/plain; version=0.0.4' "$BATS_TEST_TMPDIR/head"
	# Prometheus's own parser and linter (Debian's prometheus package).
	promtool check metrics <<<"$out"
	# Every resource synced, the datapath's reasons and paths all present.
	[ "$(value "$out" sluice_api_synced)" -ge 6 ]
	[ "$(grep -c '^sluice_api_synced{.*} 1$' <<<"$out")" = "$(grep -c '^sluice_api_synced{' <<<"$out")" ]
	grep -q '^sluice_datapath_drops_total{reason="spoof_ip"} ' <<<"$out"
	grep -q '^sluice_datapath_forwards_total{path="svc_new"} ' <<<"$out"
	grep -q '^sluice_bpf_map_max_entries{map="sl_ct4"} 262144$' <<<"$out"
	grep -q '^process_resident_memory_bytes [1-9]' <<<"$out"
	grep -q '^process_open_fds [1-9]' <<<"$out"
	# kube-proxy's port, and its /proxyMode.
	[ "$(on_node 1 node_exec curl -sS --max-time 5 http://127.0.0.1:10249/proxyMode)" = sluice ]
	# Off the node's loopback it is not served.
	run ! on_node 1 node_exec curl -sS --max-time 2 "http://$(node_ip 1):10249/metrics"
}

@test "(metrics) drops, forwards and a Service port's flows, packets and bytes move with traffic" {
	local ip before after c1 s1
	c1=$(cluster_pod_ns 1 c1)
	s1=$(cluster_pod_ip 1 s1)
	SVC=svc-$(sl_rand_hex)
	before=$(scrape)
	ip=$(svc_apply "$SVC" '[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]')
	eps_apply "$SVC" '[{"name":"http","port":8080,"protocol":"TCP"}]' "$(ep "$s1" 1)"
	wait_for 15 sh -c "nsenter --net=/run/netns/$c1 timeout 3 $SL_BUSYBOX wget -q -O /dev/null http://$ip/"
	for _ in 1 2 3; do http_get "$c1" "http://$ip/" >/dev/null; done
	# A packet from an address the pod does not own is dropped as spoofed.
	ns_exec "$c1" ip addr add 10.244.1.250/32 dev eth0
	run ! ns_exec "$c1" timeout 3 "$SL_BUSYBOX" ping -c 2 -W 1 -I 10.244.1.250 "$s1"
	after=$(scrape)
	echo "$after" | grep "$SVC" >&2
	# the Service port is labelled with its Service; four or more flows (the wait's included)
	[ "$(value "$after" sluice_service_flows_total "service=\"$SVC\"" 'namespace="default"' \
		'port="80"' 'protocol="TCP"' "ip=\"$ip\"")" -ge 4 ]
	[ "$(value "$after" sluice_service_packets_total "service=\"$SVC\"")" -ge 12 ]
	[ "$(value "$after" sluice_service_bytes_total "service=\"$SVC\"")" -ge 600 ]
	[ $(($(value "$after" sluice_datapath_forwards_total 'path="svc_new"') -
		$(value "$before" sluice_datapath_forwards_total 'path="svc_new"'))) -ge 4 ]
	[ $(($(value "$after" sluice_datapath_drops_total 'reason="spoof_ip"') -
		$(value "$before" sluice_datapath_drops_total 'reason="spoof_ip"'))) -ge 2 ]
	# the Service's watch events and their publish latency were counted
	[ $(($(value "$after" sluice_api_watch_events_total 'resource="services"' 'type="ADDED"') -
		$(value "$before" sluice_api_watch_events_total 'resource="services"' 'type="ADDED"'))) -ge 1 ]
	[ $(($(value "$after" sluice_service_publish_latency_seconds_count) -
		$(value "$before" sluice_service_publish_latency_seconds_count))) -ge 1 ]
}

@test "(metrics) CNI ADD and DEL are counted with their latency" {
	local before mid after
	before=$(scrape)
	cluster_pod_add 1 m1 >/dev/null
	mid=$(scrape)
	on_node 1 pod_del m1
	after=$(scrape)
	[ $(($(value "$mid" sluice_cni_operations_total 'command="ADD"') -
		$(value "$before" sluice_cni_operations_total 'command="ADD"'))) = 1 ]
	[ $(($(value "$mid" sluice_cni_duration_seconds_count 'command="ADD"') -
		$(value "$before" sluice_cni_duration_seconds_count 'command="ADD"'))) = 1 ]
	[ "$(value "$mid" sluice_cni_errors_total 'command="ADD"')" = 0 ]
	[ $(($(value "$after" sluice_cni_operations_total 'command="DEL"') -
		$(value "$mid" sluice_cni_operations_total 'command="DEL"'))) = 1 ]
	# an ADD takes some time: the sum of durations moved
	awk -v a="$(grep '^sluice_cni_duration_seconds_sum{command="ADD"}' <<<"$mid" | cut -d' ' -f2)" \
		-v b="$(grep '^sluice_cni_duration_seconds_sum{command="ADD"}' <<<"$before" | cut -d' ' -f2)" \
		'BEGIN { exit !(a > b) }'
}

@test "(metrics) the Grafana dashboard and the README name only metrics the agent exports" {
	local out exported used listed
	out=$(scrape)
	exported=$(families "$out")
	# every metric name in every query of the dashboard (histogram series by family)
	used=$(jq -r '.. | objects | .expr? // empty' "$SL_REPO/manifests/grafana-dashboard.json" |
		grep -oE '\b(sluice|process)_[a-z_]+' | sed -E 's/_(bucket|sum|count)$//' | sort -u)
	[ -n "$used" ]
	echo "dashboard, not exported: $(comm -23 <(echo "$used") <(echo "$exported"))"
	[ -z "$(comm -23 <(echo "$used") <(echo "$exported"))" ]
	# every query is valid PromQL (Grafana's variables set as a user would)
	jq '{groups: [{name: "dashboard", rules: [[.. | objects | .expr? // empty] | to_entries[]
		| {record: "dashboard:query\(.key)",
		   expr: (.value | gsub("\\$__rate_interval"; "5m") | gsub("\\$instance"; ".*"))}]}]}' \
		"$SL_REPO/manifests/grafana-dashboard.json" >"$BATS_TEST_TMPDIR/rules.yaml"
	promtool check rules "$BATS_TEST_TMPDIR/rules.yaml"
	# the README's metric table lists exactly what is exported
	# shellcheck disable=SC2016 # backquotes of the Markdown table
	listed=$(grep -oE '^\| `(sluice|process)_[a-z_]+`' "$SL_REPO/README.md" | tr -d '|` ' | sort -u)
	echo "README vs exported: $(diff <(echo "$listed") <(echo "$exported"))"
	[ "$listed" = "$exported" ]
}
