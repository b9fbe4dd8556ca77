#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The CNI plugin's lifecycle as a runtime drives it: ADD, DEL in every shape a
# runtime sends it, CHECK, GC, STATUS, and many pods at once without leaks.

# Each test runs in a process of its own: the facts add() sets (IP VETH CID
# NS) are that test's, which shellcheck reads as lost subshell changes.
# shellcheck disable=SC2030,SC2031

load lib/node

setup_file() { node_setup_file; }

teardown_file() { node_teardown; }

setup() { BASE=$(node_snapshot); }

teardown() { node_test_diag; }

# add ID: pod_add and the facts a later check needs: IP VETH CID NS.
add() {
	pod_add "$1" >/dev/null || return 1
	IP=$(pod_ip "$1") VETH=$(pod_host_veth "$1") CID=$(pod_cid "$1") NS=$(pod_ns "$1")
}

# check_reports WORD: CHECK of the pod add() made fails with an error that
# names WORD (any case) and the pod's IP.
check_reports() {
	run cni_exec CHECK "$CID" "/run/netns/$NS" eth0
	echo "$output"
	[ "$status" -ne 0 ] || return 1
	jq -e --arg ip "$IP" --arg w "$1" \
		'.code > 0 and ((.msg + " " + (.details // "")) | test($w; "i") and contains($ip))' <<<"$output"
}

# ADD made each thing DEL must remove, so "nothing left" is not vacuous.
assert_pod_present() {
	ip -n "$SL_NODE" link show dev "$VETH" >/dev/null
	[ -n "$(ip -n "$SL_NODE" -4 route show "$IP/32")" ]
	leases | grep -qxF "$IP"
	ep_has "$IP"
	[ "$(slot_ip "$VETH")" = "$IP" ]
	state_files | grep -qF -- "/$CID-eth0.json"
}

@test "(cni) DEL removes the host veth, the /32 route, the lease, the endpoint and the state file" {
	add del1
	assert_pod_present
	run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	pod_gone "$IP" "$VETH" "$CID"
	[ "$(ip -n "$NS" -o link show | grep -vc ': lo:')" -eq 0 ]
	[ "$(node_snapshot)" = "$BASE" ]
	ip netns del "$NS"
}

@test "(cni) DEL twice succeeds, with and without the cached result" {
	local cache
	add del2
	cache=$(cat "$SL_CNI_CACHE/results/sluice-$CID-eth0")
	run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	[ "$status" -eq 0 ]
	# A runtime that crashed before forgetting the result repeats the same DEL.
	printf '%s\n' "$cache" >"$SL_CNI_CACHE/results/sluice-$CID-eth0"
	run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	[ "$status" -eq 0 ]
	run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	[ "$status" -eq 0 ]
	pod_gone "$IP" "$VETH" "$CID"
	[ "$(node_snapshot)" = "$BASE" ]
	ip netns del "$NS"
}

@test "(cni) DEL without a prevResult removes everything ADD made" {
	add del3
	rm -f "$SL_CNI_CACHE/results/sluice-$CID-eth0"
	run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	[ "$status" -eq 0 ]
	pod_gone "$IP" "$VETH" "$CID"
	[ "$(node_snapshot)" = "$BASE" ]
	ip netns del "$NS"
}

@test "(cni) DEL succeeds after the netns is gone and releases everything" {
	add del4
	ip netns del "$NS"
	run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	echo "$output"
	[ "$status" -eq 0 ]
	pod_gone "$IP" "$VETH" "$CID"
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni) DEL with an empty CNI_NETNS removes the host side too" {
	add del5
	run cni_exec DEL "$CID" "" eth0
	echo "$output"
	[ "$status" -eq 0 ]
	pod_gone "$IP" "$VETH" "$CID"
	[ "$(node_snapshot)" = "$BASE" ]
	ip netns del "$NS"
}

