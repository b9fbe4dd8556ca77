#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The kube-proxy-shape rows of `make bench` (e2e/bench/lib/kubeproxy.bash):
# the rules kube-proxy writes, loaded with iptables-nft-restore,
# iptables-legacy-restore and nft into plain nodes whose pods are wired by the
# ptp plugin, send a client pod to the right backend through a ClusterIP
# without masquerading it, follow one Service added, changed and removed,
# and have kube-proxy's shape.
#
# Plain nodes (e2e/bench/lib/topo.bash) 0 to 3, without the sluice cluster:
# node 0 holds the cross-node server, node 1 is the iptables-nft row, node 2
# the iptables-legacy row, node 3 the nftables row. Every server pod runs
# nginx on :8080: /who answers the server's own address (which backend
# answered), /ip the client's (no masquerade on the way).

load bench/lib/topo
load bench/lib/kubeproxy

# --- topology ------------------------------------------------------------------------------

setup_file() {
	export BN_SCRATCH=$BATS_FILE_TMPDIR/bn
	mkdir -p "$BN_SCRATCH" || return 1
	# the tests' own iptables calls, like the modules', never take the machine's lock
	export XTABLES_LOCKFILE=$BATS_FILE_TMPDIR/xtables.lock
	# the servers started in the background do not hold bats' fd 3
	if ! { bench_plain_up "$BATS_FILE_TMPDIR/c" 3 3>&- && probe_rows; }; then
		bench_topo_down
		return 1
	fi
	# the pod addresses, read once (each read is a jq)
	local k
	for k in 0 1 2 3; do
		export "KP_SIP_$k=$(ptp_server_ip "$k")"
		[ "$k" = 0 ] || export "KP_CIP_$k=$(ptp_client_ip "$k")"
	done
}

# probe_rows: every row's module is usable in its node, or setup says why not.
probe_rows() {
	local m why
	for m in kp_iptnft kp_iptlegacy kp_nft; do
		why=$("${m}_probe" "$(ptp_node_ns "$(node_of "$m")")") || sl_die "$m: $why" || return 1
	done
}

teardown_file() {
	[ -z "${SL_CLUSTER_RND:-}" ] || cluster_vars "$SL_CLUSTER_RND" "$SL_CLUSTER_SCRATCH" 0
	bench_topo_down
}

setup() { cluster_vars "$SL_CLUSTER_RND" "$SL_CLUSTER_SCRATCH" 0; }

# --- helpers ----------------------------------------------------------------------------------

# server_ip K / client_ip K: node K's pod addresses.
server_ip() {
	local v=KP_SIP_$1
	echo "${!v}"
}
client_ip() {
	local v=KP_CIP_$1
	echo "${!v}"
}

# node_of MODULE: the plain node of a module's row.
node_of() {
	case $1 in
	kp_iptnft) echo 1 ;;
	kp_iptlegacy) echo 2 ;;
	kp_nft) echo 3 ;;
	esac
}

# specs K: node K's measured Services: same-node (.1) and cross-node (.2) backend.
specs() {
	local k=$1 s x
	s=$(server_ip "$k") x=$(server_ip 0)
	echo "10.111.$k.1:80=$s:8080 10.111.$k.2:80=$x:8080"
}

# program MODULE N [SPEC...]: MODULE's full program of node_of(MODULE) with
# N fillers and that node's measured Services; prints the ms.
program() {
	local m=$1 n=$2 k
	k=$(node_of "$m")
	# shellcheck disable=SC2046
	"${m}_program" "$(ptp_node_ns "$k")" "$n" $(specs "$k") "${@:3}"
}

# expect_http NS URL WANT: one GET from NS answers WANT.
expect_http() {
	local got
	got=$(bn_http "$1" "$2" 2>&1)
	[ "$got" = "$3" ] || {
		echo "GET $2 from $1: want '$3', got '$got'" >&2
		return 1
	}
}

