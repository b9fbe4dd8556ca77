# SPDX-License-Identifier: Apache-2.0
"""Resource types served by the API stand-in: discovery, defaulting, validation."""

import ipaddress
import re

# One row per resource: what discovery advertises and what the store needs.
#   group "" is the core group (/api/v1); fields = field selectors it accepts.
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch",
         "update", "watch"]

RESOURCES = [
    # group, version, plural, kind, namespaced, shortNames, extra fields
    ("", "v1", "namespaces", "Namespace", False, ["ns"], ["status.phase"]),
    ("", "v1", "nodes", "Node", False, ["no"], ["spec.unschedulable"]),
    ("", "v1", "pods", "Pod", True, ["po"],
     ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
      "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
      "status.podIP", "status.nominatedNodeName"]),
    ("", "v1", "services", "Service", True, ["svc"],
     ["spec.clusterIP", "spec.type"]),
    ("", "v1", "endpoints", "Endpoints", True, ["ep"], []),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, [],
     ["addressType"]),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True,
     ["netpol"], []),
]

# Strategic-merge-patch list merge keys (api core/v1 types.go patchMergeKey
# tags), by kind and dotted path; "" = merge a list of primitives as a set.
SMP_KEYS = {
    "Service": {"spec.ports": "port"},
    "Pod": {"spec.containers": "name", "spec.initContainers": "name",
            "spec.containers.ports": "containerPort",
            "spec.initContainers.ports": "containerPort",
            "spec.containers.env": "name", "spec.volumes": "name",
            "spec.containers.volumeMounts": "mountPath",
            "status.conditions": "type", "status.podIPs": "ip",
            "status.hostIPs": "ip"},
    "Node": {"spec.podCIDRs": "", "spec.taints": "key",
             "status.addresses": "type", "status.conditions": "type"},
    "Endpoints": {},
    "Namespace": {},
    "NetworkPolicy": {},
    "EndpointSlice": {},
}
SMP_META_KEYS = {"metadata.ownerReferences": "uid", "metadata.finalizers": ""}

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Invalid(Exception):
    """A 422 Invalid: causes is a list of (field, message)."""

    def __init__(self, causes):
        super().__init__(causes)
        self.causes = causes


class ResourceType:
    def __init__(self, group, version, plural, kind, namespaced, short, fields):
        self.group, self.version, self.plural = group, version, plural
        self.kind, self.namespaced, self.short = kind, namespaced, short
        self.api_version = f"{group}/{version}" if group else version
        self.fields = {"metadata.name", "metadata.namespace", *fields}
        self.smp = {**SMP_META_KEYS, **SMP_KEYS.get(kind, {})}
        self.prefix = (b'{"kind":"%s","apiVersion":"%s",'
                       % (kind.encode(), self.api_version.encode()))
        self.list_prefix = (b'{"kind":"%sList","apiVersion":"%s","metadata":'
                            % (kind.encode(), self.api_version.encode()))
        # What a real server's bookmark carries: an empty object of the kind.
        self.bookmark_extra = {
            "Service": {"spec": {}, "status": {"loadBalancer": {}}},
            "EndpointSlice": {"addressType": "", "endpoints": None, "ports": None},
            "Pod": {"spec": {"containers": None}, "status": {}},
            "Node": {"spec": {}, "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
                                            "nodeInfo": {}}},
            "Namespace": {"spec": {}, "status": {}},
            "NetworkPolicy": {"spec": {"podSelector": {}}},
        }.get(kind, {})

    def discovery(self):
        out = [{"name": self.plural, "singularName": self.kind.lower(),
                "namespaced": self.namespaced, "kind": self.kind,
                "verbs": VERBS if self.plural != "namespaces"
                else [v for v in VERBS if v != "deletecollection"]}]
        if self.short:
            out[0]["shortNames"] = self.short
        if self.kind in ("Service", "Pod", "Node", "Namespace"):
            out.append({"name": self.plural + "/status", "singularName": "",
                        "namespaced": self.namespaced, "kind": self.kind,
                        "verbs": ["get", "patch", "update"]})
        return out


