#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Kubernetes API stand-in for the e2e suites: HTTPS + bearer token, discovery,
REST, chunked lists, watches with bookmarks and 410s, and fault injection."""

import argparse
import base64
import binascii
import bisect
import gzip
import hmac
import json
import os
import random
import select
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kinds  # noqa: E402
import patch as patchlib  # noqa: E402
from store import (ApiError, Store, dumps, expired, matches, obj_key,  # noqa: E402
                   not_found)

GZIP_MIN = 128 * 1024  # apiserver defaultGzipThresholdBytes
CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use the "
                    "continue token in this response to retrieve the remainder of the results. "
                    "Continuing with the provided token results in an inconsistent list - objects "
                    "that were created, modified, or deleted between the time the first chunk was "
                    "returned and now may show up in the list.")


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.n429 = self.retry_after = self.n500 = 0
        self.slow_ms = 0
        self.stats = {"requests": 0, "lists": 0, "watches": 0, "gets": 0, "creates": 0,
                      "updates": 0, "patches": 0, "deletes": 0, "status401": 0, "status410": 0,
                      "status429": 0, "status500": 0, "watchesDropped": 0, "bookmarks": 0,
                      "listSeconds": 0.0, "listBytes": 0}
        self.by_resource = {}
        self.open_watches = set()

    def bump(self, key, n=1, resource=None):
        with self.lock:
            self.stats[key] += n
            if resource:
                r = self.by_resource.setdefault(resource, {"lists": 0, "watches": 0})
                if key in r:
                    r[key] += n

    def take(self):
        """The injected failure for the next request, if any."""
        with self.lock:
            if self.n429 > 0:
                self.n429 -= 1
                self.stats["status429"] += 1
                return 429
            if self.n500 > 0:
                self.n500 -= 1
                self.stats["status500"] += 1
                return 500
        return 0


def bool_param(v):
    """apimachinery Convert_Slice_string_To_bool: "0"/"false" false, else true."""
    return v is not None and v != "0" and v.lower() != "false"


def encode_continue(rv, start):
    return base64.urlsafe_b64encode(dumps({"v": "meta.k8s.io/v1", "rv": rv,
                                           "start": start})).decode().rstrip("=")


def decode_continue(tok):
    try:
        raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
        d = json.loads(raw)
        if d.get("v") != "meta.k8s.io/v1" or not isinstance(d.get("rv"), int) or \
                not isinstance(d.get("start"), str):
            raise ValueError("bad fields")
        return d["rv"], d["start"]
    except (ValueError, binascii.Error, AttributeError) as e:
        raise ApiError(400, "BadRequest", f"continue key is not valid: {e}")


def too_large(rv, cur):
    return ApiError(504, "Timeout", f"Timeout: Too large resource version: {rv}, current: {cur}",
                    {"causes": [{"reason": "ResourceVersionTooLarge",
                                 "message": "Too large resource version"}],
                     "retryAfterSeconds": 1}, retry_after=1)


def bad(msg):
    return ApiError(400, "BadRequest", msg)


def invalid_opts(causes):
    return ApiError(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: " +
                    ", ".join(f"{f}: {m}" for f, m in causes),
                    {"kind": "ListOptions", "group": "meta.k8s.io",
                     "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f}
                                for f, m in causes]})


def parse_rv(s):
    try:
        n = int(s)
        if n < 0:
            raise ValueError
        return n
    except ValueError:
        raise invalid_opts([("resourceVersion", f'Invalid value: "{s}": '
                                                "must be a non-negative integer")])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sluice-apiserver"
    sys_version = ""
    timeout = 300

    # -- plumbing ---------------------------------------------------------------------

    def setup(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as Go does
        super().setup()
        try:
            self.request.do_handshake()
        except (OSError, ssl.SSLError):
            self.close_connection = True
            self.rfile = None

    def handle(self):
        if self.rfile is None:
            return
        try:
            super().handle()
        except (OSError, ssl.SSLError):
            self.close_connection = True

    def log_message(self, fmt, *args):
        pass

    def log(self, code, size, t0):
        log = self.server.logf
        if log:
            line = (f"{time.strftime('%H:%M:%S')} {self.command} {self.path} {code} {size} "
                    f"{(time.monotonic() - t0) * 1000:.1f}ms\n")
            with self.server.log_lock:
                log.write(line)
                log.flush()

    def send_bytes(self, code, body, ctype="application/json", headers=()):
        if len(body) >= GZIP_MIN and "gzip" in (self.headers.get("Accept-Encoding") or "") \
                and not self.server.args.no_gzip:
            body = gzip.compress(body, compresslevel=1)
            headers = list(headers) + [("Content-Encoding", "gzip")]
        hdr = [f"HTTP/1.1 {code} {self.responses.get(code, ('',))[0]}",
               f"Content-Type: {ctype}", f"Content-Length: {len(body)}",
               f"Date: {self.date_time_string()}", "Cache-Control: no-cache, private"]
        hdr += [f"{k}: {v}" for k, v in headers]
        if self.close_connection:
            hdr.append("Connection: close")
        self.wfile.write(("\r\n".join(hdr) + "\r\n\r\n").encode() + body)
        self.wfile.flush()
        self.code_sent = code
        return len(body)

    def send_json(self, code, obj, headers=()):
        return self.send_bytes(code, dumps(obj), headers=headers)

    def send_error_status(self, e):
        hdr = [("Retry-After", str(e.retry_after))] if e.retry_after else []
        if e.code == 410:
            self.server.faults.bump("status410")
        st = e.status()
        if getattr(e, "list_continue", None):
            st["metadata"]["continue"] = e.list_continue
        return self.send_json(e.code, st, hdr)

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def read_json(self):
        raw = self.read_body()
        try:
            return json.loads(raw or b"null")
        except ValueError as e:
            raise bad(f"the body of the request was in an unknown format - accepted media types "
                      f"include: application/json: {e}")

    # -- entry points ------------------------------------------------------------------

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        t0 = time.monotonic()
        self.code_sent, size = 0, 0
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        faults = self.server.faults
        try:
            if path in ("/healthz", "/livez", "/readyz"):
                size = self.send_bytes(200, b"ok", "text/plain; charset=utf-8")
                return
            auth = self.headers.get("Authorization") or ""
            if not (auth.startswith("Bearer ") and
                    hmac.compare_digest(auth[7:].strip().encode(), self.server.token)):
                faults.bump("status401")
                self.read_body()
                size = self.send_error_status(ApiError(401, "Unauthorized", "Unauthorized"))
                return
            if path.startswith("/_sluice/"):
                size = self.sluice(path, q)
                return
            faults.bump("requests")
            inj = faults.take()
            if inj:
                self.read_body()
                size = self.inject(inj)
                return
            size = self.route(path, q)
        except ApiError as e:
            size = self.send_error_status(e)
        except (OSError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:  # a bug here must not kill the connection silently
            import traceback
            traceback.print_exc()
            try:
                size = self.send_error_status(ApiError(500, "InternalError",
                                                       f"Internal error occurred: {e!r}"))
            except (OSError, ssl.SSLError):
                self.close_connection = True
        finally:
            self.log(self.code_sent, size, t0)

    def inject(self, code):
        if code == 429:
            # API Priority & Fairness: plain text, Retry-After (kube-api.md 2.8)
            with self.server.faults.lock:
                ra = self.server.faults.retry_after
            return self.send_bytes(429, b"Too many requests, please try again later.\n",
                                   "text/plain; charset=utf-8", [("Retry-After", str(ra))])
        return self.send_error_status(ApiError(500, "InternalError",
                                               "Internal error occurred: injected fault",
                                               {"causes": [{"message": "injected fault"}]}))

    # -- test controls ---------------------------------------------------------------------

    def sluice(self, path, q):
        f, st = self.server.faults, self.server.store
        if path == "/_sluice/stats" and self.command == "GET":
            with f.lock:
                out = dict(f.stats)
                out["openWatches"] = len(f.open_watches)
                out["byResource"] = {k: dict(v) for k, v in f.by_resource.items()}
                out["faults"] = {"status429": f.n429, "retryAfter": f.retry_after,
                                 "status500": f.n500, "slowStreamMs": f.slow_ms}
            out["listSeconds"] = round(out["listSeconds"], 6)
            with st.cond:
                out["resourceVersion"] = str(st.rv)
                out["compactedResourceVersion"] = str(st.compacted)
                out["objects"] = {t.rt.plural: len(t.keys) for t in st.tables.values()}
            return self.send_json(200, out)
        if path == "/_sluice/faults" and self.command == "POST":
            return self.send_json(200, self.set_faults(self.read_json()))
        if path == "/_sluice/objects" and self.command == "POST":
            return self.send_json(201, self.raw_objects(self.read_json()))
        raise ApiError(404, "NotFound", f"no test control {self.command} {path}")

    def set_faults(self, body):
        f, st = self.server.faults, self.server.store
        known = {"dropWatches", "compact", "status429", "status500", "slowStreamMs",
                 "watchGarbage", "reset"}
        if not isinstance(body, dict) or not body or set(body) - known:
            raise bad(f"faults: expected an object with some of {sorted(known)}, "
                      f"got {json.dumps(body)[:200]}")

        def count(v, key):
            n = v.get(key) if isinstance(v, dict) else None
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise bad(f"faults: {key} must be a non-negative integer")
            return n
        n429 = count(body["status429"], "count") if "status429" in body else None
        ra = count(body["status429"], "retryAfter") if "status429" in body else None
        n500 = count(body["status500"], "count") if "status500" in body else None
        slow = body.get("slowStreamMs")
        if slow is not None and (not isinstance(slow, int) or isinstance(slow, bool) or slow < 0):
            raise bad("faults: slowStreamMs must be a non-negative integer")
        garbage = body.get("watchGarbage")
        if garbage is not None and (not isinstance(garbage, str) or "\n" in garbage):
            raise bad("faults: watchGarbage must be a one-line string")
        with f.lock:
            if body.get("reset"):
                f.n429 = f.retry_after = f.n500 = f.slow_ms = 0
            if n429 is not None:
                f.n429, f.retry_after = n429, ra
            if n500 is not None:
                f.n500 = n500
            if slow is not None:
                f.slow_ms = slow
            watchers = list(f.open_watches)
        if body.get("compact"):
            st.compact_now()
        if garbage is not None:
            for w in watchers:
                w.garbage.append(garbage.encode())
            with st.cond:
                st.cond.notify_all()
        dropped = 0
        if body.get("dropWatches"):
            with st.cond:
                st.drop_gen += 1
                st.cond.notify_all()
            for w in watchers:
                try:
                    socket.socket.shutdown(w.connection, socket.SHUT_RDWR)
                except OSError:
                    pass
                dropped += 1
            f.bump("watchesDropped", dropped)
        with st.cond:
            rv, comp = st.rv, st.compacted
        return {"ok": True, "dropped": dropped, "resourceVersion": str(rv),
                "compactedResourceVersion": str(comp)}

    def raw_objects(self, body):
        objs = body.get("objects") if isinstance(body, dict) else None
        if not isinstance(objs, list):
            raise bad('objects: expected {"objects":[...]}')
        n = 0
        for o in objs:
            rt = kinds.BY_KIND.get((o.get("apiVersion"), o.get("kind"))) \
                if isinstance(o, dict) else None
            if rt is None:
                raise bad(f"objects: unknown apiVersion/kind in {json.dumps(o)[:200]}")
            self.server.store.create_raw(rt, o)
            n += 1
        with self.server.store.cond:
            rv = self.server.store.rv
        return {"created": n, "resourceVersion": str(rv)}

    # -- routing -----------------------------------------------------------------------------

    def route(self, path, q):
        segs = [urllib.parse.unquote(s) for s in path.split("/")[1:]] if path != "/" else []
        if self.command == "GET":
            doc = self.discovery(path, segs)
            if doc is True:
                return 0
            if doc is not None:
                return self.send_json(200, doc)
        if segs[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", segs[2:]
        elif len(segs) >= 3 and segs[0] == "apis":
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        watch = False
        if rest[:1] == ["watch"]:
            watch, rest = True, rest[1:]
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and \
                (group, version, rest[2]) in kinds.BY_PATH:
            ns, rest = rest[1], rest[2:]
        rt = kinds.BY_PATH.get((group, version, rest[0])) if rest else None
        if rt is None or len(rest) > 3 or (ns and not rt.namespaced) or \
                (len(rest) == 3 and rest[2] != "status") or \
                (len(rest) >= 2 and rt.namespaced and not ns):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) == 3 else None
        if sub and self.command not in ("GET", "PUT", "PATCH"):
            raise ApiError(405, "MethodNotAllowed",
                           f"the server does not allow this method on the requested resource")
        if watch or (self.command == "GET" and name is None and bool_param(q.get("watch"))):
            if name is not None:
                q["fieldSelector"] = ",".join(filter(None, [q.get("fieldSelector"),
                                                            f"metadata.name={name}"]))
            return self.watch(rt, ns, q)
        return getattr(self, "rest_" + self.command.lower())(rt, ns, name, sub, q)

    def discovery(self, path, segs):
        if path == "/version":
            return {"major": "1", "minor": "34", "gitVersion": "v1.34.0-sluice",
                    "gitCommit": "0000000000000000000000000000000000000000",
                    "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                    "goVersion": "go1.24.0", "compiler": "gc", "platform": "linux/amd64"}
        if path in ("/openapi/v2", "/swagger-2.0.0.pb-v1"):
            # an empty protobuf document: kubectl's client-side validation finds no
            # schemas and passes (kubectl.md 3.5); JSON here would break it
            self.send_bytes(200, b"", "application/octet-stream")
            return True
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server.args.listen}]}
        if path == "/apis":
            return kinds.api_group_list()
        if path == "/api/v1":
            return kinds.api_resource_list("", "v1")
        if len(segs) == 2 and segs[0] == "apis":
            return kinds.api_group(segs[1])
        if len(segs) == 3 and segs[0] == "apis":
            return kinds.api_resource_list(segs[1], segs[2])
        return None

    # -- REST -----------------------------------------------------------------------------------

    def rest_get(self, rt, ns, name, sub, q):
        if name is None:
            return self.list(rt, ns, q)
        self.server.faults.bump("gets")
        st = self.server.store
        with st.cond:
            e = st.tables[rt].objs.get(obj_key(rt, ns, name))
        if e is None:
            raise not_found(rt, name)
        return self.send_bytes(200, e.full(rt))

    def rest_post(self, rt, ns, name, sub, q):
        if name is not None:
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource")
        if rt.namespaced and not ns:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        body = self.read_json()
        self.check_body(rt, body)
        self.server.faults.bump("creates")
        e = self.server.store.create(rt, ns, body)
        return self.send_bytes(201, e.full(rt))

    def check_body(self, rt, body):
        if not isinstance(body, dict):
            raise bad("the body of the request must be a JSON object")
        av, kind = body.get("apiVersion"), body.get("kind")
        if (av or kind) and (av, kind) != (rt.api_version, rt.kind):
            raise bad(f"the API version in the data ({av}) does not match the expected API "
                      f"version ({rt.api_version})" if av != rt.api_version else
                      f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")

    def rest_put(self, rt, ns, name, sub, q):
        if name is None:
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource")
        body = self.read_json()
        self.check_body(rt, body)
        self.server.faults.bump("updates")
        e = self.server.store.update(rt, ns, name, lambda cur: body, status_only=sub == "status")
        return self.send_bytes(200, e.full(rt))

    def rest_patch(self, rt, ns, name, sub, q):
        if name is None:
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                         "application/json-patch+json"):
            self.read_body()
        else:
            body = self.read_json()
        if ctype == "application/merge-patch+json":
            def fn(cur):
                return patchlib.merge_patch(cur, body)
        elif ctype == "application/strategic-merge-patch+json":
            if rt.kind == "EndpointSlice":
                # a real server knows discovery/v1 types; this stand-in's table has no keys for it
                pass

            def fn(cur):
                return patchlib.strategic_merge_patch(cur, body, rt.smp)
        elif ctype == "application/json-patch+json":
            def fn(cur):
                return patchlib.json_patch(cur, body)
        else:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media "
                           f"types include: application/json-patch+json, "
                           f"application/merge-patch+json, application/strategic-merge-patch+json")
        if ctype != "application/json-patch+json" and not isinstance(body, dict):
            raise bad("the patch must be a JSON object")

        def mutate(cur):
            try:
                return fn(cur)
            except patchlib.BadRequest as e:
                raise bad(str(e))
        self.server.faults.bump("patches")
        e = self.server.store.update(rt, ns, name, mutate, status_only=sub == "status")
        return self.send_bytes(200, e.full(rt))

    def rest_delete(self, rt, ns, name, sub, q):
        body = self.read_json()
        opts = body if isinstance(body, dict) else {}
        st = self.server.store
        if name is None:
            if rt.kind == "Namespace":
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource")
            lsel, fsel = self.selectors(rt, q)
            self.server.faults.bump("deletes")
            gone = []
            with st.cond:
                for key in list(st.tables[rt].keys):
                    e = st.tables[rt].objs[key]
                    if matches(rt, e, ns, lsel, fsel):
                        gone.append(st.delete(rt, e.ns, e.obj["metadata"]["name"]))
                rv = st.rv
            return self.send_bytes(200, rt.list_prefix + dumps({"resourceVersion": str(rv)}) +
                                   b',"items":[' + b",".join(g.body for g in gone) + b"]}")
        self.server.faults.bump("deletes")
        e = st.delete(rt, ns, name, opts.get("preconditions"))
        return self.send_bytes(200, e.full(rt))

    def selectors(self, rt, q):
        try:
            return (patchlib.parse_label_selector(q.get("labelSelector", "")),
                    patchlib.parse_field_selector(q.get("fieldSelector", ""), rt))
        except patchlib.BadRequest as e:
            raise bad(str(e))

    # -- list -----------------------------------------------------------------------------------

    def list(self, rt, ns, q):
        t0 = time.monotonic()
        f, st = self.server.faults, self.server.store
        f.bump("lists", resource=rt.plural)
        lsel, fsel = self.selectors(rt, q)
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise bad(f"limit: invalid value {q.get('limit')!r}")
        cont, rv, match = q.get("continue", ""), q.get("resourceVersion"), \
            q.get("resourceVersionMatch")
        if q.get("sendInitialEvents") is not None:
            raise invalid_opts([("sendInitialEvents", "Forbidden: sendInitialEvents is forbidden "
                                                      "for list")])
        if match:
            if rv is None or rv == "":
                raise invalid_opts([("resourceVersionMatch", "Forbidden: resourceVersionMatch "
                                                             "is forbidden unless resourceVersion "
                                                             "is provided")])
            if cont:
                raise invalid_opts([("resourceVersionMatch", "Forbidden: resourceVersionMatch "
                                                             "is forbidden when continue is "
                                                             "provided")])
            if match not in ("Exact", "NotOlderThan"):
                raise invalid_opts([("resourceVersionMatch", f'Unsupported value: "{match}": '
                                                             'supported values: "Exact", '
                                                             '"NotOlderThan"')])
            if match == "Exact" and rv == "0":
                raise invalid_opts([("resourceVersionMatch", 'Forbidden: resourceVersionMatch '
                                                             '"exact" is forbidden for '
                                                             'resourceVersion "0"')])
        if cont and rv not in (None, "", "0"):
            raise bad("specifying resource version is not allowed when using continue")
        start = ""
        with st.cond:
            if cont:
                R, start = decode_continue(cont)
                if R == -1:   # an inconsistent continuation handed out with a 410
                    R = st.rv
                elif R < st.compacted:
                    e = expired(CONTINUE_EXPIRED)
                    e.list_continue = encode_continue(-1, start)
                    raise e
                elif R > st.rv:
                    raise bad("continue key is not valid: resource version in the future")
            elif not rv:
                R = st.rv
            elif rv == "0" and match != "Exact":
                R = st.rv
            else:
                n = parse_rv(rv)
                self.wait_rv(st, n)
                exact = match == "Exact" or (not match and limit > 0)
                if exact and n < st.compacted:
                    raise expired(f"too old resource version: {n} ({st.compacted})")
                R = n if exact else st.rv
            keys, lookup = st.state_at(rt, R)
            lo, hi = 0, len(keys)
            if rt.namespaced and ns:
                lo = bisect.bisect_left(keys, ns + "/")
                hi = bisect.bisect_left(keys, ns + "0", lo)
            i = lo
            if start:
                i = max(lo, bisect.bisect_left(keys, start))
            bodies, last = [], None
            while i < hi:
                k = keys[i]
                i += 1
                e = lookup(k)
                if e is None or not matches(rt, e, ns, lsel, fsel):
                    continue
                bodies.append(e.body)
                last = k
                if limit and len(bodies) >= limit:
                    break
            more = limit > 0 and len(bodies) >= limit and i < hi
        md = {"resourceVersion": str(R)}
        if more:
            md["continue"] = encode_continue(R, last + "\x00")
            if not lsel and not fsel:
                md["remainingItemCount"] = hi - i
        out = rt.list_prefix + dumps(md) + b',"items":[' + b",".join(bodies) + b"]}"
        size = self.send_bytes(200, out)
        f.bump("listSeconds", time.monotonic() - t0)
        f.bump("listBytes", size)
        return size

    def wait_rv(self, st, n):
        """Caller holds st.cond; waits briefly for rv n to exist, else 504."""
        deadline = time.monotonic() + self.server.args.too_new_wait
        while st.rv < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise too_large(n, st.rv)
            st.cond.wait(left)

    # -- watch -----------------------------------------------------------------------------------

    def watch(self, rt, ns, q):
        f, st = self.server.faults, self.server.store
        f.bump("watches", resource=rt.plural)
        lsel, fsel = self.selectors(rt, q)
        rv, match = q.get("resourceVersion", ""), q.get("resourceVersionMatch")
        sie = q.get("sendInitialEvents")
        bookmarks = bool_param(q.get("allowWatchBookmarks"))
        if sie is not None:
            if match != "NotOlderThan":
                raise invalid_opts([("sendInitialEvents", "Forbidden: sendInitialEvents is "
                                                          "forbidden unless resourceVersionMatch "
                                                          "is NotOlderThan")])
            initial = bool_param(sie)
        elif match:
            raise invalid_opts([("resourceVersionMatch", "Forbidden: resourceVersionMatch is "
                                                         "forbidden for watch unless "
                                                         "sendInitialEvents is provided")])
        else:
            # WatchList (1.34 default): RV ""/"0" means initial events
            initial = rv in ("", "0")
        try:
            tmo = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else \
                self.server.args.watch_timeout * (1 + random.random())
        except ValueError:
            raise bad(f"timeoutSeconds: invalid value {q.get('timeoutSeconds')!r}")
        deadline = time.monotonic() + tmo
        err, init = None, []
        with st.cond:
            gen = st.drop_gen
            if rv in ("", "0"):
                start = st.rv
            else:
                start = parse_rv(rv)
                try:
                    self.wait_rv(st, start)
                except ApiError as e:
                    err = e
                if not err and start < st.compacted:
                    err = expired(f"too old resource version: {start} ({st.compacted})")
                if not err and initial:
                    start = st.rv
            if initial and not err:
                t = st.tables[rt]
                for k in t.keys:
                    e = t.objs[k]
                    if matches(rt, e, ns, lsel, fsel):
                        init.append(e)
        self.watch_headers()
        self.garbage = []
        with f.lock:
            f.open_watches.add(self)
        try:
            if err:
                if err.code == 410:
                    f.bump("status410")
                self.chunk(dumps({"type": "ERROR", "object": err.status()}) + b"\n")
                self.end_stream()
                return 0
            for e in init:
                self.slow(st, gen)
                self.chunk(b'{"type":"ADDED","object":' + e.full(rt) + b"}\n")
            if initial and bookmarks:
                self.send_bookmark(rt, start, initial_end=True)
            self.stream(rt, ns, lsel, fsel, start, bookmarks, deadline, gen)
        except (OSError, ssl.SSLError, ValueError):
            self.close_connection = True
        finally:
            with f.lock:
                f.open_watches.discard(self)
        return 0

    def watch_headers(self):
        self.wfile.write((f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          f"Cache-Control: no-cache, private\r\n"
                          f"Date: {self.date_time_string()}\r\n"
                          f"Transfer-Encoding: chunked\r\n\r\n").encode())
        self.wfile.flush()
        self.code_sent = 200

    def chunk(self, data):
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def dropped(self):
        """The connection was dropped by a fault: end without the final chunk."""
        self.close_connection = True
        try:
            socket.socket.shutdown(self.connection, socket.SHUT_RDWR)
        except OSError:
            pass

    def client_gone(self):
        """A watch client sends nothing while it streams: readable means it closed."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(r)

    def slow(self, st, gen):
        ms = self.server.faults.slow_ms
        if ms:
            time.sleep(ms / 1000.0)
        if st.drop_gen != gen:
            raise OSError("watch dropped")

    def send_bookmark(self, rt, rv, initial_end=False):
        md = {"resourceVersion": str(rv)}
        if initial_end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": md, **rt.bookmark_extra}
        self.chunk(dumps({"type": "BOOKMARK", "object": obj}) + b"\n")
        self.server.faults.bump("bookmarks")

    def stream(self, rt, ns, lsel, fsel, last, bookmarks, deadline, gen):
        st = self.server.store
        interval = self.server.args.bookmark_interval
        next_bm = time.monotonic() + interval
        while True:
            with st.cond:
                while True:
                    now = time.monotonic()
                    if st.drop_gen != gen:
                        self.dropped()
                        return
                    if now >= deadline:
                        break
                    if last < st.compacted:
                        break
                    if st.rv > last or self.garbage or (bookmarks and now >= next_bm):
                        break
                    wake = deadline if not bookmarks else min(deadline, next_bm)
                    if not st.cond.wait(max(0.001, min(wake - now, 1.0))) and self.client_gone():
                        self.close_connection = True
                        return
                if time.monotonic() >= deadline:
                    self.end_stream()
                    return
                if last < st.compacted:
                    # this watcher fell out of the window (the real cacher ends it)
                    err = expired(f"too old resource version: {last} ({st.compacted})")
                    evs = None
                else:
                    evs = st.events_after(last)
                    top = st.rv
            if evs is None:
                self.server.faults.bump("status410")
                self.chunk(dumps({"type": "ERROR", "object": err.status()}) + b"\n")
                self.end_stream()
                return
            while self.garbage:
                self.chunk(self.garbage.pop(0) + b"\n")
            for ev in evs:
                if ev.rt is rt:
                    data = self.event_bytes(rt, ev, ns, lsel, fsel)
                    if data:
                        self.slow(st, gen)
                        self.chunk(data)
                last = ev.rv
            last = max(last, top)
            if bookmarks and time.monotonic() >= next_bm:
                self.send_bookmark(rt, last)
                next_bm = time.monotonic() + interval

    def event_bytes(self, rt, ev, ns, lsel, fsel):
        now = matches(rt, ev.entry, ns, lsel, fsel)
        if ev.type == "DELETED":
            return b'{"type":"DELETED","object":' + ev.entry.full(rt) + b"}\n" if now else None
        was = ev.prev is not None and matches(rt, ev.prev, ns, lsel, fsel)
        if now:
            etype = b"MODIFIED" if was else b"ADDED"
            return b'{"type":"' + etype + b'","object":' + ev.entry.full(rt) + b"}\n"
        if was:
            # left the selection: the cacher sends DELETED with the previous state
            obj = dict(ev.prev.obj, metadata=dict(ev.prev.obj["metadata"],
                                                  resourceVersion=str(ev.rv)))
            return b'{"type":"DELETED","object":' + dumps(obj) + b"}\n"
        return None


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # a client that went away is not news


