/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* MAC address compare and copy on packet memory. */
#ifndef SL_LIB_ETH_H
#define SL_LIB_ETH_H

#include <stdbool.h>

#include <linux/if_ether.h>

static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	return !((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) |
		 (a[5] ^ b[5]));
}

static __always_inline void mac_copy(__u8 *dst, const __u8 *src)
{
	__builtin_memcpy(dst, src, ETH_ALEN);
}

#endif
