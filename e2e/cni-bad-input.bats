#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Bad requests to the CNI plugin: each gets the right CNI error code, and
# leaves nothing behind (no link, lease, endpoint or state file; the lock is
# free, so the next ADD works).

load lib/node

setup_file() {
	node_setup "$(sl_rand_hex)" "$BATS_FILE_TMPDIR/n" || return 1
	agent_start || return 1
}

teardown_file() { node_teardown; }

setup() {
	BASE=$(node_snapshot)
	TNS=$(pod_ns "t$BATS_TEST_NUMBER")
	ip netns add "$TNS"
	CONF=$(cni_conf)
}

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || node_diag
	ip netns del "$TNS" 2>/dev/null || true
}

# plugin VAR=VALUE...: the sluice binary in the node with exactly these CNI_*
# variables (others unset), stdin passed through.
plugin() {
	ns_exec "$SL_NODE" timeout 30 env -i PATH="$PATH" "${SL_SAN_ENV[@]}" CNI_PATH="$SL_CNI_PATH" "$@" \
		"$SL_BUILD/sluice" 2>>"$SL_CNI_STDERR"
}

ADD_ENV=()
add_env() { ADD_ENV=(CNI_COMMAND=ADD CNI_CONTAINERID="bad-$BATS_TEST_NUMBER" CNI_NETNS="/run/netns/$TNS" CNI_IFNAME=eth0); }

# expect_error CODE: the last run failed with exactly one CNI error object.
expect_error() {
	echo "status=$status output=$output"
	[ "$status" -ne 0 ]
	[ "$(jq -s length <<<"$output")" -eq 1 ]
	jq -e --argjson c "$1" '.code == $c and (.msg | type) == "string" and (.msg | length) > 0' <<<"$output"
}

# expect_clean: nothing left on the node or in the pod, and ADD still works.
expect_clean() {
	[ "$(node_snapshot)" = "$BASE" ]
	[ "$(ip -n "$TNS" -o link show | grep -vc ': lo:')" -eq 0 ]
	local id="ok$BATS_TEST_NUMBER"
	pod_add "$id" >/dev/null
	pod_del "$id"
	[ "$(node_snapshot)" = "$BASE" ]
}

@test "(cni) empty stdin is a decode error (6)" {
	add_env
	run plugin "${ADD_ENV[@]}" </dev/null
	expect_error 6
	expect_clean
}

@test "(cni) invalid JSON is a decode error (6)" {
	add_env
	run plugin "${ADD_ENV[@]}" <<<'{"cniVersion": "1.0.0", "name": '
	expect_error 6
	expect_clean
}

@test "(cni) a config without cniVersion is invalid (7)" {
	add_env
	run plugin "${ADD_ENV[@]}" <<<"$(jq -c 'del(.cniVersion)' <<<"$CONF")"
	expect_error 7
	expect_clean
}

@test "(cni) a config without name is invalid (7)" {
	add_env
	run plugin "${ADD_ENV[@]}" <<<"$(jq -c 'del(.name)' <<<"$CONF")"
	expect_error 7
	expect_clean
}

@test "(cni) a config without type is invalid (7)" {
	add_env
	run plugin "${ADD_ENV[@]}" <<<"$(jq -c 'del(.type)' <<<"$CONF")"
	expect_error 7
	expect_clean
}

@test "(cni) an unsupported cniVersion is an incompatible version (1)" {
	add_env
	run plugin "${ADD_ENV[@]}" <<<"$(jq -c '.cniVersion = "9.9.9"' <<<"$CONF")"
	expect_error 1
	expect_clean
}

@test "(cni) an unknown CNI_COMMAND is an environment error (4)" {
	add_env
	run plugin CNI_COMMAND=FROB CNI_CONTAINERID=bad CNI_NETNS="/run/netns/$TNS" CNI_IFNAME=eth0 <<<"$CONF"
	expect_error 4
	expect_clean
}

@test "(cni) ADD without CNI_CONTAINERID is an environment error (4)" {
	run plugin CNI_COMMAND=ADD CNI_NETNS="/run/netns/$TNS" CNI_IFNAME=eth0 <<<"$CONF"
	expect_error 4
	jq -e '(.msg + " " + (.details // "")) | contains("CNI_CONTAINERID")' <<<"$output"
	expect_clean
}

