#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The plugin's in-process IPAM ("ipam": {"type": "sluice"}, the agent's
# default), driven through the real binary as a runtime drives it: addresses
# in host-local's order and lease layout, requests, parallel ADDs, GC, STATUS,
# and leases written earlier by Debian's host-local.

load lib/node

setup_file() { node_setup_file; }

teardown_file() { node_teardown; }

setup() { BASE=$(node_snapshot); }

teardown() { node_test_diag; }

LEASES() { echo "$SL_IPAM_DIR/sluice"; }

# plugin VAR=VALUE...: the sluice binary in the node with exactly these CNI_*
# variables (others unset), stdin passed through.
plugin() {
	ns_exec "$SL_NODE" timeout 30 env -i PATH="$PATH" "${SL_SAN_ENV[@]}" CNI_PATH="$SL_CNI_PATH" "$@" \
		"$SL_BUILD/sluice" 2>>"$SL_CNI_STDERR"
}

# add_args ID CNI_ARGS [CONF]: ADD of pod ID with CNI_ARGS; output and status in run's.
add_args() {
	ip netns add "$(pod_ns "$1")" 2>/dev/null
	run plugin CNI_COMMAND=ADD CNI_CONTAINERID="$(pod_cid "$1")" CNI_NETNS="/run/netns/$(pod_ns "$1")" \
		CNI_IFNAME=eth0 CNI_ARGS="$2" <<<"${3:-$(cni_conf)}"
	echo "$output"
}

del_raw() {
	run plugin CNI_COMMAND=DEL CNI_CONTAINERID="$(pod_cid "$1")" CNI_NETNS="" CNI_IFNAME=eth0 <<<"${2:-$(cni_conf)}"
	echo "$output"
	ip netns del "$(pod_ns "$1")" 2>/dev/null || true
}

@test "(cni-ipam) the agent's conflist uses the in-process IPAM" {
	[ "$(jq -r '.plugins[0].ipam.type' "$SL_CONFLIST")" = sluice ]
	[ "$(jq -r '.plugins[0].ipam.ranges[0][0].subnet' "$SL_CONFLIST")" = "$SL_POD_CIDR" ]
}

