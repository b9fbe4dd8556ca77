/* SPDX-License-Identifier: Apache-2.0 */
/* Id allocation with reuse: service-port ids and backend ids, keyed by {ip, port, proto}. */
#ifndef SLUICE_AGENT_SVC_IDS_H
#define SLUICE_AGENT_SVC_IDS_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

/* {ip, port, proto} packed: ip (network order bytes) << 24 | port << 8 | proto. */
static inline __u64 svc_ids_key(__be32 ip, __be16 port, __u8 proto)
{
	return (__u64)ip << 24 | (__u64)port << 8 | proto;
}

/* The key of a service port in one sl_svc4 scope (SL_SVC_SCOPE_*): the
 * scope in the top byte, so scope 0 keys are svc_ids_key()'s. */
static inline __u64 svc_ids_key_scoped(__be32 ip, __be16 port, __u8 proto, __u8 scope)
{
	return svc_ids_key(ip, port, proto) | (__u64)scope << 56;
}

/* The key of a marker {ip, scope} with its flags: two kinds of marker on
 * one address are two entries of the table. */
static inline __u64 svc_ids_marker_key(__be32 ip, __u8 scope, __u16 flags)
{
	return (__u64)ip | (__u64)scope << 32 | (__u64)flags << 40;
}

struct svc_ids_ent {
	__u64 key;
	__u32 next; /* hash chain by id, 0 ends it */
	__u32 refs;
	bool used;
};

/* Ids 1..max; 0 is never handed out. Freed ids are reused lowest-freed-last
 * (a stack), so a restart that rebuilds the table hands out the same ids. */
struct svc_ids {
	__u32 max;
	__u32 *heads; /* n_heads buckets of ids */
	size_t n_heads;
	struct svc_ids_ent *ents; /* indexed by id, cap entries */
	size_t cap;
	__u32 top;   /* ids above top were never used */
	__u32 *free; /* freed ids below top */
	size_t n_free, free_cap;
	bool gaps_stale; /* svc_ids_set() ran: free must be rebuilt from the gaps */
	size_t count;
};

int svc_ids_init(struct svc_ids *t, __u32 max);
void svc_ids_fini(struct svc_ids *t);

/* The id of key, 0 when it has none. */
__u32 svc_ids_find(const struct svc_ids *t, __u64 key);
/* The id of key, allocated if new (refs 0); -ENOSPC when all max ids are used,
 * -ENOMEM. *created tells whether it is new. */
int svc_ids_get(struct svc_ids *t, __u64 key, bool *created);
/* Records key under a given id (rebuild from the pinned maps): -EEXIST when
 * the id or the key is already taken, -ERANGE outside 1..max. */
int svc_ids_set(struct svc_ids *t, __u64 key, __u32 id);
/* Frees id: it will be handed out again. */
void svc_ids_put(struct svc_ids *t, __u32 id);
/* The key of a used id; false when unused. */
bool svc_ids_key_of(const struct svc_ids *t, __u32 id, __u64 *key);

static inline struct svc_ids_ent *svc_ids_ent(struct svc_ids *t, __u32 id)
{
	return id && id < t->cap && t->ents[id].used ? &t->ents[id] : NULL;
}

#endif
