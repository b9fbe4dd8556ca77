/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The kernel <-> user-space contract: map keys and values, pin names, metric
 * indexes and the ABI version. No other struct crosses the boundary. */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

/* Bumped on any incompatible change of a map layout below; the agent replaces
 * pins whose recorded version differs (sl_info). */
#define SL_ABI_VERSION 3

/* The pin dir every pin name below lives in, unless configured otherwise. */
#define SL_DEFAULT_PIN_DIR "/sys/fs/bpf/sluice"

/* Pin names under the pin dir; <= 15 chars. */
#define SL_PIN_FROM_POD "sl_from_pod" /* tc ingress of each host veth */
#define SL_PIN_EP4	"sl_ep4"
#define SL_PIN_METRICS	"sl_metrics"
#define SL_PIN_INFO	"sl_info"
#define SL_PIN_TO_POD	"sl_to_pod" /* tc egress of each host veth */
#define SL_PIN_SVC4	"sl_svc4"
#define SL_PIN_BE4	"sl_be4"
#define SL_PIN_CT4	"sl_ct4"
#define SL_PIN_AFF4	"sl_aff4"
#define SL_PIN_IPCACHE4 "sl_ipcache4"
#define SL_PIN_POL	"sl_pol"
#define SL_PIN_POLCIDR4 "sl_polcidr4"
#define SL_PIN_POLCFG	"sl_polcfg"
#define SL_PIN_POLDROP	"sl_poldrop"
#define SL_PIN_EVENTS	"sl_events" /* ring buffer of datapath events (monitor) */
#define SL_PIN_EVCFG	"sl_evcfg"  /* whether anyone listens to sl_events */
/* Links of the socket-level load balancer (sock.bpf.c) to its cgroup. */
#define SL_PIN_LNK_CONN4 "sl_lnk_conn4"
#define SL_PIN_LNK_SEND4 "sl_lnk_send4"
#define SL_PIN_LNK_RECV4 "sl_lnk_recv4"
#define SL_PIN_LNK_PEER4 "sl_lnk_peer4"
#define SL_PIN_SVCSTAT	 "sl_svcstat" /* per service port counters, by the programs */
#define SL_PIN_CNISTAT	 "sl_cnistat" /* CNI ADD/DEL counts and latency, by the CNI plugin */
/* North-south (node.bpf.c): the uplink program, its SNAT table, LB source ranges. */
#define SL_PIN_FROM_NET "sl_from_net" /* tc ingress of each uplink */
#define SL_PIN_NAT4	"sl_nat4"
#define SL_PIN_LBSRC4	"sl_lbsrc4"
/* HostPort (CNI portMappings): written by the CNI plugin, read by every program. */
#define SL_PIN_HPORT4 "sl_hport4"
#define SL_PIN_HPGATE "sl_hpgate"
/* Pins of maps older versions made and this one no longer has: removed at
 * load. sl_revnat4 (svc_id -> VIP:port) went when conntrack entries began to
 * carry the reply's source. */
#define SL_PINS_RETIRED                                                                            \
	{                                                                                          \
		"sl_revnat4"                                                                       \
	}

/* Addresses every pod sees: its default gateway is answered by the datapath. */
#define SL_POD_GATEWAY4	    0xa9fe0101 /* 169.254.1.1, host byte order */
#define SL_POD_GATEWAY4_STR "169.254.1.1"

/* Source a pod sees when it reaches itself through a Service (hairpin). */
#define SL_SVC_LOOPBACK4     0xa9fe2a01 /* 169.254.42.1, host byte order */
#define SL_SVC_LOOPBACK4_STR "169.254.42.1"

#define SL_EP_MAX 4096 /* endpoints (pods) on one node */
#define SL_SVC_MAX                                                                                 \
	524288 /* sl_svc4 entries: masters + slots + VIP markers (100k Services with two backends  \
		  need 400k) */
