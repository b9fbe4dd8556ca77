/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The kernel <-> user-space contract: map keys and values, pin names, metric
 * indexes and the ABI version. No other struct crosses the boundary. */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#ifndef __VMLINUX_H__ /* BPF programs get the types from vmlinux.h */
#include <linux/types.h>
#endif

/* Bumped on any incompatible change of a map layout below; the agent replaces
 * pins whose recorded version differs (sl_info). */
#define SL_ABI_VERSION 1

/* Pin names under the pin dir (<bpffs>/sluice by default); <= 15 chars. */
#define SL_PIN_FROM_POD "sl_from_pod" /* tc ingress of each host veth */
#define SL_PIN_EP4	"sl_ep4"
#define SL_PIN_METRICS	"sl_metrics"
#define SL_PIN_INFO	"sl_info"

/* Addresses every pod sees: its default gateway is answered by the datapath. */
#define SL_POD_GATEWAY4	    0xa9fe0101 /* 169.254.1.1, host byte order */
#define SL_POD_GATEWAY4_STR "169.254.1.1"

#define SL_EP_MAX 4096 /* endpoints (pods) on one node */

/* sl_ep4: local pod IPv4 -> endpoint. Written by the CNI plugin on ADD. */
struct sl_ep_key {
	__be32 ip;
};

struct sl_ep_val {
	__u32 ifindex;	  /* host-side veth, in the node's namespace */
	__u32 ep_id;	  /* endpoint id (the host veth ifindex for now) */
	__u32 identity;	  /* policy identity; 0 until policies exist */
	__u32 flags;	  /* SL_EP_F_* */
	__u8 pod_mac[6];  /* MAC of the pod's interface */
	__u8 host_mac[6]; /* MAC of the host-side veth */
	__u32 pad;
};

#define SL_EP_F_NONE 0

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

/* X(name, value, description). Drops: 1..31. */
#define SL_DROP_REASONS(X)                                                                         \
	X(SL_DROP_SHORT, 1, "packet too short or malformed")                                       \
	X(SL_DROP_SPOOF_IP, 2, "source IP is not the endpoint's")                                  \
	X(SL_DROP_SPOOF_MAC, 3, "source MAC is not the endpoint's")                                \
	X(SL_DROP_SPOOF_ARP, 4, "ARP sender is not the endpoint")                                  \
	X(SL_DROP_L3_PROTO, 5, "unsupported L3 protocol")                                          \
	X(SL_DROP_TTL, 6, "TTL exceeded")                                                          \
	X(SL_DROP_REDIRECT, 7, "redirect failed")

/* Forwarding paths: 32..63. */
#define SL_PATHS(X)                                                                                \
	X(SL_PATH_LOCAL, 32, "delivered to a local pod (redirect)")                                \
	X(SL_PATH_STACK, 33, "passed to the node's stack")                                         \
	X(SL_PATH_FIB, 34, "forwarded by FIB lookup + neighbour")                                  \
	X(SL_PATH_ARP_REPLY, 35, "ARP for the gateway answered")                                   \
	X(SL_PATH_ARP_PASS, 36, "other ARP passed to the stack")

#define SL_ENUM_ENTRY(name, value, desc) name = value,
enum sl_metric_index { SL_DROP_REASONS(SL_ENUM_ENTRY) SL_PATHS(SL_ENUM_ENTRY) };
#undef SL_ENUM_ENTRY

#define SL_METRICS_MAX 64

_Static_assert(sizeof(struct sl_ep_key) == 4, "sl_ep_key layout");
_Static_assert(sizeof(struct sl_ep_val) == 32, "sl_ep_val layout");
_Static_assert(sizeof(struct sl_info_val) == 16, "sl_info_val layout");
_Static_assert(sizeof(struct sl_metric_val) == 16, "sl_metric_val layout");

#endif
