/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every BPF map of the datapath, pinned by name under the agent's pin dir.
 * A map declared in an object is created when it loads: the socket programs'
 * own map sl_sock4 is declared only where SL_MAPS_SOCK is defined before this
 * header (sock.bpf.c), so loading the pod programs does not create it. */
#ifndef SL_LIB_MAPS_H
#define SL_LIB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice/abi.h"

/* Local pods by IPv4 address; written by the CNI plugin. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_EP_MAX);
	__type(key, struct sl_ep_key);
	__type(value, struct sl_ep_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_ep4 SEC(".maps");

/* Local pods by host veth ifindex, for the anti-spoofing check alone; written with sl_ep4. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_EPSRC_MAX);
	__type(key, __u32);
	__type(value, struct sl_epsrc_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_epsrc4 SEC(".maps");

/* Packets and bytes per drop reason (-SL_DROP_*) and per path (SL_PATH_*). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_METRICS_MAX);
	__type(key, __u32);
	__type(value, struct sl_metric_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_metrics SEC(".maps");

/* Services: masters, backend slots and VIP markers; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_SVC_MAX);
	__type(key, struct sl_svc_key);
	__type(value, struct sl_svc_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_svc4 SEC(".maps");

/* Backends by id; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_BE_MAX);
	__type(key, struct sl_be_key);
	__type(value, struct sl_be_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_be4 SEC(".maps");

/* Conntrack of load-balanced flows, both directions; written by programs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_CT_MAX);
	__type(key, struct sl_ct_key);
	__type(value, struct sl_ct_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_ct4 SEC(".maps");

/* The cached clock (lib/clock.h): written by the programs' timer only, never
 * by user space. */
struct sl_clock_val {
	struct bpf_timer timer;
	__u64 now_ns; /* CLOCK_MONOTONIC at the last tick; 0 before the first stamp */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_clock_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_clock SEC(".maps");

/* sessionAffinity: ClientIP choices; written by programs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_AFF_MAX);
	__type(key, struct sl_aff_key);
	__type(value, struct sl_aff_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_aff4 SEC(".maps");

/* IP -> policy identity: pods of every node, this node's addresses. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_IPCACHE_MAX);
	__type(key, struct sl_ipcache_key);
	__type(value, struct sl_ipcache_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_ipcache4 SEC(".maps");

/* NetworkPolicy allows of this node's endpoints; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_POL_MAX);
	__type(key, struct sl_pol_key);
	__type(value, struct sl_pol_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_pol SEC(".maps");

/* ipBlock prefixes per endpoint and direction; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_POLCIDR_MAX);
	__type(key, struct sl_polcidr_key);
	__type(value, struct sl_polcidr_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_polcidr4 SEC(".maps");

/* Whether any policy exists, and the policy generation; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_polcfg_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_polcfg SEC(".maps");

/* Policy drops per endpoint; written by programs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SL_EP_MAX);
	__type(key, struct sl_poldrop_key);
	__type(value, struct sl_poldrop_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_poldrop SEC(".maps");

/* Per service port flows, packets and bytes (lib/metrics.h); written by
 * programs, zeroed by the agent when an id changes hands. max_entries is set
 * at load (dp_load_and_pin). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_SVC_IDS_MAX);
	__type(key, __u32);
	__type(value, struct sl_svcstat_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_svcstat SEC(".maps");

/* CNI ADD/DEL counts and latency; written by the CNI plugin (mmap), never by programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_CNI_OP_MAX);
	__type(key, __u32);
	__type(value, struct sl_cnistat_val);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_cnistat SEC(".maps");
/* Datapath events for `sluice-agent monitor`; written by programs. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SL_EVENTS_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_events SEC(".maps");

/* Whether a monitor listens, and to what; written by the monitor. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_evcfg_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_evcfg SEC(".maps");

/* Layout version of the pinned maps; written by the agent, never by programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_info_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_info SEC(".maps");

/* Pods' hostPorts and the ports that have one (lib/hostport.h); written by the CNI plugin. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_HPORT_MAX);
	__type(key, struct sl_hport_key);
	__type(value, struct sl_hport_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_hport4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_HPGATE_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_hpgate SEC(".maps");

#ifdef SL_MAPS_SOCK
#define SL_SOCK_MAX 65536 /* translated sockets remembered (LRU) */

/* Two entries per translated socket, told apart by dir:
 *  SL_SOCK_REV {cookie, backend} -> the Service address the application asked
 *    for, so recvmsg4 and getpeername4 show the VIP rather than the backend;
 *  SL_SOCK_FWD {cookie, VIP}     -> the backend chosen, so every datagram an
 *    unconnected UDP socket sends to a VIP goes to the same backend while it
 *    lives (backend_id checked against sl_be4 on each send).
 * Kernel only: user space never reads it, so it is not part of abi.h. */
struct sl_sock_key {
	__u64 cookie; /* bpf_get_socket_cookie() */
	__be32 ip;
	__be16 port;
	__u8 dir; /* SL_SOCK_* */
	__u8 pad;
};

struct sl_sock_val {
	__be32 ip;
	__be16 port;
	__u16 pad;
	__u32 backend_id; /* SL_SOCK_FWD only */
	__u32 pad2;
};

#define SL_SOCK_REV 0
#define SL_SOCK_FWD 1

_Static_assert(sizeof(struct sl_sock_key) == 16, "sl_sock_key layout");
_Static_assert(sizeof(struct sl_sock_val) == 16, "sl_sock_val layout");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_SOCK_MAX);
	__type(key, struct sl_sock_key);
	__type(value, struct sl_sock_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_sock4 SEC(".maps");

#endif /* SL_MAPS_SOCK */

#endif