#define SL_BE_MAX	262144 /* backends (100k Services with two each, make bench) */
#define SL_SVC_IDS_MAX	131072 /* service ports (svc_ids) */
#define SL_CT_MAX	262144 /* conntrack entries (LRU) */
#define SL_AFF_MAX	65536  /* affinity entries (LRU) */
#define SL_MAX_BACKENDS 65535  /* slots per service port */
#define SL_IPCACHE_MAX	262144 /* sl_ipcache4: pod IPs cluster-wide + node IPs */
#define SL_POL_MAX	262144 /* sl_pol: allow entries of this node's endpoints */
#define SL_POLCIDR_MAX	65536  /* sl_polcidr4: ipBlock prefixes of this node's endpoints */
#define SL_NAT_MAX	131072 /* sl_nat4: SNAT entries, two per flow (LRU) */
#define SL_LBSRC_MAX	16384  /* sl_lbsrc4: loadBalancerSourceRanges prefixes */
#define SL_HPORT_MAX	4096   /* sl_hport4: hostPort mappings on one node */

/* sl_ep4: local pod IPv4 -> endpoint. Written by the CNI plugin on ADD. */
struct sl_ep_key {
	__be32 ip;
};

struct sl_ep_val {
	__u32 ifindex;	  /* host-side veth, in the node's namespace */
	__u32 ep_id;	  /* endpoint id (the host veth ifindex for now) */
	__u32 identity;	  /* policy identity; SL_ID_PENDING until the agent set it */
	__u32 flags;	  /* SL_EP_F_* */
	__u8 pod_mac[6];  /* MAC of the pod's interface */
	__u8 host_mac[6]; /* MAC of the host-side veth */
	__u32 pad;
};

#define SL_EP_F_NONE	0
#define SL_EP_F_ISO_IN	0x1 /* a NetworkPolicy isolates it for ingress */
#define SL_EP_F_ISO_OUT 0x2 /* ... for egress */

/* Policy identities. An endpoint whose sl_ep4 identity is still
 * SL_ID_PENDING (the CNI plugin writes 0) has no computed policy yet: while
 * any NetworkPolicy exists (sl_polcfg SL_POLCFG_F_ACTIVE) it is denied both
 * ways except to and from this node. */
#define SL_ID_PENDING	0
#define SL_ID_HOST	1	   /* this node's own addresses (sl_ipcache4) */
#define SL_ID_WORLD	2	   /* an address sl_ipcache4 does not hold */
#define SL_ID_ANY	3	   /* sl_pol wildcard peer: every source or destination */
#define SL_ID_FIRST	256	   /* identities of (namespace, label set) from here */
#define SL_ID_CIDR_BASE 0x80000000 /* ipBlock sets (sl_polcidr4), per endpoint and direction */

/* sl_ipcache4 (LPM): every pod IP of the cluster as /32 -> its identity;
 * this node's addresses -> SL_ID_HOST. A miss is SL_ID_WORLD. */
struct sl_ipcache_key {
	__u32 prefixlen;
	__be32 ip;
};

struct sl_ipcache_val {
	__u32 identity;
	__u32 pad;
};

#define SL_POL_DIR_IN  0 /* the endpoint receives; the peer is the source */
#define SL_POL_DIR_OUT 1 /* the endpoint sends; the peer is the destination */

/* sl_polcidr4 (LPM): the ipBlocks of one endpoint and direction, each
 * boundary prefix (cidrs and excepts of every ipBlock peer) carrying the id
 * of the set of rules whose cidr-minus-except holds it, so that the longest
 * match answers for every address. prefixlen = 64 + the IP prefix. */
struct sl_polcidr_key {
	__u32 prefixlen;
	__u32 ep_id;
	__u8 dir; /* SL_POL_DIR_* */
	__u8 pad[3];
	__be32 ip;
};

struct sl_polcidr_val {
	__u32 set_id; /* >= SL_ID_CIDR_BASE: the peer in sl_pol */
	__u32 pad;
};

/* sl_pol: one allow per {endpoint, direction, peer, protocol, port}; port 0
 * is every port of the protocol. Peers: an identity, SL_ID_ANY, or an
 * ipBlock set id. Absent means denied when the endpoint is isolated. */