@test "(cni) a failed ADD leaves nothing and the DEL that follows succeeds" {
	local ns cid
	ns=$(pod_ns fail1) cid=$(pod_cid fail1)
	ip netns add "$ns"
	# The pod already has an eth0: the plugin cannot create its interface.
	ip -n "$ns" link add eth0 type bridge
	run cni_exec ADD "$cid" "/run/netns/$ns" eth0
	echo "$output"
	[ "$status" -ne 0 ]
	jq -e '(.code | type) == "number" and .code > 0 and (.msg | length) > 0' <<<"$output"
	[ "$(node_snapshot)" = "$BASE" ]
	run cni_exec DEL "$cid" "/run/netns/$ns" eth0
	[ "$status" -eq 0 ]
	[ "$(node_snapshot)" = "$BASE" ]
	# The pod's own interface was not touched.
	ip -n "$ns" -d -j link show dev eth0 | jq -e '.[0].linkinfo.info_kind == "bridge"'
	ip netns del "$ns"
}

@test "(cni) CHECK succeeds after ADD" {
	add chk1
	run cni_exec CHECK "$CID" "/run/netns/$NS" eth0
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	pod_del chk1
}

@test "(cni) CHECK reports a removed host route" {
	add chk2
	ip -n "$SL_NODE" route del "$IP/32" dev "$VETH"
	check_reports route
	pod_del chk2
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni) CHECK reports a removed pod address" {
	add chk3
	ip -n "$NS" addr del "$IP/32" dev eth0
	check_reports addr
	pod_del chk3
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni) GC removes attachments not listed and keeps the listed ones" {
	local ip1 ip3 va conf
	add gc1
	ip1=$IP
	add gc2
	add gc3
	ip3=$IP
	va=$(jq -cn --arg a "$(pod_cid gc1)" --arg b "$(pod_cid gc3)" \
		'[{containerID: $a, ifname: "eth0"}, {containerID: $b, ifname: "eth0"}]')
	conf=$(cni_conf 1.1.0 | jq -c --argjson va "$va" '. + {"cni.dev/valid-attachments": $va}')
	run cni_raw GC "" "" "" <<<"$conf"
	echo "$output"
	[ "$status" -eq 0 ]
	# gc2 is gone (VETH/IP/CID are still gc2's).
	IP=$(pod_ip gc2) VETH=$(pod_host_veth gc2) CID=$(pod_cid gc2)
	pod_gone "$IP" "$VETH" "$CID"
	# gc1 and gc3 are intact and still talk to each other.
	for p in gc1 gc3; do
		IP=$(pod_ip $p) VETH=$(pod_host_veth $p) CID=$(pod_cid $p)
		assert_pod_present
	done
	run ns_ping "$(pod_ns gc1)" "$ip3"
	[ "$status" -eq 0 ]
	run ns_ping "$(pod_ns gc3)" "$ip1"
	[ "$status" -eq 0 ]
	pod_del gc1
	pod_del gc3
	ip netns del "$(pod_ns gc2)"
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni) STATUS fails with code 50 until the agent has pinned the datapath" {
	local fresh=$SL_PIN-fresh
	mkdir -p "$fresh"
	run cni_raw STATUS "" "" "" <<<"$(cni_conf 1.1.0 | jq -c --arg p "$fresh" '.pinDir = $p')"
	rmdir "$fresh"
	echo "$output"
	[ "$status" -ne 0 ]
	jq -e '.code == 50 and (.msg | length) > 0' <<<"$output"
	run cni_raw STATUS "" "" "" <<<"$(cni_conf 1.1.0)"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "(cni) 50 concurrent ADDs then 50 concurrent DELs leak nothing" {
	local n=50 i ok ips d=$SL_SCRATCH/conc start
	mkdir -p "$d"
	for ((i = 1; i <= n; i++)); do ip netns add "$(pod_ns c$i)"; done
	start=$(date +%s)
	cni_exec_all ADD c "$n" "$d"
	echo "ADDs took $(($(date +%s) - start)) s"
	ok=$(cat "$d"/rc.add.* | grep -cx 0)
	[ "$ok" -eq "$n" ] || { grep -L '^0$' "$d"/rc.add.* | head -3 | sed 's/rc\.add\./add./' | xargs cat; false; }
	ips=$(cat "$d"/add.[0-9]* | jq -r '.ips[0].address' | sort -u | grep -c .)
	[ "$ips" -eq "$n" ]
	[ "$(host_veth_count)" -eq "$n" ]
	[ "$(lease_count)" -eq "$n" ]
	[ "$(ep_count)" -eq "$n" ]
	[ "$(state_file_count)" -eq "$n" ]
	start=$(date +%s)
	cni_exec_all DEL c "$n" "$d"
	echo "DELs took $(($(date +%s) - start)) s"
	ok=$(cat "$d"/rc.del.* | grep -cx 0)
	[ "$ok" -eq "$n" ] || { grep -L '^0$' "$d"/rc.del.* | head -3 | sed 's/rc\.del\./del./' | xargs cat; false; }
	for ((i = 1; i <= n; i++)); do ip netns del "$(pod_ns c$i)"; done
	echo "after: $(node_snapshot)"
	[ "$(node_snapshot)" = "veths=0 routes=0 leases=0 eps=0 slots=0 states=0" ]
}

