#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The rules kube-proxy writes for ClusterIP Services, for the bench's
kube-proxy-shape rows: iptables-restore input (iptables mode) or one nft
transaction (nftables mode), for a full sync or for the partial sync that
follows one Service being added, changed or removed.

The shapes follow kube-proxy's pkg/proxy/iptables/proxier.go (1.28+, with
MinimizeIPTablesRestore) and pkg/proxy/nftables/proxier.go (1.31+), with its
defaults: masquerade bit 14, --cluster-cidr as the local-traffic detector,
--nodeport-addresses unset, localhost NodePorts on (iptables),
nf_conntrack_tcp_be_liberal unset, no session affinity, no NodePorts.
Every Service is "bench/<name>" with one TCP port named "http".

Usage:
  kube_rules.py iptables|nftables full --state DIR --cluster-cidr CIDR -n N [SPEC...]
  kube_rules.py iptables|nftables add|change --state DIR SPEC
  kube_rules.py iptables|nftables remove --state DIR VIP:PORT
  kube_rules.py iptables clear      < iptables-save output (nat and filter)
  kube_rules.py nftables clear
SPEC is VIP:PORT=BIP:BPORT[,BIP:BPORT...]. The rules go to stdout; the new
state goes to DIR/state.next.json, for the caller to move onto
DIR/state.json once the kernel took the rules. nftables add/change/remove
also write DIR/pre.nft: the separate transaction kube-proxy runs first to
delete chains left stale by an earlier sync (empty when there are none).

Filler i (0 <= i < N) is 10.100.0.0+i:80 with endpoints 10.246.X.Y:8080 and
10.247.X.Y:8080 (X.Y = i>>8&255, i&255); the SPECs sit after N/2 fillers, so
the measured Services are in the middle of KUBE-SERVICES.
"""

import argparse
import hashlib
import ipaddress
import json
import os
import sys

NAMESPACE = "bench"
PORT_NAME = "http"
PROTO = "tcp"
MASQ_MARK = "%#08x" % (1 << 14)  # kube-proxy's "0x004000"
LARGE_CLUSTER_ENDPOINTS = 1000  # iptables: above this, no per-endpoint comments
FILLER_BASE = int(ipaddress.IPv4Address("10.100.0.0"))
TABLE = "ip kube-proxy"

_sha256 = hashlib.sha256
# base32 two characters (10 bits) at a time, like base64.b32encode, which
# is pure Python and too slow for 300k names.
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_2 = [a + b for a in _B32 for b in _B32]


def hash16(s):
    """kube-proxy's portProtoHash: base32(sha256(s))[:16], i.e. of the first 10 bytes."""
    v = int.from_bytes(_sha256(s.encode()).digest()[:10], "big")
    t = _B32_2
    return (t[v >> 70] + t[(v >> 60) & 1023] + t[(v >> 50) & 1023] + t[(v >> 40) & 1023] +
            t[(v >> 30) & 1023] + t[(v >> 20) & 1023] + t[(v >> 10) & 1023] + t[v & 1023])


def hash8(s):
    """The 8-character prefix of the nftables backend's hashAndTruncate."""
    v = int.from_bytes(_sha256(s.encode()).digest()[:5], "big")
    t = _B32_2
    return t[v >> 30] + t[(v >> 20) & 1023] + t[(v >> 10) & 1023] + t[v & 1023]


class Out:
    """Lines to stdout, written in batches (a 100k-Service sync is 1.4M lines)."""

    def __init__(self, fh):
        self.fh, self.buf = fh, []

    def append(self, line):
        self.buf.append(line)
        if len(self.buf) >= 65536:
            self.flush()

    def extend(self, lines):
        for line in lines:
            self.append(line)

    def __iadd__(self, lines):
        self.extend(lines)
        return self

    def flush(self):
        if self.buf:
            self.fh.write("\n".join(self.buf) + "\n")
            self.buf = []


# --- the Services --------------------------------------------------------------


def fillers(lo, hi):
    """(name, vip, port, endpoints) of fillers lo <= i < hi."""
    for i in range(lo, hi):
        v = FILLER_BASE + i
        x, y = (i >> 8) & 255, i & 255
        yield (f"filler-{i}", f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}", 80,
               (f"10.246.{x}.{y}:8080", f"10.247.{x}.{y}:8080"))


def parse_vip_port(s):
    vip, _, port = s.rpartition(":")
    try:
        vip = str(ipaddress.IPv4Address(vip))
    except ValueError:
        vip = None
    if not vip or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad address:port '{s}'")
    return vip, int(port)


