/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The node's own "fragmentation needed" for a packet too big for the pod of this node it goes to,
 * quoting the packet as its sender sent it (the Service's address, not the backend's). */
#ifndef SL_LIB_PMTU_H
#define SL_LIB_PMTU_H

#include <stdbool.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/fwd.h"
#include "lib/icmp.h"
#include "lib/icmp_err.h"
#include "lib/parse.h"
#include "sluice/abi.h"

/*
 * Why the datapath answers: a packet for a pod of this node leaves sluice
 * either by bpf_redirect_peer (from a pod), which skips the host veth and
 * the stack's MTU check and drops a packet longer than the pod's interface
 * without a word, or by the stack (from the uplink, after DNAT), whose
 * ip_forward answers "fragmentation needed" itself but quoting the packet
 * after DNAT (to backend:port) and through no hook of sluice, so the
 * client's socket never matches it. Either way path-MTU discovery through a
 * Service stalls. So a DF packet longer than the pod's host veth MTU (the
 * CNI plugin gives both ends of the pair the same MTU) is answered here,
 * before it leaves: the error is built from the packet as it is and then
 * translated by its flow's conntrack entry, exactly as the backend's own
 * error would be (lib/icmp_err.h).
 */

#define PMTU_IP_DF 0x4000
/* Every IPv4 host takes 576-byte datagrams (RFC 791): shorter packets are
 * not checked, so requests and answers pay nothing. */
#define PMTU_MIN 576

/* Whether the packet may be too big for a pod: DF set and longer than
 * PMTU_MIN; a GSO packet only when segs (the stack segments it and checks
 * each segment; a peer redirect hands it to the pod's stack whole). */
static __always_inline bool pmtu4_candidate(struct __sk_buff *skb, bool segs)
{
	struct iphdr *ip4;

	if (skb->len <= ETH_HLEN + PMTU_MIN || (skb->gso_size && !segs))
		return false;
	ip4 = pkt_ipv4(skb);
	return ip4 && (ip4->frag_off & bpf_htons(PMTU_IP_DF));
}

/* The MTU of the pod behind the host veth ifindex when the candidate
 * packet (pmtu4_candidate) is too big for it, else 0 (also when the
 * interface is gone: the redirect will tell). */
static __always_inline __u32 pmtu4_exceeded(struct __sk_buff *skb, __u32 ifindex)
{
	__u32 mtu = 0;

	return bpf_check_mtu(skb, ifindex, &mtu, 0, BPF_MTU_CHK_SEGS) > 0 ? mtu : 0;
}

/* The packet, too big for a pod of this node whose MTU is mtu, becomes the
 * node's "fragmentation needed", translated for its sender
 * (icmp4_err_rev_nat: the client of a Service flow gets it from the
 * frontend, quoting its own packet; a backend's too big reply goes back to
 * it from the client, quoting it as sent) and sent back out of the
 * interface it came in by: SL_PATH_PMTU with *verdict set, or a -SL_DROP_*
 * reason. */
static __always_inline int pmtu4_answer(struct __sk_buff *skb, __u32 mtu, int *verdict)
{
	struct icmp4_err err = {};
	struct ethhdr eth;
	int ret;

	ret = icmp4_err_prepare(skb, &eth, &err);
	if (!ret)
		ret = icmp4_err_emit(skb, &eth, &err, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu);
	if (!ret)
		ret = icmp4_err_rev_nat(skb, ICMP_ERR_TO_CLIENT | ICMP_ERR_TO_BACKEND);
	if (ret < 0)
		return ret;
	return fwd_redirect_result(bpf_redirect(skb->ifindex, 0), SL_PATH_PMTU, verdict);
}

#endif
