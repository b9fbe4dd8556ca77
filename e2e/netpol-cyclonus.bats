#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A truth-table runner in the style of cyclonus (kube-api.md §4.2): the
# generated cases of e2e/netpol/cases.py (target, rule, peer, port/protocol,
# conflict, policy-stack, action families), one test each, every step applied
# through the API, then all 81 pairs probed through pod IPs and per-pod
# Services on 80/81 TCP, UDP (and SCTP where the kernel has it) and compared
# cell by cell with the independent model (e2e/netpol/model.py).

load lib/netpol

setup_file() { netpol_setup_file; }

teardown_file() { cluster_down; }

setup() { netpol_setup; }

teardown() {
	np_delete_all
	[ -z "$RELABELED" ] || np_labels_reset
}

# step_apply JSON: one step of a case: policies applied, deleted, labels set.
step_apply() {
	local s=$1 l
	if jq -e '.apply | length > 0' <<<"$s" >/dev/null; then
		jq -c '.apply[]' <<<"$s" | np_list | np_apply || return 1
	fi
	jq -r '.delete[] | @tsv' <<<"$s" | while IFS=$'\t' read -r ns name; do
		kube delete networkpolicy -n "$ns" "$name" >/dev/null || return 1
	done || return 1
	while IFS=$'\t' read -r kind ns name l; do
		[ -n "$kind" ] || continue
		RELABELED=1
		if [ "$kind" = ns ]; then
			kube label ns "$name" "$l" --overwrite >/dev/null || return 1
		else
			kube label pod -n "$ns" "$name" "$l" --overwrite >/dev/null || return 1
		fi
	done < <(jq -r '.label[] | @tsv' <<<"$s")
}

# run_case NAME: every step of the case, the matrix checked after each.
run_case() {
	local steps s i=0
	steps=$("$NP_PY" "$NP_DIR/cases.py" steps "$1") || return 1
	while IFS= read -r s; do
		i=$((i + 1))
		echo "# step $i: $s"
		step_apply "$s" || return 1
		netpol_check || return 1
	done <<<"$steps"
}

@test "(cyclonus) every generated case has its test here" {
	diff <("$NP_PY" "$NP_DIR/cases.py" list | cut -f1) \
		<(sed -n 's/^\t*run_case "\(.*\)"$/\1/p' "$BATS_TEST_FILENAME")
}

@test "(cyclonus) target-namespace: deny-all ingress [target,target-namespace,direction,ingress,rule,deny-all]" {
	run_case "target-namespace: deny-all ingress"
}

@test "(cyclonus) target-namespace: deny-all egress [target,target-namespace,direction,egress,rule,deny-all]" {
	run_case "target-namespace: deny-all egress"
}

@test "(cyclonus) target-pod-selector: deny-all ingress [target,target-pod-selector,direction,ingress,rule,deny-all]" {
	run_case "target-pod-selector: deny-all ingress"
}

@test "(cyclonus) target-pod-selector: deny-all egress [target,target-pod-selector,direction,egress,rule,deny-all]" {
	run_case "target-pod-selector: deny-all egress"
}

@test "(cyclonus) rule deny-all ingress [rule,direction,ingress]" {
	run_case "rule deny-all ingress"
}

@test "(cyclonus) rule deny-all egress [rule,direction,egress]" {
	run_case "rule deny-all egress"
}

@test "(cyclonus) rule allow-all ingress [rule,direction,ingress]" {
	run_case "rule allow-all ingress"
}

@test "(cyclonus) rule allow-all egress [rule,direction,egress]" {
	run_case "rule allow-all egress"
}

@test "(cyclonus) rule any-peer (port 80 only) ingress [rule,direction,ingress]" {
	run_case "rule any-peer (port 80 only) ingress"
}

@test "(cyclonus) rule any-peer (port 80 only) egress [rule,direction,egress]" {
	run_case "rule any-peer (port 80 only) egress"
}

@test "(cyclonus) rule any-port-protocol (peer ns y only) ingress [rule,direction,ingress]" {
	run_case "rule any-port-protocol (peer ns y only) ingress"
}

@test "(cyclonus) rule any-port-protocol (peer ns y only) egress [rule,direction,egress]" {
	run_case "rule any-port-protocol (peer ns y only) egress"
}

@test "(cyclonus) rule multi-peer ingress [rule,direction,ingress]" {
	run_case "rule multi-peer ingress"
}

@test "(cyclonus) rule multi-peer egress [rule,direction,egress]" {
	run_case "rule multi-peer egress"
}