struct sl_pol_key {
	__u32 ep_id;
	__u32 peer;
	__be16 dport;
	__u8 proto;
	__u8 dir; /* SL_POL_DIR_* */
};

struct sl_pol_val {
	__u32 flags; /* none yet */
};

/* sl_polcfg: array of one, written by the agent. gen changes with every
 * policy publish: conntrack verdicts of an older gen are judged again. */
struct sl_polcfg_val {
	__u32 flags; /* SL_POLCFG_F_* */
	__u32 gen;
};

#define SL_POLCFG_F_ACTIVE 0x1 /* some NetworkPolicy exists: pending endpoints are denied */

/* sl_poldrop (per-CPU hash): policy drops per endpoint, by the programs. */
struct sl_poldrop_key {
	__u32 ep_id;
};

struct sl_poldrop_val {
	__u64 ingress; /* packets to the endpoint denied (incl. pending) */
	__u64 egress;  /* packets from the endpoint denied (incl. pending) */
};

/* sl_svc4: the service table. One "master" entry per service port at
 * slot 0 ({vip, port, proto, 0}), its backends at slots 1..count, and one
 * "VIP marker" per ClusterIP ({vip, 0, 0, 0}, flags SL_SVC_F_VIP) so traffic to
 * a port the Service does not have is rejected rather than leaked. The agent
 * publishes a service port as: backends, slots, master (new count),
 * then deletes stale slots: a packet never sees a count past written slots. */
struct sl_svc_key {
	__be32 vip;
	__be16 port; /* 0 in a VIP marker */
	__u8 proto;  /* IPPROTO_TCP/UDP/SCTP; 0 in a VIP marker */
	__u8 scope;  /* SL_SVC_SCOPE_*; was padding, 0 = every entry before it */
	__u16 slot;  /* 0: master; 1..count: backend slots */
	__u16 pad2;
};

struct sl_svc_val {
	__u32 id;		/* master: svc_id; slot: backend_id */
	__u16 count;		/* master: usable backends (slots 1..count) */
	__u16 flags;		/* master: SL_SVC_F_* */
	__u32 affinity_timeout; /* master: seconds, with SL_SVC_F_AFFINITY */
	__be32 snat_ip;		/* master, scope EXT: the node address remote backends
				 * see as the source (externalTrafficPolicy Cluster);
				 * was padding */
};

#define SL_SVC_F_AFFINITY   0x1	 /* sessionAffinity: ClientIP */
#define SL_SVC_F_DROP_EMPTY 0x2	 /* count 0 means drop (Local policy), not reject */
#define SL_SVC_F_VIP	    0x4	 /* a VIP marker entry */
#define SL_SVC_F_NODEIP	    0x8	 /* marker of a node address: its other ports pass */
#define SL_SVC_F_SRC_RANGES 0x10 /* master: only sources in sl_lbsrc4 (LB IPs) */

/* External frontends (NodePort on node addresses, externalIPs, LB ingress
 * IPs) live in sl_svc4 too, as service ports of their own (own svc_id), in
 * two scopes of the same key:
 *  SL_SVC_SCOPE_INT: what pods (pod.bpf.c) and the node's own sockets
 *    (sock.bpf.c) see: Cluster endpoints always (kube-proxy's short-circuit
 *    for Local), found by the lookups those paths already make;
 *  SL_SVC_SCOPE_EXT: what arrives from outside on an uplink (node.bpf.c):
 *    the endpoints externalTrafficPolicy allows.
 * Why not a map of their own: the publisher's ordered writes, id reuse at
 * restart, backend sharing and lb4_backend_choose all work per sl_svc4 key;
 * a scope byte in the padding reuses all of it, and ClusterIP entries
 * (scope 0) are unchanged. Node-address markers (SL_SVC_F_NODEIP, scope
 * INT) let pods' NodePort traffic be found while their other traffic to the
 * node passes; external-IP markers (SL_SVC_F_VIP, both scopes) reject ports
 * the Services do not have. */
#define SL_SVC_SCOPE_INT 0
#define SL_SVC_SCOPE_EXT 1

