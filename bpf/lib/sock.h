/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Socket-level load balancing state: the per-socket reverse map of sock.bpf.c. */
#ifndef SL_LIB_SOCK_H
#define SL_LIB_SOCK_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "sluice/abi.h"

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

#endif
