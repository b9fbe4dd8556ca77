/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Answers a pod's ARP request for its gateway in place. */
#ifndef SL_LIB_ARP_H
#define SL_LIB_ARP_H

#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>

#include "lib/eth.h"
#include "lib/parse.h"

static __always_inline bool arp_is_gateway_request(const struct arp_eth *arp)
{
	return arp->hdr.ar_op == bpf_htons(ARPOP_REQUEST) && arp->tpa == bpf_htonl(SL_POD_GATEWAY4);
}

/* Turns the request into the gateway's reply, from the host veth's MAC. */
static __always_inline void arp_reply_gateway(struct ethhdr *eth, struct arp_eth *arp,
					      const __u8 *gw_mac)
{
	__be32 requester = arp->spa;

	mac_copy(eth->h_dest, eth->h_source);
	mac_copy(eth->h_source, gw_mac);
	arp->hdr.ar_op = bpf_htons(ARPOP_REPLY);
	mac_copy(arp->tha, arp->sha);
	arp->tpa = requester;
	mac_copy(arp->sha, gw_mac);
	arp->spa = bpf_htonl(SL_POD_GATEWAY4);
}

#endif
