/* SPDX-License-Identifier: Apache-2.0 */
/* Services + EndpointSlices -> sl_svc4/sl_be4: diff against what is published, write in
 * order. */
#ifndef SLUICE_AGENT_SVC_PUBLISH_H
#define SLUICE_AGENT_SVC_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/abi.h"
#include "kube_store.h"
#include "log.h"
#include "svc_dp.h"

/* Something to log: the publisher never logs itself. */
typedef void (*svc_note_fn)(void *ctx, enum log_level level, const char *msg);

struct svc_stats {
	unsigned long services;	       /* Services with at least one published port */
	unsigned long ports;	       /* published service ports */
	unsigned long backends;	       /* backends in sl_be4 */
	unsigned long vips;	       /* VIP markers */
	unsigned long full[SVC_MAP_N]; /* map-full failures, per map */
	unsigned long ids_full;	       /* service ports refused: no free svc_id */
	unsigned long errors;	       /* other failed map writes */
	unsigned long failing;	       /* service ports not published as wanted right now */
	unsigned long writes, deletes; /* map operations since start */
	/* restore at start */
	unsigned long restored_ports, restored_backends, restored_vips;
	bool gc_done; /* the first full sync was published and leftovers removed */
};

struct svc_pub;

/* node: this node's name (endpoint locality, node hints). */
int svc_pub_new(const struct svc_map_ops *ops, void *ops_ctx, const char *node, svc_note_fn note,
		void *note_ctx, struct svc_pub **out);
void svc_pub_free(struct svc_pub *p);

/* Rebuilds ids and the published state from the maps (an agent restart), so
 * ids are reused and unchanged service ports are not rewritten. Call once,
 * before the first svc_pub_sync(). */
int svc_pub_restore(struct svc_pub *p);

/* Feeds store changes of Services, EndpointSlices and Nodes (other kinds are
 * ignored). now_ms stamps the oldest pending change. */
int svc_pub_changed(struct svc_pub *p, enum kube_op op, const struct kube_obj *old,
		    const struct kube_obj *cur, unsigned long long now_ms);

/* Publishes every Service that changed. synced: both stores completed their
 * first list; nothing is written before, and the first synced call also
 * removes what the maps hold but no Service wants any more. 0 when everything
 * is published as wanted, else the first -errno (the rest was still tried;
 * failed Services are retried after a while). */
int svc_pub_sync(struct svc_pub *p, const struct kube_store *svcs, const struct kube_store *slices,
		 bool synced, unsigned long long now_ms);

/* Changes are waiting (since *since_ms) or failed Services await a retry. */
bool svc_pub_pending(const struct svc_pub *p, unsigned long long *since_ms);

void svc_pub_stats(const struct svc_pub *p, struct svc_stats *st);

/* A published service port: svc_id, "namespace/name" of its Service, VIP,
 * port (network order) and IPPROTO_*; of scope SL_SVC_SCOPE_INT only (an
 * external frontend's EXT twin would repeat its labels). Non-zero from fn
 * stops the walk. */
typedef int (*svc_port_fn)(__u32 id, const char *svc, __be32 vip, __be16 port, __u8 proto,
			   void *ctx);
int svc_pub_port_foreach(const struct svc_pub *p, svc_port_fn fn, void *ctx);
/* The node addresses NodePorts are served on (--nodeport-addresses applied):
 * every Service is published again when they change. 0 or -ENOMEM. */
int svc_pub_node_ips(struct svc_pub *p, const __be32 *ips, size_t n, unsigned long long now_ms);

/* The svc_id published for frontend key (svc_ids_key_scoped()), 0 when none. */
__u32 svc_pub_port_id(const struct svc_pub *p, __u64 key);

#endif
