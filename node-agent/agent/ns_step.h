/* SPDX-License-Identifier: Apache-2.0 */
/* The agent loop's north-south step: node addresses for NodePorts, the uplink program attached,
 * loadBalancerSourceRanges published. */
#ifndef SLUICE_AGENT_NS_STEP_H
#define SLUICE_AGENT_NS_STEP_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "config.h"
#include "kube_sync.h"
#include "svc_publish.h"

#define NS_ADDR_MAX 32 /* node addresses considered */

struct ns_step {
	int prog_fd;  /* the pinned sl_from_net; -1 when missing (north-south off) */
	int lbsrc_fd; /* sl_lbsrc4; -1 when missing */
	struct np_addrs np;
	int uplinks[NS_ADDR_MAX]; /* ifindexes the program is attached to */
	size_t n_uplinks;
	__be32 ips[NS_ADDR_MAX]; /* NodePort addresses published */
	size_t n_ips;
	bool lbsrc_dirty;
	bool addrs_done; /* the NodePort addresses were published once */
	unsigned long long next_ms, lbsrc_next_ms;
};

/* Opens the uplink program and sl_lbsrc4; logs and leaves north-south off when missing. */
void ns_step_start(struct ns_step *s, const struct config *c);
/* Closes what start opened; the program stays attached (the datapath outlives the agent). */
void ns_step_stop(struct ns_step *s);
/* Whether Services may be published: the NodePort addresses are known (or
 * north-south is off). Publishing before would remove, as unwanted, the
 * NodePorts a restarted agent found in the maps. */
bool ns_step_ready(const struct ns_step *s);
/* A store change: Services and this node's Node matter. */
void ns_step_changed(struct ns_step *s, const struct kube_obj *o);
/* Reads the node's addresses (every 10 s, or when the Node changed), publishes
 * the NodePort addresses to svc, attaches the program to new uplinks and
 * detaches it from interfaces no longer holding a node address, and
 * publishes the source ranges of LB frontends. true when something changed. */
bool ns_step_update(struct ns_step *s, const struct kube_sync *ks, const struct config *c,
		    struct svc_pub *svc, unsigned long long now);
/* Standalone (no API, so no Services): the uplink program attached to every
 * interface holding a node address and detached from the others, every 10 s,
 * whether or not a pod has a hostPort now: the plugin writes hostPorts
 * without telling the agent, and the program costs other traffic one
 * lookup and the hostPort gate's read. true when something changed. */
bool ns_step_uplinks_update(struct ns_step *s, unsigned long long now);

#endif
