/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Constants the datapath needs that no UAPI header it can include carries.
 *
 * The header rule of bpf/: programs include UAPI headers (<linux/bpf.h>,
 * <linux/ip.h>, ...) and libbpf's <bpf/bpf_helpers.h>, <bpf/bpf_endian.h>;
 * every struct they touch (__sk_buff, bpf_sock_addr, packet headers) is
 * UAPI, stable by contract. CO-RE comes in only where a kernel-internal
 * struct is read: lib/skb_csum.h reads one sk_buff field, declared there and
 * relocated against the running kernel's BTF; the build does not generate
 * vmlinux.h. */
#ifndef SL_LIB_CONSTS_H
#define SL_LIB_CONSTS_H

/* <sys/socket.h> and <linux/if_arp.h> pull in libc, unusable in BPF programs
 * (as <linux/icmp.h> does: lib/icmp.h carries its own names). */
#define AF_INET 2

#define ARPHRD_ETHER  1
#define ARPOP_REQUEST 1
#define ARPOP_REPLY   2

#endif