def load_preload(store, path):
    with open(path, "rb") as fh:
        objs = json.load(fh)
    if not isinstance(objs, list):
        raise SystemExit(f"server.py: --preload {path}: expected a JSON list of objects")
    with store.cond:
        for i, o in enumerate(objs):
            rt = kinds.BY_KIND.get((o.get("apiVersion"), o.get("kind"))) \
                if isinstance(o, dict) else None
            if rt is None:
                raise SystemExit(f"server.py: --preload {path}: item {i}: unknown apiVersion/kind")
            md = o.get("metadata") or {}
            try:
                store.create(rt, md.get("namespace", "default"), o, check_ns=False)
            except ApiError as e:
                raise SystemExit(f"server.py: --preload {path}: item {i}: {e.message}")
        # history of the preload is not kept: it is one big "compacted" past
        store._compact_to(store.rv)


def bootstrap(store, listen):
    """What a fresh kubeadm cluster has: the system namespaces and default/kubernetes."""
    ns_t = kinds.BY_KIND[("v1", "Namespace")]
    for n in ("default", "kube-system", "kube-public", "kube-node-lease"):
        store.create(ns_t, "", {"metadata": {"name": n}})
    host, port = listen.rsplit(":", 1)
    svc_t = kinds.BY_KIND[("v1", "Service")]
    store.create(svc_t, "default", {"metadata": {"name": "kubernetes", "labels": {
        "component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": str(store.alloc.net.network_address + 1),
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                            "targetPort": int(port)}]}})
    eps_t = kinds.BY_KIND[("discovery.k8s.io/v1", "EndpointSlice")]
    store.create(eps_t, "default", {"metadata": {"name": "kubernetes", "labels": {
        "kubernetes.io/service-name": "kubernetes"}}, "addressType": "IPv4",
        "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": int(port), "protocol": "TCP"}]})


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--listen", required=True, help="ADDR:PORT")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token", help="bearer token (or --token-file)")
    ap.add_argument("--token-file")
    ap.add_argument("--compaction-window", type=int, default=1000,
                    help="events kept for watches/continues (default 1000)")
    ap.add_argument("--bookmark-interval", type=float, default=1.0,
                    help="seconds between BOOKMARK events (default 1)")
    ap.add_argument("--watch-timeout", type=float, default=1800.0,
                    help="base watch length without timeoutSeconds (x1..2, default 1800)")
    ap.add_argument("--too-new-wait", type=float, default=3.0,
                    help="seconds to wait for a future resourceVersion before 504 (default 3)")
    ap.add_argument("--service-cidr", default="10.96.0.0/12")
    ap.add_argument("--no-bootstrap", action="store_true",
                    help="no default/kubernetes Service and EndpointSlice")
    ap.add_argument("--no-gzip", action="store_true")
    ap.add_argument("--preload", help="JSON list of objects to create at start")
    ap.add_argument("--log", help="request log file")
    ap.add_argument("--start-rv", type=int, default=0,
                    help="resourceVersion to start from, all before it compacted: a restart "
                         "that lost its history (every older watch gets 410)")
    args = ap.parse_args()
    if bool(args.token) == bool(args.token_file):
        ap.error("exactly one of --token and --token-file is needed")
    token = args.token
    if args.token_file:
        with open(args.token_file) as fh:
            token = fh.read().strip()
    if not token:
        ap.error("the token is empty")
    if args.compaction_window < 1:
        ap.error("--compaction-window must be >= 1")
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        ap.error(f"--listen {args.listen}: expected ADDR:PORT")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_alpn_protocols(["http/1.1"])
    try:
        ctx.load_cert_chain(args.cert, args.key)
    except (OSError, ssl.SSLError) as e:
        ap.error(f"cannot load --cert/--key: {e}")
    store = Store(args.compaction_window, args.service_cidr)
    if args.start_rv > 0:
        store.rv = store.compacted = args.start_rv
        store.hist_base = store.rv + 1
    if not args.no_bootstrap:
        bootstrap(store, args.listen)
    if args.preload:
        load_preload(store, args.preload)
    try:
        srv = Server((host.strip("[]"), int(port)), Handler, bind_and_activate=True)
    except OSError as e:
        sys.exit(f"server.py: cannot listen on {args.listen}: {e}")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    srv.store, srv.faults, srv.args = store, Faults(), args
    srv.token = token.encode()
    srv.logf = open(args.log, "a") if args.log else None
    srv.log_lock = threading.Lock()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    print("ready", flush=True)
    srv.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