@test "(cni) ADD without CNI_NETNS is an environment error (4)" {
	run plugin CNI_COMMAND=ADD CNI_CONTAINERID=bad CNI_IFNAME=eth0 <<<"$CONF"
	expect_error 4
	jq -e '(.msg + " " + (.details // "")) | contains("CNI_NETNS")' <<<"$output"
	expect_clean
}

@test "(cni) ADD without CNI_IFNAME is an environment error (4)" {
	run plugin CNI_COMMAND=ADD CNI_CONTAINERID=bad CNI_NETNS="/run/netns/$TNS" <<<"$CONF"
	expect_error 4
	jq -e '(.msg + " " + (.details // "")) | contains("CNI_IFNAME")' <<<"$output"
	expect_clean
}

@test "(cni) ADD into a netns path that does not exist is an environment error (4) naming the path" {
	run plugin CNI_COMMAND=ADD CNI_CONTAINERID=bad CNI_NETNS=/run/netns/sl-no-such-ns CNI_IFNAME=eth0 <<<"$CONF"
	expect_error 4
	jq -e '((.msg + " " + (.details // "")) | contains("/run/netns/sl-no-such-ns"))' <<<"$output"
	expect_clean
}

@test "(cni) ADD with an interface name longer than 15 characters is rejected" {
	run plugin CNI_COMMAND=ADD CNI_CONTAINERID=bad CNI_NETNS="/run/netns/$TNS" CNI_IFNAME=eth0123456789abcd <<<"$CONF"
	expect_error 4
	expect_clean
}

@test "(cni) ADD with an IPAM plugin that is not installed is an invalid config (7) naming it" {
	add_env
	run plugin "${ADD_ENV[@]}" <<<"$(jq -c '.ipam.type = "no-such-ipam"' <<<"$CONF")"
	expect_error 7
	jq -e '((.msg + " " + (.details // "")) | contains("no-such-ipam"))' <<<"$output"
	expect_clean
}

@test "(cni) ADD with a failing IPAM plugin (invalid subnet) passes its error on" {
	add_env
	run plugin "${ADD_ENV[@]}" <<<"$(jq -c '.ipam.ranges = [[{subnet: "10.244.300.0/24"}]]' <<<"$CONF")"
	echo "$output"
	[ "$status" -ne 0 ]
	jq -e '.code > 0 and ((.msg + " " + (.details // "")) | contains("10.244.300.0/24"))' <<<"$output"
	expect_clean
}

# ipam_stand_in NAME BODY: an IPAM plugin that runs the shell BODY, in a
# directory of its own; prints that directory.
ipam_stand_in() {
	local dir=$BATS_TEST_TMPDIR/ipam-bin
	mkdir -p "$dir"
	printf '#!/bin/sh\ncat >/dev/null\n%s\n' "$2" >"$dir/$1"
	chmod +x "$dir/$1"
	echo "$dir"
}

@test "(cni) ADD with a delegated IPAM plugin that fails passes its own code and msg on" {
	local conf own
	conf=$(jq -c '.ipam = {type: "host-local", ranges: [[{subnet: "10.244.300.0/24"}]]}' <<<"$CONF")
	add_env
	# host-local's own answer to the same request
	own=$(plugin "${ADD_ENV[@]}" "$(cni_find_plugin host-local)" <<<"$conf" 2>/dev/null || true)
	echo "host-local: $own"
	jq -e '.code > 0 and (.msg | length) > 0' <<<"$own"
	run plugin "${ADD_ENV[@]}" <<<"$conf"
	expect_error "$(jq .code <<<"$own")"
	[ "$(jq -r .msg <<<"$output")" = "$(jq -r .msg <<<"$own")" ]
	if [ -n "$(jq -r '.details // ""' <<<"$own")" ]; then
		[ "$(jq -r .details <<<"$output")" = "$(jq -r .details <<<"$own")" ]
	else
		[ "$(jq -r .details <<<"$output")" = "IPAM plugin host-local ADD failed" ]
	fi
	expect_clean
}