/* sl_be4: backend_id -> backend. */
struct sl_be_key {
	__u32 id;
};

struct sl_be_val {
	__be32 ip;
	__be16 port;
	__u8 proto;
	__u8 flags; /* SL_BE_F_* */
};

#define SL_BE_F_LOCAL	    0x1 /* on this node */
#define SL_BE_F_TERMINATING 0x2

/* sl_ct4 (LRU): two entries per tracked flow, each keyed by the tuple its
 * packets carry on the wire, so that every packet finds its flow with one
 * lookup of its own tuple. A Service flow: the client's tuple to the VIP
 * (forward) and the backend's reply tuple (backend -> client, or -> the
 * hairpin loopback address; SL_CT_F_REPLY). A flow judged by NetworkPolicy
 * that is no Service flow: its tuple as opened (client -> server, with
 * SL_CT_F_POLICY) and the swapped one (SL_CT_F_POLICY | SL_CT_F_REPLY). */
struct sl_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad; /* was the direction (ABI 2) */
	__u16 pad2;
};

struct sl_ct_val {
	__u64 last_seen_ns; /* bpf_ktime_get_coarse_ns() */
	__u32 backend_id;   /* Service flows: the backend chosen */
	__u32 svc_id;
	__be32 client_ip; /* the client's real address (differs from the
			   * wire source after a hairpin rewrite) */
	__be32 nat_ip;	  /* Service flows: forward entry the backend's address
			   * (DNAT), reply entry the VIP (reverse NAT) */
	__be16 nat_port;  /* ... and the port, the same way */
	__u8 tcp_flags;	  /* TCP flags seen, OR-ed */
	__u8 flags;	  /* SL_CT_F_* */
	__u32 pol_gen;	  /* the sl_polcfg gen under which the flow was last
			   * allowed; another gen means "judge it again" */
};

#define SL_CT_F_HAIRPIN 0x1
#define SL_CT_F_POLICY	0x2 /* tracked for NetworkPolicy only: nothing to rewrite */
#define SL_CT_F_REPLY	0x4 /* keyed by the reply direction of the flow */

/* A hostPort flow (sl_hport4): svc_id and backend_id 0, nat_ip the pod's. */
#define SL_CT_F_HOSTPORT 0x8

/* A north-south flow in Direct Server Return mode (--nodeport-mode=dsr): on
 * the entry node its forward entry (the backend's node answers the client
 * itself); on the backend's node the pair the option wrote (svc_id 0: the
 * frontend is another node's), whose reply entry gives the frontend back. */
#define SL_CT_F_DSR 0x10

/* sl_aff4 (LRU): {client ip, svc_id} -> backend, for sessionAffinity. */
struct sl_aff_key {
	__be32 client;
	__u32 svc_id;
};

struct sl_aff_val {
	__u64 last_used_ns;
	__u32 backend_id;
	__u32 pad;
};

/* sl_nat4 (LRU): SNAT of north-south flows to a backend on another node
 * (externalTrafficPolicy Cluster). Two entries per flow:
 *  SL_NAT_DIR_FWD keyed by the client's tuple to the frontend,
 *  SL_NAT_DIR_REV keyed by the backend's reply to {SNAT address, SNAT port};
 * each value is the tuple the packet leaves with. Written by node.bpf.c;
 * entries idle longer than the protocol's timeout are taken over. */
struct sl_nat_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir; /* SL_NAT_DIR_* */
	__u16 pad;
};

struct sl_nat_val {
	__u64 last_seen_ns; /* bpf_ktime_get_ns() */
	__be32 saddr;	    /* the rewritten tuple */
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 backend_id; /* FWD: the backend, checked against sl_be4 */
	__u8 tcp_flags; /* TCP FIN or RST seen either way (OR-ed), SL_NAT_F_*; the idle timeout's */
	__u8 pad[3];
	__u32 svc_id; /* FWD: the frontend's service port (sl_svcstat); was padding */
};

#define SL_NAT_DIR_FWD 0
#define SL_NAT_DIR_REV 1
/* sl_nat_val.tcp_flags beyond TCP's FIN (0x01) and RST (0x04), as conntrack
 * tells flows apart for their timeouts: the backend has answered (a packet
 * of the REV entry), and a flow answered and still going a second later. */
