// SPDX-License-Identifier: Apache-2.0
/* The addresses a Service answers on (ClusterIPs, NodePorts, externalIPs, LB IPs) as sl_svc4 keys.
 */
#include <arpa/inet.h>
#include <string.h>

#include "sluice/abi.h"
#include "svc_frontends.h"
#include "svc_ids.h"

static bool has_node_ports(const struct kube_service *svc)
{
	if (svc->type != KUBE_SVC_NODE_PORT && svc->type != KUBE_SVC_LOAD_BALANCER)
		return false;
	for (int i = 0; i < svc->n_ports; i++)
		if (svc->ports[i].node_port)
			return true;
	return false;
}

/* externalIPs always; LB ingress IPs only while the type is LoadBalancer. */
static size_t n_ext_ips(const struct kube_service *svc)
{
	return svc->n_external_ips + (svc->type == KUBE_SVC_LOAD_BALANCER ? svc->n_lb_ips : 0);
}

static bool ip4_get(const struct kube_ip *ip, __be32 *out)
{
	if (ip->family != 4)
		return false;
	memcpy(out, ip->addr, 4);
	return true;
}

static bool any_src_range4(const struct kube_service *svc)
{
	for (int i = 0; i < svc->n_src_ranges; i++)
		if (svc->src_ranges[i].ip.family == 4)
			return true;
	return false;
}

size_t svc_frontends_max(const struct kube_service *svc, size_t n_node_ips)
{
	size_t per_port = 2 + 2 * (n_node_ips + n_ext_ips(svc));

	return (size_t)svc->n_ports * per_port + 2 * (2 + n_node_ips + n_ext_ips(svc));
}

/* The EXT and INT frontends of one external address and port. */
static size_t ext_pair(const struct kube_service *svc, const struct kube_svc_port *sp, __be32 ip,
		       __u16 port, bool lb, __be32 snat_ip, struct svc_frontend *out)
{
	__u16 flags = lb && any_src_range4(svc) ? SL_SVC_F_SRC_RANGES : 0;

	out[0] = (struct svc_frontend){
	    .key = svc_ids_key_scoped(ip, htons(port), sp->proto, SL_SVC_SCOPE_EXT),
	    .sp = sp,
	    .local = svc->etp_local,
	    .flags = flags,
	    .lb = lb,
	    .snat_ip = snat_ip,
	};
	out[1] = (struct svc_frontend){
	    .key = svc_ids_key_scoped(ip, htons(port), sp->proto, SL_SVC_SCOPE_INT),
	    .sp = sp,
	};
	return 2;
}

size_t svc_frontends_build(const struct kube_service *svc, const __be32 *node_ips,
			   size_t n_node_ips, struct svc_frontend *out)
{
	bool np = has_node_ports(svc);
	size_t n = 0, n_ext = n_ext_ips(svc);
	/* external IPs SNAT to the first node address; loopback (last, for
	 * host sockets, when named) is none a remote backend can answer */
	__be32 ip, snat = n_node_ips && node_ips[0] != htonl(INADDR_LOOPBACK) ? node_ips[0] : 0;

	for (int j = 0; j < svc->n_ports; j++) {
		const struct kube_svc_port *sp = &svc->ports[j];

		for (int i = 0; i < svc->n_cluster_ips; i++)
			if (ip4_get(&svc->cluster_ips[i], &ip))
				out[n++] = (struct svc_frontend){
				    .key = svc_ids_key(ip, htons(sp->port), sp->proto),
				    .sp = sp,
				    .local = svc->itp_local,
				};
		for (size_t i = 0; np && sp->node_port && i < n_node_ips; i++)
			n += ext_pair(svc, sp, node_ips[i], sp->node_port, false, node_ips[i],
				      &out[n]);
		for (size_t i = 0; i < n_ext; i++)
			if (ip4_get(&svc->external_ips[i], &ip))
				n += ext_pair(svc, sp, ip, sp->port, i >= svc->n_external_ips, snat,
					      &out[n]);
	}
	return n;
}

