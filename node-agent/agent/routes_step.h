/* SPDX-License-Identifier: Apache-2.0 */
/* The agent loop's routes step: a route to every other Node's pod CIDR via its InternalIP. */
#ifndef SLUICE_AGENT_ROUTES_STEP_H
#define SLUICE_AGENT_ROUTES_STEP_H

#include <stdbool.h>
#include <stddef.h>

#include "kube_sync.h"
#include "routes.h"
#include "status.h"

struct routes_step {
	struct route_want *routes; /* in force, sorted */
	struct status_route *strs; /* the same as text, for the status file */
	size_t n;
	int skipped;
	char skips[512]; /* nodes left out of the last want set, and why */
	bool nodes_dirty;
	unsigned long long next_ms;
};

/* Syncs the routes after the Node store's first full list, when a Node
 * changed (nodes_dirty) and every minute; true when the set in force changed. */
bool routes_step_update(struct routes_step *s, const struct kube_sync *ks, const char *node_name,
			unsigned long long now);
void routes_step_free(struct routes_step *s);

#endif
