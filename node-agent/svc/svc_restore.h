/* SPDX-License-Identifier: Apache-2.0 */
/* What the pinned maps held at start: rebuilt into the publisher's state, removed when unwanted. */
#ifndef SLUICE_AGENT_SVC_RESTORE_H
#define SLUICE_AGENT_SVC_RESTORE_H

#include "svc_state.h"

/* (svc_pub_restore() is in svc_publish.h.) */

/* After the first full publish: removes what the maps held at start but
 * nobody wants. */
int pub_leftovers_remove(struct svc_pub *p);

#endif
