#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# NetworkPolicy on three emulated nodes, one test per upstream e2e case
# (test/e2e/network/netpol/network_policy.go, kube-api.md §4.1), each named
# after its twin: the model topology of e2e/lib/netpol.bash, every pod->pod
# pair probed through pod IPs and per-pod Services on 80/81 TCP and UDP (and
# SCTP where the kernel has it), compared cell by cell with the model
# (e2e/netpol/model.py) computed from the API objects. Truth tables on failure.

load lib/netpol

setup_file() { netpol_setup_file; }

teardown_file() { cluster_down; }

setup() { netpol_setup; }

teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		echo "# policies in force:" >&3
		kube get networkpolicies -A -o json | jq -c '.items[] | {ns: .metadata.namespace, name: .metadata.name, spec}' |
			sed 's/^/#   /' >&3
	fi
	np_delete_all
	[ -z "$RELABELED" ] || np_labels_reset
}

# policy NS NAME SPEC_YAML: creates or updates NetworkPolicy NAME in NS.
policy() {
	np_apply <<-EOF
		apiVersion: networking.k8s.io/v1
		kind: NetworkPolicy
		metadata: {name: "$2", namespace: "$1"}
		spec: $3
	EOF
}

# check [matrix.py options]: the probed matrix is the model's.
check() { netpol_check "$@"; }

TCP=80/TCP,81/TCP
UDP=80/UDP,81/UDP
SCTP=80/SCTP,81/SCTP

need_sctp() { np_sctp || skip "this kernel has no SCTP (socket(IPPROTO_SCTP) fails): SCTP cells cannot be probed"; }

# relabel KIND NS|- NAME LABELS...: kubectl label --overwrite; teardown restores the model's labels.
relabel() {
	RELABELED=1
	if [ "$1" = ns ]; then
		kube label ns "$2" "${@:3}" --overwrite >/dev/null
	else
		kube label pod -n "$2" "$3" "${@:4}" --overwrite >/dev/null
	fi
}

# --- defaults --------------------------------------------------------------------------

@test "(netpol) the model topology: with no policy every pair is allowed" {
	check
}

@test "(netpol) should support a 'default-deny-ingress' policy" {
	policy x deny-ingress '{podSelector: {}, policyTypes: [Ingress]}'
	check
}

@test "(netpol) should support a 'default-deny-all' policy" {
	policy x deny-all '{podSelector: {}, policyTypes: [Ingress, Egress]}'
	check
}

@test "(netpol) should support allow-all policy" {
	policy x allow-all '{podSelector: {}, ingress: [{}]}'
	check
}

@test "(netpol) should stop enforcing policies after they are deleted" {
	policy x deny-all '{podSelector: {}, policyTypes: [Ingress, Egress]}'
	check
	kube delete networkpolicy -n x deny-all >/dev/null
	check
}

# --- pod and namespace selectors ------------------------------------------------------

@test "(netpol) should enforce policy to allow traffic from pods within server namespace based on PodSelector" {
	policy x x-a-allows-x-b '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]}'
	check
}

@test "(netpol) should enforce policy to allow ingress traffic for a target" {
	policy x deny-ingress '{podSelector: {}, policyTypes: [Ingress]}'
	policy x allow-ingress-target '{podSelector: {matchLabels: {pod: a}}, ingress: [{}]}'
	check
}

@test "(netpol) should enforce policy to allow ingress traffic from pods in all namespaces" {
	policy x allow-from-all-ns '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {}}]}]}'
	check
}

@test "(netpol) should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector" {
	policy x allow-client-a-via-ns-selector '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]}]}'
	check
}

@test "(netpol) should enforce policy based on PodSelector with MatchExpressions" {
	policy x allow-client-a-via-pod-selector-with-match-expressions \
		'{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}]}]}'
	check
}

@test "(netpol) should enforce policy based on NamespaceSelector with MatchExpressions" {
	policy x allow-ns-y-via-ns-selector-with-match-expressions \
		'{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: In, values: ["y"]}]}}]}]}'
	check
}

@test "(netpol) should enforce policy based on PodSelector or NamespaceSelector" {
	policy x allow-ns-y-match-selector \
		'{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}}, {podSelector: {matchLabels: {pod: b}}}]}]}'
	check
}

@test "(netpol) should enforce policy based on PodSelector and NamespaceSelector" {
	policy x allow-ns-y-podselector-and-nsselector \
		'{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}, podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [a]}]}}]}]}'
	check
}

@test "(netpol) should enforce policy based on Multiple PodSelectors and NamespaceSelectors" {
	policy x allow-z-pods-b-c \
		'{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}, podSelector: {matchExpressions: [{key: pod, operator: In, values: [b, c]}]}}]}]}'
	check
}

@test "(netpol) should enforce policy based on any PodSelectors" {
	policy x allow-x-b-c '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}, {podSelector: {matchLabels: {pod: c}}}]}]}'
	check
}

@test "(netpol) should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector" {
	policy x allow-ns-y-pod-a '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}]}]}'
	check
}