TYPES = [ResourceType(*r) for r in RESOURCES]
BY_PATH = {(t.group, t.version, t.plural): t for t in TYPES}
BY_KIND = {(t.api_version, t.kind): t for t in TYPES}


def api_group_list():
    groups = {}
    for t in TYPES:
        if t.group:
            groups.setdefault(t.group, t.version)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        api_group(g) for g in sorted(groups)]}


def api_group(group):
    versions = sorted({t.version for t in TYPES if t.group == group})
    if not versions:
        return None
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group,
            "versions": vs, "preferredVersion": vs[0]}


def api_resource_list(group, version):
    res = [r for t in TYPES if t.group == group and t.version == version
           for r in t.discovery()]
    if not res:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": res}


# --- validation ------------------------------------------------------------------


def check_name(name, field, causes):
    if not isinstance(name, str) or not name:
        causes.append((field, "Required value: name or generateName is required"))
    elif len(name) > 253 or not NAME_RE.match(name):
        causes.append((field, f'Invalid value: "{name}": a lowercase RFC 1123 subdomain '
                              "must consist of lower case alphanumeric characters, '-' or '.', "
                              "and must start and end with an alphanumeric character"))


def validate_meta(rt, obj, causes):
    md = obj.get("metadata")
    if not isinstance(md, dict):
        causes.append(("metadata", "Required value"))
        return
    check_name(md.get("name"), "metadata.name", causes)
    if rt.kind == "Namespace" and isinstance(md.get("name"), str) and \
            not LABEL_RE.match(md["name"]):
        causes.append(("metadata.name", f'Invalid value: "{md["name"]}": a lowercase RFC 1123 label '
                                        "must consist of lower case alphanumeric characters or '-'"))
    for f in ("labels", "annotations"):
        v = md.get(f)
        if v is None:
            continue
        if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
            causes.append((f"metadata.{f}", "Invalid value: must be a map of strings"))


def validate_ports(ports, field, causes, need_port=True):
    if ports is None:
        return
    if not isinstance(ports, list):
        causes.append((field, "Invalid value: must be a list"))
        return
    for i, p in enumerate(ports):
        if not isinstance(p, dict):
            causes.append((f"{field}[{i}]", "Invalid value: must be an object"))
            continue
        port = p.get("port")
        if port is None and not need_port:
            continue
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            causes.append((f"{field}[{i}].port",
                           f"Invalid value: {port}: must be between 1 and 65535, inclusive"))
        proto = p.get("protocol", "TCP")
        if proto not in ("TCP", "UDP", "SCTP"):
            causes.append((f"{field}[{i}].protocol",
                           f'Unsupported value: "{proto}": supported values: "SCTP", "TCP", "UDP"'))


def validate_netpol_port(p, field, causes):
    """NetworkPolicyPort (ValidateNetworkPolicyPort): protocol, port, endPort."""
    if p.get("protocol", "TCP") not in ("TCP", "UDP", "SCTP"):
        causes.append((f"{field}.protocol", f'Unsupported value: "{p.get("protocol")}": '
                                            'supported values: "SCTP", "TCP", "UDP"'))
    port, end = p.get("port"), p.get("endPort")
    if isinstance(port, int) and not isinstance(port, bool):
        if not 1 <= port <= 65535:
            causes.append((f"{field}.port", f"Invalid value: {port}: must be between 1 and 65535, inclusive"))
        if end is not None and (not isinstance(end, int) or not port <= end <= 65535):
            causes.append((f"{field}.endPort", f"Invalid value: {end}: must be greater than or equal to port"))
    elif isinstance(port, str):
        if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", port) or len(port) > 15 or \
                not re.search(r"[a-z]", port):
            causes.append((f"{field}.port", f'Invalid value: "{port}": must be an IANA_SVC_NAME'))
        if end is not None:
            causes.append((f"{field}.endPort", "Invalid value: may not be specified when port is non-numeric"))
    elif port is None:
        if end is not None:
            causes.append((f"{field}.endPort", "Invalid value: may not be specified when port is not specified"))
    else:
        causes.append((f"{field}.port", "Invalid value: must be an integer or a port name"))


