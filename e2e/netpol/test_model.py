#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Hand-computed cases for the e2e NetworkPolicy model (model.py); no root.
Ends with "N passed, N failed" like the C unit suites (e2e/lib/run-suites.sh)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model  # noqa: E402

NS = {n: {"ns": n, "kubernetes.io/metadata.name": n} for n in "xyz"}


def pod(ns, name, ip):
    ports = [{"name": f"serve-{p}-{pr.lower()}", "containerPort": p, "protocol": pr}
             for p in (80, 81) for pr in ("TCP", "UDP", "SCTP")]
    return {"ns": ns, "name": name, "labels": {"pod": name}, "ip": ip, "ports": ports}


PODS = [pod(n, p, f"10.244.{i + 1}.{j + 10}") for i, n in enumerate("xyz") for j, p in enumerate("abc")]


def netpol(ns, spec, name="p"):
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def table(policies, cells=("80/TCP",), pods=None, namespaces=None):
    return model.truth_table({"namespaces": namespaces or NS, "pods": pods or PODS,
                              "policies": policies, "cells": list(cells)})


def allowed_pairs(t, cell):
    """The (src, dst) pairs allowed in one cell, loopback left out."""
    return {(s, d) for s, row in t[cell].items() for d, v in row.items() if v}


ALL = {(f"{a}", f"{b}") for a in [f"{n}/{p}" for n in "xyz" for p in "abc"]
       for b in [f"{n}/{p}" for n in "xyz" for p in "abc"] if a != b}


class ModelTest(unittest.TestCase):
    def test_no_policy_allows_all_but_loopback_is_ignored(self):
        t = table([])
        self.assertEqual(allowed_pairs(t, "80/TCP"), ALL)
        self.assertIsNone(t["80/TCP"]["x/a"]["x/a"])

    def test_default_deny_ingress_isolates_only_its_namespace(self):
        t = table([netpol("x", {"podSelector": {}})])
        self.assertEqual(allowed_pairs(t, "80/TCP"), {p for p in ALL if not p[1].startswith("x/")})

    def test_egress_type_without_rules_denies_all_outbound(self):
        t = table([netpol("y", {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"]})])
        self.assertEqual(allowed_pairs(t, "80/TCP"), {p for p in ALL if p[0] != "y/a"})

    def test_empty_policy_types_defaults_to_ingress_plus_egress_when_egress_rules(self):
        spec = {"podSelector": {}, "policyTypes": [], "egress": [{"to": [{"podSelector": {}}]}]}
        t = table([netpol("z", spec)])
        # ingress isolated with no rule; egress only to pods of z
        want = {(s, d) for s, d in ALL if not d.startswith("z/") and not s.startswith("z/")}
        self.assertEqual(allowed_pairs(t, "80/TCP"), want)

    def test_named_port_resolves_against_destination_name_and_protocol(self):
        spec = {"podSelector": {"matchLabels": {"pod": "a"}},
                "ingress": [{"ports": [{"port": "serve-80-tcp", "protocol": "TCP"}]}]}
        t = table([netpol("x", spec)], cells=("80/TCP", "81/TCP", "80/UDP"))
        self.assertEqual(allowed_pairs(t, "80/TCP"), ALL)
        self.assertEqual(allowed_pairs(t, "81/TCP"), {p for p in ALL if p[1] != "x/a"})
        self.assertEqual(allowed_pairs(t, "80/UDP"), {p for p in ALL if p[1] != "x/a"})

    def test_named_port_with_wrong_protocol_opens_nothing(self):
        spec = {"podSelector": {}, "ingress": [{"ports": [{"port": "serve-80-udp", "protocol": "TCP"}]}]}
        t = table([netpol("x", spec)], cells=("80/TCP", "80/UDP"))
        denied = {p for p in ALL if p[1].startswith("x/")}
        self.assertEqual(allowed_pairs(t, "80/TCP"), ALL - denied)
        self.assertEqual(allowed_pairs(t, "80/UDP"), ALL - denied)

    def test_sctp_port_never_opens_tcp(self):
        spec = {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "SCTP"}]}]}
        t = table([netpol("x", spec)], cells=("80/TCP", "80/SCTP"))
        self.assertEqual(allowed_pairs(t, "80/TCP"), {p for p in ALL if not p[1].startswith("x/")})
        self.assertEqual(allowed_pairs(t, "80/SCTP"), ALL)

    def test_end_port_is_an_inclusive_range(self):
        spec = {"podSelector": {}, "ingress": [{"ports": [{"port": 79, "endPort": 80}]}]}
        t = table([netpol("y", spec)], cells=("80/TCP", "81/TCP"))
        self.assertEqual(allowed_pairs(t, "80/TCP"), ALL)
        self.assertEqual(allowed_pairs(t, "81/TCP"), {p for p in ALL if not p[1].startswith("y/")})

    def test_ip_block_except_matches_pod_ips(self):
        # x/a may reach only 10.244.0.0/16 minus y's pods (10.244.2.0/24)
        spec = {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24"]}}]}]}
        t = table([netpol("x", spec)])
        self.assertEqual(allowed_pairs(t, "80/TCP"), {p for p in ALL if not (p[0] == "x/a" and p[1].startswith("y/"))})

    def test_peer_fields_and_within_a_peer_or_across_peers(self):
        both = {"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "b"}}}
        t = table([netpol("x", {"podSelector": {}, "ingress": [{"from": [both]}]})])
        into_x = {p for p in allowed_pairs(t, "80/TCP") if p[1].startswith("x/")}
        self.assertEqual(into_x, {("y/b", f"x/{d}") for d in "abc"})
        two = [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}, {"podSelector": {"matchLabels": {"pod": "b"}}}]
        t = table([netpol("x", {"podSelector": {}, "ingress": [{"from": two}]})])
        into_x = {p for p in allowed_pairs(t, "80/TCP") if p[1].startswith("x/")}
        want = {(f"y/{s}", f"x/{d}") for s in "abc" for d in "abc"} | {("x/b", f"x/{d}") for d in "ac"}
        self.assertEqual(into_x, want)

    def test_not_in_matches_an_absent_key(self):
        sel = {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["red"]}]}
        self.assertTrue(model.selector_matches(sel, {"pod": "a"}))
        self.assertFalse(model.selector_matches(sel, {"team": "red"}))
        self.assertFalse(model.selector_matches(None, {}))
        self.assertTrue(model.selector_matches({}, {}))

    def test_union_of_policies_and_both_ends_must_allow(self):
        deny_egress = netpol("x", {"podSelector": {}, "policyTypes": ["Egress"]}, "deny")
        allow_in = netpol("y", {"podSelector": {}, "ingress": [{}]}, "allow")
        t = table([deny_egress, allow_in])
        self.assertEqual(allowed_pairs(t, "80/TCP"), {p for p in ALL if not p[0].startswith("x/")})
        allow_eg = netpol("x", {"podSelector": {}, "policyTypes": ["Egress"],
                                "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}, "allow-eg")
        t = table([deny_egress, allow_in, allow_eg])
        want = {p for p in ALL if not p[0].startswith("x/") or p[1].startswith("y/")}
        self.assertEqual(allowed_pairs(t, "80/TCP"), want)


if __name__ == "__main__":
    result = unittest.TextTestRunner(verbosity=2).run(unittest.defaultTestLoader.loadTestsFromTestCase(ModelTest))
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