def parse_spec(s):
    key, sep, eps = s.partition("=")
    if not sep or not eps:
        raise ValueError(f"bad SPEC '{s}' (want VIP:PORT=BIP:BPORT[,...])")
    vip, port = parse_vip_port(key)
    out = []
    for ep in eps.split(","):
        ip, p = parse_vip_port(ep)
        out.append(f"{ip}:{p}")
    if len(set(out)) != len(out):
        raise ValueError(f"bad SPEC '{s}': an endpoint twice")
    return vip, port, tuple(out)


def spec_name(vip, port):
    return "svc-" + vip.replace(".", "-") + f"-{port}"


class State:
    """The installed Services in KUBE-SERVICES order: runs of fillers
    ["f", lo, hi] and single Services ["s", name, vip, port, [endpoints]]."""

    def __init__(self, d):
        self.cidr = d["cidr"]
        self.n = d["n"]
        self.order = d["order"]
        self.stale = d.get("stale", [])

    @classmethod
    def new(cls, cidr, n, specs):
        half = n // 2
        order = [["f", 0, half]] if half else []
        for vip, port, eps in specs:
            order.append(["s", spec_name(vip, port), vip, port, list(eps)])
        if n - half:
            order.append(["f", half, n])
        st = cls({"cidr": cidr, "n": n, "order": order})
        keys = [(s[1], s[2]) for s in st.services()]
        if len(set(keys)) != len(keys):
            raise ValueError("two Services with the same VIP:PORT")
        return st

    @classmethod
    def load(cls, path):
        with open(path) as fh:
            return cls(json.load(fh))

    def save(self, path):
        with open(path, "w") as fh:
            json.dump({"cidr": self.cidr, "n": self.n, "order": self.order,
                       "stale": self.stale}, fh)

    def services(self):
        for e in self.order:
            if e[0] == "f":
                yield from fillers(e[1], e[2])
            else:
                yield (e[1], e[2], e[3], tuple(e[4]))

    def total_endpoints(self):
        return sum((e[2] - e[1]) * 2 if e[0] == "f" else len(e[4]) for e in self.order)

    def _filler_index(self, vip, port):
        i = int(ipaddress.IPv4Address(vip)) - FILLER_BASE
        return i if port == 80 and 0 <= i < self.n else None

    def find(self, vip, port):
        """(position in order, filler index or None, service) or None."""
        fi = self._filler_index(vip, port)
        for pos, e in enumerate(self.order):
            if e[0] == "f":
                if fi is not None and e[1] <= fi < e[2]:
                    return pos, fi, next(fillers(fi, fi + 1))
            elif e[2] == vip and e[3] == port:
                return pos, None, (e[1], e[2], e[3], tuple(e[4]))
        return None

    def vip_used(self, vip):
        fi = self._filler_index(vip, 80)
        for e in self.order:
            if e[0] == "f":
                if fi is not None and e[1] <= fi < e[2]:
                    return True
            elif e[2] == vip:
                return True
        return False

    def replace(self, pos, fi, entry):
        """Replaces the Service at pos (filler fi of a run) by entry (or nothing)."""
        e = self.order[pos]
        new = [entry] if entry else []
        if fi is not None:
            new = ([["f", e[1], fi]] if fi > e[1] else []) + new + \
                  ([["f", fi + 1, e[2]]] if fi + 1 < e[2] else [])
        self.order[pos:pos + 1] = new


# --- iptables -------------------------------------------------------------------


def ipt_names(name):
    spn = f"{NAMESPACE}/{name}:{PORT_NAME}"
    return spn, "KUBE-SVC-" + hash16(spn + PROTO)


def ipt_sep(spn, ep):
    return "KUBE-SEP-" + hash16(spn + PROTO + ep)


def ipt_chains(svc):
    """Every nat chain of one Service."""
    spn, chain = ipt_names(svc[0])
    return [chain] + [ipt_sep(spn, ep) for ep in svc[3]]


_PROBABILITIES = {}


def probability(n):
    p = _PROBABILITIES.get(n)
    if p is None:
        p = _PROBABILITIES[n] = "%0.10f" % (1.0 / n)
    return p