@test "(cyclonus) rule two rules: peer ns y on 81, any peer on UDP ingress [rule,direction,ingress]" {
	run_case "rule two rules: peer ns y on 81, any peer on UDP ingress"
}

@test "(cyclonus) rule two rules: peer ns y on 81, any peer on UDP egress [rule,direction,egress]" {
	run_case "rule two rules: peer ns y on 81, any peer on UDP egress"
}

@test "(cyclonus) peer empty pods + nil ns ingress [peer-pods,direction,ingress]" {
	run_case "peer empty pods + nil ns ingress"
}

@test "(cyclonus) peer empty pods + nil ns egress [peer-pods,direction,egress]" {
	run_case "peer empty pods + nil ns egress"
}

@test "(cyclonus) peer pods by label + nil ns ingress [peer-pods,direction,ingress]" {
	run_case "peer pods by label + nil ns ingress"
}

@test "(cyclonus) peer pods by label + nil ns egress [peer-pods,direction,egress]" {
	run_case "peer pods by label + nil ns egress"
}

@test "(cyclonus) peer nil pods + empty ns ingress [peer-pods,direction,ingress]" {
	run_case "peer nil pods + empty ns ingress"
}

@test "(cyclonus) peer nil pods + empty ns egress [peer-pods,direction,egress]" {
	run_case "peer nil pods + empty ns egress"
}

@test "(cyclonus) peer empty pods + empty ns ingress [peer-pods,direction,ingress]" {
	run_case "peer empty pods + empty ns ingress"
}

@test "(cyclonus) peer empty pods + empty ns egress [peer-pods,direction,egress]" {
	run_case "peer empty pods + empty ns egress"
}

@test "(cyclonus) peer pods by label + empty ns ingress [peer-pods,direction,ingress]" {
	run_case "peer pods by label + empty ns ingress"
}

@test "(cyclonus) peer pods by label + empty ns egress [peer-pods,direction,egress]" {
	run_case "peer pods by label + empty ns egress"
}

@test "(cyclonus) peer nil pods + ns by label ingress [peer-pods,direction,ingress]" {
	run_case "peer nil pods + ns by label ingress"
}

@test "(cyclonus) peer nil pods + ns by label egress [peer-pods,direction,egress]" {
	run_case "peer nil pods + ns by label egress"
}

@test "(cyclonus) peer empty pods + ns by label ingress [peer-pods,direction,ingress]" {
	run_case "peer empty pods + ns by label ingress"
}

@test "(cyclonus) peer empty pods + ns by label egress [peer-pods,direction,egress]" {
	run_case "peer empty pods + ns by label egress"
}

@test "(cyclonus) peer pods by label + ns by label ingress [peer-pods,direction,ingress]" {
	run_case "peer pods by label + ns by label ingress"
}

@test "(cyclonus) peer pods by label + ns by label egress [peer-pods,direction,egress]" {
	run_case "peer pods by label + ns by label egress"
}

@test "(cyclonus) peer ns by default label ingress [peer-pods,direction,ingress]" {
	run_case "peer ns by default label ingress"
}

@test "(cyclonus) peer ns by default label egress [peer-pods,direction,egress]" {
	run_case "peer ns by default label egress"
}

@test "(cyclonus) peer simple ipblock ingress [peer-ipblock,direction,ingress]" {
	run_case "peer simple ipblock ingress"
}

@test "(cyclonus) peer simple ipblock egress [peer-ipblock,direction,egress]" {
	run_case "peer simple ipblock egress"
}

@test "(cyclonus) peer ipblock with except ingress [peer-ipblock,direction,ingress]" {
	run_case "peer ipblock with except ingress"
}

@test "(cyclonus) peer ipblock with except egress [peer-ipblock,direction,egress]" {
	run_case "peer ipblock with except egress"
}

@test "(cyclonus) port any port on TCP ingress [port,protocol,direction,ingress]" {
	run_case "port any port on TCP ingress"
}

@test "(cyclonus) port any port on UDP ingress [port,protocol,direction,ingress]" {
	run_case "port any port on UDP ingress"
}

@test "(cyclonus) port any port on SCTP ingress [port,protocol,direction,ingress]" {
	run_case "port any port on SCTP ingress"
}

@test "(cyclonus) port numbered port 80 on TCP ingress [port,protocol,direction,ingress]" {
	run_case "port numbered port 80 on TCP ingress"
}

@test "(cyclonus) port numbered port 81 on UDP ingress [port,protocol,direction,ingress]" {
	run_case "port numbered port 81 on UDP ingress"
}