# variant VERSION [JQ]: a copy of the agent's conflist at cniVersion VERSION,
# edited by JQ; prints its path.
variant() {
	local f=$BATS_TEST_TMPDIR/variant-$RANDOM.conflist
	jq --arg v "$1" ".cniVersion = \$v | ${2:-.}" "$SL_CONFLIST" >"$f" && echo "$f"
}

@test "(cni) a conflist at 1.1.0 works with an IPAM plugin that speaks up to 1.0.0, and DEL releases the lease" {
	local list
	# Debian's host-local 1.1.1 lists versions up to 1.0.0.
	list=$(variant 1.1.0 '.plugins[0].ipam.type = "host-local"')
	SL_CONFLIST=$list add v110
	assert_pod_present
	jq -e '.cniVersion == "1.1.0" and .interfaces[0].mtu > 0' "$SL_SCRATCH/pods/v110.json"
	SL_CONFLIST=$list run cni_exec CHECK "$CID" "/run/netns/$NS" eth0
	echo "$output"
	[ "$status" -eq 0 ]
	SL_CONFLIST=$list run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	echo "$output"
	[ "$status" -eq 0 ]
	pod_gone "$IP" "$VETH" "$CID"
	[ "$(node_snapshot)" = "$BASE" ]
	ip netns del "$NS"
}

@test "(cni) the IPAM plugin's VERSION answer is asked once per binary, and again after it changes" {
	local dir=$BATS_TEST_TMPDIR/bin calls=$BATS_TEST_TMPDIR/calls list
	mkdir -p "$dir"
	# A host-local that records each command it is run with.
	# shellcheck disable=SC2016 # $CNI_COMMAND is the wrapper's own
	printf '#!/bin/sh\necho "$CNI_COMMAND" >>%s\nexec %s\n' "$calls" "$(cni_find_plugin host-local)" >"$dir/hl-rec"
	chmod +x "$dir/hl-rec"
	list=$(variant 1.1.0 '.plugins[0].ipam.type = "hl-rec"')
	SL_CNI_PATH=$dir:$SL_CNI_PATH SL_CONFLIST=$list add ver1
	SL_CNI_PATH=$dir:$SL_CNI_PATH SL_CONFLIST=$list run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	[ "$status" -eq 0 ]
	SL_CNI_PATH=$dir:$SL_CNI_PATH SL_CONFLIST=$list run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	[ "$status" -eq 0 ]
	cat "$calls"
	[ "$(tr '\n' ' ' <"$calls")" = "VERSION ADD DEL DEL " ]
	touch -d '1 minute ago' "$dir/hl-rec" # an upgrade: another mtime
	: >"$calls"
	SL_CNI_PATH=$dir:$SL_CNI_PATH SL_CONFLIST=$list run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	[ "$status" -eq 0 ]
	[ "$(tr '\n' ' ' <"$calls")" = "VERSION DEL " ]
	ip netns del "$NS"
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni) a DEL whose IPAM release fails keeps what a retry needs, and the retry releases the lease" {
	local dir=$BATS_TEST_TMPDIR/only-sluice list
	# A delegated IPAM, so that it can go missing.
	list=$(variant "$(jq -r .cniVersion "$SL_CONFLIST")" '.plugins[0].ipam.type = "host-local"')
	export SL_CONFLIST=$list
	add delretry
	assert_pod_present
	# IPAM cannot be found: DEL fails, the lease and the state file stay.
	mkdir -p "$dir"
	ln -s "$(cni_find_plugin sluice)" "$dir/sluice"
	SL_CNI_PATH=$dir run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	echo "$output"
	[ "$status" -ne 0 ]
	leases | grep -qxF "$IP"
	state_files | grep -qF -- "/$CID-eth0.json"
	run cni_exec DEL "$CID" "/run/netns/$NS" eth0
	[ "$status" -eq 0 ]
	pod_gone "$IP" "$VETH" "$CID"
	[ "$(node_snapshot)" = "$BASE" ]
	ip netns del "$NS"
}