def validate_netpol_peer(peer, field, causes):
    """NetworkPolicyPeer: exactly ipBlock, or one or both selectors; cidr and except."""
    if not isinstance(peer, dict):
        causes.append((field, "Invalid value: must be an object"))
        return
    sels = [k for k in ("podSelector", "namespaceSelector") if peer.get(k) is not None]
    block = peer.get("ipBlock")
    if block is None and not sels:
        causes.append((field, "Required value: must specify a peer"))
        return
    if block is not None and sels:
        causes.append((field, "Forbidden: may not specify more than 1 peer type"))
        return
    for k in sels:
        validate_selector(peer[k], f"{field}.{k}", causes)
    if block is None:
        return
    try:
        net = ipaddress.ip_network(block.get("cidr"), strict=False)
    except (TypeError, ValueError):
        causes.append((f"{field}.ipBlock.cidr", f'Invalid value: "{block.get("cidr")}": must be a valid CIDR'))
        return
    for i, e in enumerate(block.get("except") or []):
        try:
            ex = ipaddress.ip_network(e, strict=False)
        except (TypeError, ValueError):
            causes.append((f"{field}.ipBlock.except[{i}]", f'Invalid value: "{e}": must be a valid CIDR'))
            continue
        if ex.version != net.version or not ex.subnet_of(net) or ex.prefixlen <= net.prefixlen:
            causes.append((f"{field}.ipBlock.except[{i}]", f'Invalid value: "{e}": must be a strict '
                                                            "subset of `cidr`"))


def validate_selector(sel, field, causes):
    """A LabelSelector: string label values, known operators (ValidateLabelSelector)."""
    if sel is None:
        return
    if not isinstance(sel, dict):
        causes.append((field, "Invalid value: must be an object"))
        return
    ml = sel.get("matchLabels") or {}
    if not isinstance(ml, dict) or not all(isinstance(v, str) for v in ml.values()):
        causes.append((f"{field}.matchLabels", "Invalid value: must be a map of strings"))
    for i, req in enumerate(sel.get("matchExpressions") or []):
        op = req.get("operator") if isinstance(req, dict) else None
        vals = req.get("values") or [] if isinstance(req, dict) else []
        f = f"{field}.matchExpressions[{i}]"
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            causes.append((f"{f}.operator", f'Invalid value: "{op}": not a valid selector operator'))
        elif not all(isinstance(v, str) for v in vals) or (op in ("In", "NotIn")) != bool(vals):
            causes.append((f"{f}.values", "Invalid value: values must be strings, non-empty "
                                          "exactly for In and NotIn"))


def validate_netpol(spec, causes):
    """ValidateNetworkPolicySpec, the parts a datapath depends on."""
    validate_selector(spec.get("podSelector"), "spec.podSelector", causes)
    for i, t in enumerate(spec.get("policyTypes") or []):
        if t not in ("Ingress", "Egress"):
            causes.append((f"spec.policyTypes[{i}]", f'Unsupported value: "{t}": supported values: '
                                                     '"Egress", "Ingress"'))
    for kind, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(kind) or []):
            if not isinstance(rule, dict):
                causes.append((f"spec.{kind}[{i}]", "Invalid value: must be an object"))
                continue
            for j, p in enumerate(rule.get("ports") or []):
                validate_netpol_port(p if isinstance(p, dict) else {"port": []},
                                     f"spec.{kind}[{i}].ports[{j}]", causes)
            for j, pe in enumerate(rule.get(peers) or []):
                validate_netpol_peer(pe, f"spec.{kind}[{i}].{peers}[{j}]", causes)


