/* SPDX-License-Identifier: Apache-2.0 */
/* The hostPorts of one attachment in the datapath: sl_hport4 entries and their port gate. */
#ifndef SLUICE_CNI_HOSTPORTS_H
#define SLUICE_CNI_HOSTPORTS_H

#include <netinet/in.h>

#include "cni.h"
#include "portmaps.h"

/* Claims pm[0..n) for the pod at pod_ip under the hostPort lock: a mapping
 * that overlaps one of a live endpoint (same port and protocol, same hostIP
 * or either every address) is refused with CNI_ERR_HOSTPORT_TAKEN naming the
 * holder; an entry of an address that is no endpoint any more (or is the
 * pod's own: a leftover of the address's former owner) is taken over. On
 * failure none of pm stays claimed. */
int hostports_add(const char *pin_dir, const char *state_dir, const struct portmap *pm, int n,
		  struct in_addr pod_ip, struct cni_err *e);
/* Removes the entries of pm[0..n) that still point at one of ips[0..n_ips)
 * (others belong to a newer owner). No pinned map is success: nothing to
 * remove. Returns the first error. */
int hostports_remove(const char *pin_dir, const char *state_dir, const struct portmap *pm, int n,
		     const struct in_addr *ips, int n_ips);

/* 0 when each of pm[0..n) still points at pod_ip:containerPort in sl_hport4;
 * 1 with why set when one does not (CHECK's drift), -errno when the map
 * cannot be read. */
int hostports_verify(const char *pin_dir, const struct portmap *pm, int n, struct in_addr pod_ip,
		     char *why, size_t len);

#endif
