/* SPDX-License-Identifier: Apache-2.0 */
/* kube-proxy's endpoint choice for one Service port: ready, serving+terminating, Local, hints. */
#ifndef SLUICE_AGENT_SVC_SELECT_H
#define SLUICE_AGENT_SVC_SELECT_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "kube_objects.h"

/* The node the agent runs on, as topology sees it. */
struct svc_node {
	const char *name;
	const char *zone; /* topology.kubernetes.io/zone of the Node; NULL when absent */
};

/* One chosen backend: an sl_be4 value in the making. */
struct svc_backend {
	__be32 ip;
	__be16 port;
	__u8 proto;
	__u8 flags; /* SL_BE_F_* */
};

/* What one service port publishes: the master entry's count/flags and the slots. */
struct svc_choice {
	__u16 flags; /* SL_SVC_F_AFFINITY, SL_SVC_F_DROP_EMPTY */
	__u32 affinity_timeout;
	__be32 snat_ip;		      /* set by the caller for external frontends */
	size_t n;		      /* usable backends, sorted by ip, port */
	struct svc_backend *backends; /* malloc'd, n entries */
};

/* Whether the Service is proxied at all: not headless, not ExternalName, with
 * an IPv4 ClusterIP. */
bool svc_proxied(const struct kube_service *svc);

/* Chooses the backends of service port sp from the Service's IPv4
 * EndpointSlices (others are skipped), as kube-proxy's CategorizeEndpoints
 * does. 0 or -ENOMEM; free out->backends. */
int svc_select(const struct kube_service *svc, const struct kube_svc_port *sp,
	       const struct kube_endpointslice *const *slices, size_t n_slices,
	       const struct svc_node *node, struct svc_choice *out);

/* svc_select under traffic policy local (Local: only this node's endpoints,
 * dropped when there are none) instead of the internalTrafficPolicy: an
 * external frontend chooses with externalTrafficPolicy, and what pods and
 * the node send to it with Cluster (kube-proxy's short-circuit). */
int svc_select_policy(const struct kube_service *svc, const struct kube_svc_port *sp,
		      const struct kube_endpointslice *const *slices, size_t n_slices,
		      const struct svc_node *node, bool local, struct svc_choice *out);

#endif