# expect_no_answer NS URL: a GET from NS gets no HTTP answer (1 s bound).
expect_no_answer() {
	if ns_exec "$1" curl -sS --max-time 1 "$2" >/dev/null 2>&1; then
		echo "GET $2 from $1 was answered" >&2
		return 1
	fi
}

# reaches_measured MODULE: from node K's client pod, every measured Service
# answers from its backend, and nginx sees the client pod's own address.
reaches_measured() {
	local k c ip
	k=$(node_of "$1")
	c=$(ptp_client_ns "$k") ip=$(client_ip "$k")
	expect_http "$c" "http://10.111.$k.1/who" "$(server_ip "$k")" &&
		expect_http "$c" "http://10.111.$k.2/who" "$(server_ip 0)" &&
		expect_http "$c" "http://10.111.$k.1/ip" "$ip" &&
		expect_http "$c" "http://10.111.$k.2/ip" "$ip"
}

# ipt_save MODULE TABLE: iptables-save of MODULE's backend in its node.
ipt_save() {
	local be=${1#kp_ipt}
	ns_exec "$(ptp_node_ns "$(node_of "$1")")" "iptables-$be-save" -t "$2" 2>/dev/null
}

# no_kube_rules MODULE: no KUBE-* chain or jump left in MODULE's node.
no_kube_rules() { ! { ipt_save "$1" nat; ipt_save "$1" filter; } | grep -q KUBE-; }

# expect_chains MODULE N: MODULE has N Service chains in its node.
expect_chains() {
	local got
	got=$(svc_chains "$1")
	[ "$got" -eq "$2" ] || {
		echo "$1: want $2 Service chains, got $got" >&2
		return 1
	}
}

# svc_chains MODULE: how many Service chains MODULE has in its node.
svc_chains() {
	if [ "$1" = kp_nft ]; then
		ns_exec "$(ptp_node_ns 3)" nft list chains ip | grep -c 'chain service-[A-Z2-7]\{8\}-'
	else
		ipt_save "$1" nat | grep -c '^:KUBE-SVC-'
	fi
}

# nft_service_ips: elements in node 3's @service-ips.
nft_service_ips() {
	ns_exec "$(ptp_node_ns 3)" nft -j list map ip kube-proxy service-ips |
		jq '[.nftables[] | select(.map) | .map.elem // [] | length] | add'
}

# reaches_at_sizes MODULE: program with 0, 50 and 1000 fillers, each reaching.
reaches_at_sizes() {
	local n
	for n in 0 50 1000; do
		program "$1" "$n" >/dev/null || return 1
		reaches_measured "$1" || {
			echo "(with $n fillers)" >&2
			return 1
		}
	done
}

# follows_changes MODULE: add, change, remove of one Service, each followed
# by the client and by the count of Service chains.
follows_changes() {
	local m=$1 k node c s x
	k=$(node_of "$m")
	node=$(ptp_node_ns "$k") c=$(ptp_client_ns "$k") s=$(server_ip "$k") x=$(server_ip 0)
	program "$m" 50 >/dev/null || return 1
	expect_chains "$m" 52 || return 1
	"${m}_add" "$node" "10.111.$k.7:80=$x:8080" | grep -Eq '^[0-9]+\.[0-9]{3}$' || return 1
	expect_http "$c" "http://10.111.$k.7/who" "$x" || return 1
	expect_chains "$m" 53 || return 1
	"${m}_change" "$node" "10.111.$k.7:80=$s:8080" >/dev/null || return 1
	expect_http "$c" "http://10.111.$k.7/who" "$s" || return 1
	# a filler becomes reachable once it has a live endpoint
	"${m}_change" "$node" "10.100.0.3:80=$x:8080" >/dev/null || return 1
	expect_http "$c" "http://10.100.0.3/who" "$x" || return 1
	expect_chains "$m" 53 || return 1
	"${m}_remove" "$node" "10.111.$k.7:80" >/dev/null || return 1
	expect_no_answer "$c" "http://10.111.$k.7/who" || return 1
	reaches_measured "$m" || return 1
	"${m}_remove" "$node" "10.111.$k.2:80" >/dev/null || return 1
	expect_no_answer "$c" "http://10.111.$k.2/who" || return 1
	expect_http "$c" "http://10.111.$k.1/who" "$s" || return 1
	if [ "$m" = kp_nft ]; then
		# the removed chains are flushed now, deleted by the next sync
		[ "$(nft_service_ips)" -eq 51 ] || return 1
		"${m}_change" "$node" "10.100.0.3:80=$s:8080" >/dev/null || return 1
	fi
	expect_chains "$m" 51
}

# clears_only_its_own MODULE: clear removes every kube-proxy rule, keeps the
# rest, and is idempotent.
clears_only_its_own() {
	local m=$1 node
	node=$(ptp_node_ns "$(node_of "$m")")
	if [ "$m" = kp_nft ]; then
		ns_exec "$node" nft -f - <<-'EOF' || return 1
			add table ip sl-other
			add chain ip sl-other post { type nat hook postrouting priority 100 ; }
			add rule ip sl-other post ip saddr 10.9.9.9 counter
		EOF
	else
		ns_exec "$node" "iptables-${m#kp_ipt}" -w -t nat -N SL-OTHER &&
			ns_exec "$node" "iptables-${m#kp_ipt}" -w -t nat -A POSTROUTING -s 10.9.9.9 -j SL-OTHER || return 1
	fi
	program "$m" 50 >/dev/null && "${m}_clear" "$node" && "${m}_clear" "$node" || return 1
	if [ "$m" = kp_nft ]; then
		! ns_exec "$node" nft list table ip kube-proxy >/dev/null 2>&1 &&
			ns_exec "$node" nft list table ip sl-other | grep -q 'ip saddr 10.9.9.9' &&
			ns_exec "$node" nft delete table ip sl-other
	else
		no_kube_rules "$m" &&
			ipt_save "$m" nat | grep -q -- '-A POSTROUTING -s 10.9.9.9/32 -j SL-OTHER' &&
			ns_exec "$node" "iptables-${m#kp_ipt}" -w -t nat -D POSTROUTING -s 10.9.9.9 -j SL-OTHER &&
			ns_exec "$node" "iptables-${m#kp_ipt}" -w -t nat -X SL-OTHER
	fi
}

# ipt_has_kube_proxy_shape MODULE: the iptables rules are kube-proxy's.
ipt_has_kube_proxy_shape() {
	local m=$1 k nat filter svc sep s x pos
	k=$(node_of "$m")
	s=$(server_ip "$k") x=$(server_ip 0)
	# a 3-endpoint Service (its third endpoint, :8081, is never reached)
	program "$m" 50 "10.111.$k.3:80=$s:8080,$x:8080,$s:8081" >/dev/null || return 1
	nat=$(ipt_save "$m" nat) filter=$(ipt_save "$m" filter)
	local want=(
		'-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
		'-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
		'-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'
		'-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN'
		'-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0'
		'-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully'
		'-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000'
	)
	local line
	for line in "${want[@]}"; do
		grep -qxF -- "$line" <<<"$nat" || {
			echo "nat table lacks: $line" >&2
			return 1
		}
	done
	want=(
		'-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
		'-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD'
		'-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES'
		'-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP'
		'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT'
		'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'
	)
	for line in "${want[@]}"; do
		grep -qxF -- "$line" <<<"$filter" || {
			echo "filter table lacks: $line" >&2
			return 1
		}
	done
	# KUBE-SERVICES: 50 fillers with the measured Services in the middle,
	# the NodePorts jump last.
	pos=$(grep '^-A KUBE-SERVICES ' <<<"$nat" | grep -n -- "-d 10.111.$k.1/32 " | cut -d: -f1)
	[ "$pos" = 26 ] || {
		echo "the measured Service is rule $pos of KUBE-SERVICES, not 26" >&2
		return 1
	}
	grep '^-A KUBE-SERVICES ' <<<"$nat" | tail -n 1 | grep -q -- '-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS$' || return 1
	# The 3-endpoint Service: masquerade off-cluster sources, then 1/3, 1/2, rest.
	svc=$(grep '^-A KUBE-SERVICES ' <<<"$nat" | grep -- "-d 10.111.$k.3/32 " | grep -o 'KUBE-SVC-[A-Z2-7]\{16\}$') || return 1
	grep "^-A $svc " <<<"$nat" | sed 's/KUBE-SEP-[A-Z2-7]\{16\}/SEP/' >"$BATS_TEST_TMPDIR/svc"
	diff -u - "$BATS_TEST_TMPDIR/svc" >&2 <<-EOF || return 1
		-A $svc ! -s 10.245.0.0/16 -d 10.111.$k.3/32 -p tcp -m comment --comment "bench/svc-10-111-$k-3-80:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
		-A $svc -m comment --comment "bench/svc-10-111-$k-3-80:http -> $s:8080" -m statistic --mode random --probability 0.33333333349 -j SEP
		-A $svc -m comment --comment "bench/svc-10-111-$k-3-80:http -> $x:8080" -m statistic --mode random --probability 0.50000000000 -j SEP
		-A $svc -m comment --comment "bench/svc-10-111-$k-3-80:http -> $s:8081" -j SEP
	EOF
	sep=$(grep "^-A $svc " <<<"$nat" | grep -o 'KUBE-SEP-[A-Z2-7]\{16\}' | head -n 1)
	grep "^-A $sep " <<<"$nat" >"$BATS_TEST_TMPDIR/sep"
	diff -u - "$BATS_TEST_TMPDIR/sep" >&2 <<-EOF || return 1
		-A $sep -s $s/32 -m comment --comment "bench/svc-10-111-$k-3-80:http" -j KUBE-MARK-MASQ
		-A $sep -p tcp -m comment --comment "bench/svc-10-111-$k-3-80:http" -m tcp -j DNAT --to-destination $s:8080
	EOF
	# Above 1000 endpoints, kube-proxy drops the per-endpoint comments.
	program "$m" 600 >/dev/null || return 1
	nat=$(ipt_save "$m" nat)
	! grep -E '^-A KUBE-(SEP|SVC)-.*comment.*(-j KUBE-SEP|DNAT)' <<<"$nat" | grep -q . &&
		grep -q -- '-A KUBE-SERVICES -d 10.100.0.7/32 -p tcp -m comment --comment "bench/filler-7:http cluster IP"' <<<"$nat"
}

# --- tests -----------------------------------------------------------------------------------

@test "(kube-proxy) chain names are kube-proxy's hashes" {
	# kube-proxy's own test fixtures (pkg/proxy/{iptables,nftables}/proxier_test.go)
	run "$KP_PYTHON" -c '
import sys; sys.path.insert(0, sys.argv[1]); import kube_rules as k
print(k.hash16("ns1/svc1:p80tcp"), k.hash16("ns1/svc1:p80tcp10.180.0.1:80"),
      k.hash8("ns1/svc1/tcp/p80"), k.hash8("ns1/svc1/tcp/p80__10.180.0.1/80"))' "$KP_HERE/.."
	[ "$status" -eq 0 ]
	[ "$output" = "XPGD46QRK7WJZT7O SXIVWICOYRO3J4NJ ULMVA6XW 5OJB2KTY" ]
}

@test "(kube-proxy iptables-nft) a client pod reaches the measured Services with 0, 50 and 1000 fillers, unmasqueraded" {
	reaches_at_sizes kp_iptnft
}

@test "(kube-proxy iptables-nft) add, change and remove program one Service each" {
	follows_changes kp_iptnft
}

@test "(kube-proxy iptables-nft) the rules have kube-proxy's shape" {
	ipt_has_kube_proxy_shape kp_iptnft
}

@test "(kube-proxy iptables-nft) clear removes kube-proxy's rules and nothing else" {
	clears_only_its_own kp_iptnft
}

@test "(kube-proxy iptables-legacy) a client pod reaches the measured Services with 0, 50 and 1000 fillers, unmasqueraded" {
	reaches_at_sizes kp_iptlegacy
}

@test "(kube-proxy iptables-legacy) add, change and remove program one Service each" {
	follows_changes kp_iptlegacy
}

@test "(kube-proxy iptables-legacy) the rules have kube-proxy's shape" {
	ipt_has_kube_proxy_shape kp_iptlegacy
}

@test "(kube-proxy iptables-legacy) clear removes kube-proxy's rules and nothing else" {
	clears_only_its_own kp_iptlegacy
}

@test "(kube-proxy nftables) a client pod reaches the measured Services with 0, 50 and 1000 fillers, unmasqueraded" {
	reaches_at_sizes kp_nft
}

@test "(kube-proxy nftables) add, change and remove program one Service each" {
	follows_changes kp_nft
}

@test "(kube-proxy nftables) the rules have kube-proxy's shape" {
	local node s x t svc ep
	node=$(ptp_node_ns 3) s=$(server_ip 3) x=$(server_ip 0)
	# a 3-endpoint Service (its third endpoint, :8081, is never reached)
	program kp_nft 50 "10.111.3.3:80=$s:8080,$x:8080,$s:8081" >/dev/null
	t=$(ns_exec "$node" nft list table ip kube-proxy)
	grep -q 'type nat hook prerouting priority dstnat; policy accept;' <<<"$t"
	grep -qxF $'\t\tip daddr . meta l4proto . th dport vmap @service-ips' <<<"$t"
	grep -qxF $'\t\tmasquerade fully-random' <<<"$t"
	grep -qxF $'\t\tmeta mark set meta mark | 0x00004000' <<<"$t"
	svc=$(grep -o "10.111.3.3 . tcp . 80 : goto service-[A-Z2-7]\{8\}-bench/svc-10-111-3-3-80/tcp/http" <<<"$t")
	svc=${svc##* }
	run ns_exec "$node" nft list chain ip kube-proxy "$svc"
	[ "$status" -eq 0 ]
	[[ $output == *"ip daddr 10.111.3.3 tcp dport 80 ip saddr != 10.245.0.0/16 jump mark-for-masquerade"* ]]
	[[ $output == *"numgen random mod 3 vmap { 0 : goto endpoint-"*"-bench/svc-10-111-3-3-80/tcp/http__$s/8080, 1 : goto endpoint-"*"__$x/8080, 2 : goto endpoint-"*"__$s/8081 }"* ]]
	ep=$(grep -o "endpoint-[A-Z2-7]\{8\}-bench/svc-10-111-3-3-80/tcp/http__$s/8080" <<<"$output" | head -n 1)
	run ns_exec "$node" nft list chain ip kube-proxy "$ep"
	[[ $output == *"ip saddr $s jump mark-for-masquerade"*"meta l4proto tcp dnat to $s:8080"* ]]
	[ "$(nft_service_ips)" -eq 53 ]
}

@test "(kube-proxy nftables) clear removes kube-proxy's rules and nothing else" {
	clears_only_its_own kp_nft
}

@test "(kube-proxy) a program over budget prints nothing, returns 124 and leaves the node clearable" {
	local node
	node=$(ptp_node_ns 2)
	BN_BUDGET_S=0.001 run kp_iptlegacy_program "$node" 1000
	[ "$status" -eq 124 ]
	[ -z "$output" ]
	kp_iptlegacy_clear "$node"
	no_kube_rules kp_iptlegacy
	program kp_iptlegacy 0 >/dev/null
	reaches_measured kp_iptlegacy
}

@test "(kube-proxy ipvs) the probe says what is missing" {
	run kp_ipvs_probe "$(ptp_node_ns 1)"
	[ "$status" -eq 1 ]
	if [ ! -e /proc/net/ip_vs ]; then
		[ "$output" = "kernel has no IPVS" ]
	fi
}