#define SL_NAT_F_REPLIED 0x40
#define SL_NAT_F_STREAM	 0x80

/* The IPv4 option a DSR entry node puts right after the base header of a
 * packet it forwards to a remote backend, keeping the client's source: the
 * frontend (node address and NodePort, external or LB IP and port) the
 * backend's replies must come from. Cilium's layout and type: copied to
 * every fragment, class 0, number 26 (unassigned by IANA). Carried by a TCP
 * SYN and by every UDP and SCTP packet. */
#define SL_DSR_OPT_TYPE 0x9a

struct sl_dsr_opt4 {
	__u8 type; /* SL_DSR_OPT_TYPE */
	__u8 len;  /* sizeof(struct sl_dsr_opt4) */
	__be16 port;
	__be32 addr;
};

/* sl_lbsrc4 (LPM): loadBalancerSourceRanges of one LB frontend (svc_id of
 * its SL_SVC_SCOPE_EXT master, flag SL_SVC_F_SRC_RANGES); prefixlen = 32 +
 * the source prefix. Written by the agent. */
struct sl_lbsrc_key {
	__u32 prefixlen;
	__u32 svc_id;
	__be32 ip;
};

struct sl_lbsrc_val {
	__u32 pad;
};

/* sl_hport4: pods' hostPorts (CNI portMappings), written by the CNI plugin on
 * ADD, removed on DEL. Keyed by {hostIP, hostPort, protocol}; ip 0 is a
 * mapping without hostIP (or 0.0.0.0): every address of the node, as the
 * portmap plugin's "dst-type LOCAL". The plugin refuses overlaps (same port
 * and protocol, same hostIP or either one 0), so a packet matches at most
 * one pod: its own address's entry, else the port's every-address one. A
 * hostPort flow is DNATed only (the client's address kept) and tracked in
 * sl_ct4 like a Service flow (SL_CT_F_HOSTPORT). */
struct sl_hport_key {
	__be32 ip; /* the hostIP, 0 for every node address */
	__be16 port;
	__u8 proto; /* IPPROTO_TCP/UDP/SCTP */
	__u8 pad;
};

struct sl_hport_val {
	__be32 pod_ip;
	__be16 pod_port; /* the containerPort */
	__u16 pad;
};

/* sl_hpgate (array): which ports have a hostPort, so that traffic to other
 * ports pays one array read, not a hash lookup. One bit per port, 64 ports
 * per entry, SL_HPGATE_PER_PROTO entries per protocol (TCP, UDP, SCTP). The
 * CNI plugin sets a port's bit while sl_hport4 holds an entry for it. */
#define SL_HPGATE_PER_PROTO 1024
#define SL_HPGATE_MAX	    (3 * SL_HPGATE_PER_PROTO)

/* sl_info: array of one entry describing the pinned layout. */
struct sl_info_val {
	__u32 abi_version;
	__u32 pad;
	__u64 loaded_ns; /* CLOCK_REALTIME of the agent load that created the maps */
};

/* sl_metrics: per-CPU array indexed by the values below; drop reasons are the
 * negated SL_DROP_* codes the datapath returns internally. */
struct sl_metric_val {
	__u64 packets;
	__u64 bytes;
};

/* X(name, value, description). Drops: 1..31. New reasons are appended, never
 * renumbered: a pinned sl_metrics keeps its meaning across agent versions. */
