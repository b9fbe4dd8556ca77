#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Probes the model topology's pod->pod matrix and compares it, cell by cell,
with the truth table model.py computes from the API objects.

    matrix.py TOPO.json STATE.json [--cells 80/TCP,81/UDP,...] [--via pod,svc]
              [--timeout S] [--deadline S]

TOPO: {"pods": [{"ns", "name", "netns", "ip", "svc"}]} (svc: the per-pod
Service's ClusterIP). STATE: `kubectl get namespaces,pods,networkpolicies -A
-o json`. Every source pod probes every other pod on every cell and way
(pod IP, Service ClusterIP) at once; the round repeats until it matches or the
deadline passes (policies apply asynchronously), then prints expected, actual
and the differences as upstream's truth tables do and exits 1.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Debian's interpreter for the probers: it starts in a third of the time of a
# site-packages-heavy one, and nine start per round.
PROBE_PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
sys.path.insert(0, HERE)
import model  # noqa: E402


def sctp_available():
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132).close()
        return True
    except OSError:
        return False


def model_state(api, topo_pods, cells):
    """The model's input from the API's objects (labels, IPs, ports as stored)."""
    items = api.get("items", [])
    nss = {o["metadata"]["name"]: o["metadata"].get("labels") or {}
           for o in items if o.get("kind") == "Namespace"}
    in_topo = {(p["ns"], p["name"]) for p in topo_pods}
    pods = []
    for o in items:
        if o.get("kind") != "Pod" or (o["metadata"].get("namespace"), o["metadata"]["name"]) not in in_topo:
            continue
        ports = [p for c in (o.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []]
        pods.append({"ns": o["metadata"]["namespace"], "name": o["metadata"]["name"],
                     "labels": o["metadata"].get("labels") or {},
                     "ip": (o.get("status") or {}).get("podIP"), "ports": ports})
    pols = [o for o in items if o.get("kind") == "NetworkPolicy"]
    return {"namespaces": nss, "pods": pods, "policies": pols, "cells": cells}


def probe_round(topo_pods, cells, vias, timeout, only=None):
    """{via: {cell: {src: {dst: bool}}}} from one concurrent round; only: a
    set of (via, cell, src, dst) to probe, every pair if None."""
    procs = []
    for src in topo_pods:
        lines = []
        for dst in topo_pods:
            if dst is src:
                continue
            for cell in cells:
                port, proto = cell.split("/")
                for via in vias:
                    if only is not None and (via, cell, f'{src["ns"]}/{src["name"]}',
                                             f'{dst["ns"]}/{dst["name"]}') not in only:
                        continue
                    ip = dst["ip"] if via == "pod" else dst["svc"]
                    key = f'{dst["ns"]}/{dst["name"]}|{cell}|{via}'
                    lines.append(json.dumps({"key": key, "ip": ip, "port": int(port), "proto": proto}))
        p = subprocess.Popen(["nsenter", f'--net=/run/netns/{src["netns"]}', PROBE_PY,
                              os.path.join(HERE, "probe.py"), str(timeout)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        # written now, so every prober runs at once (a few KiB: within the pipe's buffer)
        p.stdin.write("".join(f"{line}\n" for line in lines))
        p.stdin.close()
        procs.append((src, p))
    out = {v: {c: {} for c in cells} for v in vias}
    for src, p in procs:
        stdout = p.stdout.read()
        p.wait(timeout=timeout * 4 + 30)
        if p.returncode != 0:
            raise RuntimeError(f'prober in {src["netns"]} exited {p.returncode}')
        skey = f'{src["ns"]}/{src["name"]}'
        for key, ok in json.loads(stdout).items():
            dst, cell, via = key.split("|")
            out[via][cell].setdefault(skey, {})[dst] = ok
    return out


def diffs(expected, actual, vias, cells):
    """[(via, cell, src, dst, want, got)] for every cell that differs."""
    out = []
    for via in vias:
        for cell in cells:
            for src, row in expected[cell].items():
                for dst, want in row.items():
                    if want is None:
                        continue
                    got = actual[via][cell].get(src, {}).get(dst)
                    if got != want:
                        out.append((via, cell, src, dst, want, got))
    return out


def render(title, names, value):
    """A truth table in upstream's shape: rows are sources, columns destinations."""
    lines = [title, "    " + " ".join(f"{n:>4}" for n in names)]
    for s in names:
        lines.append(f"{s:>4}" + "".join(f"{value(s, d):>5}" for d in names))
    return "\n".join(lines)


def report(expected, actual, bad, names):
    """Expected / actual / differences for every (way, cell) that differs."""
    sym = {True: ".", False: "X", None: "-"}
    for i, (via, cell) in enumerate(sorted({(b[0], b[1]) for b in bad})):
        exp, act = expected[cell], actual[via][cell]
        print(f"\n=== {cell} through {via} IPs ('.' connected, 'X' blocked, '-' loopback, ignored)")
        if i < 2:  # the first two in full; then the differences only
            print(render("expected:", names, lambda s, d: sym[exp[s][d]]))
            print(render("actual:", names, lambda s, d: "-" if s == d else sym[act.get(s, {}).get(d)]))
        print(render("comparison ('.' same, 'X' differs):", names,
                     lambda s, d: "-" if s == d else ("." if act.get(s, {}).get(d) == exp[s][d] else "X")))
    print(f"\nwrong cells ({len(bad)}, the first 40):")
    for via, cell, src, dst, want, got in bad[:40]:
        print(f"  {src} -> {dst} {cell} via {via}: expected {'allowed' if want else 'denied'}, "
              f"got {'allowed' if got else 'denied'}")


def steady(args, topo_pods, cells, vias, before, names):
    """Rounds for --deadline seconds; the cells STATE and STATE2 agree on never flip."""
    with open(args.steady) as f:
        after = model.truth_table(model_state(json.load(f), topo_pods, cells))
    same = {c: {s: {d: (v if after[c][s][d] == v else None) for d, v in r.items()}
                for s, r in before[c].items()} for c in cells}
    end, rounds, held = time.monotonic() + args.deadline, 0, 0
    while time.monotonic() < end or rounds == 0:
        rounds += 1
        bad = diffs(same, probe_round(topo_pods, cells, vias, args.timeout), vias, cells)
        if bad:  # a loaded machine can miss an answer: a flip counts once seen twice
            again = probe_round(topo_pods, cells, vias, args.timeout * 3, {b[:4] for b in bad})
            bad = [b for b in bad if again[b[0]][b[1]].get(b[2], {}).get(b[3]) == b[5]]
        if bad:
            print(f"round {rounds}: {len(bad)} cells flipped that neither state allows to change:")
            for via, cell, src, dst, want, got in bad[:40]:
                print(f"  {src} -> {dst} {cell} via {via}: expected {'allowed' if want else 'denied'} throughout")
            return 1
        held += sum(1 for c in cells for r in same[c].values() for v in r.values() if v is not None)
    print(f"# {rounds} rounds while the change applied: every steady cell held ({held} cell-probes per way)")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("topo")
    ap.add_argument("state")
    ap.add_argument("--cells", default="80/TCP,81/TCP,80/UDP,81/UDP,80/SCTP,81/SCTP")
    ap.add_argument("--via", default="pod,svc")
    ap.add_argument("--timeout", type=float, default=0.7)
    ap.add_argument("--deadline", type=float, default=8.0)
    ap.add_argument("--steady", metavar="STATE2",
                    help="probe for --deadline seconds while the API moves from STATE to STATE2: "
                         "every cell the two agree on must hold in every round")
    args = ap.parse_args()
    cells = args.cells.split(",")
    if not sctp_available() and any(c.endswith("/SCTP") for c in cells):
        print("# no SCTP in this kernel: SCTP cells not probed")
        cells = [c for c in cells if not c.endswith("/SCTP")]
    if not cells:
        print("no cell left to probe")
        return 1
    vias = args.via.split(",")
    with open(args.topo) as f:
        topo_pods = json.load(f)["pods"]
    with open(args.state) as f:
        expected = model.truth_table(model_state(json.load(f), topo_pods, cells))
    names = [f'{p["ns"]}/{p["name"]}' for p in topo_pods]
    short = [n.replace("/", "") for n in names]
    if args.steady:
        return steady(args, topo_pods, cells, vias, expected, names)
    end, rounds = time.monotonic() + args.deadline, 0
    while True:
        rounds += 1
        actual = probe_round(topo_pods, cells, vias, args.timeout)
        bad = diffs(expected, actual, vias, cells)
        if not bad:
            allowed = sum(v for c in cells for r in expected[c].values() for v in r.values() if v)
            print(f"# matrix as expected after {rounds} round(s): {len(cells)} cells x {len(vias)} ways, "
                  f"{allowed} of {len(cells) * len(names) * (len(names) - 1)} pairs allowed per way")
            return 0
        if time.monotonic() >= end:
            break
        time.sleep(0.3)
    print(f"matrix differs after {rounds} round(s) over {args.deadline:.0f} s: "
          f"{len(bad)} wrong of {len(cells) * len(vias) * len(names) * (len(names) - 1)} cells")
    ren = {n: s for n, s in zip(names, short)}
    exp_s = {c: {ren[s]: {ren[d]: v for d, v in r.items()} for s, r in expected[c].items()} for c in cells}
    act_s = {v: {c: {ren[s]: {ren[d]: x for d, x in r.items()} for s, r in actual[v][c].items()}
                 for c in cells} for v in vias}
    report(exp_s, act_s, [(v, c, ren[s], ren[d], w, g) for v, c, s, d, w, g in bad], short)
    return 1


if __name__ == "__main__":
    sys.exit(main())