@test "(netpol) should deny ingress from pods on other namespaces" {
	policy x deny-other-ns '{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}'
	check
}

@test "(netpol) should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label" {
	policy x allow-ns-y-by-name '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}]}]}'
	check
}

@test "(netpol) should enforce policy based on NamespaceSelector with MatchExpressions using default ns label" {
	policy x allow-egress-ns-y-by-name \
		'{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: ["y"]}]}}]}]}'
	check
}

# --- ports and protocols ------------------------------------------------------------------

@test "(netpol) should enforce policy based on Ports" {
	policy x allow-ns-y-port-81 '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 81, protocol: TCP}]}]}'
	check
}

@test "(netpol) should enforce multiple, stacked policies with overlapping podSelectors" {
	policy x allow-ns-y-port-80 '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 80}]}]}'
	check
	policy x allow-ns-y-port-81 '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 81}]}]}'
	check
}

@test "(netpol) should allow ingress access on one named port" {
	policy x allow-all-on-serve-81-tcp '{podSelector: {}, ingress: [{ports: [{port: serve-81-tcp}]}]}'
	check
}

@test "(netpol) should allow ingress access from namespace on one named port" {
	policy x allow-ns-y-on-serve-80-tcp '{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: serve-80-tcp, protocol: TCP}]}]}'
	check
}

@test "(netpol) should allow egress access on one named port" {
	policy x allow-egress-serve-80-tcp '{podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: serve-80-tcp}]}]}'
	check
}

@test "(netpol) should enforce ingress policy allowing any port traffic to a server on a specific protocol" {
	policy x allow-ingress-any-tcp '{podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{protocol: TCP}]}]}'
	check
}

@test "(netpol) should not allow access by TCP when a policy specifies only UDP" {
	policy x allow-only-udp-81 '{podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{port: 81, protocol: UDP}]}]}'
	check
}

@test "(netpol) should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP" {
	policy x allow-only-sctp-81 '{podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{port: 81, protocol: SCTP}]}]}'
	check
}

@test "(netpol) should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP" {
	policy x allow-only-sctp '{podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{protocol: SCTP}]}]}'
	check
}

@test "(netpol) should support creating NetworkPolicy API with endport field: a 80-81 range opens both, 81-81 only 81" {
	policy x allow-80-81 '{podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{port: 80, endPort: 81, protocol: TCP}]}]}'
	run kube get networkpolicy -n x allow-80-81 -o json
	jq -e '.spec.ingress[0].ports[0] == {port: 80, endPort: 81, protocol: "TCP"}' <<<"$output"
	check
	policy x allow-80-81 '{podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{port: 81, endPort: 81, protocol: UDP}]}]}'
	check
}

# --- dynamics: policies and labels changing under traffic --------------------------------

@test "(netpol) should enforce updated policy" {
	policy x allow-all-mutate-to-deny-all '{podSelector: {}, ingress: [{}]}'
	check
	policy x allow-all-mutate-to-deny-all '{podSelector: {}, ingress: []}'
	check
}

@test "(netpol) should allow ingress access from updated namespace" {
	policy x allow-client-a-via-ns-selector '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns2: updated}}}]}]}'
	check
	relabel ns y ns2=updated
	check
	relabel ns y ns2-
	check
}

@test "(netpol) should allow ingress access from updated pod" {
	policy x allow-client-a-via-pod-selector '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: a-new}}}]}]}'
	check
	relabel pod x b pod=a-new
	check
}

@test "(netpol) should deny ingress access to updated pod" {
	policy x deny-ingress-via-label-selector '{podSelector: {matchLabels: {target: isolated}}, policyTypes: [Ingress]}'
	check
	relabel pod x a target=isolated
	check
}

@test "(netpol) label changes while probing: a client pod gains, then loses, access with its label" {
	policy y isolate-b '{podSelector: {matchLabels: {pod: b}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {role: client}}}]}]}'
	check
	# probing all along: only x/c -> y/b may change while the label lands
	netpol_steady_start np_state_relabel pod x c role client
	relabel pod x c role=client
	netpol_steady_wait
	check
	netpol_steady_start np_state_relabel pod x c role -
	relabel pod x c role-
	netpol_steady_wait
	check
}

@test "(netpol) namespace label changes while probing: a namespace gains, then loses, access with its label" {
	policy x allow-team-blue '{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}]}]}'
	check
	netpol_steady_start np_state_relabel ns - z team blue
	relabel ns z team=blue
	netpol_steady_wait
	check
	netpol_steady_start np_state_relabel ns - z team -
	relabel ns z team-
	netpol_steady_wait
	check
}

# --- egress ---------------------------------------------------------------------------

@test "(netpol) should deny egress from pods based on PodSelector" {
	policy x deny-egress-pod-a '{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}'
	check
}

@test "(netpol) should deny egress from all pods in a namespace" {
	policy x deny-egress-ns-x '{podSelector: {}, policyTypes: [Egress]}'
	check
}

@test "(netpol) should work with Ingress, Egress specified together" {
	policy x allow-client-a-via-pod-selector \
		'{podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress, Egress], ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}], egress: [{to: [{podSelector: {matchLabels: {pod: b}}}]}]}'
	check
}