@test "(cni-ipam) ADD leases the first address after the gateway in host-local's layout, DEL releases it" {
	local ip cid net=${SL_POD_CIDR%.*}
	ip=$(pod_add first)
	cid=$(pod_cid first)
	[ "$ip" = "$net.2" ]
	# The file host-local would write: "<containerid>\r\n<ifname>".
	[ "$(cat "$(LEASES)/$ip")" = "$(printf '%s\r\neth0' "$cid")" ]
	[ "$(cat "$(LEASES)/last_reserved_ip.0")" = "$ip" ]
	# Round robin: the next pod gets the next address, even after a release.
	pod_del first
	[ ! -e "$(LEASES)/$ip" ]
	ip=$(pod_add second)
	[ "$ip" = "$net.3" ]
	pod_del second
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni-ipam) CNI_ARGS IP= and runtimeConfig.ips get the requested address; taken or outside fails and leaves nothing" {
	local net=${SL_POD_CIDR%.*}
	add_args req1 "IgnoreUnknown=1;K8S_POD_NAME=x;IP=$net.77"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.ips[0].address' <<<"$output")" = "$net.77/32" ]
	[ "$(cat "$(LEASES)/$net.77")" = "$(printf '%s\r\neth0' "$(pod_cid req1)")" ]
	add_args req2 "" "$(cni_conf | jq -c --arg ip "$net.78/24" '.runtimeConfig = {ips: [$ip]}')"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.ips[0].address' <<<"$output")" = "$net.78/32" ]
	# Taken: an error, and pod req3 leaves nothing behind.
	add_args req3 "IP=$net.77"
	[ "$status" -ne 0 ]
	jq -e --arg ip "$net.77" '.code > 0 and (.details | contains($ip))' <<<"$output"
	del_raw req3
	# Outside the node's pod CIDR: invalid config (7) naming it.
	add_args req4 "IP=10.99.0.5"
	[ "$status" -ne 0 ]
	jq -e '.code == 7 and (.details | contains("10.99.0.5"))' <<<"$output"
	del_raw req4
	del_raw req1
	del_raw req2
	[ "$status" -eq 0 ]
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni-ipam) 20 parallel ADDs get 20 distinct addresses, 20 parallel DELs release them" {
	local n=20 i d=$BATS_TEST_TMPDIR/par
	mkdir -p "$d"
	for ((i = 1; i <= n; i++)); do ip netns add "$(pod_ns p$i)"; done
	cni_exec_all ADD p "$n" "$d"
	[ "$(cat "$d"/rc.add.* | grep -cx 0)" -eq "$n" ]
	[ "$(cat "$d"/add.* | jq -r '.ips[0].address' | sort -u | grep -c .)" -eq "$n" ]
	[ "$(lease_count)" -eq "$n" ]
	# Each lease names its own pod.
	for ((i = 1; i <= n; i++)); do
		ip=$(jq -r '.ips[0].address | split("/")[0]' "$d/add.$i")
		[ "$(head -n1 "$(LEASES)/$ip" | tr -d '\r')" = "$(pod_cid p$i)" ]
	done
	cni_exec_all DEL p "$n" "$d"
	[ "$(cat "$d"/rc.del.* | grep -cx 0)" -eq "$n" ]
	for ((i = 1; i <= n; i++)); do ip netns del "$(pod_ns p$i)"; done
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni-ipam) leases written by Debian's host-local are kept, and sluice's DEL releases them" {
	local old ip_old ip_new list=$BATS_TEST_TMPDIR/host-local.conflist
	# A pod added while the node ran with --ipam host-local (the same data dir).
	jq '.plugins[0].ipam.type = "host-local"' "$SL_CONFLIST" >"$list"
	ip_old=$(SL_CONFLIST=$list pod_add migr1)
	old=$(pod_cid migr1)
	[ "$(cat "$(LEASES)/$ip_old")" = "$(printf '%s\r\neth0' "$old")" ]
	# Now with the in-process IPAM: the old lease is respected ...
	ip_new=$(pod_add migr2)
	[ "$ip_new" != "$ip_old" ]
	[ -e "$(LEASES)/$ip_old" ]
	add_args migr3 "IP=$ip_old"
	[ "$status" -ne 0 ]
	del_raw migr3
	# ... and the old pod's DEL, now through sluice's IPAM, releases it.
	pod_del migr1
	[ ! -e "$(LEASES)/$ip_old" ]
	pod_del migr2
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni-ipam) GC releases leases a crash left between allocation and use, and keeps valid ones" {
	local net=${SL_POD_CIDR%.*} keep va conf
	pod_add gc1 >/dev/null
	keep=$(pod_ip gc1)
	# ADD claimed an address and died before anything used it; and one died
	# between creating the lease file and writing its owner.
	printf 'crashed-ctr\r\neth0' >"$(LEASES)/$net.200"
	: >"$(LEASES)/$net.201"
	va=$(jq -cn --arg a "$(pod_cid gc1)" '[{containerID: $a, ifname: "eth0"}]')
	conf=$(cni_conf 1.1.0 | jq -c --argjson va "$va" '. + {"cni.dev/valid-attachments": $va}')
	run cni_raw GC "" "" "" <<<"$conf"
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e "$(LEASES)/$net.200" ]
	[ ! -e "$(LEASES)/$net.201" ]
	[ -e "$(LEASES)/$keep" ]
	# The runtime's DEL after a failed ADD reclaims it too.
	printf 'crashed-ctr2\r\neth0' >"$(LEASES)/$net.202"
	run cni_raw DEL crashed-ctr2 "" eth0 <<<"$(cni_conf)"
	[ "$status" -eq 0 ]
	[ ! -e "$(LEASES)/$net.202" ]
	pod_del gc1
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni-ipam) STATUS fails with code 50 when the pool is exhausted and recovers after a DEL" {
	local net=${SL_POD_CIDR%.*} conf
	# A pool of two addresses in a data dir of its own.
	conf=$(cni_conf 1.1.0 | jq -c --arg s "$net.250" --arg e "$net.251" --arg d "$BATS_TEST_TMPDIR/ipam" \
		'.ipam.ranges[0][0] += {rangeStart: $s, rangeEnd: $e} | .ipam.dataDir = $d')
	run cni_raw STATUS "" "" "" <<<"$conf"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	add_args full1 "" "$conf"
	[ "$status" -eq 0 ]
	add_args full2 "" "$conf"
	[ "$status" -eq 0 ]
	run cni_raw STATUS "" "" "" <<<"$conf"
	echo "$output"
	[ "$status" -ne 0 ]
	jq -e '.code == 50 and (.msg | test("exhausted")) and (.details | contains("2 addresses"))' <<<"$output"
	# ADD on an exhausted pool fails and leaves nothing of its own.
	add_args full3 "" "$conf"
	[ "$status" -ne 0 ]
	jq -e '.code > 0 and (.msg | test("No IP addresses"))' <<<"$output"
	del_raw full3 "$conf"
	del_raw full1 "$conf"
	[ "$status" -eq 0 ]
	run cni_raw STATUS "" "" "" <<<"$conf"
	[ "$status" -eq 0 ]
	del_raw full2 "$conf"
	[ "$(node_snapshot)" = "$BASE" ]
	[ -z "$(find "$BATS_TEST_TMPDIR/ipam" -name "$net.*")" ]
}