_NEW = "-m conntrack --ctstate NEW"
_EXT = "kubernetes externally-visible service portals"
_PORTALS = "kubernetes service portals"
_LBFW = "kubernetes load balancer firewall"
# (table, chain kube-proxy creates, builtin chain jumping to it, comment, extra match)
IPT_JUMPS = [
    ("filter", "KUBE-EXTERNAL-SERVICES", "INPUT", _EXT, _NEW),
    ("filter", "KUBE-EXTERNAL-SERVICES", "FORWARD", _EXT, _NEW),
    ("filter", "KUBE-NODEPORTS", "INPUT", "kubernetes health check service ports", ""),
    ("filter", "KUBE-SERVICES", "FORWARD", _PORTALS, _NEW),
    ("filter", "KUBE-SERVICES", "OUTPUT", _PORTALS, _NEW),
    ("filter", "KUBE-FORWARD", "FORWARD", "kubernetes forwarding rules", ""),
    ("filter", "KUBE-PROXY-FIREWALL", "INPUT", _LBFW, _NEW),
    ("filter", "KUBE-PROXY-FIREWALL", "OUTPUT", _LBFW, _NEW),
    ("filter", "KUBE-PROXY-FIREWALL", "FORWARD", _LBFW, _NEW),
    ("nat", "KUBE-SERVICES", "OUTPUT", _PORTALS, ""),
    ("nat", "KUBE-SERVICES", "PREROUTING", _PORTALS, ""),
    ("nat", "KUBE-POSTROUTING", "POSTROUTING", "kubernetes postrouting rules", ""),
    # kubelet's duplicates, installed by kube-proxy too (no comment)
    ("filter", "KUBE-FIREWALL", "INPUT", "", ""),
    ("filter", "KUBE-FIREWALL", "OUTPUT", "", ""),
]


def ipt_jump_rules(table):
    """kube-proxy's EnsureRule(Prepend) jumps, as restore lines (-I keeps its order)."""
    out = []
    for t, dst, src, comment, extra in IPT_JUMPS:
        if t != table:
            continue
        args = [f"-I {src}"]
        if extra:
            args.append(extra)
        if comment:
            args.append(f'-m comment --comment "{comment}"')
        args.append(f"-j {dst}")
        out.append(" ".join(args))
    return out