#define SL_DROP_REASONS(X)                                                                         \
	X(SL_DROP_SHORT, 1, "packet too short or malformed")                                       \
	X(SL_DROP_SPOOF_IP, 2, "source IP is not the endpoint's")                                  \
	X(SL_DROP_SPOOF_MAC, 3, "source MAC is not the endpoint's")                                \
	X(SL_DROP_SPOOF_ARP, 4, "ARP sender is not the endpoint")                                  \
	X(SL_DROP_L3_PROTO, 5, "unsupported L3 protocol")                                          \
	X(SL_DROP_TTL, 6, "TTL exceeded")                                                          \
	X(SL_DROP_REDIRECT, 7, "redirect failed")                                                  \
	X(SL_DROP_NO_LOCAL_BACKEND, 8, "Local traffic policy and no local backend")                \
	X(SL_DROP_BACKEND_MISSING, 9, "service slot points to no backend")                         \
	X(SL_DROP_NAT, 10, "NAT rewrite failed")                                                   \
	X(SL_DROP_CT_FULL, 11, "conntrack entry could not be created (map full)")                  \
	X(SL_DROP_REJECT, 12, "ICMP unreachable or TCP reset could not be built")                  \
	X(SL_DROP_POLICY_INGRESS, 13, "denied by the destination's ingress NetworkPolicy")         \
	X(SL_DROP_POLICY_EGRESS, 14, "denied by the source's egress NetworkPolicy")                \
	X(SL_DROP_POLICY_PENDING, 15,                                                              \
	  "endpoint's policy not computed yet (NetworkPolicies exist)")                            \
	X(SL_DROP_LB_SOURCE, 16, "source not in the Service's loadBalancerSourceRanges")           \
	X(SL_DROP_SNAT_PORT, 17, "no free SNAT port toward the backend")                           \
	X(SL_DROP_NAT_FULL, 18, "SNAT entry could not be created (map full)")                      \
	X(SL_DROP_DSR_OPT, 19, "malformed DSR option (frontend address) on a packet to a pod")     \
	X(SL_DROP_DSR_TOO_BIG, 20,                                                                 \
	  "DSR: no room for the frontend option within the MTU (ICMP sent)")

/* Forwarding paths: 32..63. */
#define SL_PATHS(X)                                                                                \
	X(SL_PATH_LOCAL, 32, "delivered to a local pod (redirect)")                                \
	X(SL_PATH_STACK, 33, "passed to the node's stack")                                         \
	X(SL_PATH_FIB, 34, "forwarded by FIB lookup + neighbour")                                  \
	X(SL_PATH_ARP_REPLY, 35, "ARP for the gateway answered")                                   \
	X(SL_PATH_ARP_PASS, 36, "other ARP passed to the stack")                                   \
	X(SL_PATH_SVC_NEW, 37, "service: new flow load-balanced")                                  \
	X(SL_PATH_SVC_CT, 38, "service: established flow (conntrack hit)")                         \
	X(SL_PATH_SVC_REJECT, 39, "service: rejected with ICMP unreachable")                       \
	X(SL_PATH_REVNAT, 40, "service reply reverse-NATed")                                       \
	X(SL_PATH_NS_LOCAL, 41, "north-south: new flow DNATed to a local backend")                 \
	X(SL_PATH_NS_SNAT, 42, "north-south: new flow DNATed + SNATed to a remote backend")        \
	X(SL_PATH_NS_CT, 43, "north-south: established flow to a local backend")                   \
	X(SL_PATH_NS_NAT, 44, "north-south: established SNAT flow")                                \
	X(SL_PATH_NS_REVSNAT, 45, "north-south: reply of a SNAT flow translated back")             \
	X(SL_PATH_ICMP_REVNAT, 47, "ICMP error about a service flow reverse-NATed")                \
	X(SL_PATH_HOSTPORT, 51, "hostPort: new flow DNATed to its pod")                            \
	X(SL_PATH_HOSTPORT_CT, 52, "hostPort: established flow from outside DNATed to its pod")    \
	X(SL_PATH_NS_ICMP, 53, "north-south: ICMP error about a SNAT flow translated back")        \
	X(SL_PATH_NS_DSR, 54,                                                                      \
	  "north-south: new flow DNATed to a remote backend, DSR option added")                    \
	X(SL_PATH_NS_DSR_CT, 55, "north-south: established DSR flow forwarded to its backend")     \
	X(SL_PATH_DSR_IN, 56, "DSR flow into a pod recorded: its replies leave from the frontend") \
	X(SL_PATH_ICMP_TO_BE, 58, "ICMP error about a service reply translated for its backend")   \
	X(SL_PATH_PMTU, 59, "too big for the local pod: fragmentation needed sent back")

