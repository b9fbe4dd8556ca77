/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The skb's checksum state (ip_summed), read from the kernel's sk_buff where the kernel allows. */
#ifndef SL_LIB_SKB_CSUM_H
#define SL_LIB_SKB_CSUM_H

#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* What a rewrite must do to an L4 checksum field. */
enum skb_csum {
	SKB_CSUM_FULL,	 /* NONE, UNNECESSARY: the field is the whole checksum */
	SKB_CSUM_PSEUDO, /* PARTIAL: the field holds the pseudo header's sum only */
	SKB_CSUM_HELPER, /* COMPLETE (skb->csum to keep), or the state unknown */
};

/* ip_summed of <linux/skbuff.h>, a kernel-internal constant unchanged since 2.6. */
#define SKB_CHECKSUM_NONE	 0
#define SKB_CHECKSUM_UNNECESSARY 1
#define SKB_CHECKSUM_PARTIAL	 3

/* The kernel's struct sk_buff, the one field read, relocated by CO-RE. */
struct sk_buff___sl {
	__u8 ip_summed : 2;
} __attribute__((preserve_access_index));

/* Linux 6.2+: the context as the kernel's sk_buff. Weak: on an older kernel
 * libbpf leaves it NULL and the verifier drops the dead call. */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

/* The __sk_buff hides ip_summed; without the kfunc (or the field) the
 * bpf_l4_csum_replace helper, which reads it, does the work. */
static __always_inline enum skb_csum skb_csum_of(struct __sk_buff *skb)
{
	struct sk_buff___sl *kskb;
	__u8 summed;

	if (!bpf_cast_to_kern_ctx)
		return SKB_CSUM_HELPER;
	kskb = bpf_cast_to_kern_ctx(skb);
	if (!bpf_core_field_exists(kskb->ip_summed))
		return SKB_CSUM_HELPER;
	summed = BPF_CORE_READ_BITFIELD(kskb, ip_summed);
	if (summed == SKB_CHECKSUM_NONE || summed == SKB_CHECKSUM_UNNECESSARY)
		return SKB_CSUM_FULL;
	return summed == SKB_CHECKSUM_PARTIAL ? SKB_CSUM_PSEUDO : SKB_CSUM_HELPER;
}

#endif