@test "(netpol) should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)" {
	policy x deny-egress-pod-a '{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]}]}'
	policy y allow-from-x-a '{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]}]}'
	policy z allow-from-x-a '{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]}]}'
	check
}

@test "(netpol) should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector" {
	policy x allow-to-ns-y-pod-a '{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}]}]}'
	check
}

@test "(netpol) should enforce multiple ingress policies with ingress allow-all policy taking precedence" {
	policy x allow-only-port-80 '{podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{port: 80}]}]}'
	check
	policy x allow-all '{podSelector: {matchLabels: {pod: a}}, ingress: [{}]}'
	check
}

@test "(netpol) should enforce multiple egress policies with egress allow-all policy taking precedence" {
	policy x allow-egress-port-80 '{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{ports: [{port: 80}]}]}'
	check
	policy x allow-egress-all '{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{}]}'
	check
}

@test "(netpol) should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector" {
	policy x allow-egress-all '{podSelector: {}, policyTypes: [Egress], egress: [{}]}'
	check
	policy x deny-egress-pod-a '{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}'
	policy x deny-ingress-pod-b '{podSelector: {matchLabels: {pod: b}}, policyTypes: [Ingress]}'
	check
}

# --- ipBlock --------------------------------------------------------------------------

@test "(netpol) should allow egress access to server in CIDR block" {
	policy x allow-client-a-via-cidr-egress-rule \
		"{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: '$(np_pod_ip y b)/32'}}]}]}"
	check
}

@test "(netpol) should enforce except clause while egress access to server in CIDR block" {
	local b
	b=$(np_pod_ip x b)
	policy x deny-client-a-via-except-cidr-egress-rule \
		"{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: '${b%.*}.0/4', except: ['$b/32']}}]}]}"
	check
}

@test "(netpol) should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed" {
	local b
	b=$(np_pod_ip x b)
	policy x deny-client-a-via-except-cidr-egress-rule \
		"{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: '0.0.0.0/4', except: ['$b/32']}}]}]}"
	check
	policy x allow-client-a-via-cidr-egress-rule \
		"{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: '$b/32'}}]}]}"
	check
}

@test "(netpol) an ingress ipBlock matches client pod IPs, pod-IP and Service paths alike" {
	policy y allow-from-z-c-by-ip "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: '$(np_pod_ip z c)/32'}}]}]}"
	check
}

# --- UDP and SCTP twins ([LinuxOnly] ... using UDP, [Feature:SCTPConnectivity]) -----------

@test "(netpol) using UDP: should support a 'default-deny-ingress' policy" {
	policy x deny-ingress '{podSelector: {}, policyTypes: [Ingress]}'
	check --cells "$UDP"
}

@test "(netpol) using UDP: should enforce policy based on Ports" {
	policy x allow-ingress-on-port-81-udp '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 81, protocol: UDP}]}]}'
	check --cells "$UDP,$TCP"
}

@test "(netpol) using UDP: should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector" {
	policy x allow-ns-y-pod-a '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}], ports: [{protocol: UDP}]}]}'
	check --cells "$UDP,$TCP"
}

@test "(netpol) using SCTP: should support a 'default-deny-ingress' policy" {
	need_sctp
	policy x deny-ingress '{podSelector: {}, policyTypes: [Ingress]}'
	check --cells "$SCTP"
}

@test "(netpol) using SCTP: should enforce policy based on Ports" {
	need_sctp
	policy x allow-ingress-on-port-81-sctp '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 81, protocol: SCTP}]}]}'
	check --cells "$SCTP,$TCP"
}

@test "(netpol) using SCTP: should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector" {
	need_sctp
	policy x allow-ns-y-pod-a '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}], ports: [{protocol: SCTP}]}]}'
	check --cells "$SCTP,$TCP"
}

# --- API (network_policy_api.go) -------------------------------------------------------

@test "(netpol) should support creating NetworkPolicy API operations" {
	policy y e2e-example-netpol '{podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {}}], ports: [{port: 80}]}]}'
	policy y e2e-example-netpol-2 '{podSelector: {}, policyTypes: [Egress]}'
	run kube get networkpolicies -n y -o json
	jq -e '[.items[].metadata.name] == ["e2e-example-netpol", "e2e-example-netpol-2"]
		and .items[0].spec.policyTypes == ["Ingress"] and .items[0].spec.ingress[0].ports[0].protocol == "TCP"
		and .items[1].spec.policyTypes == ["Egress"]' <<<"$output"
	kube patch networkpolicy -n y e2e-example-netpol --type merge -p '{"metadata":{"annotations":{"patched":"true"}}}' >/dev/null
	run kube get networkpolicy -n y e2e-example-netpol -o jsonpath='{.metadata.annotations.patched}'
	[ "$output" = true ]
	check
	kube delete networkpolicy -n y e2e-example-netpol e2e-example-netpol-2 >/dev/null
	run kube get networkpolicies -n y -o name
	[ -z "$output" ]
	check
}
