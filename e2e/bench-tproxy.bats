#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The TPROXY rows of `make bench` (e2e/bench/lib/tproxy.bash): iptables TPROXY
# plus HAProxy or nginx in a plain node of the bench topology
# (e2e/bench/lib/topo.bash), without the sluice cluster. Plain node 0 holds the
# cross-node server; node 1 runs the HAProxy row, node 2 the nginx row, each
# with a client pod "c" and a server pod "s".

load bench/lib/topo
load bench/lib/tproxy

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	export BN_SCRATCH=$BATS_FILE_TMPDIR/bn
	mkdir -p "$BN_SCRATCH" || return 1
	# the servers started in the background do not hold bats' fd 3
	bench_plain_up "$BATS_FILE_TMPDIR/c" 2 3>&- || {
		bench_topo_down
		return 1
	}
}

teardown_file() {
	local k
	if [ -n "${SL_CLUSTER_RND:-}" ]; then
		for k in 1 2; do
			tp_haproxy_clear "$(ptp_node_ns "$k")"
			tp_nginx_clear "$(ptp_node_ns "$k")"
		done
	fi
	bench_topo_down
}

teardown() {
	[ -z "${HOLDER:-}" ] || kill "$HOLDER" 2>/dev/null || true
	[ -n "${BATS_TEST_COMPLETED:-}" ] || diag
}

# --- helpers ---------------------------------------------------------------------------

# Plain node of each row.
declare -gA K=([haproxy]=1 [nginx]=2)

diag() {
	local p ns d
	for p in haproxy nginx; do
		ns=$(node "$p") d=$BN_SCRATCH/tp_$p/$ns
		echo "# --- $p on $ns"
		ns_exec "$ns" iptables-save -t mangle 2>&1 | sed 's/^/# /'
		ip -n "$ns" rule 2>&1 | sed 's/^/# /'
		tail -n 5 "$d/proxy.log" "$d/error.log" 2>/dev/null | sed 's/^/# /'
	done >&3
}

node() { ptp_node_ns "${K[$1]}"; }
client() { ptp_client_ns "${K[$1]}"; }
client_ip() { ptp_client_ip "${K[$1]}"; }
same() { ptp_server_ip "${K[$1]}"; }
cross() { ptp_server_ip 0; }
vip() { echo "10.111.${K[$1]}.$2"; }

# is_ms S: one number with three decimals (the contract's timing output).
is_ms() { [[ $1 =~ ^[0-9]+\.[0-9]{3}$ ]]; }

# passive_opens NS: TCP connections accepted so far in NS (/proc/net/snmp).
passive_opens() {
	# shellcheck disable=SC2016 # awk fields
	ns_exec "$1" awk '$1 == "Tcp:" { if (!c) { for (i = 1; i <= NF; i++) if ($i == "PassiveOpens") c = i } else print $c }' /proc/net/snmp
}

# burst P VIP N: N new connections, one request each (curl URL globbing),
# from P's client pod; prints the number answered 200.
burst() {
	ns_exec "$(client "$1")" timeout 60 curl -s -o /dev/null -w '%{http_code}\n' -H 'Connection: close' \
		"http://$2/?[1-$3]" | grep -c '^200$' || true
}

# hold P VIP N: N connections from P's client pod to VIP:80, held open 5 s in
# the background (HOLDER, ended by teardown).
hold() {
	# nsenter itself in the background (not ns_exec, a function): $! is the
	# process that ends as the sleep holding the connections.
	# shellcheck disable=SC2016 # bash -c arguments
	nsenter --net="/run/netns/$(client "$1")" bash -c 'for ((i = 0; i < $2; i++)); do exec {fd}<>"/dev/tcp/$1/80" || exit 1; done; exec sleep 5' \
		_ "$2" "$3" </dev/null >/dev/null 2>&1 3>&- &
	HOLDER=$!
}

# upstream_conns P: the proxy's established connections to a backend, as
# "LOCAL PEER PROCESS" lines.
upstream_conns() {
	ns_exec "$(node "$1")" ss -Htnp state established '( dport = :8080 )' | awk '{ print $3, $4, $5 }'
}

# upstream_count P N: exactly N such connections.
upstream_count() { [ "$(upstream_conns "$1" | grep -c .)" -eq "$2" ]; }

