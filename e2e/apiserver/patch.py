# SPDX-License-Identifier: Apache-2.0
"""Label/field selectors and the PATCH flavours (merge, strategic merge, JSON patch)."""

import copy
import re


class BadRequest(Exception):
    pass


# --- label selectors (apimachinery pkg/labels/selector.go grammar) -----------------

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|<|>|[^\s!=(),<>]+)")
_KEY = re.compile(r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?"
                  r"[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$")


def _tokens(s):
    out, pos = [], 0
    while pos < len(s):
        if s[pos:].strip() == "":
            break
        m = _TOKEN.match(s, pos)
        if not m:
            raise BadRequest(f"unable to parse requirement: {s!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def parse_label_selector(s):
    """Returns a list of (key, op, values); ops: in notin exists !exists gt lt."""
    toks, reqs, i = _tokens(s or ""), [], 0

    def need(cond, what):
        if not cond:
            raise BadRequest(f"unable to parse requirement: found '{what}' in {s!r}")

    while i < len(toks):
        neg = toks[i] == "!"
        if neg:
            i += 1
        need(i < len(toks), "end")
        key = toks[i]
        need(_KEY.match(key) is not None, key)
        i += 1
        if neg:
            reqs.append((key, "!exists", ()))
        elif i >= len(toks) or toks[i] == ",":
            reqs.append((key, "exists", ()))
        elif toks[i] in ("=", "==", "!="):
            op = "notin" if toks[i] == "!=" else "in"
            i += 1
            val = ""
            if i < len(toks) and toks[i] != ",":
                val = toks[i]
                i += 1
            reqs.append((key, op, (val,)))
        elif toks[i] in ("in", "notin"):
            op = toks[i]
            i += 1
            need(i < len(toks) and toks[i] == "(", toks[i] if i < len(toks) else "end")
            i += 1
            vals = []
            while i < len(toks) and toks[i] != ")":
                if toks[i] != ",":
                    vals.append(toks[i])
                i += 1
            need(i < len(toks), "end")
            i += 1
            reqs.append((key, op, tuple(vals) or ("",)))
        elif toks[i] in ("<", ">"):
            op = "lt" if toks[i] == "<" else "gt"
            i += 1
            need(i < len(toks) and re.match(r"^-?\d+$", toks[i]), toks[i] if i < len(toks) else "end")
            reqs.append((key, op, (int(toks[i]),)))
            i += 1
        else:
            need(False, toks[i])
        if i < len(toks):
            need(toks[i] == ",", toks[i])
            i += 1
            need(i < len(toks), "end")
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        v = labels.get(key)
        if op == "in":
            if v is None or v not in vals:
                return False
        elif op == "notin":
            if v is not None and v in vals:
                return False
        elif op == "exists":
            if v is None:
                return False
        elif op == "!exists":
            if v is not None:
                return False
        else:
            try:
                n = int(v)
            except (TypeError, ValueError):
                return False
            if (op == "gt" and not n > vals[0]) or (op == "lt" and not n < vals[0]):
                return False
    return True


# --- field selectors (apimachinery pkg/fields/selector.go) --------------------------


def _split_unescaped(s, sep):
    parts, cur, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if s.startswith(sep, i):
            parts.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(s):
    return re.sub(r"\\(.)", r"\1", s)


def parse_field_selector(s, rt):
    reqs = []
    for term in _split_unescaped(s or "", ","):
        if term == "":
            continue
        for op, neg in (("!=", True), ("==", False), ("=", False)):
            parts = _split_unescaped(term, op)
            if len(parts) == 2:
                field, val = parts[0].strip(), _unescape(parts[1])
                break
        else:
            raise BadRequest(f"invalid selector: '{s}'; can't understand '{term}'")
        if field not in rt.fields:
            raise BadRequest(f'"{field}" is not a known field selector: only '
                             f'"{", ".join(sorted(rt.fields))}"')
        reqs.append((field, neg, val))
    return reqs


# --- merge patches --------------------------------------------------------------------


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch; returns the new value (target is not modified)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge_patch(target, patch, keys, path=""):
    """The subset of strategic merge patch kubectl 1.20 sends: maps merge, null
    deletes, lists with a merge key merge by that key (with $patch: delete
    entries and $setElementOrder ordering), primitive lists with merge
    strategy are unions ($deleteFromPrimitiveList), other lists replace."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "delete":
        return None
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    out = dict(target) if isinstance(target, dict) else {}
    orders = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k[len("$setElementOrder/"):]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k[len("$deleteFromPrimitiveList/"):]
            if isinstance(out.get(f), list) and isinstance(v, list):
                out[f] = [x for x in out[f] if x not in v]
            continue
        if k.startswith("$"):
            continue  # $retainKeys and other directives: ignored
        sub = f"{path}.{k}" if path else k
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and sub in keys:
            out[k] = _merge_list(out.get(k), v, keys, sub)
        elif isinstance(v, dict):
            r = strategic_merge_patch(out.get(k), v, keys, sub)
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
        else:
            out[k] = copy.deepcopy(v)
    for f, order in orders.items():
        if isinstance(out.get(f), list) and isinstance(order, list):
            out[f] = _reorder(out[f], order, keys.get(f"{path}.{f}" if path else f))
    return out


def _merge_list(cur, patch, keys, path):
    mk = keys[path]
    cur = list(cur) if isinstance(cur, list) else []
    if mk == "":
        for x in patch:
            if x not in cur:
                cur.append(copy.deepcopy(x))
        return cur
    for item in patch:
        if not isinstance(item, dict) or mk not in item:
            raise BadRequest(f"map: {item} does not contain declared merge key: {mk}")
        idx = next((i for i, c in enumerate(cur)
                    if isinstance(c, dict) and c.get(mk) == item[mk]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del cur[idx]
            continue
        if idx is None:
            cur.append(strategic_merge_patch({}, item, keys, path))
        else:
            cur[idx] = strategic_merge_patch(cur[idx], item, keys, path)
    return cur


def _reorder(items, order, mk):
    if not mk:
        rank = {repr(v): i for i, v in enumerate(order)}
        return sorted(items, key=lambda x: rank.get(repr(x), len(order)))
    rank = {repr(o.get(mk)): i for i, o in enumerate(order) if isinstance(o, dict)}
    return sorted(items, key=lambda x: rank.get(repr(x.get(mk)) if isinstance(x, dict) else "",
                                                len(order)))


def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise BadRequest(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise BadRequest(f"doc is missing path: /{'/'.join(parts)}")
    return cur


def json_patch(doc, ops):
    """RFC 6902."""
    if not isinstance(ops, list):
        raise BadRequest("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise BadRequest(f"invalid json patch operation {op!r}")
        kind, parts = op["op"], _ptr(op["path"])
        if kind in ("move", "copy"):
            src = _ptr(op.get("from", ""))
            val = copy.deepcopy(_walk(doc, src))
            if kind == "move":
                doc = _remove(doc, src)
            doc = _add(doc, parts, val)
        elif kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, parts)
        elif kind == "replace":
            _walk(doc, parts)
            doc = _remove(doc, parts)
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise BadRequest(f"testing value /{'/'.join(parts)} failed")
        else:
            raise BadRequest(f"unexpected kind of json patch operation: {kind}")
    return doc


def _add(doc, parts, val):
    if not parts:
        return val
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = val
    elif isinstance(parent, list):
        if last == "-":
            parent.append(val)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), val)
        else:
            raise BadRequest(f"invalid index {last}")
    else:
        raise BadRequest(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def _remove(doc, parts):
    if not parts:
        raise BadRequest("cannot remove the whole document")
    parent = _walk(doc, parts[:-1])
    _walk(doc, parts)
    if isinstance(parent, dict):
        del parent[parts[-1]]
    else:
        del parent[int(parts[-1])]
    return doc
