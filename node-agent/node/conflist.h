/* SPDX-License-Identifier: Apache-2.0 */
/* The CNI network configuration list the agent hands to container runtimes. */
#ifndef SLUICE_AGENT_CONFLIST_H
#define SLUICE_AGENT_CONFLIST_H

#include "config.h"

#define CONFLIST_NAME	     "10-sluice.conflist"
#define CONFLIST_CNI_VERSION "1.0.0" /* Debian's host-local refuses 1.1.0 */
#define CONFLIST_NETWORK     "sluice"

struct json_t;

/* The conflist for c as a new JSON object (caller json_decref()s it), NULL
 * when out of memory. Pure: touches nothing on the node. */
struct json_t *conflist_build(const struct config *c);

/* Writes <c->cni_conf_dir>/10-sluice.conflist atomically (temp file in the
 * same dir, fsync, rename, fsync of the dir), creating the dir if missing.
 * Leaves no temp file behind on failure. */
int conflist_write(const struct config *c);

#endif
