/* SPDX-License-Identifier: Apache-2.0 */
/* Publishing one service port as a transaction: all of it, or the previous version stays. */
#ifndef SLUICE_AGENT_SVC_TXN_H
#define SLUICE_AGENT_SVC_TXN_H

#include "svc_select.h"
#include "svc_state.h"

/* Writes backends, slots and master of port svc_id (key) as chosen
 * in c, then drops the stale slots and backend references; on failure undoes
 * what it wrote and counts and notes the failure once per record. */
int pub_port_publish(struct svc_pub *p, struct svc_rec *rec, __u32 svc_id, __u64 key,
		     const struct svc_choice *c);

#endif