def ipt_restore(out, st, changed, stale, jumps):
    """Writes to out the iptables-restore input of one sync. changed: the keys
    (vip, port) of the Services whose chains are written, or None for all (a
    full sync); stale: chains to flush and delete; jumps: add the jumps from
    the builtin chains (kube-proxy's EnsureRule calls on a full sync)."""
    out += ["*filter"]
    out += [f":{c} - [0:0]" for c in ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD",
                                      "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL")]
    out += [
        '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" '
        "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" '
        f"-m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]
    if jumps:
        out += ipt_jump_rules("filter")
    out += ["COMMIT", "*nat"]
    out += [f":{c} - [0:0]" for c in
            ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")]

    # Pass 1, the chain lines (all before the rules); keeps the names for pass 2.
    names = []
    for name, vip, port, eps in st.services():
        spn, svc = ipt_names(name)
        if changed is None or (vip, port) in changed:
            seps = [ipt_sep(spn, ep) for ep in eps]
            out.append(f":{svc} - [0:0]")
            out += [f":{sep} - [0:0]" for sep in seps]
        else:
            seps = None
        names.append((spn, svc, seps))
    out += [f":{c} - [0:0]" for c in stale]

    # Pass 2, the rules, in kube-proxy's order.
    out += [
        f"-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
        f"-A KUBE-POSTROUTING -j MARK --xor-mark {MASQ_MARK}",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
        "-j MASQUERADE --random-fully",
        f"-A KUBE-MARK-MASQ -j MARK --or-mark {MASQ_MARK}",
    ]
    large = st.total_endpoints() > LARGE_CLUSTER_ENDPOINTS
    not_local = f"! -s {st.cidr}"
    add = out.append
    for (name, vip, port, eps), (spn, svc, seps) in zip(st.services(), names):
        match = f'-m comment --comment "{spn} cluster IP" -m tcp -p tcp -d {vip} --dport {port}'
        add(f"-A KUBE-SERVICES {match} -j {svc}")
        if seps is None:
            continue
        add(f"-A {svc} {match} {not_local} -j KUBE-MARK-MASQ")
        n = len(eps)
        for i, (ep, sep) in enumerate(zip(eps, seps)):
            c = "" if large else f'-m comment --comment "{spn} -> {ep}" '
            if i < n - 1:
                add(f"-A {svc} {c}-m statistic --mode random --probability {probability(n - i)} -j {sep}")
            else:
                add(f"-A {svc} {c}-j {sep}")
        c = "" if large else f"-m comment --comment {spn} "
        for ep, sep in zip(eps, seps):
            add(f"-A {sep} {c}-s {ep.rpartition(':')[0]} -j KUBE-MARK-MASQ")
            add(f"-A {sep} {c}-m tcp -p tcp -j DNAT --to-destination {ep}")
    out += [f"-X {c}" for c in stale]
    if jumps:
        out += ipt_jump_rules("nat")
    out += ['-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be '
            'the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS', "COMMIT"]


IPT_WHOLE = "# only kube-proxy's: restore without --noflush"


def ipt_clear(saved):
    """Restore input that removes what kube-proxy installed, from iptables-save
    output: the jumps to KUBE-* chains deleted, the KUBE-* chains flushed and
    deleted. When the tables hold nothing else, the input starts with
    IPT_WHOLE and just empties them (a restore without --noflush), which
    legacy iptables does in seconds where deleting 300k chains one by one
    takes a minute."""
    tables = []  # (table, builtin chain lines, ours, deletions, foreign)
    cur = None
    for line in saved.splitlines():
        if line.startswith("*"):
            cur = (line[1:].strip(), [], [], [], [])
        elif cur is None:
            continue
        elif line.startswith(":"):
            c, policy = line[1:].split()[:2]
            if c.startswith("KUBE-"):
                cur[2].append(c)
            elif policy != "-":
                cur[1].append(f":{c} {policy} [0:0]")
            else:
                cur[4].append(line)
        elif line.startswith("-A "):
            parts = line.split()
            target = parts[parts.index("-j") + 1] if "-j" in parts else ""
            if parts[1].startswith("KUBE-"):
                continue
            if target.startswith("KUBE-"):
                cur[3].append("-D" + line[2:])
            else:
                cur[4].append(line)
        elif line.strip() == "COMMIT":
            if cur[2] or cur[3]:
                tables.append(cur)
            cur = None
    if tables and not any(t[4] for t in tables):
        out = [IPT_WHOLE]
        for name, builtins, _, _, _ in tables:
            out += [f"*{name}"] + builtins + ["COMMIT"]
        return out
    out = []
    for name, _, ours, dels, _ in tables:
        out += [f"*{name}"] + [f":{c} - [0:0]" for c in ours] + dels + [f"-X {c}" for c in ours] + ["COMMIT"]
    return out


# --- nftables -------------------------------------------------------------------


def nft_names(name):
    base = f"{NAMESPACE}/{name}/{PROTO}/{PORT_NAME}"
    return base, f"service-{hash8(base)}-{base}"


def nft_ep_chain(base, ep):
    ip, _, port = ep.rpartition(":")
    n = f"{base}__{ip}/{port}"
    return f"endpoint-{hash8(n)}-{n}"


def nft_chains(svc):
    base, chain = nft_names(svc[0])
    return [chain] + [nft_ep_chain(base, ep) for ep in svc[3]]


# (name, type, hook, priority): dstnat-10, dstnat+10, dstnat, dstnat, srcnat,
# which knftables writes as numbers (older nft refuses "dstnat" in output).
NFT_BASE_CHAINS = [
    ("filter-prerouting", "filter", "prerouting", -110),
    ("filter-input", "filter", "input", -110),
    ("filter-forward", "filter", "forward", -110),
    ("filter-output", "filter", "output", -110),
    ("filter-output-post-dnat", "filter", "output", -90),
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100),
]

NFT_JUMPS = [
    ("nodeport-endpoints-check", "filter-input", "ct state new"),
    ("service-endpoints-check", "filter-input", "ct state new"),
    ("service-endpoints-check", "filter-forward", "ct state new"),
    ("service-endpoints-check", "filter-output", "ct state new"),
    ("firewall-check", "filter-prerouting", "ct state new"),
    ("firewall-check", "filter-output", "ct state new"),
    ("services", "nat-output", ""),
    ("services", "nat-prerouting", ""),
    ("masquerading", "nat-postrouting", ""),
    ("cluster-ips-check", "filter-forward", "ct state new"),
    ("cluster-ips-check", "filter-output-post-dnat", "ct state new"),
]

SVC_KEY_TYPE = "ipv4_addr . inet_proto . inet_service : verdict"


def nft_setup():
    """kube-proxy's setupNFTables on its first sync (flushed == false)."""
    t = TABLE
    out = [f'add table {t} {{ comment "rules for kube-proxy" ; }}']
    for name, _, _, _ in NFT_BASE_CHAINS:
        out += [f"add chain {t} {name}", f"delete chain {t} {name}"]
    for name, typ, hook, prio in NFT_BASE_CHAINS:
        out += [f"add chain {t} {name} {{ type {typ} hook {hook} priority {prio} ; }}",
                f"flush chain {t} {name}"]
    created = set()

    def ensure(c):
        if c not in created:
            created.add(c)
            out.extend((f"add chain {t} {c}", f"flush chain {t} {c}"))

    for dst, src, extra in NFT_JUMPS:
        ensure(dst)
        out.append(f"add rule {t} {src} {extra + ' ' if extra else ''}jump {dst}")
    for c in ("services", "cluster-ips-check", "masquerading", "mark-for-masquerade"):
        ensure(c)
    key3 = SVC_KEY_TYPE
    key2 = "inet_proto . inet_service : verdict"
    out += [
        f"add rule {t} mark-for-masquerade mark set mark or {MASQ_MARK}",
        f"add rule {t} masquerading mark and {MASQ_MARK} == 0 return",
        f"add rule {t} masquerading mark set mark xor {MASQ_MARK}",
        f"add rule {t} masquerading masquerade fully-random",
        f'add set {t} cluster-ips {{ type ipv4_addr ; comment "Active ClusterIPs" ; }}',
        f"add rule {t} cluster-ips-check ip daddr @cluster-ips reject"
        ' comment "Reject traffic to invalid ports of ClusterIPs"',
        f'add set {t} nodeport-ips {{ type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }}',
        f"delete set {t} nodeport-ips",
        f"add map {t} no-endpoint-services {{ type {key3} ;"
        ' comment "vmap to drop or reject packets to services with no endpoints" ; }',
        f"add map {t} no-endpoint-nodeports {{ type {key2} ;"
        ' comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }',
        f"add chain {t} reject-chain"
        ' { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }',
        f"flush chain {t} reject-chain",
        f"add rule {t} reject-chain reject",
        f"add rule {t} service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
        f"add rule {t} nodeport-endpoints-check ip daddr != 127.0.0.0/8"
        " meta l4proto . th dport vmap @no-endpoint-nodeports",
        f"add map {t} firewall-ips {{ type {key3} ;"
        ' comment "destinations that are subject to LoadBalancerSourceRanges" ; }',
        f"add rule {t} firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips",
        f"add map {t} service-ips {{ type {key3} ;"
        ' comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }',
        f'add map {t} service-nodeports {{ type {key2} ; comment "NodePort traffic" ; }}',
        f"add rule {t} services ip daddr . meta l4proto . th dport vmap @service-ips",
        f"add rule {t} services fib daddr type local ip daddr != 127.0.0.0/8"
        " meta l4proto . th dport vmap @service-nodeports",
        f"flush set {t} cluster-ips",
        f"flush map {t} service-ips",
        f"flush map {t} firewall-ips",
        f"flush map {t} no-endpoint-services",
        f"flush map {t} no-endpoint-nodeports",
        f"flush map {t} service-nodeports",
    ]
    return out


def nft_service(out, svc, cidr, new_vip, new_key):
    """One Service's part of a sync: its chains (add + flush), its map elements
    when new, its rules. Appends to out."""
    t = TABLE
    name, vip, port, eps = svc
    base, chain = nft_names(name)
    epc = [nft_ep_chain(base, ep) for ep in eps]
    for c in epc:
        out += (f"add chain {t} {c}", f"flush chain {t} {c}")
    out += (f"add chain {t} {chain}", f"flush chain {t} {chain}")
    if new_vip:
        out.append(f"add element {t} cluster-ips {{ {vip} }}")
    if new_key:
        out.append(f"add element {t} service-ips {{ {vip} . {PROTO} . {port} : goto {chain} }}")
    out.append(f"add rule {t} {chain} ip daddr {vip} {PROTO} dport {port}"
               f" ip saddr != {cidr} jump mark-for-masquerade")
    vmap = " , ".join(f"{i} : goto {c}" for i, c in enumerate(epc))
    out.append(f"add rule {t} {chain} numgen random mod {len(epc)} vmap {{ {vmap} }}")
    for ep, c in zip(eps, epc):
        out += (f"add rule {t} {c} ip saddr {ep.rpartition(':')[0]} jump mark-for-masquerade",
                f"add rule {t} {c} meta l4proto {PROTO} dnat to {ep}")


def nft_full(out, st):
    """Writes to out the transaction of kube-proxy's first sync, preceded by
    the deletion of the table if it is there."""
    out += [f"add table {TABLE}", f"delete table {TABLE}"]
    out += nft_setup()
    seen = set()
    for svc in st.services():
        new_vip = svc[1] not in seen
        seen.add(svc[1])
        nft_service(out, svc, st.cidr, new_vip, True)


# --- commands -------------------------------------------------------------------


def plan_full(mode, a):
    """(state, writer of the rules, pre-transaction lines or None) of a full sync."""
    st = State.new(a.cluster_cidr, a.n, [parse_spec(s) for s in a.args])
    if mode == "iptables":
        return st, lambda out: ipt_restore(out, st, None, [], True), None
    return st, lambda out: nft_full(out, st), []


def plan_partial(mode, a):
    """The same for the partial sync after one add, change or remove."""
    op = a.op
    if len(a.args) != 1:
        raise ValueError(f"{op} takes exactly one argument")
    st = State.load(os.path.join(a.state, "state.json"))
    if op == "remove":
        vip, port = parse_vip_port(a.args[0])
        eps = None
    else:
        vip, port, eps = parse_spec(a.args[0])
    hit = st.find(vip, port)
    if op == "add" and hit:
        raise ValueError(f"{vip}:{port} is already there")
    if op != "add" and not hit:
        raise ValueError(f"{vip}:{port} is not there")
    old = hit[2] if hit else None
    new = None
    vip_listed = st.vip_used(vip)  # in @cluster-ips before this sync
    if op == "add":
        new = (spec_name(vip, port), vip, port, eps)
        st.order.append(["s", new[0], vip, port, list(eps)])
    elif op == "change":
        new = (old[0], vip, port, eps)
        st.replace(hit[0], hit[1], ["s", new[0], vip, port, list(eps)])
    else:
        st.replace(hit[0], hit[1], None)

    chains = ipt_chains if mode == "iptables" else nft_chains
    new_chains = chains(new) if new else []
    stale = [c for c in (chains(old) if old else []) if c not in new_chains]

    if mode == "iptables":
        # kube-proxy finds stale chains with iptables-save and deletes them
        # in the same restore (at once below 1000 endpoints, else at most once
        # per --iptables-sync-period: here always at once).
        return st, lambda out: ipt_restore(out, st, {(vip, port)}, stale, False), None

    # nftables: stale chains are flushed now and deleted by a separate
    # transaction at the start of a later sync (kernels before 6.2 need the
    # delay), which is pre.
    t = TABLE
    # add + delete: also right when an interrupted sync already deleted them
    pre = [line for c in st.stale if c not in new_chains
           for line in (f"add chain {t} {c}", f"delete chain {t} {c}")]
    lines = []
    if new:
        nft_service(lines, new, st.cidr, not vip_listed, op == "add")
    lines += [f"flush chain {t} {c}" for c in stale]
    if op == "remove":
        lines.append(f"delete element {t} service-ips {{ {vip} . {PROTO} . {port} }}")
        if not st.vip_used(vip):
            lines.append(f"delete element {t} cluster-ips {{ {vip} }}")
    st.stale = stale
    return st, lambda out: out.extend(lines), pre


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=("iptables", "nftables"))
    p.add_argument("op", choices=("full", "add", "change", "remove", "clear"))
    p.add_argument("--state", help="state directory")
    p.add_argument("--cluster-cidr", default="10.245.0.0/16")
    p.add_argument("-n", type=int, default=0, help="filler Services (full)")
    p.add_argument("args", nargs="*", help="SPEC... (full), SPEC (add, change), VIP:PORT (remove)")
    a = p.parse_intermixed_args(argv)

    out = Out(sys.stdout)
    if a.op == "clear":
        out += ipt_clear(sys.stdin.read()) if a.mode == "iptables" else \
            [f"add table {TABLE}", f"delete table {TABLE}"]
        out.flush()
        return 0
    if not a.state:
        p.error("--state DIR is required")
    try:
        ipaddress.IPv4Network(a.cluster_cidr)
        st, emit, pre = plan_full(a.mode, a) if a.op == "full" else plan_partial(a.mode, a)
        os.makedirs(a.state, exist_ok=True)
        st.save(os.path.join(a.state, "state.next.json"))
        if pre is not None:
            with open(os.path.join(a.state, "pre.nft"), "w") as fh:
                fh.write("".join(line + "\n" for line in pre))
    except (ValueError, OSError) as e:
        print(f"kube_rules: {e}", file=sys.stderr)
        return 1
    emit(out)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
