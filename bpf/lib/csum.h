/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksums of headers built on the stack. */
#ifndef SL_LIB_CSUM_H
#define SL_LIB_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __always_inline __sum16 csum_fold(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__sum16)~s;
}

/* The checksum of len bytes at buf (len a multiple of 4, <= 512). */
static __always_inline __sum16 csum_of(void *buf, __u32 len)
{
	return csum_fold(bpf_csum_diff(NULL, 0, buf, len, 0));
}

/* A checksum after the bytes it covers changed by diff, a bpf_csum_diff()
 * of the old and the new bytes (RFC 1624). */
static __always_inline __sum16 csum_apply(__sum16 sum, __s64 diff)
{
	__u64 s = (__u64)(__u16)~sum + (__u32)diff;

	s = (s & 0xffffffff) + (s >> 32);
	return csum_fold((__s64)((s & 0xffffffff) + (s >> 32)));
}

#endif
