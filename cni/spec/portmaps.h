/* SPDX-License-Identifier: Apache-2.0 */
/* The portMappings capability (runtimeConfig.portMappings): parsed, checked for overlaps, written
 * back for the state file. */
#ifndef SLUICE_CNI_PORTMAPS_H
#define SLUICE_CNI_PORTMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define CNI_MAX_PORTMAPS 64

struct json_t;

/* One hostPort of the pod. */
struct portmap {
	__be32 host_ip;	      /* 0: every address of the node ("" or 0.0.0.0) */
	__u16 host_port;      /* host byte order */
	__u16 container_port; /* host byte order */
	__u8 proto;	      /* IPPROTO_TCP/UDP/SCTP */
	__u8 pad[3];	      /* zero: mappings compare as bytes */
};

/* Parses a portMappings array (a jansson json_t, declared without its
 * header) into out[0..*n). Keys without case (containerd capitalises them);
 * protocol "tcp" (default), "udp" or "sctp" without case; hostIP empty,
 * 0.0.0.0 or an IPv4 address. -EINVAL with why set for anything else, for
 * more than CNI_MAX_PORTMAPS entries and for two entries that overlap. */
int portmaps_parse(struct json_t *list, struct portmap *out, int *n, char *why, size_t len);
/* The array portmaps_parse reads back; NULL on allocation failure. */
struct json_t *portmaps_format(const struct portmap *pm, int n);
/* Whether two mappings claim one packet: same port and protocol, and the
 * same hostIP or either of them every address. */
bool portmap_overlaps(const struct portmap *a, const struct portmap *b);
/* "8080/tcp on 0.0.0.0" */
void portmap_describe(const struct portmap *pm, char *buf, size_t len);
const char *portmap_proto_name(__u8 proto);

#endif
