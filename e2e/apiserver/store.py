# SPDX-License-Identifier: Apache-2.0
"""The stand-in's storage: objects by resource, one global resourceVersion,
an event history with a compaction window, and point-in-time reads."""

import bisect
import copy
import datetime
import json
import random
import threading
import uuid

import kinds
from patch import labels_match


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An error the server answers with a Status of this code and reason."""

    def __init__(self, code, reason, message, details=None, retry_after=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.retry_after = details, retry_after

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason}
        if self.details:
            st["details"] = self.details
        st["code"] = self.code
        return st


def details(rt, name):
    d = {"name": name}
    if rt.group:
        d["group"] = rt.group
    d["kind"] = rt.plural
    return d


def qualified(rt):
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural


def not_found(rt, name):
    return ApiError(404, "NotFound", f'{qualified(rt)} "{name}" not found', details(rt, name))


def invalid(rt, name, causes):
    d = {"name": name, "group": rt.group, "kind": rt.kind,
         "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]}
    if not rt.group:
        del d["group"]
    msg = "; ".join(f"{f}: {m}" for f, m in causes)
    return ApiError(422, "Invalid", f'{rt.kind} "{name}" is invalid: {msg}', d)


def conflict(rt, name, why):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(rt)} "{name}": '
                    f"{why}", details(rt, name))


def expired(message):
    return ApiError(410, "Expired", message)


class Entry:
    """One stored object version: the dict (never mutated once stored) and its
    JSON without kind/apiVersion (what typed list items look like)."""
    __slots__ = ("obj", "body", "rv", "labels", "ns")

    def __init__(self, obj, rv):
        self.obj, self.rv = obj, rv
        md = obj["metadata"]
        labels = md.get("labels")
        self.labels = labels if isinstance(labels, dict) else {}
        ns = md.get("namespace", "")
        self.ns = ns if isinstance(ns, str) else ""
        self.body = dumps({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})

    def full(self, rt):
        """The object with kind and apiVersion, as single objects and watch events carry."""
        return rt.prefix + self.body[1:] if len(self.body) > 2 else rt.prefix[:-1] + b"}"


class Event:
    __slots__ = ("rv", "rt", "key", "type", "entry", "prev")

    def __init__(self, rv, rt, key, etype, entry, prev):
        self.rv, self.rt, self.key, self.type = rv, rt, key, etype
        self.entry, self.prev = entry, prev  # entry: state after (deleted: last state)


class Table:
    """The objects of one resource type, plus their keys kept sorted."""

    def __init__(self, rt):
        self.rt = rt
        self.objs = {}
        self.keys = []

    def put(self, key, entry):
        if key not in self.objs:
            bisect.insort(self.keys, key)
        self.objs[key] = entry

    def remove(self, key):
        del self.objs[key]
        i = bisect.bisect_left(self.keys, key)
        del self.keys[i]


def obj_key(rt, ns, name):
    return f"{ns}/{name}" if rt.namespaced else name


class Store:
    def __init__(self, window, service_cidr):
        self.cond = threading.Condition()
        self.rv = 0
        self.compacted = 0          # events with rv <= compacted are gone
        self.hist = []              # hist[i].rv == hist_base + i
        self.hist_base = 1
        self.window = window
        self.tables = {rt: Table(rt) for rt in kinds.TYPES}
        self.alloc = kinds.Allocator(service_cidr)
        self.drop_gen = 0

    # -- history --------------------------------------------------------------------

    def _record(self, rt, key, etype, entry, prev):
        ev = Event(self.rv, rt, key, etype, entry, prev)
        if not self.hist:
            self.hist_base = ev.rv
        self.hist.append(ev)
        if len(self.hist) > 2 * self.window:
            self._compact_to(self.hist[len(self.hist) - self.window - 1].rv)
        self.cond.notify_all()

    def _compact_to(self, rv):
        """Forgets every event with rv <= rv."""
        if rv <= self.compacted:
            return
        drop = max(0, min(len(self.hist), rv - self.hist_base + 1))
        del self.hist[:drop]
        self.hist_base += drop
        self.compacted = rv
        if not self.hist:
            self.hist_base = self.rv + 1

    def compact_now(self):
        with self.cond:
            self._compact_to(self.rv)
            self.cond.notify_all()

    def events_after(self, rv):
        """Events with rv > rv (caller holds the lock and checked rv >= compacted)."""
        return self.hist[max(0, rv + 1 - self.hist_base):]

    # -- writes (caller holds the lock) --------------------------------------------------

    def _next_rv(self):
        self.rv += 1
        return self.rv

    def _prepare(self, rt, obj, old, now):
        """Validates, defaults and stamps server-owned metadata; returns the object."""
        obj = {k: v for k, v in obj.items()}
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        try:
            kinds.validate(rt, obj)
            md = dict(obj["metadata"])
            md.pop("managedFields", None)
            md.pop("selfLink", None)
            if not rt.namespaced:
                md.pop("namespace", None)
            obj["metadata"] = md
            kinds.default_object(rt, obj, old, self.alloc)
        except kinds.Invalid as e:
            raise invalid(rt, (obj.get("metadata") or {}).get("name", ""), e.causes)
        omd = (old or {}).get("metadata", {})
        out_md = {"name": md["name"]}
        if "generateName" in md or "generateName" in omd:
            out_md["generateName"] = md.get("generateName", omd.get("generateName"))
        if rt.namespaced:
            out_md["namespace"] = md["namespace"]
        out_md["uid"] = omd.get("uid") or str(uuid.uuid4())
        out_md["resourceVersion"] = ""
        out_md["creationTimestamp"] = omd.get("creationTimestamp") or now
        for k, v in md.items():
            if k not in out_md:
                out_md[k] = v
        # metadata first, as the real server serializes it
        return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": out_md,
                **{k: v for k, v in obj.items() if k not in ("kind", "apiVersion", "metadata")}}

    def _commit(self, rt, key, obj, etype, prev):
        rv = self._next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        entry = Entry(obj, rv)
        self.tables[rt].put(key, entry)
        self._record(rt, key, etype, entry, prev)
        return entry

    def create(self, rt, ns, obj, check_ns=True):
        md = obj.get("metadata")
        if not isinstance(md, dict):
            raise invalid(rt, "", [("metadata", "Required value")])
        md = dict(md)
        if rt.namespaced:
            if md.get("namespace") not in (None, "", ns):
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not "
                               "match the namespace sent on the request")
            md["namespace"] = ns
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + "".join(
                random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        obj = dict(obj, metadata=md)
        with self.cond:
            if rt.namespaced and check_ns and \
                    ns not in self.tables[kinds.BY_KIND[("v1", "Namespace")]].objs:
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                               {"name": ns, "kind": "namespaces"})
            key = obj_key(rt, ns, md.get("name") or "")
            if md.get("name") and key in self.tables[rt].objs:
                raise ApiError(409, "AlreadyExists",
                               f'{qualified(rt)} "{md["name"]}" already exists',
                               details(rt, md["name"]))
            new = self._prepare(rt, obj, None, now_rfc3339())
            return self._commit(rt, key, new, "ADDED", None)

    def create_raw(self, rt, obj):
        """Stores obj as given (no validation/defaulting): for malformed-object tests."""
        md = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(md, dict) or not isinstance(md.get("name"), str) or not md["name"]:
            raise ApiError(400, "BadRequest", "raw object needs metadata.name")
        ns = md.get("namespace", "") if rt.namespaced else ""
        if rt.namespaced and not isinstance(ns, str):
            raise ApiError(400, "BadRequest", "raw object needs a string metadata.namespace")
        with self.cond:
            key = obj_key(rt, ns, md["name"])
            prev = self.tables[rt].objs.get(key)
            obj = dict(obj, metadata=dict(md))
            if prev is None:
                obj["metadata"].setdefault("uid", str(uuid.uuid4()))
                obj["metadata"].setdefault("creationTimestamp", now_rfc3339())
            return self._commit(rt, key, obj, "MODIFIED" if prev else "ADDED", prev)

    def update(self, rt, ns, name, mutate, status_only=False):
        """mutate(current_obj_copy) -> new object dict (may raise).  A result equal
        to the stored object is a no-op (no new resourceVersion), as in etcd."""
        with self.cond:
            key = obj_key(rt, ns, name)
            cur = self.tables[rt].objs.get(key)
            if cur is None:
                raise not_found(rt, name)
            new = copy.deepcopy(mutate(cur.obj))
            if not isinstance(new, dict):
                raise ApiError(400, "BadRequest", "the object must be a JSON object")
            md = new.get("metadata")
            if not isinstance(md, dict):
                raise invalid(rt, name, [("metadata", "Required value")])
            if md.get("name", name) != name:
                raise ApiError(400, "BadRequest", f'the name of the object ({md.get("name")}) does '
                               f"not match the name on the URL ({name})")
            if rt.namespaced and md.get("namespace", ns) != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not "
                               "match the namespace sent on the request")
            rv = md.get("resourceVersion")
            if rv and rv != str(cur.rv):
                raise conflict(rt, name, "the object has been modified; please apply your changes "
                               "to the latest version and try again")
            if status_only:
                new = dict(cur.obj, status=new.get("status"))
            md = dict(new["metadata"], name=name)
            if rt.namespaced:
                md["namespace"] = ns
            md["uid"] = cur.obj["metadata"]["uid"]
            new = dict(new, metadata=md)
            released = False
            if rt.kind == "Service" and (new.get("spec") or {}).get("type") == "ExternalName":
                self.alloc.release(cur.obj)
                released = True
            try:
                out = self._prepare(rt, new, cur.obj, cur.obj["metadata"]["creationTimestamp"])
            except ApiError:
                if released:
                    kinds.default_service(copy.deepcopy(cur.obj.get("spec") or {}), None,
                                          self.alloc)
                raise
            out["metadata"]["resourceVersion"] = str(cur.rv)
            if out == cur.obj:
                return cur
            if rt.kind == "Service":
                self._release_changed(cur.obj, out)
            return self._commit(rt, key, out, "MODIFIED", cur)

    def _release_changed(self, old, new):
        ospec, nspec = old.get("spec") or {}, new.get("spec") or {}
        if ospec.get("clusterIP") != nspec.get("clusterIP"):
            self.alloc.ips.discard(ospec.get("clusterIP"))
        keep = {p.get("nodePort") for p in nspec.get("ports") or [] if isinstance(p, dict)}
        for p in ospec.get("ports") or []:
            if isinstance(p, dict) and p.get("nodePort") not in keep:
                self.alloc.node_ports.discard(p.get("nodePort"))

    def delete(self, rt, ns, name, precond=None):
        with self.cond:
            key = obj_key(rt, ns, name)
            cur = self.tables[rt].objs.get(key)
            if cur is None:
                raise not_found(rt, name)
            precond = precond or {}
            if precond.get("uid") not in (None, cur.obj["metadata"]["uid"]):
                raise conflict(rt, name, f"Precondition failed: UID in precondition: "
                               f"{precond['uid']}, UID in object meta: "
                               f"{cur.obj['metadata']['uid']}")
            if precond.get("resourceVersion") not in (None, str(cur.rv)):
                raise conflict(rt, name, f"Precondition failed: ResourceVersion in precondition: "
                               f"{precond['resourceVersion']}, ResourceVersion in object meta: "
                               f"{cur.rv}")
            if rt.kind == "Namespace":
                for t in self.tables.values():
                    if t.rt.namespaced:
                        for k in [k for k in t.keys if k.startswith(name + "/")]:
                            self._delete_key(t.rt, k)
            self._delete_key(rt, key)
            return cur

    def _delete_key(self, rt, key):
        cur = self.tables[rt].objs[key]
        self.tables[rt].remove(key)
        if rt.kind == "Service":
            self.alloc.release(cur.obj)
        rv = self._next_rv()
        last = copy.copy(cur.obj)
        last["metadata"] = dict(last["metadata"], resourceVersion=str(rv))
        self._record(rt, key, "DELETED", Entry(last, rv), cur)

    # -- reads (caller holds the lock) ----------------------------------------------------

    def state_at(self, rt, rv):
        """(keys, lookup) giving rt's objects as they were at rv (rv >= compacted)."""
        table = self.tables[rt]
        if rv >= self.rv:
            return table.keys, table.objs.get
        overlay = {}
        for ev in self.events_after(rv):
            if ev.rt is rt and ev.key not in overlay:
                overlay[ev.key] = ev.prev
        if not overlay:
            return table.keys, table.objs.get
        keys = sorted(set(table.keys) | {k for k, v in overlay.items() if v is not None})
        objs = table.objs

        def lookup(k):
            return overlay[k] if k in overlay else objs.get(k)
        return keys, lookup


def matches(rt, entry, ns, lsel, fsel):
    if ns and entry.ns != ns:
        return False
    if lsel and not labels_match(lsel, entry.labels):
        return False
    for field, neg, val in fsel:
        got = kinds.field_value(rt, entry.obj, field)
        if (got == val) == neg:
            return False
    return True
