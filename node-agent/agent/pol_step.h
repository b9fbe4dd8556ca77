/* SPDX-License-Identifier: Apache-2.0 */
/* The agent loop's policy step: tracks changes, publishes the policy maps,
 * logs policies it cannot enforce as written, writes agent-policy.json. */
#ifndef SLUICE_AGENT_POL_STEP_H
#define SLUICE_AGENT_POL_STEP_H

#include <stdbool.h>

#include "config.h"
#include "kube_sync.h"
#include "pol_publish.h"

#define POL_REPORT_FILE "agent-policy.json" /* in the CNI state dir */

struct pol_step {
	struct pol_pub *pub; /* NULL when the policy maps are not pinned */
	bool dirty;
	unsigned long long next_ms;
	__u32 logged_gen; /* the generation last logged and reported */
};

/* Opens the policy maps; logs and leaves policy off when they are missing. */
void pol_step_start(struct pol_step *s, const struct config *c);
void pol_step_stop(struct pol_step *s);
/* A store change: marks the step dirty for the kinds policy reads, and the
 * local endpoints it may affect; logs a NetworkPolicy whose rules cannot be
 * used (once per change). */
void pol_step_changed(struct pol_step *s, const struct kube_sync *ks, const struct kube_obj *old,
		      const struct kube_obj *cur);
/* Publishes once Pods, Namespaces, NetworkPolicies and Nodes are listed, at
 * most every 100 ms; true when something was published. */
bool pol_step_update(struct pol_step *s, const struct kube_sync *ks, const struct config *c,
		     unsigned long long now);
/* Stats for agent-status.json, NULL when policy is off. */
const struct pol_stats *pol_step_stats(const struct pol_step *s, struct pol_stats *buf);

/* agent-policy.json: per local endpoint its pod, identity, isolation, the
 * policies in force as the API wrote them and its entry count (pol_report.c). */
int pol_report_write(const char *path, const struct pol_state *st, __u32 gen);

#endif
