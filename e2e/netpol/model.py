#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The NetworkPolicy truth table the e2e suites expect, computed from the API
objects alone (kube-api.md §3.5, §4): an independent model, never the agent's code.

    model.py < STATE.json > EXPECTED.json

STATE: {"namespaces": {NAME: LABELS}, "pods": [{"ns", "name", "labels", "ip",
"ports": [{"name", "containerPort", "protocol"}]}], "policies": [NetworkPolicy
objects as the API returns them], "cells": ["80/TCP", ...]}.
EXPECTED: {"80/TCP": {"x/a": {"x/b": true, ...}, ...}, ...}; loopback cells
(a pod to itself) are null: ignored, as upstream's ignoreLoopback does.
"""

import ipaddress
import json
import sys


def requirement_matches(req, labels):
    """One matchExpressions entry (apimachinery labels.Requirement.Matches)."""
    key, op, values = req.get("key"), req.get("operator"), req.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise ValueError(f"unknown selector operator {op!r}")


def selector_matches(sel, labels):
    """A LabelSelector: None matches nothing, {} everything, requirements ANDed."""
    if sel is None:
        return False
    if any(labels.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    return all(requirement_matches(r, labels) for r in sel.get("matchExpressions") or [])


def policy_types(pol):
    """spec.policyTypes, defaulted as SetDefaults_NetworkPolicy does if empty."""
    spec = pol.get("spec") or {}
    types = spec.get("policyTypes") or []
    if not types:
        types = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    return types


def selects(pol, pod):
    """The policy applies to pod: same namespace, podSelector matches ({} = all)."""
    return (pol["metadata"].get("namespace", "default") == pod["ns"] and
            selector_matches((pol.get("spec") or {}).get("podSelector") or {}, pod["labels"]))


def in_block(block, ip):
    addr = ipaddress.ip_address(ip)
    if addr not in ipaddress.ip_network(block["cidr"], strict=False):
        return False
    return not any(addr in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])


def peer_matches(peer, pol_ns, other, namespaces):
    """One from/to entry against the pod at the other end of the connection."""
    if "ipBlock" in peer and peer["ipBlock"] is not None:
        return in_block(peer["ipBlock"], other["ip"])
    nsel, psel = peer.get("namespaceSelector"), peer.get("podSelector")
    if nsel is None and psel is None:
        return False
    if nsel is not None:
        if not selector_matches(nsel, namespaces.get(other["ns"], {})):
            return False
    elif other["ns"] != pol_ns:
        return False
    return psel is None or selector_matches(psel, other["labels"])


def port_matches(ports, dst, port, proto):
    """A rule's ports against (port, proto) served by dst; named ports resolve
    against dst's container ports, name and protocol both."""
    if not ports:
        return True
    for p in ports:
        if (p.get("protocol") or "TCP") != proto:
            continue
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, str):
            if any(cp.get("name") == want and (cp.get("protocol") or "TCP") == proto and
                   cp.get("containerPort") == port for cp in dst["ports"]):
                return True
        elif p.get("endPort") is not None:
            if want <= port <= p["endPort"]:
                return True
        elif want == port:
            return True
    return False


def direction_allows(policies, namespaces, owner, other, dst, port, proto, kind):
    """Ingress (owner = dst) or Egress (owner = src): allowed if no policy
    isolates owner for kind, else if any rule of an isolating policy matches."""
    rules_key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    isolated = False
    for pol in policies:
        if kind not in policy_types(pol) or not selects(pol, owner):
            continue
        isolated = True
        pol_ns = pol["metadata"].get("namespace", "default")
        for rule in (pol.get("spec") or {}).get(rules_key) or []:
            peers = rule.get(peers_key)
            if peers and not any(peer_matches(pe, pol_ns, other, namespaces) for pe in peers):
                continue
            if port_matches(rule.get("ports"), dst, port, proto):
                return True
    return not isolated


def allowed(state, src, dst, port, proto):
    pols, nss = state["policies"], state["namespaces"]
    return (direction_allows(pols, nss, src, dst, dst, port, proto, "Egress") and
            direction_allows(pols, nss, dst, src, dst, port, proto, "Ingress"))


def pod_key(pod):
    return f'{pod["ns"]}/{pod["name"]}'


def truth_table(state):
    out = {}
    for cell in state["cells"]:
        port, proto = cell.split("/")
        port = int(port)
        out[cell] = {pod_key(s): {pod_key(d): (None if s is d else allowed(state, s, d, port, proto))
                                  for d in state["pods"]} for s in state["pods"]}
    return out


def main():
    json.dump(truth_table(json.load(sys.stdin)), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
