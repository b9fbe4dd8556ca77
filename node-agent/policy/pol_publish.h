/* SPDX-License-Identifier: Apache-2.0 */
/* Publishes the compiled policy state to the pinned maps: only what changed,
 * allows before isolation and addresses, deletes and the generation bump last. */
#ifndef SLUICE_AGENT_POL_PUBLISH_H
#define SLUICE_AGENT_POL_PUBLISH_H

#include <stdbool.h>

#include "pol.h"

enum pol_map { POL_MAP_IPCACHE, POL_MAP_POL, POL_MAP_CIDR, POL_MAP_MAX };

struct pol_stats {
	unsigned long identities;
	unsigned long ipcache, entries, cidrs;
	unsigned long endpoints, iso_in, iso_out, pending, failed;
	unsigned long full[POL_MAP_MAX]; /* writes refused: map full */
	unsigned long errors;		 /* other failed writes */
	unsigned long writes, deletes, syncs;
	unsigned long compiles; /* endpoints compiled (the others were reused) */
	__u32 gen;
	bool active;
};

struct pol_pub;

/* Opens the policy maps and sl_ep4 under pin_dir and reads back what an
 * earlier agent published, so the first sync rewrites only differences. */
int pol_pub_open(const char *pin_dir, struct pol_pub **out);
void pol_pub_free(struct pol_pub *p);

/* A store change: the endpoints it may affect are compiled again on the
 * next sync; the others keep what they have (pol_affect). */
void pol_pub_note(struct pol_pub *p, const struct kube_store *nss, const struct kube_obj *old,
		  const struct kube_obj *cur);
/* Reads the local endpoints from sl_ep4; when force is set, or they differ
 * from what was last published, compiles in (eps are filled here) and
 * publishes. 1 when something was published, 0 when nothing changed, -errno
 * when the endpoints cannot be read or compiling ran out of memory. */
int pol_pub_sync(struct pol_pub *p, struct pol_input *in, bool force);

void pol_pub_stats(const struct pol_pub *p, struct pol_stats *st);
/* The state last published (endpoints with their policies). */
const struct pol_state *pol_pub_state(const struct pol_pub *p);

#endif
