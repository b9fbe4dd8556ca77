#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""API writes at a pace for the reliability suites (faults.bats, make leak-check,
make soak): Services, EndpointSlices and Pods created, updated and deleted over
one kept-alive HTTPS connection, as the API's controllers would write them.

  api_churn.py URL TOKEN_FILE CA burst PREFIX N [--updates U] [--rate R]
      N Services PREFIX-0..N-1 (label sluice-test=PREFIX), then U updates of
      their target port round-robin. Prints "created=N updates=U secs=S".
  api_churn.py URL TOKEN_FILE CA delete PREFIX
      every Service and EndpointSlice labelled sluice-test=PREFIX.
  api_churn.py URL TOKEN_FILE CA soak PREFIX SECONDS --rate R --node NODE --ip IP...
      R changes/s for SECONDS over a pool of Services with EndpointSlices (the
      IPs as endpoints, some not ready) and Pods on NODE: create, update
      and delete in turn. Prints one JSON line of counts at the end.
"""
import argparse
import http.client
import json
import random
import ssl
import sys
import time
import urllib.parse

LABEL = "sluice-test"


class Api:
    def __init__(self, url, token_file, ca):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 443
        with open(token_file) as fh:
            self.token = fh.read().strip()
        self.ctx = ssl.create_default_context(cafile=ca)
        self.conn = None
        self.errors = {}

    def call(self, method, path, body=None):
        """One request; (status, parsed body). Reconnects once on a dropped connection."""
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Authorization": "Bearer " + self.token, "Accept": "application/json"}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                        timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                raw = r.read()
                if r.status >= 400:
                    k = "%s %d" % (method, r.status)
                    self.errors[k] = self.errors.get(k, 0) + 1
                return r.status, (json.loads(raw) if raw[:1] == b"{" else None)
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        return 0, None


SVC = "/api/v1/namespaces/default/services"
EPS = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
PODS = "/api/v1/namespaces/default/pods"


def service(prefix, name, port):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "labels": {LABEL: prefix}},
            "spec": {"type": "ClusterIP", "selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": port,
                                "protocol": "TCP"}]}}


def slice_of(prefix, svc, ips, ready):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": svc + "-1", "namespace": "default",
                         "labels": {LABEL: prefix, "kubernetes.io/service-name": svc}},
            "endpoints": [{"addresses": [ip], "conditions": {"ready": r, "serving": r,
                                                             "terminating": False}}
                          for ip, r in zip(ips, ready)],
            "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}]}


def pod(prefix, name, node, ip, n):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default",
                         "labels": {LABEL: prefix, "app": name, "gen": str(n)}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}


class Pacer:
    def __init__(self, rate):
        self.rate, self.t0, self.n = rate, time.monotonic(), 0

    def tick(self):
        self.n += 1
        if self.rate > 0:
            d = self.t0 + self.n / self.rate - time.monotonic()
            if d > 0:
                time.sleep(d)


def replace(api, path, name, mutate):
    """GET, mutate, PUT; retried on a 409 conflict."""
    for _ in range(5):
        st, obj = api.call("GET", "%s/%s" % (path, name))
        if st != 200:
            return st
        mutate(obj)
        st, _ = api.call("PUT", "%s/%s" % (path, name), obj)
        if st != 409:
            return st
    return 409


def cmd_burst(api, a):
    t0, p = time.monotonic(), Pacer(a.rate)
    for i in range(a.count):
        api.call("POST", SVC, service(a.prefix, "%s-%d" % (a.prefix, i), 8000))
        p.tick()
    for u in range(a.updates):
        name = "%s-%d" % (a.prefix, u % a.count)

        def bump(o, u=u):
            o["spec"]["ports"][0]["targetPort"] = 8001 + u % 1000
        replace(api, SVC, name, bump)
        p.tick()
    print("created=%d updates=%d secs=%.1f errors=%s" % (a.count, a.updates,
                                                         time.monotonic() - t0, api.errors))


def cmd_delete(api, a):
    sel = urllib.parse.quote("%s=%s" % (LABEL, a.prefix))
    n = 0
    for path in (SVC, EPS, PODS):
        st, lst = api.call("GET", "%s?labelSelector=%s" % (path, sel))
        for o in (lst or {}).get("items", []):
            api.call("DELETE", "%s/%s" % (path, o["metadata"]["name"]))
            n += 1
    print("deleted=%d" % n)


def soak_step(api, a, pool, k):
    """One change: a Service, an EndpointSlice or a Pod created, updated or deleted."""
    i = random.randrange(a.pool)
    name = "%s-%d" % (a.prefix, i)
    kind = k % 3
    live = pool.setdefault(name, [False, False])
    if kind == 0:
        if not live[0]:
            api.call("POST", SVC, service(a.prefix, name, 9090))
            live[0] = True
        elif random.random() < 0.3:
            api.call("DELETE", "%s/%s" % (SVC, name))
            api.call("DELETE", "%s/%s-1" % (EPS, name))
            live[0] = live[1] = False
        else:
            replace(api, SVC, name, lambda o: o["metadata"].setdefault(
                "annotations", {}).__setitem__("churn", str(k)))
        return "svc"
    if kind == 1:
        ips = random.sample(a.ip, random.randint(1, len(a.ip)))
        ready = [random.random() < 0.8 for _ in ips]
        body = slice_of(a.prefix, name, ips, ready)
        if not live[1]:
            st, _ = api.call("POST", EPS, body)
            live[1] = st in (200, 201, 409)
        else:
            def put(o):
                o["endpoints"] = body["endpoints"]
            replace(api, EPS, name + "-1", put)
        return "eps"
    pname = "%s-pod-%d" % (a.prefix, i)
    if random.random() < 0.5:
        api.call("POST", PODS, pod(a.prefix, pname, a.node, random.choice(a.ip), k))
    else:
        api.call("DELETE", "%s/%s" % (PODS, pname))
    return "pod"


def cmd_soak(api, a):
    pool, counts, p = {}, {"svc": 0, "eps": 0, "pod": 0}, Pacer(a.rate)
    t_end, k = time.monotonic() + a.seconds, 0
    while time.monotonic() < t_end:
        counts[soak_step(api, a, pool, k)] += 1
        k += 1
        p.tick()
    el = a.seconds
    print(json.dumps({"changes": k, "rate": round(k / el, 1), "by_kind": counts,
                      "errors": api.errors}))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("token_file")
    ap.add_argument("ca")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("burst")
    b.add_argument("prefix")
    b.add_argument("count", type=int)
    b.add_argument("--updates", type=int, default=0)
    b.add_argument("--rate", type=float, default=0)
    d = sub.add_parser("delete")
    d.add_argument("prefix")
    s = sub.add_parser("soak")
    s.add_argument("prefix")
    s.add_argument("seconds", type=float)
    s.add_argument("--rate", type=float, default=50)
    s.add_argument("--pool", type=int, default=40)
    s.add_argument("--node", required=True)
    s.add_argument("--ip", action="append", required=True)
    a = ap.parse_args()
    api = Api(a.url, a.token_file, a.ca)
    {"burst": cmd_burst, "delete": cmd_delete, "soak": cmd_soak}[a.cmd](api, a)


if __name__ == "__main__":
    sys.exit(main())
