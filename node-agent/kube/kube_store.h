/* SPDX-License-Identifier: Apache-2.0 */
/* A store of one resource's compact objects keyed by namespace/name, with change callbacks. */
#ifndef SLUICE_AGENT_KUBE_STORE_H
#define SLUICE_AGENT_KUBE_STORE_H

#include <stddef.h>

#include "kube_objects.h"

enum kube_op { KUBE_OP_ADD, KUBE_OP_UPDATE, KUBE_OP_DELETE };

/* Called after the store changed: old is NULL on ADD, new is NULL on DELETE.
 * Both are valid only during the call. */
typedef void (*kube_store_fn)(void *ctx, enum kube_op op, const struct kube_obj *old,
			      const struct kube_obj *cur);

struct kube_store {
	enum kube_kind kind;
	struct kube_obj **tab;
	size_t size, count;
	__u32 gen; /* generation of the replace in progress */
	kube_store_fn cb;
	void *ctx;
};

void kube_store_init(struct kube_store *s, enum kube_kind kind, kube_store_fn cb, void *ctx);
void kube_store_fini(struct kube_store *s);

/* Adds or replaces o (the store owns it from now on, also on failure). */
int kube_store_upsert(struct kube_store *s, struct kube_obj *o);

/* -ENOENT when there is no such object. */
int kube_store_delete(struct kube_store *s, const char *ns, const char *name);

const struct kube_obj *kube_store_get(const struct kube_store *s, const char *ns, const char *name);

/* A full relist: objects upserted between begin and end survive; end deletes
 * every other object (calling back for each) and returns how many. */
void kube_store_replace_begin(struct kube_store *s);
size_t kube_store_replace_end(struct kube_store *s);

/* Calls fn for every object; stops at and returns the first non-zero result. */
int kube_store_foreach(const struct kube_store *s, int (*fn)(const struct kube_obj *o, void *ctx),
		       void *ctx);

#endif