@test "(cyclonus) port numbered port 81 on SCTP ingress [port,protocol,direction,ingress]" {
	run_case "port numbered port 81 on SCTP ingress"
}

@test "(cyclonus) port numbered port without protocol (TCP) ingress [port,protocol,direction,ingress]" {
	run_case "port numbered port without protocol (TCP) ingress"
}

@test "(cyclonus) port named port serve-81-tcp ingress [port,protocol,direction,ingress]" {
	run_case "port named port serve-81-tcp ingress"
}

@test "(cyclonus) port named port serve-80-udp ingress [port,protocol,direction,ingress]" {
	run_case "port named port serve-80-udp ingress"
}

@test "(cyclonus) port named port serve-80-sctp ingress [port,protocol,direction,ingress]" {
	run_case "port named port serve-80-sctp ingress"
}

@test "(cyclonus) port end port 80-81 on TCP ingress [port,protocol,direction,ingress]" {
	run_case "port end port 80-81 on TCP ingress"
}

@test "(cyclonus) port end port 81-90 on UDP ingress [port,protocol,direction,ingress]" {
	run_case "port end port 81-90 on UDP ingress"
}

@test "(cyclonus) port pathological: named port that doesn't match its protocol ingress [port,protocol,direction,ingress]" {
	run_case "port pathological: named port that doesn't match its protocol ingress"
}

@test "(cyclonus) port pathological: named port that isn't served ingress [port,protocol,direction,ingress]" {
	run_case "port pathological: named port that isn't served ingress"
}

@test "(cyclonus) port pathological: numbered port that isn't served ingress [port,protocol,direction,ingress]" {
	run_case "port pathological: numbered port that isn't served ingress"
}

@test "(cyclonus) port multi-port/protocol: 80 TCP + named serve-81-udp ingress [port,protocol,direction,ingress]" {
	run_case "port multi-port/protocol: 80 TCP + named serve-81-udp ingress"
}

@test "(cyclonus) port numbered port 80 on TCP egress [port,protocol,direction,egress]" {
	run_case "port numbered port 80 on TCP egress"
}

@test "(cyclonus) port named port serve-81-tcp egress [port,protocol,direction,egress]" {
	run_case "port named port serve-81-tcp egress"
}

@test "(cyclonus) port end port 80-81 on TCP egress [port,protocol,direction,egress]" {
	run_case "port end port 80-81 on TCP egress"
}

@test "(cyclonus) port pathological: named port that doesn't match its protocol egress [port,protocol,direction,egress]" {
	run_case "port pathological: named port that doesn't match its protocol egress"
}

@test "(cyclonus) port named port serve-81-tcp egress to an ipblock with except [port,protocol,peer-ipblock,direction,egress]" {
	run_case "port named port serve-81-tcp egress to an ipblock with except"
}

@test "(cyclonus) conflict: deny all + allow all from same source [conflict]" {
	run_case "conflict: deny all + allow all from same source"
}

@test "(cyclonus) conflict: deny all by IP + allow all by pod [conflict]" {
	run_case "conflict: deny all by IP + allow all by pod"
}

@test "(cyclonus) conflict: egress deny all on the client + ingress allow all on the server [conflict]" {
	run_case "conflict: egress deny all on the client + ingress allow all on the server"
}

@test "(cyclonus) conflict: ingress and egress on one pod, each open to the other's peers [conflict]" {
	run_case "conflict: ingress and egress on one pod, each open to the other's peers"
}

@test "(cyclonus) policy-stack: three policies on one pod, union of their ports [policy-stack]" {
	run_case "policy-stack: three policies on one pod, union of their ports"
}

@test "(cyclonus) action: create/delete policy [action,create-policy,delete-policy]" {
	run_case "action: create/delete policy"
}

@test "(cyclonus) action: create/update policy [action,create-policy,update-policy]" {
	run_case "action: create/update policy"
}

@test "(cyclonus) action: update namespace so that policy applies, then again so it no longer applies [action,set-namespace-labels]" {
	run_case "action: update namespace so that policy applies, then again so it no longer applies"
}

@test "(cyclonus) action: update pod so that policy applies, then again so it no longer applies [action,set-pod-labels]" {
	run_case "action: update pod so that policy applies, then again so it no longer applies"
}

@test "(cyclonus) action: a pod becomes a policy's target by label, then leaves it [action,set-pod-labels,target]" {
	run_case "action: a pod becomes a policy's target by label, then leaves it"
}
