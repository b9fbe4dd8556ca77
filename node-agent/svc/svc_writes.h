/* SPDX-License-Identifier: Apache-2.0 */
/* Counted map writes, and removal of the reference-counted entries they keep (ports, backends,
 * VIPs). */
#ifndef SLUICE_AGENT_SVC_WRITES_H
#define SLUICE_AGENT_SVC_WRITES_H

#include "svc_state.h"

/* One map operation each, counted in the stats; deleting an absent key is 0. */
int pub_svc_write(struct svc_pub *p, const struct sl_svc_key *k, const struct sl_svc_val *v);
int pub_svc_delete(struct svc_pub *p, const struct sl_svc_key *k);
int pub_be_write(struct svc_pub *p, __u32 id, const struct sl_be_val *v);
int pub_be_delete(struct svc_pub *p, __u32 id);

/* Drops one reference; an unreferenced backend leaves sl_be4 and its id is freed. */
int pub_be_unref(struct svc_pub *p, __u32 id);

/* A marker {vip, scope} with flags (SL_SVC_F_VIP or SL_SVC_F_NODEIP), written
 * on its first reference; its id in *out. */
int pub_vip_ref(struct svc_pub *p, __be32 vip, __u8 scope, __u16 flags, __u32 *out);
int pub_vip_unref(struct svc_pub *p, __u32 id);

/* Removes one published service port from the maps and frees its id. */
int pub_port_remove(struct svc_pub *p, __u32 svc_id);

#endif
