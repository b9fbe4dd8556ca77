// SPDX-License-Identifier: Apache-2.0
/* Id allocation with reuse for service ports and backends: a hash by key, a table by id, a free
 * stack. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "svc_ids.h"

static size_t key_bucket(const struct svc_ids *t, __u64 key)
{
	key ^= key >> 29;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 32;
	return (size_t)(key & (t->n_heads - 1));
}

int svc_ids_init(struct svc_ids *t, __u32 max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
	t->n_heads = 1024;
	while (t->n_heads < max / 2 && t->n_heads < (1u << 20))
		t->n_heads <<= 1;
	t->heads = calloc(t->n_heads, sizeof(*t->heads));
	return t->heads ? 0 : -ENOMEM;
}

void svc_ids_fini(struct svc_ids *t)
{
	free(t->heads);
	free(t->ents);
	free(t->free);
	memset(t, 0, sizeof(*t));
}

__u32 svc_ids_find(const struct svc_ids *t, __u64 key)
{
	for (__u32 id = t->heads[key_bucket(t, key)]; id; id = t->ents[id].next)
		if (t->ents[id].key == key)
			return id;
	return 0;
}

bool svc_ids_key_of(const struct svc_ids *t, __u32 id, __u64 *key)
{
	if (!id || id >= t->cap || !t->ents[id].used)
		return false;
	*key = t->ents[id].key;
	return true;
}

static int ents_reserve(struct svc_ids *t, __u32 id)
{
	size_t ncap = t->cap ? t->cap : 256;
	struct svc_ids_ent *n;

	if (id < t->cap)
		return 0;
	while (ncap <= id)
		ncap *= 2;
	n = realloc(t->ents, ncap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	memset(n + t->cap, 0, (ncap - t->cap) * sizeof(*n));
	t->ents = n;
	t->cap = ncap;
	return 0;
}

static int free_push(struct svc_ids *t, __u32 id)
{
	if (t->n_free == t->free_cap) {
		size_t ncap = t->free_cap ? t->free_cap * 2 : 64;
		__u32 *n = realloc(t->free, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->free = n;
		t->free_cap = ncap;
	}
	t->free[t->n_free++] = id;
	return 0;
}

/* After a rebuild: the unused ids below top, highest first so the lowest
 * is handed out first. */
static int gaps_collect(struct svc_ids *t)
{
	int r;

	t->n_free = 0;
	for (__u32 id = t->top; id >= 1; id--) {
		if (id < t->cap && t->ents[id].used)
			continue;
		r = free_push(t, id);
		if (r < 0)
			return r;
	}
	t->gaps_stale = false;
	return 0;
}

static void link_id(struct svc_ids *t, __u64 key, __u32 id)
{
	size_t b = key_bucket(t, key);

	t->ents[id] = (struct svc_ids_ent){.key = key, .next = t->heads[b], .used = true};
	t->heads[b] = id;
	t->count++;
}

int svc_ids_get(struct svc_ids *t, __u64 key, bool *created)
{
	__u32 id = svc_ids_find(t, key);
	int r;

	*created = false;
	if (id)
		return (int)id;
	if (t->gaps_stale && (r = gaps_collect(t)) < 0)
		return r;
	if (t->n_free) {
		id = t->free[t->n_free - 1];
	} else {
		if (t->top >= t->max)
			return -ENOSPC;
		id = t->top + 1;
	}
	r = ents_reserve(t, id);
	if (r < 0)
		return r;
	if (t->n_free)
		t->n_free--;
	else
		t->top = id;
	link_id(t, key, id);
	*created = true;
	return (int)id;
}

int svc_ids_set(struct svc_ids *t, __u64 key, __u32 id)
{
	int r;

	if (!id || id > t->max)
		return -ERANGE;
	if ((id < t->cap && t->ents[id].used) || svc_ids_find(t, key))
		return -EEXIST;
	r = ents_reserve(t, id);
	if (r < 0)
		return r;
	link_id(t, key, id);
	if (id > t->top)
		t->top = id;
	t->gaps_stale = true;
	return 0;
}

void svc_ids_put(struct svc_ids *t, __u32 id)
{
	struct svc_ids_ent *e = svc_ids_ent(t, id);
	__u32 *p;

	if (!e)
		return;
	for (p = &t->heads[key_bucket(t, e->key)]; *p && *p != id; p = &t->ents[*p].next)
		;
	if (*p)
		*p = e->next;
	memset(e, 0, sizeof(*e));
	t->count--;
	/* On -ENOMEM the id is lost until a restart: harmless. */
	if (!t->gaps_stale)
		(void)free_push(t, id);
}