def validate(rt, obj):
    """Raises Invalid with every problem found (as the real server lists causes)."""
    causes = []
    validate_meta(rt, obj, causes)
    spec = obj.get("spec")
    if rt.kind == "Service":
        if not isinstance(spec, dict):
            causes.append(("spec", "Required value"))
        else:
            validate_ports(spec.get("ports"), "spec.ports", causes)
            if spec.get("type", "ClusterIP") not in ("ClusterIP", "NodePort", "LoadBalancer",
                                                     "ExternalName"):
                causes.append(("spec.type", f'Unsupported value: "{spec.get("type")}"'))
            if not spec.get("ports") and spec.get("type") != "ExternalName" and \
                    spec.get("clusterIP") != "None":
                causes.append(("spec.ports", "Required value"))
    elif rt.kind == "EndpointSlice":
        if obj.get("addressType") not in ("IPv4", "IPv6", "FQDN"):
            causes.append(("addressType", f'Unsupported value: "{obj.get("addressType")}": '
                                          'supported values: "FQDN", "IPv4", "IPv6"'))
        eps = obj.get("endpoints")
        if eps is not None and not isinstance(eps, list):
            causes.append(("endpoints", "Invalid value: must be a list"))
        for i, ep in enumerate(eps or []):
            addrs = ep.get("addresses") if isinstance(ep, dict) else None
            if not isinstance(addrs, list) or not 1 <= len(addrs) <= 100:
                causes.append((f"endpoints[{i}].addresses", "Required value: must contain at "
                                                           "least 1 address"))
        validate_ports(obj.get("ports"), "ports", causes, need_port=False)
    elif rt.kind == "NetworkPolicy":
        if not isinstance(spec, dict) or not isinstance(spec.get("podSelector", {}), dict):
            causes.append(("spec.podSelector", "Required value"))
        else:
            validate_netpol(spec, causes)
    elif rt.kind == "Pod":
        if spec is not None and not isinstance(spec, dict):
            causes.append(("spec", "Invalid value: must be an object"))
    if causes:
        raise Invalid(causes)


# --- defaulting (kubernetes pkg/apis/*/v1/defaults.go, the parts agents read) -------


class Allocator:
    """ClusterIPs and NodePorts, as the Service REST storage allocates them."""

    def __init__(self, cidr):
        self.net = ipaddress.ip_network(cidr)
        self.ips, self.node_ports = set(), set()
        self.next_ip, self.next_port = 10, 30000

    def take_ip(self, ip):
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise Invalid([("spec.clusterIP", f'Invalid value: "{ip}": must be a valid IP address')])
        if addr not in self.net:
            raise Invalid([("spec.clusterIPs", f'Invalid value: ["{ip}"]: failed to allocate IP '
                                               f"{ip}: the provided IP ({ip}) is not in the valid "
                                               f"range. The range of valid IPs is {self.net}")])
        if ip in self.ips:
            raise Invalid([("spec.clusterIPs", f'Invalid value: ["{ip}"]: failed to allocate IP '
                                               f"{ip}: provided IP is already allocated")])
        self.ips.add(ip)

    def new_ip(self):
        size = self.net.num_addresses - 2
        for _ in range(size):
            off = self.next_ip
            self.next_ip = self.next_ip % size + 1
            ip = str(self.net.network_address + off)
            if ip not in self.ips:
                self.ips.add(ip)
                return ip
        raise Invalid([("spec.clusterIPs", "Internal error: range is full")])

    def take_port(self, port):
        if port in self.node_ports:
            raise Invalid([("spec.ports.nodePort",
                            f"Invalid value: {port}: provided port is already allocated")])
        self.node_ports.add(port)

    def new_port(self):
        for _ in range(2768):
            p = self.next_port
            self.next_port = 30000 + (self.next_port - 30000 + 1) % 2768
            if p not in self.node_ports:
                self.node_ports.add(p)
                return p
        raise Invalid([("spec.ports.nodePort", "Internal error: range is full")])

    def release(self, obj):
        spec = obj.get("spec") or {}
        self.ips.discard(spec.get("clusterIP"))
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                self.node_ports.discard(p.get("nodePort"))