# held_backends P VIP N: holds N connections to VIP and prints the distinct
# backends the proxy opened for them (sorted, space-separated).
held_backends() {
	wait_for 5 upstream_count "$1" 0 || return 1
	hold "$1" "$2" "$3"
	wait_for 5 upstream_count "$1" "$3" || return 1
	upstream_conns "$1" | awk '{ print $2 }' | sort -u | tr '\n' ' ' | sed 's/ $//'
	kill "$HOLDER" 2>/dev/null
	HOLDER=
}

# --- the tests (the same for both proxies) ---------------------------------------------

check_program() {
	local p=$1 out
	"tp_${p}_probe"
	out=$("tp_${p}_program" "$(node "$p")" 1 "$(vip "$p" 1):80=$(same "$p"):8080" "$(vip "$p" 2):80=$(cross):8080")
	is_ms "$out"
	[ "$(bn_http "$(client "$p")" "http://$(vip "$p" 1)/")" = ok ]
	[ "$(bn_http "$(client "$p")" "http://$(vip "$p" 2)/")" = ok ]
	# Each VIP reached its own backend.
	[ "$(bn_http "$(client "$p")" "http://$(vip "$p" 1)/who")" = "$(same "$p")" ]
	[ "$(bn_http "$(client "$p")" "http://$(vip "$p" 2)/who")" = "$(cross)" ]
	# The backends saw the client pod's address, not the node's.
	[ "$(bn_http "$(client "$p")" "http://$(vip "$p" 1)/ip")" = "$(client_ip "$p")" ]
	[ "$(bn_http "$(client "$p")" "http://$(vip "$p" 2)/ip")" = "$(client_ip "$p")" ]
	[ "$("tp_${p}_rss_kb" "$(node "$p")")" -gt 0 ]
}

check_proxied() {
	local p=$1 ns conns
	ns=$(node "$p")
	# No address translation anywhere in the node.
	! ns_exec "$ns" iptables-save | grep -- '-j DNAT' || return 1
	# A held connection: its client side ends at the proxy (local VIP:80),
	# its backend side leaves from the client's address, owned by the proxy.
	wait_for 5 upstream_count "$p" 0
	hold "$p" "$(vip "$p" 2)" 1
	wait_for 5 upstream_count "$p" 1
	conns=$(ns_exec "$ns" ss -Htnp state established)
	grep -E "^0 +0 +$(vip "$p" 2):80 +$(client_ip "$p"):[0-9]+ .*\"$p\"" <<<"$conns"
	grep -E "^0 +0 +$(client_ip "$p"):[0-9]+ +$(cross):8080 .*\"$p\"" <<<"$conns"
}

check_burst() {
	local p=$1 ns n0 n1
	ns=$(node "$p")
	n0=$(passive_opens "$ns")
	[ "$(burst "$p" "$(vip "$p" 1)" 500)" = 500 ]
	n1=$(passive_opens "$ns")
	# Each of the 500 connections was accepted in the node (by the proxy:
	# nothing else listens there); no SYN went past it.
	[ $((n1 - n0)) -eq 500 ]
}

# syn_retrans NS: SYNs retransmitted so far in NS (/proc/net/netstat).
syn_retrans() {
	# shellcheck disable=SC2016 # awk fields
	ns_exec "$1" awk '$1 == "TcpExt:" { if (!c) { for (i = 1; i <= NF; i++) if ($i == "TCPSynRetrans") c = i } else print $c }' /proc/net/netstat
}

check_port_reuse() {
	local p=$1 c port i n0 tw=0
	c=$(client "$p") port=$((40000 + ${K[$1]}))
	n0=$(syn_retrans "$c")
	for ((i = 0; i < 6; i++)); do
		# The node keeps the proxy's end of the last one in TIME_WAIT when
		# the proxy closed first (the usual order: the backend closes after
		# its answer).
		[ "$i" -eq 0 ] || ! ns_exec "$(node "$p")" ss -Htan state time-wait "( dport = :$port )" | grep -q . ||
			tw=$((tw + 1))
		[ "$(ns_exec "$c" curl -sS --max-time 5 -o /dev/null -w '%{http_code}' --local-port "$port" \
			-H 'Connection: close' "http://$(vip "$p" 1)/")" = 200 ]
	done
	# The next SYN from that port went to the proxy at once (TPROXY reopens
	# a TIME_WAIT connection), never to the old socket (challenge ACK, RST,
	# SYN again).
	[ "$tw" -ge 1 ]
	[ "$(syn_retrans "$c")" -eq "$n0" ]
}

check_add_change_remove() {
	local p=$1 ns c out
	ns=$(node "$p") c=$(client "$p")
	out=$("tp_${p}_add" "$ns" "$(vip "$p" 3):80=$(same "$p"):8080")
	is_ms "$out"
	[ "$(bn_http "$c" "http://$(vip "$p" 3)/ip")" = "$(client_ip "$p")" ]
	[ "$(held_backends "$p" "$(vip "$p" 3)" 2)" = "$(same "$p"):8080" ]

	out=$("tp_${p}_change" "$ns" "$(vip "$p" 3):80=$(same "$p"):8080,$(cross):8080")
	is_ms "$out"
	# Round robin over the two: two connections, one each.
	[ "$(held_backends "$p" "$(vip "$p" 3)" 2)" = "$(printf '%s\n' "$(same "$p"):8080" "$(cross):8080" | sort | tr '\n' ' ' | sed 's/ $//')" ]

	out=$("tp_${p}_remove" "$ns" "$(vip "$p" 3):80")
	is_ms "$out"
	! bn_http "$c" "http://$(vip "$p" 3)/" || return 1
	[ "$(bn_http "$c" "http://$(vip "$p" 1)/")" = ok ]
	! ns_exec "$ns" iptables-save -t mangle | grep -F -- "-d $(vip "$p" 3)/32" || return 1
}

check_clear() {
	local p=$1 ns
	ns=$(node "$p")
	"tp_${p}_clear" "$ns"
	[ -z "$("tp_${p}_pids" "$ns")" ]
	! ns_exec "$ns" iptables-save -t mangle | grep -E -- '(TP-|TPROXY|socket)' || return 1
	! ip -n "$ns" rule | grep fwmark || return 1
	[ -z "$(ip -n "$ns" route show table "${TP_TABLE[$p]}")" ]
	[ ! -e "$BN_SCRATCH/tp_$p/$ns" ]
	! bn_http "$(client "$p")" "http://$(vip "$p" 1)/" || return 1
	# Idempotent.
	"tp_${p}_clear" "$ns"
}

check_budget() {
	local p=$1 ns out rc=0
	ns=$(node "$p")
	out=$(BN_BUDGET_S=0 "tp_${p}_program" "$ns" 1 "$(vip "$p" 1):80=$(same "$p"):8080") || rc=$?
	[ "$rc" -eq 124 ]
	[ -z "$out" ]
	check_clear "$p"
}

@test "(tproxy-haproxy) program: the VIP answers from both backends, which see the client pod's address" { check_program haproxy; }
@test "(tproxy-nginx) program: the VIP answers from both backends, which see the client pod's address" { check_program nginx; }
@test "(tproxy-haproxy) the proxy carries the connection, no DNAT" { check_proxied haproxy; }
@test "(tproxy-nginx) the proxy carries the connection, no DNAT" { check_proxied nginx; }
@test "(tproxy-haproxy) 500 new connections in a row all go through the proxy" { check_burst haproxy; }
@test "(tproxy-nginx) 500 new connections in a row all go through the proxy" { check_burst nginx; }
@test "(tproxy-haproxy) a new connection from a client port in TIME_WAIT on the node reaches the proxy at once" { check_port_reuse haproxy; }
@test "(tproxy-nginx) a new connection from a client port in TIME_WAIT on the node reaches the proxy at once" { check_port_reuse nginx; }
@test "(tproxy-haproxy) add, change (round robin over two), remove" { check_add_change_remove haproxy; }
@test "(tproxy-nginx) add, change (round robin over two), remove" { check_add_change_remove nginx; }
@test "(tproxy-haproxy) clear leaves no process, rule, ip rule or route" { check_clear haproxy; }
@test "(tproxy-nginx) clear leaves no process, rule, ip rule or route" { check_clear nginx; }
@test "(tproxy-haproxy) a spent budget returns 124, prints nothing, and clears" { check_budget haproxy; }
@test "(tproxy-nginx) a spent budget returns 124, prints nothing, and clears" { check_budget nginx; }