#define SL_ENUM_ENTRY(name, value, desc) name = value,
enum sl_metric_index { SL_DROP_REASONS(SL_ENUM_ENTRY) SL_PATHS(SL_ENUM_ENTRY) };
#undef SL_ENUM_ENTRY

#define SL_METRICS_MAX 64

/* sl_svcstat: per-CPU array indexed by svc_id: what this node's pods sent to
 * each service port, and what clients outside sent to this node's external
 * frontends (their SL_SVC_SCOPE_EXT svc_id), client -> backend direction,
 * counted once DNAT is done.
 * The agent zeroes an id's entry when it gives the id to a service port. Its
 * size is set at load from the number of CPUs (at most SL_SVC_IDS_MAX); ids
 * beyond it are not counted. */
struct sl_svcstat_val {
	__u64 flows;   /* new flows load-balanced */
	__u64 packets; /* packets, new and established flows */
	__u64 bytes;
};

/* sl_cnistat: array (BPF_F_MMAPABLE) indexed by SL_CNI_OP_*: the CNI plugin
 * maps it and adds with atomic instructions; the agent reads it. Latency
 * buckets are not cumulative: le[i] counts calls that took at most
 * SL_CNI_BUCKETS_US[i] and more than the bound before. */
#define SL_CNI_OP_ADD  0
#define SL_CNI_OP_DEL  1
#define SL_CNI_OP_MAX  2
#define SL_CNI_BUCKETS 11
#define SL_CNI_BUCKETS_US                                                                          \
	{                                                                                          \
		5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,      \
		    10000000                                                                       \
	}

struct sl_cnistat_val {
	__u64 calls;
	__u64 errors; /* calls that answered with a CNI error */
	__u64 sum_us; /* latency, from the plugin's start to its answer */
	__u64 le[SL_CNI_BUCKETS];
};

/* sl_events (ring buffer): what `sluice-agent monitor` shows. Written only
 * while sl_evcfg says a listener is there: an event point pays one array
 * lookup when nobody listens, and established packets pay nothing. */
#define SL_EVENTS_SIZE (256 * 1024) /* bytes of the ring */

#define SL_EV_DROP    1 /* a packet dropped: code is the SL_DROP_* reason */
#define SL_EV_FLOW    2 /* a new service flow: svc_id, backend_id, be_ip:be_port */
#define SL_EV_POLICY  3 /* a new flow allowed by NetworkPolicy (denials are drops) */
#define SL_EV_F(type) (1u << (type))

struct sl_event {
	__u64 ts_ns;	     /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u8 type;	     /* SL_EV_* */
	__u8 proto;	     /* 0 when the packet was no TCP/UDP/SCTP over IPv4 */
	__u16 code;	     /* SL_EV_DROP: SL_DROP_*; SL_EV_FLOW: SL_PATH_SVC_NEW */
	__u32 ifindex;	     /* the interface the packet came from, 0 unknown */
	__be32 saddr, daddr; /* as the packet was when it was dropped or seen */
	__be16 sport, dport;
	__u32 svc_id;	  /* SL_EV_FLOW */
	__u32 backend_id; /* SL_EV_FLOW */
	__be32 be_ip;	  /* SL_EV_FLOW */
	__be16 be_port;
	__be16 eth_proto; /* the frame's EtherType (drops of non-IPv4 frames) */
	__u32 pad;
};

/* sl_evcfg: array of one, written by the monitor. Events of the types in
 * types are written while bpf_ktime_get_ns() < until_ns: a listener renews
 * its lease every second, so one killed with SIGKILL stops them within the
 * lease; it clears both when it exits. lost counts ring-full failures. */
struct sl_evcfg_val {
	__u64 until_ns;
	__u32 types; /* SL_EV_F(SL_EV_*) */
	__u32 lost;
};