size_t svc_markers_build(const struct kube_service *svc, const __be32 *node_ips, size_t n_node_ips,
			 struct svc_marker *out)
{
	size_t n = 0, n_ext = n_ext_ips(svc);
	__be32 ip;

	for (int i = 0; i < svc->n_cluster_ips; i++)
		if (ip4_get(&svc->cluster_ips[i], &ip))
			out[n++] = (struct svc_marker){ip, SL_SVC_SCOPE_INT, SL_SVC_F_VIP};
	for (size_t i = 0; has_node_ports(svc) && i < n_node_ips; i++)
		out[n++] = (struct svc_marker){node_ips[i], SL_SVC_SCOPE_INT, SL_SVC_F_NODEIP};
	/* The uplink program looks at nothing else for an address without a
	 * marker: node addresses (NodePorts, and the SNAT replies of every
	 * external frontend) get one while the Service has any. */
	for (size_t i = 0; (has_node_ports(svc) || (svc->n_ports && n_ext)) && i < n_node_ips; i++)
		out[n++] = (struct svc_marker){node_ips[i], SL_SVC_SCOPE_EXT, SL_SVC_F_NODEIP};
	for (size_t i = 0; svc->n_ports && i < n_ext; i++) {
		bool node_ip = false;

		if (!ip4_get(&svc->external_ips[i], &ip))
			continue;
		for (size_t k = 0; k < n_node_ips; k++)
			node_ip |= node_ips[k] == ip;
		if (node_ip)
			continue; /* one marker per key: the node address's stays */
		out[n++] = (struct svc_marker){ip, SL_SVC_SCOPE_INT, SL_SVC_F_VIP};
		out[n++] = (struct svc_marker){ip, SL_SVC_SCOPE_EXT, SL_SVC_F_VIP};
	}
	return n;
}

bool svc_src_ranges_hold_node(const struct kube_service *svc, const __be32 *node_ips,
			      size_t n_node_ips)
{
	for (int i = 0; i < svc->n_src_ranges; i++) {
		const struct kube_cidr *c = &svc->src_ranges[i];
		__be32 net, mask;

		if (!ip4_get(&c->ip, &net))
			continue;
		mask = c->prefix ? htonl(~0u << (32 - c->prefix)) : 0;
		for (size_t k = 0; k < n_node_ips; k++)
			if ((node_ips[k] & mask) == net)
				return true;
	}
	return false;
}

size_t svc_lbsrc_max(const struct kube_service *svc)
{
	return (size_t)svc->n_lb_ips * svc->n_ports * (svc->n_src_ranges + svc->n_lb_ips);
}

size_t svc_lbsrc_build(const struct kube_service *svc, const __be32 *node_ips, size_t n_node_ips,
		       __u32 (*id_of)(void *ctx, __u64 key), void *ctx, struct sl_lbsrc_key *out)
{
	bool self = svc_src_ranges_hold_node(svc, node_ips, n_node_ips);
	size_t n = 0;
	__be32 ip, src;

	if (svc->type != KUBE_SVC_LOAD_BALANCER || !any_src_range4(svc))
		return 0;
	for (int i = svc->n_external_ips; i < svc->n_external_ips + svc->n_lb_ips; i++) {
		if (!ip4_get(&svc->external_ips[i], &ip))
			continue;
		for (int j = 0; j < svc->n_ports; j++) {
			const struct kube_svc_port *sp = &svc->ports[j];
			__u32 id = id_of(ctx, svc_ids_key_scoped(ip, htons(sp->port), sp->proto,
								 SL_SVC_SCOPE_EXT));

			for (int k = 0; id && k < svc->n_src_ranges; k++)
				if (ip4_get(&svc->src_ranges[k].ip, &src))
					out[n++] = (struct sl_lbsrc_key){
					    32 + svc->src_ranges[k].prefix, id, src};
			for (int k = svc->n_external_ips;
			     id && self && k < svc->n_external_ips + svc->n_lb_ips; k++)
				if (ip4_get(&svc->external_ips[k], &src))
					out[n++] = (struct sl_lbsrc_key){64, id, src};
		}
	}
	return n;
}