@test "(cni) GC at cniVersion 1.0.0 is refused (1) and deletes nothing" {
	local conf
	add gc100
	conf=$(cni_conf 1.0.0 | jq -c '. + {"cni.dev/valid-attachments": []}')
	run cni_raw GC "" "" "" <<<"$conf"
	echo "$output"
	[ "$status" -ne 0 ]
	jq -e '.code == 1 and (.details | test("GC")) and (.details | test("1.0.0"))' <<<"$output"
	assert_pod_present
	pod_del gc100
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni) CHECK at cniVersion 0.3.1 is refused (1), STATUS at 1.0.0 too" {
	local conf
	add chk031
	conf=$(cni_conf 0.3.1 | jq -c --slurpfile r "$SL_SCRATCH/pods/chk031.json" '. + {prevResult: $r[0]}')
	run cni_raw CHECK "$CID" "/run/netns/$NS" eth0 <<<"$conf"
	echo "$output"
	[ "$status" -ne 0 ]
	jq -e '.code == 1 and (.details | test("CHECK")) and (.details | test("0.3.1"))' <<<"$output"
	run cni_raw STATUS "" "" "" <<<"$(cni_conf 1.0.0)"
	echo "$output"
	[ "$status" -ne 0 ]
	jq -e '.code == 1 and (.details | test("STATUS")) and (.details | test("1.0.0"))' <<<"$output"
	pod_del chk031
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni) ADD refuses an IPAM address outside the node's pod CIDR (7), naming both, and releases it" {
	local list ns
	list=$(variant 1.0.0 '.plugins[0].ipam.ranges = [[{subnet: "10.99.0.0/24"}]]')
	ns=$(pod_ns out1)
	ip netns add "$ns"
	SL_CONFLIST=$list run cni_exec ADD "$(pod_cid out1)" "/run/netns/$ns" eth0
	echo "$output"
	[ "$status" -ne 0 ]
	jq -e --arg c "$SL_POD_CIDR" '.code == 7 and (.details | contains("10.99.0.")) and (.details | contains($c))' <<<"$output"
	[ -z "$(find "$SL_IPAM_DIR" -name '10.99.*')" ]
	[ "$(ip -n "$ns" -o link show | grep -vc ': lo:')" -eq 0 ]
	ip netns del "$ns"
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni) ADD does not log libbpf's refusal to re-create the clsact hook" {
	local before_log before_err
	touch "$SL_CNI_LOG" "$SL_CNI_STDERR"
	before_log=$(wc -l <"$SL_CNI_LOG") before_err=$(wc -l <"$SL_CNI_STDERR")
	add quiet
	tail -n +"$((before_log + 1))" "$SL_CNI_LOG"
	grep -q 'Added ' <(tail -n +"$((before_log + 1))" "$SL_CNI_LOG")
	run grep -E 'Exclusivity|libbpf' <(tail -n +"$((before_log + 1))" "$SL_CNI_LOG")
	[ "$status" -eq 1 ]
	run grep -E 'Exclusivity|libbpf' <(tail -n +"$((before_err + 1))" "$SL_CNI_STDERR")
	[ "$status" -eq 1 ]
	pod_del quiet
	[ "$(node_snapshot)" = "$BASE" ]
}
