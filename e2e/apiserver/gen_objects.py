#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes N Services + N EndpointSlices (M endpoints each) as a --preload JSON
list, or as a /_sluice/objects body (--wrap); with --pods, the Pod behind
every endpoint, and with --policies, K NetworkPolicies with pod and
namespace selectors."""

import argparse
import ipaddress
import json
import sys


def objects(n, m, namespaces, prefix, start=0, ip_base=None, ep_octet=244, with_ns=True):
    out = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
           for ns in namespaces] if with_ns else []
    for i in range(start, start + n):
        ns = namespaces[i % len(namespaces)]
        name = f"{prefix}{i}"
        labels = {"app": name, "bench": "sync"}
        spec = {"type": "ClusterIP", "selector": {"app": name},
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}
        if ip_base is not None:
            ip = str(ip_base + i)
            spec.update(clusterIP=ip, clusterIPs=[ip])
        out.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": spec})
        eps = []
        for j in range(m):
            k = i * m + j
            eps.append({"addresses": [f"10.{ep_octet + (k >> 16) % 8}.{(k >> 8) & 255}.{k & 255}"],
                        "conditions": {"ready": True, "serving": True, "terminating": False},
                        "nodeName": f"node-{j % 3}",
                        "targetRef": {"kind": "Pod", "namespace": ns, "name": f"{name}-{j}"}})
        out.append({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-abcde", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": name,
                                    "endpointslice.kubernetes.io/managed-by":
                                        "endpointslice-controller.k8s.io"},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Service",
                                              "name": name, "uid": f"bench-{i}",
                                              "controller": True,
                                              "blockOwnerDeletion": True}]},
            "addressType": "IPv4",
            "endpoints": eps,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
    return out


def pods(n, m, namespaces, prefix, ep_octet=244):
    """The Pod behind each endpoint of objects(): same name, namespace and IP."""
    out = []
    for i in range(n):
        ns = namespaces[i % len(namespaces)]
        for j in range(m):
            k = i * m + j
            ip = f"10.{ep_octet + (k >> 16) % 8}.{(k >> 8) & 255}.{k & 255}"
            out.append({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{prefix}{i}-{j}", "namespace": ns,
                             "labels": {"app": f"{prefix}{i}", "tier": f"t{j}"}},
                "spec": {"nodeName": f"node-{j % 3}",
                         "containers": [{"name": "c", "ports": [
                             {"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
                "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
    return out


def policies(k, n, namespaces, prefix):
    """K NetworkPolicies: policy p selects app=<service p>'s pods and admits
    tier t0 pods of namespaces labelled team=<p % 10> and its own app on 8080."""
    out = []
    for p in range(k):
        i = p % max(n, 1)
        out.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"pol-{p}", "namespace": namespaces[i % len(namespaces)]},
            "spec": {"podSelector": {"matchLabels": {"app": f"{prefix}{i}"}},
                     "policyTypes": ["Ingress"],
                     "ingress": [{"from": [
                         {"namespaceSelector": {"matchLabels": {"team": f"t{p % 10}"}},
                          "podSelector": {"matchLabels": {"tier": "t0"}}},
                         {"podSelector": {"matchLabels": {"app": f"{prefix}{i}"}}}],
                         "ports": [{"port": 8080, "protocol": "TCP"}]}]}})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", "--services", type=int, default=10000)
    ap.add_argument("-m", "--endpoints", type=int, default=5,
                    help="endpoints per EndpointSlice (default 5)")
    ap.add_argument("--namespaces", default="bench",
                    help="comma-separated namespaces to spread objects over")
    ap.add_argument("--prefix", default="svc-")
    ap.add_argument("--start", type=int, default=0, help="index of the first object")
    ap.add_argument("--cluster-ip-base", type=ipaddress.IPv4Address,
                    help="set spec.clusterIP to this address + index (default: the API allocates)")
    ap.add_argument("--endpoint-octet", type=int, default=244,
                    help="endpoint addresses 10.<octet + k/65536>.x.y (default 244)")
    ap.add_argument("--no-namespaces", action="store_true", help="no Namespace objects")
    ap.add_argument("--wrap", action="store_true",
                    help='write {"objects": [...]} for POST /_sluice/objects')
    ap.add_argument("--pods", action="store_true", help="the Pod behind every endpoint")
    ap.add_argument("--policies", type=int, default=0, help="NetworkPolicies to add")
    ap.add_argument("-o", "--out", default="-")
    a = ap.parse_args()
    nss = [x for x in a.namespaces.split(",") if x]
    if a.services < 0 or not 0 <= a.endpoints <= 1000 or not nss:
        ap.error("need services >= 0, 0 <= endpoints <= 1000 and one namespace")
    objs = objects(a.services, a.endpoints, nss, a.prefix, a.start, a.cluster_ip_base,
                   a.endpoint_octet, not a.no_namespaces)
    if a.pods or a.policies:
        for o in objs:  # what namespaceSelectors select on
            if o["kind"] == "Namespace":
                idx = nss.index(o["metadata"]["name"])
                o["metadata"]["labels"] = {"kubernetes.io/metadata.name": o["metadata"]["name"],
                                           "team": f"t{idx % 10}"}
    if a.pods:
        objs += pods(a.services, a.endpoints, nss, a.prefix, a.endpoint_octet)
    if a.policies:
        objs += policies(a.policies, a.services, nss, a.prefix)
    data = json.dumps({"objects": objs} if a.wrap else objs, separators=(",", ":"))
    if a.out == "-":
        sys.stdout.write(data)
    else:
        with open(a.out, "w") as fh:
            fh.write(data)


if __name__ == "__main__":
    main()
