/* SPDX-License-Identifier: Apache-2.0 */
/* What the inspection commands (tables, monitor, explain) share: the pinned
 * maps they read and how addresses are written. */
#ifndef SLUICE_INSPECT_H
#define SLUICE_INSPECT_H

#include <stddef.h>

#include <linux/types.h>

/* fds of the pinned maps, -errno where a map could not be opened. */
struct inspect_maps {
	int ep, svc, be, ct, aff, ipc, pol, cidr, cfg, events, evcfg, hport, hpgate;
};

/* Opens every map under pin_dir; -ENOENT when none is there. */
int inspect_maps_open(const char *pin_dir, struct inspect_maps *m);
void inspect_maps_close(struct inspect_maps *m);

#define INSPECT_ADDR_MAX 32 /* "255.255.255.255:65535/SCTP" */

/* "TCP", "UDP", "SCTP", or the number. */
const char *inspect_proto_name(__u8 proto, char buf[8]);
/* "ip:port" (port in network order); "ip" when port is 0. */
const char *inspect_addr(__be32 ip, __be16 port, char buf[INSPECT_ADDR_MAX]);
/* CLOCK_MONOTONIC now in ns, the clock of bpf_ktime_get_ns(). */
__u64 inspect_mono_ns(void);

#endif