@test "(cni) ADD with a delegated IPAM plugin that fails without a CNI error says how it ended (999)" {
	local dir conf
	dir=$(ipam_stand_in sl-ipam-exit 'echo "no json here"; echo "second line"; exit 3')
	conf=$(jq -c '.ipam = {type: "sl-ipam-exit"}' <<<"$CONF")
	add_env
	SL_CNI_PATH=$dir:$SL_CNI_PATH run plugin "${ADD_ENV[@]}" <<<"$conf"
	expect_error 999
	[ "$(jq -r .msg <<<"$output")" = "IPAM plugin failed" ]
	[ "$(jq -r .details <<<"$output")" = 'sl-ipam-exit ADD exited with status 3, output "no json here": Input/output error' ]
	expect_clean
	ipam_stand_in sl-ipam-kill 'kill -9 $$' >/dev/null
	conf=$(jq -c '.ipam = {type: "sl-ipam-kill"}' <<<"$CONF")
	SL_CNI_PATH=$dir:$SL_CNI_PATH run plugin "${ADD_ENV[@]}" <<<"$conf"
	expect_error 999
	[ "$(jq -r .msg <<<"$output")" = "IPAM plugin failed" ]
	[ "$(jq -r .details <<<"$output")" = "sl-ipam-kill ADD killed by signal 9: Input/output error" ]
	expect_clean
}

@test "(cni) ADD while the agent has not pinned the datapath is try-again (11)" {
	local fresh=$SL_PIN-fresh
	mkdir -p "$fresh"
	add_env
	run plugin "${ADD_ENV[@]}" <<<"$(jq -c --arg p "$fresh" '.pinDir = $p' <<<"$CONF")"
	rmdir "$fresh"
	expect_error 11
	expect_clean
}

# --- path traversal ---------------------------------------------------------------------

# Every name the plugin turns into a path: the container id and interface
# name (state file, lease), the network name (state and lease directories),
# the IPAM type (a binary in CNI_PATH) and the in-process IPAM's dataDir. Each
# bad value is refused by ADD, CHECK and DEL alike with an error, and nothing
# is written, read or removed outside: a canary beside the state dir survives.
@test "(cni) every name that becomes a path refuses traversal (ADD, CHECK, DEL), nothing outside touched" {
	local canary=$SL_SCRATCH/escape cmd v n=0
	mkdir -p "$canary" && echo keep >"$canary/x.json" && echo keep >"$canary/eth0"
	for cmd in ADD CHECK DEL; do
		for v in ../escape/x ../../escape .. a/../../escape; do
			run plugin CNI_COMMAND=$cmd CNI_CONTAINERID="$v" CNI_NETNS="/run/netns/$TNS" CNI_IFNAME=eth0 <<<"$CONF"
			expect_error 4
			run plugin CNI_COMMAND=$cmd CNI_CONTAINERID=trav CNI_NETNS="/run/netns/$TNS" CNI_IFNAME="$v" <<<"$CONF"
			[ "$status" -ne 0 ] # 4, or 4 for a name over 15 characters
			jq -e '.code == 4' <<<"$output"
			n=$((n + 2))
		done
		for v in ../escape .. a/b /escape; do
			run plugin CNI_COMMAND=$cmd CNI_CONTAINERID=trav CNI_NETNS="/run/netns/$TNS" CNI_IFNAME=eth0 \
				<<<"$(jq -c --arg v "$v" '.name = $v' <<<"$CONF")"
			expect_error 7
			run plugin CNI_COMMAND=$cmd CNI_CONTAINERID=trav CNI_NETNS="/run/netns/$TNS" CNI_IFNAME=eth0 \
				<<<"$(jq -c --arg v "$v" '.ipam.type = $v' <<<"$CONF")"
			expect_error 7
			n=$((n + 2))
		done
		run plugin CNI_COMMAND=$cmd CNI_CONTAINERID=trav CNI_NETNS="/run/netns/$TNS" CNI_IFNAME=eth0 \
			<<<"$(jq -c '.ipam = {type: "sluice", dataDir: "escape-rel/../escape-data", ranges: [[{subnet: "10.250.0.0/24"}]]}' <<<"$CONF")"
		echo "$cmd dataDir: $output"
		[ "$status" -ne 0 ]
		n=$((n + 1))
	done
	echo "$n refused"
	[ "$(cat "$canary/x.json" "$canary/eth0")" = "$(printf 'keep\nkeep')" ]
	# no other "escape" anywhere: not beside the node's dirs, nor in the cwd or /
	[ "$(find "$SL_SCRATCH" -name '*escape*' | sort)" = "$canary" ]
	[ -z "$(find . / -maxdepth 1 -name 'escape*')" ]
	rm -rf "$canary"
	expect_clean
}
