#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Turns `make bench`'s measurement records (DIR/records.jsonl, and the sub-benches'
bpf.json, cni.json, sync.json when present) into DIR/results.json, DIR/report.md,
gnuplot PNG plots and a compact table on the terminal."""

import argparse
import datetime
import json
import math
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PLOT_DIR = os.path.join(HERE, "plots")

# Datapath ids in display order (the contract's); "direct" is the ratio baseline.
DATAPATHS = ("direct", "direct-ptp", "sluice-tc", "sluice-tc-policy", "sluice-sock", "kube-proxy-iptables",
             "kube-proxy-nftables", "kp-iptables-nft", "kp-iptables-legacy", "kp-nftables", "kp-ipvs", "tproxy-haproxy", "tproxy-nginx",
             "ns-direct", "ns-direct-ptp", "ns-routed", "sluice-nodeport", "sluice-nodeport-dsr", "kube-proxy-iptables-np", "kube-proxy-nftables-np",
             "sluice-np-local", "kube-proxy-iptables-np-local", "kube-proxy-nftables-np-local")
BASELINE = "direct"
# The north-south rows: their client is outside the cluster, their ratios are
# to ns-direct (the same outside client to the pod's IP), not to direct; the
# real kube-proxy's to ns-direct-ptp, the same on its ptp-wired plain nodes.
NS_BASELINE = "ns-direct"
NS_PTP_BASELINE = "ns-direct-ptp"
NS_ROWS = DATAPATHS[DATAPATHS.index(NS_BASELINE):]
VARIANTS = {"same": "same-node", "cross": "cross-node"}
MODES = {"keepalive": "keep-alive", "close": "new connections"}
# full_sync (sluice, real kube-proxy): agent/kube-proxy start -> every Service
# programmed, listing them from the API; "full" is the map writes alone, like
# a restore run (real kube-proxy: the API write of N Services -> all in the rules).
OPS = ("full", "add", "change", "remove", "full_sync")
PERCENTILES = {"p50": "p50", "p99": "p99", "p999": "p99.9"}
SUBBENCHES = ("bpf", "cni", "sync")

# The targets for the sluice tc datapath.
TC = "sluice-tc"
TPROXY = "tproxy-haproxy"
TC_POLICY = "sluice-tc-policy"
POLICY_MIN = 0.97
RATIO_MIN = {"keepalive": 0.97, "close": 0.95}
FLAT_MAX = 1.03
TPROXY_MIN = 1.8
ADD_MAX_MS = 1.0
# The targets for the sluice NodePort (north-south).
NP = "sluice-nodeport"
NP_KUBE_PROXY = ("kube-proxy-iptables-np", "kube-proxy-nftables-np")
NP_RATIO_MIN = 0.95
# The same NodePorts with the agents in --nodeport-mode dsr: judged by the
# same ratio when measured (its remote backend answers the client itself).
NP_DSR = "sluice-nodeport-dsr"

# One line per datapath id for the report's legend.
DATAPATH_NOTES = {
    "direct": "client pod to the server pod's IP, sluice-wired pods (the baseline of every ratio)",
    "direct-ptp": "client pod to the server pod's IP on the plain ptp-wired nodes (the floor of "
                  "the kube-proxy and TPROXY rows)",
    "sluice-tc": "sluice ClusterIP, tc datapath",
    "sluice-tc-policy": "sluice-tc + policy: the same client, Service and server with an allow "
                        "NetworkPolicy selecting the server (written before its runs, deleted "
                        "after)",
    "sluice-sock": "sluice ClusterIP, socket-level load balancing",
    "kube-proxy-iptables": "the real kube-proxy v1.34.4 binary, iptables mode (iptables-nft), "
                           "Services and EndpointSlices from a real kube-apiserver",
    "kube-proxy-nftables": "the real kube-proxy v1.34.4 binary, nftables mode, Services and "
                           "EndpointSlices from a real kube-apiserver",
    "kp-iptables-nft": "kube-proxy iptables mode rule shape, iptables-nft",
    "kp-iptables-legacy": "kube-proxy iptables mode rule shape, iptables-legacy",
    "kp-nftables": "kube-proxy nftables mode rule shape (verdict maps)",
    "kp-ipvs": "kube-proxy IPVS mode",
    "tproxy-haproxy": "iptables TPROXY + HAProxy, transparent (client IP kept)",
    "tproxy-nginx": "iptables TPROXY + nginx stream, transparent (client IP kept)",
    "ns-direct": "north-south: a client outside the cluster to the server pod's IP, routed by "
                 "the node (the limit of the NodePort rows)",
    "ns-direct-ptp": "north-south: the outside client to a pod's IP on the ptp-wired plain nodes, "
                     "routed by plain node 1 (same-node) or 0 (cross-node): the limit of the "
                     "real kube-proxy NodePort rows, whose ratios are to it",
    "ns-routed": "north-south, cross-node only: the outside client to the server pod's IP on "
                 "node 2 routed through node 1 (plain IP forwarding there, no NAT; the reply "
                 "goes straight back): the entry node's hop alone, what a remote backend "
                 "costs any NodePort before its NAT",
    "sluice-nodeport": "north-south: the outside client to a NodePort on node 1; same-node: "
                       "local backend (DNAT, client IP kept), cross-node: remote backend "
                       "(DNAT + SNAT to node 1)",
    "sluice-nodeport-dsr": "north-south: the same NodePorts and client with the sluice agents in "
                           "--nodeport-mode dsr; cross-node: DNAT only, the frontend in an IPv4 "
                           "option, node 2 answers the client from node 1's address (Direct "
                           "Server Return: the reply skips node 1); same-node as sluice-nodeport",
    "sluice-np-local": "north-south: externalTrafficPolicy Local NodePort on the node the "
                       "client enters (node 1 same-node, node 2 cross-node), client IP kept",
    "kube-proxy-iptables-np": "north-south: the real kube-proxy (iptables mode) serving a "
                              "NodePort (externalTrafficPolicy Cluster) on its node; same-node: "
                              "local backend, cross-node: remote backend; masqueraded to the "
                              "node's address in both, as kube-proxy does for Cluster",
    "kube-proxy-nftables-np": "north-south: the same with the real kube-proxy in nftables mode",
    "kube-proxy-iptables-np-local": "north-south: the real kube-proxy (iptables mode), "
                                    "externalTrafficPolicy Local NodePort with its backend on "
                                    "the node, client IP kept (same-node only)",
    "kube-proxy-nftables-np-local": "north-south: the same with the real kube-proxy in "
                                    "nftables mode",
}

NOT_MEASURED = "not measured"
DASH = "–"

# Fields a record of each kind must carry, with their type check.
REQUIRED = {
    "meta": {},
    "load": {"size": "int", "datapath": "str", "variant": tuple(VARIANTS),
             "mode": tuple(MODES), "rps": "num"},
    "program": {"size": "int", "datapath": "str", "op": OPS,
                "status": ("ok", "budget", "error")},
    "skip": {"datapath": "str", "reason": "str"},
}


def warn(msg):
    print(f"report.py: {msg}", file=sys.stderr)


def num(v):
    """v when it is a finite number (not a bool), else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------- reading

