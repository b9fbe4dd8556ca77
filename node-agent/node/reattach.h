/* SPDX-License-Identifier: Apache-2.0 */
/* Re-attaching existing pods to the current program after a load. */
#ifndef SLUICE_AGENT_REATTACH_H
#define SLUICE_AGENT_REATTACH_H

struct reattach_stats {
	int moved;   /* host veths now running the new program */
	int skipped; /* entries whose interface no longer runs sl_from_pod */
	int failed;
};

/* Attaches the pinned program to every endpoint's host veth (in the caller's
 * netns) that currently runs an older sl_from_pod. */
int endpoints_reattach(const char *pin_dir, struct reattach_stats *stats);

#endif
