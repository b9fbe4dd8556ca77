/* SPDX-License-Identifier: Apache-2.0 */
/* The datapath side of one attachment: the pod programs on the host veth and
 * the sl_ep4 entries of the pod's addresses (and its sl_epsrc4 slot). */
#ifndef SLUICE_CNI_ATTACH_H
#define SLUICE_CNI_ATTACH_H

#include <stddef.h>
#include <netinet/in.h>

#include "cni.h"
#include "dp.h"

/* sl_from_pod at tc ingress of the host veth (what the pod sends), sl_to_pod
 * at its egress (replies of load-balanced flows into the pod). On failure e
 * names the program and hook (code 11 if a pin is missing). */
int pod_progs_attach(const char *pin_dir, int ifindex, const char *host, enum dp_attach_mode *mode,
		     struct cni_err *e);
/* 0 if both programs are attached; otherwise a negative errno or 1 (another
 * program or none there) with what is wrong in why. */
int pod_progs_verify(int ifindex, const char *host, char *why, size_t size);

/* Points ips[0..n) at the pod in the endpoint maps; on failure the entries
 * written are removed again and *failed is the address that failed. */
int ep_entries_write(const struct dp_ep_maps *m, const struct in_addr *ips, int n,
		     const struct sl_ep_val *val, struct in_addr *failed);
/* Deletes the entries of ips[0..n) that still point at ifindex (ours); others
 * belong to a newer owner of the address and stay. Returns the first error. */
int ep_entries_remove(const struct dp_ep_maps *m, const struct in_addr *ips, int n, int ifindex);

#endif
