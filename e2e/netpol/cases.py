#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Cyclonus-style generated NetworkPolicy cases (kube-api.md §4.2, after
mattfenwick/cyclonus pkg/generator): target, rule, peer, port/protocol,
conflict, policy-stack and action families over the x,y,z x a,b,c model.

    cases.py list                 NAME<TAB>TAGS per case
    cases.py steps NAME           the case's steps, JSON lines: {"apply": [policies],
                                  "delete": [[ns, name]], "label": [[kind, ns or "-", name, "k=v"|"k-"]]}

Each step is applied, then the whole matrix is probed and compared with the model.
"""

import json
import sys

ALL_PORTS = "80/TCP,81/TCP,80/UDP,81/UDP,80/SCTP,81/SCTP"


def netpol(name, ns, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def directed(name, direction, rules, target=None, ns="x"):
    """A policy on x/a (or target) with rules in one direction."""
    spec = {"podSelector": target if target is not None else {"matchLabels": {"pod": "a"}}}
    if direction == "ingress":
        spec["policyTypes"] = ["Ingress"]
        spec["ingress"] = rules
    else:
        spec["policyTypes"] = ["Egress"]
        spec["egress"] = [{("to" if k == "from" else k): v for k, v in r.items()} for r in rules]
    return netpol(name, ns, spec)


def step(apply=(), delete=(), label=()):
    return {"apply": list(apply), "delete": [list(d) for d in delete], "label": [list(lb) for lb in label]}


BY_LABEL_POD = {"matchLabels": {"pod": "b"}}
BY_LABEL_NS = {"matchLabels": {"ns": "y"}}
PEERS = [
    # cyclonus peerscases.go: pod selector x namespace selector (nil = absent)
    ("empty pods + nil ns", {"podSelector": {}}),
    ("pods by label + nil ns", {"podSelector": BY_LABEL_POD}),
    ("nil pods + empty ns", {"namespaceSelector": {}}),
    ("empty pods + empty ns", {"podSelector": {}, "namespaceSelector": {}}),
    ("pods by label + empty ns", {"podSelector": BY_LABEL_POD, "namespaceSelector": {}}),
    ("nil pods + ns by label", {"namespaceSelector": BY_LABEL_NS}),
    ("empty pods + ns by label", {"podSelector": {}, "namespaceSelector": BY_LABEL_NS}),
    ("pods by label + ns by label", {"podSelector": BY_LABEL_POD, "namespaceSelector": BY_LABEL_NS}),
    ("ns by default label", {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}}}),
    ("simple ipblock", {"ipBlock": {"cidr": "10.244.0.0/16"}}),
    ("ipblock with except", {"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24"]}}),
]

PORTS = [
    # cyclonus portprotocolcases.go: every single port/protocol shape
    ("any port on TCP", [{"protocol": "TCP"}]),
    ("any port on UDP", [{"protocol": "UDP"}]),
    ("any port on SCTP", [{"protocol": "SCTP"}]),
    ("numbered port 80 on TCP", [{"port": 80, "protocol": "TCP"}]),
    ("numbered port 81 on UDP", [{"port": 81, "protocol": "UDP"}]),
    ("numbered port 81 on SCTP", [{"port": 81, "protocol": "SCTP"}]),
    ("numbered port without protocol (TCP)", [{"port": 81}]),
    ("named port serve-81-tcp", [{"port": "serve-81-tcp", "protocol": "TCP"}]),
    ("named port serve-80-udp", [{"port": "serve-80-udp", "protocol": "UDP"}]),
    ("named port serve-80-sctp", [{"port": "serve-80-sctp", "protocol": "SCTP"}]),
    ("end port 80-81 on TCP", [{"port": 80, "endPort": 81, "protocol": "TCP"}]),
    ("end port 81-90 on UDP", [{"port": 81, "endPort": 90, "protocol": "UDP"}]),
    ("pathological: named port that doesn't match its protocol", [{"port": "serve-80-udp", "protocol": "TCP"}]),
    ("pathological: named port that isn't served", [{"port": "serve-82-tcp", "protocol": "TCP"}]),
    ("pathological: numbered port that isn't served", [{"port": 82, "protocol": "UDP"}]),
    ("multi-port/protocol: 80 TCP + named serve-81-udp", [{"port": 80}, {"port": "serve-81-udp", "protocol": "UDP"}]),
]


def target_cases():
    for tname, target in (("target-namespace", {}), ("target-pod-selector", {"matchLabels": {"pod": "b"}})):
        for d in ("ingress", "egress"):
            yield (f"{tname}: deny-all {d}", f"target,{tname},direction,{d},rule,deny-all",
                   [step([directed("deny", d, [], target=target, ns="y")])])


def rule_cases():
    shapes = [
        ("deny-all", []),
        ("allow-all", [{}]),
        ("any-peer (port 80 only)", [{"ports": [{"port": 80}]}]),
        ("any-port-protocol (peer ns y only)", [{"from": [{"namespaceSelector": BY_LABEL_NS}]}]),
        ("multi-peer", [{"from": [{"podSelector": {"matchLabels": {"pod": "c"}}},
                                  {"namespaceSelector": {"matchLabels": {"ns": "z"}}, "podSelector": BY_LABEL_POD}]}]),
        ("two rules: peer ns y on 81, any peer on UDP", [{"from": [{"namespaceSelector": BY_LABEL_NS}],
                                                          "ports": [{"port": 81}]},
                                                         {"ports": [{"protocol": "UDP"}]}]),
    ]
    for rname, rules in shapes:
        for d in ("ingress", "egress"):
            yield (f"rule {rname} {d}", f"rule,direction,{d}", [step([directed("rule", d, rules)])])


def peer_cases():
    for pname, peer in PEERS:
        tag = "peer-ipblock" if "ipBlock" in peer else "peer-pods"
        for d in ("ingress", "egress"):
            yield (f"peer {pname} {d}", f"{tag},direction,{d}", [step([directed("peer", d, [{"from": [peer]}])])])


def port_cases():
    for pname, ports in PORTS:
        yield (f"port {pname} ingress", "port,protocol,direction,ingress",
               [step([directed("port", "ingress", [{"ports": ports}])])])
    for pname, ports in (PORTS[3], PORTS[7], PORTS[10], PORTS[12]):
        yield (f"port {pname} egress", "port,protocol,direction,egress",
               [step([directed("port", "egress", [{"ports": ports}])])])
    # a name resolves on the destination pod, also when the peer is an ipBlock
    yield ("port named port serve-81-tcp egress to an ipblock with except",
           "port,protocol,peer-ipblock,direction,egress",
           [step([directed("port", "egress", [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16",
                                                                  "except": ["10.244.2.0/24"]}}],
                                               "ports": [{"port": "serve-81-tcp", "protocol": "TCP"}]}])])])


def conflict_cases():
    deny_in = directed("deny-all", "ingress", [], target={})
    yield ("conflict: deny all + allow all from same source", "conflict",
           [step([deny_in, directed("allow-y", "ingress", [{"from": [{"namespaceSelector": BY_LABEL_NS}]}], target={})])])
    yield ("conflict: deny all by IP + allow all by pod", "conflict",
           [step([directed("deny-ip", "ingress", [{"from": [{"ipBlock": {"cidr": "10.244.0.0/16",
                                                                         "except": ["10.244.0.0/17"]}}]}]),
                  directed("allow-pods", "ingress", [{"from": [{"namespaceSelector": {}}]}])])])
    yield ("conflict: egress deny all on the client + ingress allow all on the server", "conflict",
           [step([directed("deny-egress", "egress", [], target={}, ns="z"),
                  directed("allow-ingress", "ingress", [{}], target={}, ns="x")])])
    yield ("conflict: ingress and egress on one pod, each open to the other's peers", "conflict",
           [step([directed("in", "ingress", [{"from": [{"namespaceSelector": BY_LABEL_NS}]}]),
                  directed("out", "egress", [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "z"}}}]}])])])


def stack_cases():
    yield ("policy-stack: three policies on one pod, union of their ports", "policy-stack",
           [step([directed("s1", "ingress", [{"ports": [{"port": 80}]}]),
                  directed("s2", "ingress", [{"ports": [{"port": 81, "protocol": "UDP"}]}]),
                  directed("s3", "ingress", [{"from": [{"namespaceSelector": BY_LABEL_NS}]}])])])


def action_cases():
    deny = directed("deny", "ingress", [], target={})
    yield ("action: create/delete policy", "action,create-policy,delete-policy",
           [step([deny]), step(delete=[("x", "deny")])])
    yield ("action: create/update policy", "action,create-policy,update-policy",
           [step([deny]), step([directed("deny", "ingress", [{"ports": [{"port": 81}]}], target={})]),
            step([directed("deny", "egress", [], target={})])])
    by_ns = directed("by-ns", "ingress", [{"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}}}]}])
    yield ("action: update namespace so that policy applies, then again so it no longer applies",
           "action,set-namespace-labels",
           [step([by_ns]), step(label=[("ns", "-", "z", "team=blue")]), step(label=[("ns", "-", "z", "team-")])])
    by_pod = directed("by-pod", "ingress", [{"from": [{"podSelector": {"matchLabels": {"role": "client"}},
                                                       "namespaceSelector": {}}]}])
    yield ("action: update pod so that policy applies, then again so it no longer applies", "action,set-pod-labels",
           [step([by_pod]), step(label=[("pod", "y", "c", "role=client")]),
            step(label=[("pod", "y", "c", "role-")])])
    target = directed("target", "egress", [], target={"matchLabels": {"quarantine": "true"}}, ns="z")
    yield ("action: a pod becomes a policy's target by label, then leaves it", "action,set-pod-labels,target",
           [step([target]), step(label=[("pod", "z", "b", "quarantine=true")]),
            step(label=[("pod", "z", "b", "quarantine-")])])


def all_cases():
    for fam in (target_cases, rule_cases, peer_cases, port_cases, conflict_cases, stack_cases, action_cases):
        yield from fam()


def main():
    cases = {name: (tags, steps) for name, tags, steps in all_cases()}
    if sys.argv[1:2] == ["list"]:
        for name, (tags, _) in cases.items():
            print(f"{name}\t{tags}")
        return 0
    if sys.argv[1:2] == ["steps"] and len(sys.argv) == 3:
        if sys.argv[2] not in cases:
            print(f"cases.py: no case {sys.argv[2]!r}", file=sys.stderr)
            return 1
        for s in cases[sys.argv[2]][1]:
            print(json.dumps(s))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