def field_ok(value, kind):
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == "num":
        return num(value) is not None
    if kind == "str":
        return isinstance(value, str) and value != ""
    return value in kind


def record_problem(rec):
    """Why rec cannot be used, or None when it can."""
    if not isinstance(rec, dict):
        return "not a JSON object"
    fields = REQUIRED.get(rec.get("kind"))
    if fields is None:
        return f"unknown kind {rec.get('kind')!r}"
    for name, kind in fields.items():
        if not field_ok(rec.get(name), kind):
            return f"{rec['kind']} record with missing or bad {name!r}"
    if rec["kind"] == "program" and rec["status"] == "ok" and num(rec.get("ms")) is None:
        return "program record with status ok and no ms"
    if rec["kind"] == "skip" and rec.get("size") is not None and not field_ok(rec["size"], "int"):
        return "skip record with a bad 'size'"
    return None


def records_read(path):
    """The usable records of a JSON-lines file and the number of lines skipped."""
    recs, bad = [], 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                problem = record_problem(rec)
            except ValueError as e:
                problem = f"not JSON ({e})"
            if problem:
                warn(f"{path}:{lineno}: skipped malformed line: {problem}")
                bad += 1
                continue
            recs.append(rec)
    return recs, bad


def subbench_read(d, name):
    path = os.path.join(d, f"{name}.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as e:
        warn(f"{path}: ignored: {e}")
        return None
    if not isinstance(doc, dict):
        warn(f"{path}: ignored: not a JSON object")
        return None
    return doc


# ---------------------------------------------------------------- summarising

def spread(values):
    """{median, min, max} of the numbers among values, or None when there are none."""
    vals = [v for v in map(num, values) if v is not None]
    if not vals:
        return None
    return {"median": round(statistics.median(vals), 3), "min": min(vals),
            "max": max(vals)}


def median_of(s):
    return s["median"] if s else None


def ratio(value, base):
    if value is None or not base:
        return None
    return round(value / base, 4)


def load_group(rounds):
    """One (size, datapath, variant, mode): medians over its rounds and their spread."""
    first = rounds[0]
    lat = [r.get("latency_us") if isinstance(r.get("latency_us"), dict) else {} for r in rounds]
    return {
        "size": first["size"], "datapath": first["datapath"], "variant": first["variant"],
        "mode": first["mode"], "rounds": len(rounds),
        "requests": sum(num(r.get("requests")) or 0 for r in rounds),
        "errors": sum(num(r.get("errors")) or 0 for r in rounds),
        "rps": spread(r["rps"] for r in rounds),
        "latency_us": {p: spread(x.get(p) for x in lat) for p in ("p50", "p90", "p99", "p999")},
        "cpu_us_per_req": spread(r.get("cpu_us_per_req") for r in rounds),
        "user_rss_kb": spread(r.get("user_rss_kb") for r in rounds),
    }


def group_ratios(g, base):
    """Ratios of g's medians to the baseline group's: rps/direct, value/direct."""
    if base is None:
        return None
    out = {"rps": ratio(median_of(g["rps"]), median_of(base["rps"]))}
    for p in PERCENTILES:
        out[p] = ratio(median_of(g["latency_us"][p]), median_of(base["latency_us"][p]))
    out["cpu_us_per_req"] = ratio(median_of(g["cpu_us_per_req"]),
                                  median_of(base["cpu_us_per_req"]))
    return out


def load_summarise(recs):
    by_key = {}
    for r in recs:
        by_key.setdefault((r["size"], r["datapath"], r["variant"], r["mode"]), []).append(r)
    groups = {k: load_group(v) for k, v in by_key.items()}
    for (size, dp, variant, mode), g in groups.items():
        g["ratio"] = group_ratios(g, groups.get((size, baseline_of(dp), variant, mode)))
    return groups


def baseline_of(dp):
    if dp.startswith("kube-proxy-") and dp in NS_ROWS:
        return NS_PTP_BASELINE
    return NS_BASELINE if dp in NS_ROWS else BASELINE


def program_summarise(recs):
    """Per (datapath, size, op): the median of the ok timings, else budget or error."""
    by_key = {}
    for r in recs:
        by_key.setdefault((r["datapath"], r["size"], r["op"]), []).append(r)
    out = {}
    for key, rs in by_key.items():
        ok = [r["ms"] for r in rs if r["status"] == "ok"]
        budgets = [num(r.get("budget_s")) for r in rs if num(r.get("budget_s")) is not None]
        if ok:
            status, ms = "ok", round(statistics.median(ok), 3)
        else:
            status = "budget" if any(r["status"] == "budget" for r in rs) else "error"
            ms = None
        out[key] = {"datapath": key[0], "size": key[1], "op": key[2], "ms": ms,
                    "status": status, "rendered": program_text(status, ms),
                    "budget_s": max(budgets) if budgets else None, "samples": len(rs)}
    return out


def program_text(status, ms):
    if status == "ok":
        return fmt_ms(ms)
    return "> budget" if status == "budget" else "error"


def skips_collect(recs):
    return [{"datapath": r["datapath"], "size": r.get("size"), "reason": r["reason"]}
            for r in recs]


def datapaths_order(groups, programs, skipped):
    seen = {k[1] for k in groups} | {k[0] for k in programs} | {s["datapath"] for s in skipped}
    return list(DATAPATHS) + sorted(seen - set(DATAPATHS))


# ---------------------------------------------------------------- targets

def target(tid, text, threshold, measured, met, detail, **where):
    if measured is None:
        status = NOT_MEASURED
    else:
        status = "met" if met else "MISSED"
    return {"id": tid, **where, "target": text, "threshold": threshold,
            "measured": measured, "status": status, "detail": detail}


def target_ratio(groups, smallest, variant, mode):
    g = groups.get((smallest, TC, variant, mode))
    r = (g["ratio"] or {}).get("rps") if g else None
    lim = RATIO_MIN[mode]
    text = f"{TC} {MODES[mode]} ≥ {lim} × direct ({VARIANTS[variant]})"
    detail = f"at {fmt_services(smallest)}" if r is not None else f"no {TC} or direct data"
    return target("ratio_to_direct", text, lim, r, r is not None and r >= lim, detail,
                  variant=variant, mode=mode)


def target_flat(groups, variant, mode):
    # The ratio to direct at each size, not the raw req/s: direct is measured
    # in the same rounds, so drift of the machine between sizes cancels out.
    pts = sorted((k[0], (g["ratio"] or {}).get("rps")) for k, g in groups.items()
                 if k[1] == TC and k[2] == variant and k[3] == mode
                 and (g["ratio"] or {}).get("rps"))
    text = f"{TC} {MODES[mode]} flat within 3 % over sizes ({VARIANTS[variant]})"
    if len(pts) < 2:
        return target("flat_over_sizes", text, FLAT_MAX, None, False,
                      "measured at fewer than two sizes", variant=variant, mode=mode)
    hi = max(pts, key=lambda p: p[1])
    lo = min(pts, key=lambda p: p[1])
    m = hi[1] / lo[1]
    detail = (f"max/min of the ratio to direct over {len(pts)} sizes "
              f"({pts[0][0]:,}–{pts[-1][0]:,}): {hi[1]:.3f} at {fmt_services(hi[0])} / "
              f"{lo[1]:.3f} at {fmt_services(lo[0])}")
    return target("flat_over_sizes", text, FLAT_MAX, round(m, 4), m <= FLAT_MAX, detail,
                  variant=variant, mode=mode)


def target_tproxy(groups, smallest, variant, mode):
    tc = median_of((groups.get((smallest, TC, variant, mode)) or {}).get("rps"))
    tp = median_of((groups.get((smallest, TPROXY, variant, mode)) or {}).get("rps"))
    m = round(tc / tp, 4) if tc and tp else None
    detail = (f"{fmt_count(tc)} / {fmt_count(tp)} req/s at {fmt_services(smallest)}" if m
              else f"no {TC} or {TPROXY} data")
    return target("vs_tproxy_haproxy", f"{TC} {MODES[mode]} ≥ {TPROXY_MIN} × {TPROXY} "
                  f"({VARIANTS[variant]})", TPROXY_MIN, m, m is not None and m >= TPROXY_MIN,
                  detail, variant=variant, mode=mode)


def target_policy(groups, smallest, variant, mode):
    tc = median_of((groups.get((smallest, TC, variant, mode)) or {}).get("rps"))
    pol = median_of((groups.get((smallest, TC_POLICY, variant, mode)) or {}).get("rps"))
    m = round(pol / tc, 4) if tc and pol else None
    detail = (f"{fmt_count(pol)} / {fmt_count(tc)} req/s at {fmt_services(smallest)}" if m
              else f"no {TC_POLICY} or {TC} data")
    return target("policy_to_tc", f"{TC} + policy {MODES[mode]} ≥ {POLICY_MIN} × {TC} "
                  f"({VARIANTS[variant]})", POLICY_MIN, m, m is not None and m >= POLICY_MIN,
                  detail, variant=variant, mode=mode)


def np_ratios(groups, variant, mode, row=NP):
    """(size, row req/s ÷ ns-direct) at each size measured."""
    return sorted((k[0], (g["ratio"] or {}).get("rps")) for k, g in groups.items()
                  if k[1] == row and k[2] == variant and k[3] == mode
                  and (g["ratio"] or {}).get("rps"))


def target_np_ratio(groups, variant, mode, row=NP, tid="np_ratio_to_direct"):
    pts = np_ratios(groups, variant, mode, row)
    text = f"{row} {MODES[mode]} ≥ {NP_RATIO_MIN} × {NS_BASELINE} ({VARIANTS[variant]})"
    if not pts:
        return target(tid, text, NP_RATIO_MIN, None, False,
                      f"no {row} or {NS_BASELINE} data", variant=variant, mode=mode)
    lo = min(pts, key=lambda p: p[1])
    detail = "; ".join(f"{fmt_services(s)}: {r:.3f}" for s, r in pts) + " (judged on the lowest)"
    return target(tid, text, NP_RATIO_MIN, lo[1], lo[1] >= NP_RATIO_MIN,
                  detail, variant=variant, mode=mode)


def target_np_flat(groups, variant, mode):
    pts = np_ratios(groups, variant, mode)
    text = f"{NP} {MODES[mode]} flat within 3 % over sizes ({VARIANTS[variant]})"
    if len(pts) < 2:
        return target("np_flat_over_sizes", text, FLAT_MAX, None, False,
                      "measured at fewer than two sizes", variant=variant, mode=mode)
    hi = max(pts, key=lambda p: p[1])
    lo = min(pts, key=lambda p: p[1])
    m = hi[1] / lo[1]
    detail = (f"max/min of the ratio to {NS_BASELINE}: {hi[1]:.3f} at {fmt_services(hi[0])} / "
              f"{lo[1]:.3f} at {fmt_services(lo[0])}")
    return target("np_flat_over_sizes", text, FLAT_MAX, round(m, 4), m <= FLAT_MAX, detail,
                  variant=variant, mode=mode)


def target_np_kube_proxy(groups, variant, mode):
    """sluice-nodeport ÷ the best real kube-proxy NodePort row, at every size
    both were measured; judged on the lowest."""
    text = f"{NP} {MODES[mode]} ≥ the best kube-proxy NodePort ({VARIANTS[variant]})"
    pts = []
    for size in sorted({k[0] for k in groups if k[1] == NP}):
        np_rps = median_of((groups.get((size, NP, variant, mode)) or {}).get("rps"))
        kps = [(median_of((groups.get((size, kp, variant, mode)) or {}).get("rps")), kp)
               for kp in NP_KUBE_PROXY]
        kps = [x for x in kps if x[0]]
        if np_rps and kps:
            best = max(kps)
            pts.append((round(np_rps / best[0], 4), size, best[1]))
    if not pts:
        return target("np_vs_kube_proxy", text, 1.0, None, False,
                      f"no {NP} or real kube-proxy NodePort data", variant=variant, mode=mode)
    lo = min(pts)
    detail = "; ".join(f"{fmt_services(s)}: {r:.3f} × {kp}" for r, s, kp in pts) + \
        " (judged on the lowest)"
    return target("np_vs_kube_proxy", text, 1.0, lo[0], lo[0] >= 1.0, detail,
                  variant=variant, mode=mode)


def target_add(programs, largest):
    text = f"{TC}: adding one Service ≤ {ADD_MAX_MS:g} ms at the largest size"
    p = programs.get((TC, largest, "add")) if largest is not None else None
    if p is None or p["status"] == "error":
        sizes = sorted(k[1] for k in programs if k[0] == TC and k[2] == "add")
        detail = "the add failed" if p else (
            f"{TC} add measured only up to {fmt_services(max(sizes))}" if sizes
            else f"no {TC} add timing")
        return target("add_one_service", text, ADD_MAX_MS, None, False, detail, size=largest)
    if p["status"] == "budget":
        return target("add_one_service", text, ADD_MAX_MS, "> budget", False,
                      f"stopped at the {p['budget_s']:g} s budget at {fmt_services(largest)}",
                      size=largest)
    return target("add_one_service", text, ADD_MAX_MS, p["ms"], p["ms"] <= ADD_MAX_MS,
                  f"{fmt_ms(p['ms'])} ms at {fmt_services(largest)}", size=largest)


def targets_evaluate(groups, programs, sizes, largest):
    variants = [v for v in VARIANTS if any(k[2] == v for k in groups)] or ["same"]
    smallest = sizes[0] if sizes else None
    out = []
    for v in variants:
        out += [target_ratio(groups, smallest, v, m) for m in MODES]
    for v in variants:
        out += [target_flat(groups, v, m) for m in MODES]
    for v in variants:
        out += [target_tproxy(groups, smallest, v, m) for m in MODES]
    for v in variants:
        out += [target_policy(groups, smallest, v, m) for m in MODES]
    out.append(target_add(programs, largest))
    for fn in (target_np_ratio, target_np_flat, target_np_kube_proxy):
        for v in variants:
            out += [fn(groups, v, m) for m in MODES]
    # DSR is opt-in: judged only when its row ran, on its remote backend
    if any(k[1] == NP_DSR and k[2] == "cross" for k in groups):
        out += [target_np_ratio(groups, "cross", m, NP_DSR, "np_dsr_ratio_to_direct")
                for m in MODES]
    return out


# ---------------------------------------------------------------- results.json

def meta_build(recs, bad, d):
    metas = [r for r in recs if r["kind"] == "meta"]
    m = dict(metas[-1]) if metas else {}
    m.pop("kind", None)
    for key in ("params", "versions"):
        if not isinstance(m.get(key), dict):
            m[key] = {}
    m["records"] = sum(1 for r in recs if r["kind"] != "meta")
    m["malformed_lines"] = bad
    m["source"] = os.path.join(d, "records.jsonl")
    m["report_date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return m


def sizes_collect(meta, groups, programs):
    seen = {k[0] for k in groups} | {k[1] for k in programs}
    listed = meta.get("params", {}).get("sizes")
    if isinstance(listed, list):
        seen |= {s for s in listed if field_ok(s, "int")}
    return sorted(seen)


def results_build(d, recs, bad):
    groups = load_summarise([r for r in recs if r["kind"] == "load"])
    programs = program_summarise([r for r in recs if r["kind"] == "program"])
    skipped = skips_collect([r for r in recs if r["kind"] == "skip"])
    meta = meta_build(recs, bad, d)
    sizes = sizes_collect(meta, groups, programs)
    load_sizes = sorted({k[0] for k in groups})
    largest = sizes[-1] if sizes else None
    return {
        "meta": meta,
        "sizes": sizes,
        "datapaths": datapaths_order(groups, programs, skipped),
        "load": sorted(groups.values(), key=group_order),
        "program": sorted(programs.values(), key=program_order),
        "skipped": skipped,
        "targets": targets_evaluate(groups, programs, load_sizes, largest),
        "subbench": {name: subbench_read(d, name) for name in SUBBENCHES},
    }


def program_order(p):
    return (order_index(p["datapath"]), p["size"], OPS.index(p["op"]))


def group_order(g):
    return (g["size"], order_index(g["datapath"]), list(VARIANTS).index(g["variant"]),
            list(MODES).index(g["mode"]))


def order_index(dp):
    return DATAPATHS.index(dp) if dp in DATAPATHS else len(DATAPATHS)


# ---------------------------------------------------------------- formatting

def fmt_count(v):
    return DASH if v is None else f"{v:,.0f}"


def fmt_float(v):
    if v is None:
        return DASH
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def fmt_ms(v):
    if v is None:
        return DASH
    return f"{v:.3f}" if v < 1 else fmt_float(v)


def fmt_services(n):
    if n is None:
        return "? Services"
    return f"{n:,} Service" + ("" if n == 1 else "s")


def fmt_ratio(r):
    return "" if r is None else f" ({r:.3f})"


def fmt_rss(kb):
    if kb is None:
        return DASH
    return f"{kb / 1024:.1f} MB" if kb >= 1024 else f"{kb:.0f} kB"


def fmt_measured(v):
    if v is None:
        return NOT_MEASURED
    return v if isinstance(v, str) else f"{v:g}"


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


class View:
    """Look-ups over results.json for the report writers."""

    def __init__(self, res):
        self.res = res
        self.groups = {(g["size"], g["datapath"], g["variant"], g["mode"]): g for g in res["load"]}
        self.programs = {(p["datapath"], p["size"], p["op"]): p for p in res["program"]}
        self.load_sizes = sorted({g["size"] for g in res["load"]})

    def group(self, size, dp, variant, mode):
        return self.groups.get((size, dp, variant, mode))

    def skip_reason(self, dp, size=None):
        """The reason dp was skipped as a whole, or at size when size is given."""
        for s in self.res["skipped"]:
            if s["datapath"] == dp and s["size"] in (None, size):
                return s["reason"]
        return None

    def variants(self):
        return [v for v in VARIANTS if any(g["variant"] == v for g in self.res["load"])]

    def value_cell(self, g, field, ratio_field, fmt=fmt_count):
        if g is None:
            return DASH
        return fmt(median_of(g[field])) + fmt_ratio((g["ratio"] or {}).get(ratio_field))


def main_row(view, size, dp, variant):
    """Cells of the main table for one datapath: None when it has no data at all."""
    ka = view.group(size, dp, variant, "keepalive")
    cl = view.group(size, dp, variant, "close")
    if ka is None and cl is None:
        return None
    lat = [fmt_float(median_of(ka["latency_us"][p])) if ka else DASH for p in PERCENTILES]
    rss = [median_of(g["user_rss_kb"]) for g in (ka, cl) if g and g["user_rss_kb"]]
    rps = ka["rps"] if ka else None
    drift = DASH
    if rps and rps["median"]:
        drift = f"{(rps['max'] - rps['min']) / rps['median'] * 100:.1f} %"
    errors = sum(g["errors"] for g in (ka, cl) if g)
    return ([view.value_cell(ka, "rps", "rps"), view.value_cell(cl, "rps", "rps")] + lat +
            [view.value_cell(ka, "cpu_us_per_req", "cpu_us_per_req", fmt_float),
             view.value_cell(cl, "cpu_us_per_req", "cpu_us_per_req", fmt_float),
             fmt_rss(max(rss) if rss else None), f"{errors:,}", drift])


MAIN_HEADER = ["Datapath", "Keep-alive req/s (× direct)", "New conn/s (× direct)",
               "p50 µs", "p99 µs", "p99.9 µs", "CPU µs/req keep-alive (×)",
               "CPU µs/req new conn (×)", "User-space RSS", "Errors", "Round spread"]


def main_rows(view, size, variant):
    rows = []
    for dp in view.res["datapaths"]:
        cells = main_row(view, size, dp, variant)
        reason = view.skip_reason(dp, size)
        if cells is None and reason is None and dp not in DATAPATHS:
            continue
        if cells is None:
            cells = ([f"skipped: {reason}" if reason else NOT_MEASURED] +
                     [""] * (len(MAIN_HEADER) - 2))
        rows.append([dp] + cells)
    return rows


# ---------------------------------------------------------------- report.md

def md_params(res):
    m, p = res["meta"], res["meta"].get("params", {})
    versions = m.get("versions") or {}
    lines = ["## Machine and parameters", "",
             f"- Date of the run: {m.get('date', 'unknown')}; report written {m['report_date']}",
             f"- Kernel {m.get('kernel', 'unknown')}; CPU {m.get('cpu_model', 'unknown')}, "
             f"{m.get('cpus', '?')} CPUs",
             "- Versions: " + (", ".join(f"{k} {v}" for k, v in versions.items()) or "unknown"),
             f"- Load: wrk, {p.get('duration_s', '?')} s per measurement, "
             f"{p.get('connections', '?')} connections, {p.get('threads', '?')} threads, "
             f"{p.get('rounds', '?')} rounds interleaved over the datapaths (medians shown; "
             "\"round spread\" = (max − min) / median of keep-alive req/s over the rounds)",
             "- Services present: " + (", ".join(f"{n:,}" for n in res["sizes"]) or "unknown") +
             f"{' (quick run)' if p.get('quick') else ''}; fillers have 2 endpoints each, the "
             "measured Service sits in the middle of them (the middle of KUBE-SERVICES for the "
             "iptables rows)",
             f"- Programming budget: {p.get('budget_s', '?')} s per step "
             "(\"> budget\": stopped there)"]
    if m["malformed_lines"]:
        lines.append(f"- **{m['malformed_lines']} malformed line(s) in records.jsonl "
                     "were skipped**")
    lines += ["", "Datapaths:", ""]
    lines += [f"- `{dp}`: {DATAPATH_NOTES.get(dp, 'not described')}" for dp in res["datapaths"]]
    return "\n".join(lines)


def md_main(view):
    out = []
    size = view.load_sizes[0] if view.load_sizes else None
    for variant in view.variants() or ["same"]:
        out += [f"## {VARIANTS[variant].capitalize()}, {fmt_services(size)} present", "",
                "Ratios in parentheses are to direct pod IP (throughput: req/s ÷ direct; latency "
                "and CPU: value ÷ direct); for the north-south rows to ns-direct, the outside "
                "client to the pod's IP. Latency is keep-alive.", "",
                md_table(MAIN_HEADER, main_rows(view, size, variant)), ""]
    return "\n".join(out)


SCALE_TABLES = (("Keep-alive req/s", "keepalive", lambda v, g: v.value_cell(g, "rps", "rps")),
                ("New connections/s", "close", lambda v, g: v.value_cell(g, "rps", "rps")),
                ("p99 latency of new connections, µs", "close",
                 lambda v, g: fmt_float(median_of(g["latency_us"]["p99"])) if g else DASH))


def scale_cell(view, size, dp, variant, mode, cell):
    g = view.group(size, dp, variant, mode)
    if g is None:
        return "skipped" if view.skip_reason(dp, size) else DASH
    return cell(view, g)


def md_scale(view):
    out = ["## Scale: number of Services present", ""]
    sizes = view.load_sizes
    for variant in view.variants():
        if sum(1 for s in sizes if any(view.group(s, dp, variant, m) for dp in
                                        view.res["datapaths"] for m in MODES)) < 2:
            continue  # one size: the main table has it all
        for title, mode, cell in SCALE_TABLES:
            rows = [[dp] + [scale_cell(view, s, dp, variant, mode, cell) for s in sizes]
                    for dp in view.res["datapaths"]
                    if any(view.group(s, dp, variant, mode) for s in sizes)]
            if rows:
                out += [f"{title}, {VARIANTS[variant]}:", "",
                        md_table(["Datapath"] + [fmt_services(s) for s in sizes], rows), ""]
    reasons = [f"- {s['datapath']} at {fmt_services(s['size'])}: skipped, {s['reason']}"
               for s in view.res["skipped"] if s["size"] is not None]
    out += reasons + ([""] if reasons else [])
    return "\n".join(out) if len(out) > 2 else ""


def ns_cell(view, size, dp, variant, mode):
    g = view.group(size, dp, variant, mode)
    if g is None:
        return "skipped" if view.skip_reason(dp, size) else DASH
    return view.value_cell(g, "rps", "rps")


def md_ns(view):
    """The north-south rows side by side at every size, req/s (× ns-direct)."""
    sizes = [s for s in view.load_sizes
             if any(view.group(s, dp, v, m) for dp in NS_ROWS for v in VARIANTS for m in MODES)]
    if not sizes:
        return ""
    header = ["Datapath", "Backend"] + [f"{MODES[m].capitalize()}/s, {fmt_services(s)}"
                                        for s in sizes for m in MODES]
    rows = []
    for dp in NS_ROWS:
        for v in VARIANTS:
            cells = [ns_cell(view, s, dp, v, m) for s in sizes for m in MODES]
            if any(view.group(s, dp, v, m) for s in sizes for m in MODES):
                rows.append([dp, VARIANTS[v]] + cells)
    return "\n".join([
        "## North-south: NodePorts from outside the cluster", "",
        "One client outside the cluster, req/s with the ratio to ns-direct (the same client to "
        "the pod's IP, the same backend) in parentheses; for the kube-proxy rows to "
        "ns-direct-ptp, their backends being ptp-wired pods (ns-direct-ptp itself: to "
        "ns-direct). Same-node: the backend is on the node the client enters; cross-node: on "
        "another node (sluice-np-local: entered at node 2, its own backend).", "",
        md_table(header, rows), ""])


def md_program(view):
    progs = view.res["program"]
    if not progs:
        return "## Programming time\n\nnot measured\n"
    rows = []
    for dp in view.res["datapaths"]:
        for size in sorted({p["size"] for p in progs if p["datapath"] == dp}):
            rows.append([dp, f"{size:,}"] + [
                (view.programs.get((dp, size, op)) or {}).get("rendered", DASH) for op in OPS])
    budget = view.res["meta"].get("params", {}).get("budget_s")
    return "\n".join([
        "## Programming time (ms)", "",
        "The kernel-programming step alone (rule-file generation untimed): the whole set, then "
        "adding, changing and removing one Service; for sluice also the whole set from agent start, "
        "listing everything from the API (a restarted node). The real kube-proxy rows "
        "(kube-proxy-*) are end to end instead: from the API write to the rules in the node, and "
        "\"from the API\" is kube-proxy started on a cleaned node until all are in its rules." +
        (f" \"> budget\": stopped after {budget} s." if budget is not None else ""), "",
        md_table(["Datapath", "Services", "Full set", "Add one", "Change one", "Remove one",
                  "Full set from the API"], rows),
        ""])


def md_targets(res):
    rows = [[t["target"], fmt_measured(t["measured"]),
             f"**{t['status']}**" if t["status"] == "MISSED" else t["status"], t["detail"]]
            for t in res["targets"]]
    return "\n".join(["## Targets", "",
                      md_table(["Target", "Measured", "Status", "Detail"], rows), ""])


def md_bpf(doc):
    cases = [k for k in doc["results"][0] if k != "services"] if doc.get("results") else []
    rows = [[f"{r.get('services', '?'):,}"] + [fmt_float(num(r.get(c))) for c in cases]
            for r in doc.get("results", [])]
    out = [f"### BPF datapath alone (`make bench-bpf`): {doc.get('unit', 'ns/packet')}, mean of "
           f"{doc.get('runs', '?')} BPF_PROG_TEST_RUN runs", "",
           md_table(["Services"] + cases, rows), "",
           "\"harness\" is the timing cost of a single run, included in every column but "
           "the repeated ones (p2p_repeat, svc_repeat)."]
    tgt = num(doc.get("target_ct_hit_ns"))
    nets = [num(r.get("ct_hit")) - num(r.get("harness")) for r in doc.get("results", [])
            if num(r.get("ct_hit")) is not None and num(r.get("harness")) is not None]
    # an established Service packet repeated in one run needs no harness estimate
    reps = [num(r.get("svc_repeat_median")) for r in doc.get("results", [])
            if num(r.get("svc_repeat_median")) is not None]
    if tgt is not None and reps:
        out.append(f"Target conntrack hit ≤ {tgt:g} ns: an established Service packet repeated "
                   f"in one run (svc_repeat, median) {min(reps):.0f}–{max(reps):.0f} ns over the "
                   f"sizes: {'met' if max(reps) <= tgt else '**MISSED**'} (judged on the worst).")
    elif tgt is not None and nets:
        out.append(f"Target conntrack hit ≤ {tgt:g} ns: net of the harness {min(nets):.0f}–"
                   f"{max(nets):.0f} ns over the sizes: "
                   f"{'met' if max(nets) <= tgt else '**MISSED**'} (judged on the worst).")
    return "\n".join(out + [""])


def md_cni(doc):
    rows = []
    # The top level is the IPAM the agent uses ("ipam", in-process when
    # absent); "delegated" holds the same rounds through host-local.
    ipams = [(doc, doc.get("ipam", "")), (doc.get("delegated") or {}, "host-local")]
    for d, ipam in ipams:
        if not d.get("sequential"):
            continue
        burst = f"{(d.get('burst') or {}).get('pods', '?')} at once"
        for mode, label in (("sequential", "one at a time"), ("parallel", "in parallel"),
                            ("burst", burst)):
            if mode not in d:
                continue
            for op in ("add", "del"):
                s = (d.get(mode) or {}).get(op) or {}
                rows.append([f"{op.upper()} {label}" + (f", IPAM {ipam}" if ipam else ""),
                             s.get("n", DASH), fmt_float(num(s.get("p50_ms"))),
                             fmt_float(num(s.get("p99_ms"))), fmt_float(num(s.get("wall_ms")))])
    for what, s in (doc.get("floor") or {}).items():
        rows.append([f"floor: {what}", s.get("n", DASH), fmt_float(num(s.get("p50_ms"))),
                     fmt_float(num(s.get("p99_ms"))), DASH])
    workers = (doc.get("parallel") or {}).get("workers", "?")
    return "\n".join([f"### CNI plugin (`make bench-cni`): {doc.get('pods', '?')} pods, "
                      f"{workers} workers in parallel", "",
                      md_table(["Operation", "n", "p50 ms", "p99 ms", "wall ms"], rows), "",
                      "Floors: one process start (exec) and host-local alone (ipam_add), the part "
                      "of an ADD the plugin cannot cut; _parallel: as many at once as the "
                      "workers.", ""] + md_cni_targets(ipams, workers))


def md_cni_targets(ipams, workers):
    """The parallel targets of each IPAM: P at once p50 / one at a time p50 <= 2;
    the burst all succeeds and leaves nothing."""
    out = []
    for d, ipam in ipams:
        r, b = d.get("ratio_parallel_p50"), d.get("burst")
        name = f"IPAM {ipam or 'sluice'}"
        if isinstance(r, dict):
            ok = all(num(r.get(k)) is not None and r[k] <= 2 for k in ("add", "del"))
            out.append(f"- {name}: {workers} at once p50 / one at a time p50: ADD "
                       f"{r.get('add')}×, DEL {r.get('del')}× (target ≤ 2: "
                       f"{'met' if ok else '**MISSED**'})")
        if isinstance(b, dict):
            pods = b.get("pods")
            ok = b.get("add_ok") == pods and b.get("del_ok") == pods and \
                isinstance(b.get("after"), str) and \
                all(x.endswith("=0") for x in b["after"].split())
            out.append(f"- {name}: {pods} at once: {b.get('add_ok')}/{pods} ADDs, "
                       f"{b.get('del_ok')}/{pods} DELs, after: {b.get('after')} "
                       f"(target all succeed, nothing left: {'met' if ok else '**MISSED**'})")
    return out + [""] if out else []


def md_sync(doc):
    obj, agent = doc.get("objects") or {}, doc.get("agent") or {}
    change, tg = doc.get("change") or {}, doc.get("targets") or {}
    peak = num(agent.get("peak_rss_kb"))
    rows = [["Agent start → every resource synced",
             f"{agent.get('start_to_synced_ms', DASH)} ms",
             f"< {tg.get('sync_ms', '?')} ms: {'met' if tg.get('sync_met') else 'MISSED'}"],
            ["Agent peak RSS", fmt_rss(peak),
             f"< {fmt_rss(num(tg.get('peak_rss_kb')))}: "
             f"{'met' if tg.get('rss_met') else 'MISSED'}"],
            ["One change: stand-in stream → agent",
             f"{change.get('stream_to_agent_ms', DASH)} ms", ""],
            ["One change: kubectl start → agent",
             f"{change.get('kubectl_start_to_agent_ms', DASH)} ms", ""]]
    return "\n".join([f"### Agent initial sync (`make bench-sync`): {obj.get('services', '?')} "
                      f"Services, {obj.get('endpointslices', '?')} EndpointSlices, "
                      f"{obj.get('endpoints', '?')} endpoints", "",
                      md_table(["Measure", "Value", "Target"], rows), ""])


SUBBENCH_MD = {"bpf": md_bpf, "cni": md_cni, "sync": md_sync}


def md_subbenches(res):
    out = ["## Sub-benches", ""]
    for name in SUBBENCHES:
        doc = res["subbench"][name]
        if doc is None:
            out += [f"### `make bench-{name}`", "", NOT_MEASURED, ""]
            continue
        try:
            out.append(SUBBENCH_MD[name](doc))
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as e:
            warn(f"{name}.json: unexpected shape ({e!r}); embedded in results.json only")
            out += [f"### `make bench-{name}`", "", "unexpected shape, see results.json", ""]
    return "\n".join(out)


PLOTS = (("throughput", "Throughput relative to direct pod IP"),
         ("latency", "Latency percentiles (keep-alive)"),
         ("cost", "CPU time per request against the number of Services"),
         ("programming", "Programming time against the number of Services"))


def md_plots(plots):
    out = ["## Plots", ""]
    for name, title in PLOTS:
        state = plots.get(name, "not plotted")
        out.append(f"![{title}]({name}.png)" if state == "ok" else f"- {title}: {state}")
        out.append("")
    return "\n".join(out)


def report_md(res, plots):
    view = View(res)
    parts = ["# sluice bench: TPROXY or eBPF? Measured", "", md_params(res), "", md_main(view),
             md_scale(view), md_ns(view), md_program(view), md_targets(res), md_subbenches(res),
             md_plots(plots)]
    return "\n".join(p for p in parts if p is not None)


# ---------------------------------------------------------------- terminal

def terminal_print(res, out=sys.stdout):
    view = View(res)
    size = view.load_sizes[0] if view.load_sizes else None
    header = ("datapath", "keep-alive req/s", "new conn/s", "p50 µs", "p99 µs", "p99.9",
              "CPU µs/req ka", "RSS")
    fmt = "{:<28} {:>19} {:>18} {:>7} {:>7} {:>7} {:>15} {:>9}"
    print(f"same-node, {fmt_services(size)} present: medians, ratio to direct in parentheses",
          file=out)
    print(fmt.format(*header), file=out)
    for row in main_rows(view, size, "same"):
        if row[2] == "" and row[3] == "":
            print(f"{row[0]:<28} {row[1]}", file=out)
        else:
            print(fmt.format(*row[:7], row[8]), file=out)
    print("\ntargets", file=out)
    for t in res["targets"]:
        print(f"  {t['status']:<13} {t['target']:<66} {fmt_measured(t['measured'])}", file=out)


# ---------------------------------------------------------------- plots

def gp_str(s):
    return "'" + str(s).replace("'", "''") + "'"


def gnuplot_terminal(prog):
    try:
        r = subprocess.run([prog, "-e", "set terminal"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    listing = r.stdout + r.stderr
    return "pngcairo enhanced font 'DejaVu Sans,10'" if "pngcairo" in listing else \
        "png enhanced font 'DejaVu Sans,10'"


def size_label(n):
    for div, suffix in ((1_000_000, "M"), (1000, "k")):
        if n >= div and n % div == 0:
            return f"{n // div}{suffix}"
    return str(n)


def size_tics(sizes):
    return "(" + ", ".join(f"\"{size_label(s)}\" {s}" for s in sizes) + ")"


def dat_write(path, lines):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def val(v):
    return "?" if v is None else f"{v:g}"



def plot_bars(view, d, name, columns):
    """(a)/(b): one row per datapath measured same-node at the smallest size;
    columns are (header, mode, value-of-group)."""
    size = view.load_sizes[0] if view.load_sizes else None
    rows, seen = [], []
    for dp in view.res["datapaths"]:
        vals = [f(view.group(size, dp, "same", mode)) for _, mode, f in columns]
        if any(v is not None for v in vals):
            rows.append(f"{dp} " + " ".join(val(v) for v in vals))
            seen += [v for v in vals if v is not None]
        elif view.skip_reason(dp, size) and dp in DATAPATHS:
            rows.append(f'"{dp} (skipped)" ' + " ".join("?" for _ in vals))
    if not seen:
        return None
    dat_write(os.path.join(d, f"{name}.dat"),
              ["# datapath " + " ".join(c[0] for c in columns)] + rows)
    low = min(seen)
    return {"subtitle": f"same-node, {fmt_services(size)} present, median of rounds",
            "n": len(rows), "ymin": 10 ** math.floor(math.log10(low / 3)) if low > 0 else 1}


def ratio_of(field):
    return lambda g: (g["ratio"] or {}).get(field) if g else None


def latency_of(p):
    return lambda g: median_of(g["latency_us"][p]) if g else None


def plot_lines(view, d, name, columns, min_points):
    """(c)/(d): one block per datapath with data at min_points sizes or more;
    columns are value-of(view, datapath, size)."""
    blocks, names, lts, sizes = [], [], [], set()
    for dp in view.res["datapaths"]:
        rows = []
        for size in view.res["sizes"]:
            vals = [f(view, dp, size) for f in columns]
            if any(v is not None for v in vals):
                rows.append(f"{size} " + " ".join(val(v) for v in vals))
        if len(rows) >= min_points:
            blocks.append(f"# {dp}\n" + "\n".join(rows))
            names.append(dp)
            lts.append(str(order_index(dp) + 1))
            sizes |= {int(r.split()[0]) for r in rows}
    if not blocks:
        return None
    dat_write(os.path.join(d, f"{name}.dat"), ["\n\n\n".join(blocks)])
    return {"names": " ".join(names), "lts": " ".join(lts), "n": len(blocks),
            "xt": size_tics(sorted(sizes)), "xmin": min(sizes) / 2, "xmax": max(sizes) * 2}


def cpu_of(mode):
    return lambda v, dp, size: median_of(
        (v.group(size, dp, "same", mode) or {}).get("cpu_us_per_req"))


def program_of(op, status):
    """ms of an ok step; for status "budget", the budget in ms where it ran out."""
    def get(v, dp, size):
        p = v.programs.get((dp, size, op))
        if p is None or p["status"] != status:
            return None
        if status == "ok":
            return p["ms"]
        return p["budget_s"] * 1000 if p["budget_s"] else None
    return get


def plots_data(view, d):
    """Writes the .dat files; per plot the gnuplot variables, or None without data."""
    out = {
        "throughput": plot_bars(view, d, "throughput", [("keepalive", "keepalive", ratio_of("rps")),
                                                         ("close", "close", ratio_of("rps"))]),
        "latency": plot_bars(view, d, "latency",
                             [(p, "keepalive", latency_of(p)) for p in PERCENTILES]),
        "cost": plot_lines(view, d, "cost", [cpu_of("close"), cpu_of("keepalive")], 2),
        "programming": plot_lines(view, d, "programming",
                                  [program_of("full", "ok"), program_of("add", "ok"),
                                   program_of("full", "budget"), program_of("add", "budget")], 1),
    }
    if out["programming"]:
        budgets = [p["budget_s"] for p in view.res["program"]
                   if p["status"] == "budget" and p["budget_s"]]
        out["programming"]["budget_ms"] = max(budgets) * 1000 if budgets else 0
    return out


PLOT_SIZE = {"throughput": "1100,560", "latency": "1100,560", "cost": "1300,540",
             "programming": "1300,540"}
NO_DATA = {"throughput": "not plotted: no same-node measurement with a direct baseline",
           "latency": "not plotted: no same-node keep-alive measurement",
           "cost": "not plotted: no datapath measured at two sizes or more",
           "programming": "not plotted: no programming time measured"}


def gnuplot_run(prog, term, d, name, gvars):
    png = os.path.join(d, f"{name}.png")
    sets = [f"set terminal {term} size {PLOT_SIZE[name]}", f"set output {gp_str(png)}",
            f"dat={gp_str(os.path.join(d, name + '.dat'))}", f"here={gp_str(PLOT_DIR)}"]
    sets += [f"{k}={gp_str(v) if isinstance(v, str) else v}" for k, v in gvars.items()]
    try:
        r = subprocess.run([prog, "-e", "; ".join(sets), os.path.join(PLOT_DIR, f"{name}.gp")],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return f"gnuplot failed: {e}"
    if r.returncode != 0 or not os.path.getsize(png):
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        return f"gnuplot failed: {last}"
    return "ok"


def plots_draw(view, d, prog):
    data = plots_data(view, d)
    term = gnuplot_terminal(prog) if shutil.which(prog) else None
    if term is None:
        warn(f"{prog} not found: no PNG plots (install gnuplot-nox); the .dat files are in {d}")
    out = {}
    for name, gvars in data.items():
        if gvars is None:
            out[name] = NO_DATA[name]
        elif term is None:
            out[name] = "not plotted: gnuplot not found"
        else:
            out[name] = gnuplot_run(prog, term, d, name, gvars)
            if out[name] != "ok":
                warn(f"{name}.png: {out[name]}")
    return out


# ---------------------------------------------------------------- main

def json_write(path, doc):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dir", help="directory with records.jsonl (and bpf.json, cni.json, sync.json)")
    ap.add_argument("--gnuplot", default=os.environ.get("GNUPLOT", "gnuplot"),
                    help="gnuplot program (default: $GNUPLOT or gnuplot)")
    ap.add_argument("--no-plots", action="store_true", help="write neither .dat nor .png files")
    ap.add_argument("-q", "--quiet", action="store_true", help="no table on the terminal")
    a = ap.parse_args()
    path = os.path.join(a.dir, "records.jsonl")
    try:
        recs, bad = records_read(path)
    except OSError as e:
        sys.exit(f"report.py: cannot read {path}: {e.strerror}")
    if not any(r["kind"] == "load" for r in recs):
        warn(f"{path}: no load records; every load metric is '{NOT_MEASURED}'")
    res = results_build(a.dir, recs, bad)
    res["plots"] = {} if a.no_plots else plots_draw(View(res), a.dir, a.gnuplot)
    json_write(os.path.join(a.dir, "results.json"), res)
    with open(os.path.join(a.dir, "report.md"), "w", encoding="utf-8") as fh:
        fh.write(report_md(res, res["plots"]))
    if not a.quiet:
        terminal_print(res)
        drawn = sum(1 for s in res["plots"].values() if s == "ok")
        print(f"\nwritten: {os.path.join(a.dir, 'results.json')}, report.md, {drawn} plot(s)")


if __name__ == "__main__":
    main()