def default_service(spec, old, alloc):
    """Defaults + allocation; old is the stored Service on update (its IP and
    NodePorts are kept when the new spec omits them, as the real server does)."""
    ospec = (old or {}).get("spec") or {}
    spec.setdefault("type", "ClusterIP")
    stype = spec["type"]
    for p in spec.get("ports") or []:
        p.setdefault("protocol", "TCP")
        p.setdefault("targetPort", p.get("port"))
    spec.setdefault("sessionAffinity", "None")
    if stype == "ExternalName":
        return
    if old is not None:
        if not spec.get("clusterIP") and ospec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
        elif spec.get("clusterIP", ospec.get("clusterIP")) != ospec.get("clusterIP"):
            raise Invalid([("spec.clusterIPs[0]", "Invalid value: field is immutable")])
        oports = {p.get("port"): p.get("nodePort") for p in ospec.get("ports") or []
                  if isinstance(p, dict)}
        for p in spec.get("ports") or []:
            if stype in ("NodePort", "LoadBalancer") and not p.get("nodePort") and \
                    oports.get(p.get("port")):
                p["nodePort"] = oports[p["port"]]
    ip = spec.get("clusterIP")
    if not ip:  # new, or a type change from ExternalName: allocate, as the real server does
        spec["clusterIP"] = alloc.new_ip()
    elif ip != "None" and (old is None or ip != ospec.get("clusterIP")):
        alloc.take_ip(ip)
    spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
        oldnp = {p.get("nodePort") for p in ospec.get("ports") or [] if isinstance(p, dict)}
        taken = {}  # port -> nodePort: one port number under two protocols shares its nodePort
        for p in spec.get("ports") or []:
            if not p.get("nodePort") and taken.get(p.get("port")):
                p["nodePort"] = taken[p.get("port")]
            elif not p.get("nodePort"):
                p["nodePort"] = alloc.new_port()
            elif p["nodePort"] not in oldnp and p["nodePort"] not in taken.values():
                alloc.take_port(p["nodePort"])
            taken.setdefault(p.get("port"), p["nodePort"])
    else:
        for p in spec.get("ports") or []:
            p.pop("nodePort", None)


def default_object(rt, obj, old, alloc):
    """Fills what the real server's defaulting fills; may raise Invalid."""
    md = obj["metadata"]
    if rt.kind == "Namespace":
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif rt.kind == "Service":
        default_service(obj.setdefault("spec", {}), old, alloc)
        obj.setdefault("status", {}).setdefault("loadBalancer", {})
    elif rt.kind == "EndpointSlice":
        obj.setdefault("endpoints", None)
        obj.setdefault("ports", None)
        for ep in obj["endpoints"] or []:
            ep.setdefault("conditions", {})
        for p in obj["ports"] or []:
            p.setdefault("protocol", "TCP")
    elif rt.kind == "NetworkPolicy":
        spec = obj.setdefault("spec", {})
        spec.setdefault("podSelector", {})
        if not spec.get("policyTypes"):  # len == 0, as SetDefaults_NetworkPolicy tests
            spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
        for rule in (spec.get("ingress") or []) + (spec.get("egress") or []):
            for p in (rule.get("ports") or []) if isinstance(rule, dict) else []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
    elif rt.kind == "Pod":
        spec = obj.setdefault("spec", {})
        spec.setdefault("containers", None)
        for c in spec.get("containers") or []:
            for p in (c.get("ports") or []) if isinstance(c, dict) else []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
        obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif rt.kind == "Node":
        obj.setdefault("spec", {})
        obj.setdefault("status", {})


def field_value(rt, obj, field):
    """The value a field selector compares against (string form, as the
    apiserver's field sets hold them), or None if the field is unsupported."""
    if field not in rt.fields:
        return None
    cur = obj
    for part in field.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)
