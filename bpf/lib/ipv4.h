/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* IPv4 header edits with incremental checksum updates. */
#ifndef SL_LIB_IPV4_H
#define SL_LIB_IPV4_H

#include <linux/ip.h>
#include <bpf/bpf_endian.h>

#include "sluice/abi.h"

/* Decrements the TTL of a packet being forwarded (the kernel's
 * ip_decrease_ttl); -SL_DROP_TTL when it would reach zero. */
static __always_inline int ipv4_ttl_dec(struct iphdr *ip4)
{
	__u32 check = ip4->check;

	if (ip4->ttl <= 1)
		return -SL_DROP_TTL;
	check += bpf_htons(0x0100);
	ip4->check = (__sum16)(check + (check >= 0xFFFF));
	ip4->ttl--;
	return 0;
}

#endif