_Static_assert(sizeof(struct sl_event) == 48, "sl_event layout");
_Static_assert(sizeof(struct sl_evcfg_val) == 16, "sl_evcfg_val layout");
_Static_assert(sizeof(struct sl_ep_key) == 4, "sl_ep_key layout");
_Static_assert(sizeof(struct sl_ep_val) == 32, "sl_ep_val layout");
_Static_assert(sizeof(struct sl_info_val) == 16, "sl_info_val layout");
_Static_assert(sizeof(struct sl_svc_key) == 12, "sl_svc_key layout");
_Static_assert(sizeof(struct sl_svc_val) == 16, "sl_svc_val layout");
_Static_assert(sizeof(struct sl_be_key) == 4, "sl_be_key layout");
_Static_assert(sizeof(struct sl_be_val) == 8, "sl_be_val layout");
_Static_assert(sizeof(struct sl_ct_key) == 16, "sl_ct_key layout");
_Static_assert(sizeof(struct sl_ct_val) == 32, "sl_ct_val layout");
_Static_assert(sizeof(struct sl_aff_key) == 8, "sl_aff_key layout");
_Static_assert(sizeof(struct sl_aff_val) == 16, "sl_aff_val layout");
_Static_assert(sizeof(struct sl_metric_val) == 16, "sl_metric_val layout");
_Static_assert(sizeof(struct sl_ipcache_key) == 8, "sl_ipcache_key layout");
_Static_assert(sizeof(struct sl_ipcache_val) == 8, "sl_ipcache_val layout");
_Static_assert(sizeof(struct sl_polcidr_key) == 16, "sl_polcidr_key layout");
_Static_assert(sizeof(struct sl_polcidr_val) == 8, "sl_polcidr_val layout");
_Static_assert(sizeof(struct sl_pol_key) == 12, "sl_pol_key layout");
_Static_assert(sizeof(struct sl_pol_val) == 4, "sl_pol_val layout");
_Static_assert(sizeof(struct sl_polcfg_val) == 8, "sl_polcfg_val layout");
_Static_assert(sizeof(struct sl_poldrop_key) == 4, "sl_poldrop_key layout");
_Static_assert(sizeof(struct sl_poldrop_val) == 16, "sl_poldrop_val layout");
_Static_assert(sizeof(struct sl_svcstat_val) == 24, "sl_svcstat_val layout");
_Static_assert(sizeof(struct sl_cnistat_val) == 112, "sl_cnistat_val layout");
_Static_assert(sizeof(struct sl_nat_key) == 16, "sl_nat_key layout");
_Static_assert(sizeof(struct sl_nat_val) == 32, "sl_nat_val layout");
_Static_assert(sizeof(struct sl_dsr_opt4) == 8, "sl_dsr_opt4 layout");
_Static_assert(sizeof(struct sl_lbsrc_key) == 12, "sl_lbsrc_key layout");
_Static_assert(sizeof(struct sl_lbsrc_val) == 4, "sl_lbsrc_val layout");
_Static_assert(sizeof(struct sl_hport_key) == 8, "sl_hport_key layout");
_Static_assert(sizeof(struct sl_hport_val) == 8, "sl_hport_val layout");

/* Anti-spoofing by the ingress veth (issue 14): slot i of sl_epsrc4 names the
 * local pod behind host veth ifindex i: one of its addresses and its MAC,
 * nothing policy reads (that stays in sl_ep4 alone). Written with sl_ep4 by
 * the one writer (bpf/user/ep_maps.c); a veth whose ifindex is beyond the
 * array, an empty slot, or another of the pod's addresses: sl_ep4 decides.
 * ifindex is 0 while the slot is empty or being written: only a slot whose
 * ifindex is the packet's ingress ifindex counts. 65536 slots (1 MiB): the
 * node's ifindexes grow by about one per pod ever created since boot. */
#define SL_PIN_EPSRC4 "sl_epsrc4"
#define SL_EPSRC_MAX  65536

struct sl_epsrc_val {
	__u32 ifindex; /* == the key when valid; 0: empty */
	__be32 ip;
	__u8 pod_mac[6];
	__u8 pad[2];
};

_Static_assert(sizeof(struct sl_epsrc_val) == 16, "sl_epsrc_val layout");

#endif
