/* SPDX-License-Identifier: Apache-2.0 */
/* The addresses a Service answers on (ClusterIPs, NodePorts, externalIPs, LB IPs) as sl_svc4 keys.
 */
#ifndef SLUICE_AGENT_SVC_FRONTENDS_H
#define SLUICE_AGENT_SVC_FRONTENDS_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "sluice/abi.h"
#include "kube_objects.h"

/* One service port of one frontend address in one sl_svc4 scope. */
struct svc_frontend {
	__u64 key; /* svc_ids_key_scoped() */
	const struct kube_svc_port *sp;
	bool local;	/* choose with traffic policy Local */
	__u16 flags;	/* extra master flags: SL_SVC_F_SRC_RANGES */
	bool lb;	/* an LB ingress IP (loadBalancerSourceRanges apply) */
	__be32 snat_ip; /* scope EXT: the node address SNAT uses */
};

/* One marker: {ip, scope} with SL_SVC_F_VIP or SL_SVC_F_NODEIP. */
struct svc_marker {
	__be32 ip;
	__u8 scope;
	__u16 flags;
};

/* How many frontends / markers svc can have at most with n_node_ips NodePort addresses. */
size_t svc_frontends_max(const struct kube_service *svc, size_t n_node_ips);

/* Every IPv4 frontend of svc, as kube-proxy serves them: ClusterIPs (scope
 * INT, internalTrafficPolicy); for each NodePort on each node address, each
 * externalIP and (type LoadBalancer) each LB ingress IP, scope EXT with
 * externalTrafficPolicy and scope INT with Cluster. out holds
 * svc_frontends_max() entries; returns how many were written. */
size_t svc_frontends_build(const struct kube_service *svc, const __be32 *node_ips,
			   size_t n_node_ips, struct svc_frontend *out);

/* The markers svc needs: its ClusterIPs (INT, VIP), the node addresses when it
 * has a NodePort (INT, NODEIP) or any external frontend (EXT, NODEIP), its
 * externalIPs and LB IPs (INT and EXT, VIP).
 * out holds svc_frontends_max() entries; returns how many were written. */
size_t svc_markers_build(const struct kube_service *svc, const __be32 *node_ips, size_t n_node_ips,
			 struct svc_marker *out);

/* Whether svc has a v4 loadBalancerSourceRange holding one of the node addresses. */
bool svc_src_ranges_hold_node(const struct kube_service *svc, const __be32 *node_ips,
			      size_t n_node_ips);

/* The most sl_lbsrc4 entries svc_lbsrc_build() writes for svc. */
size_t svc_lbsrc_max(const struct kube_service *svc);

/* The sl_lbsrc4 entries of svc (type LoadBalancer): for each LB ingress IP
 * and port, the svc_id of its EXT frontend (id_of; 0 skips it) with each v4
 * range, and when a range holds a node address, the LB IPs themselves as
 * sources (kube-proxy's exception for hairpin through the LB). */
size_t svc_lbsrc_build(const struct kube_service *svc, const __be32 *node_ips, size_t n_node_ips,
		       __u32 (*id_of)(void *ctx, __u64 key), void *ctx, struct sl_lbsrc_key *out);

#endif
