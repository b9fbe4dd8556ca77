// SPDX-License-Identifier: Apache-2.0
/* Policy identities: a stable number per (namespace, label set), refcounted. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_intern.h"
#include "pol.h"

static int label_cmp(const void *a, const void *b)
{
	const struct kube_label *x = a, *y = b;

	return strcmp(x->key, y->key);
}

static __u32 ident_hash(const char *ns, const struct kube_label *l, size_t n)
{
	uint64_t h = (uintptr_t)ns * 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (uintptr_t)l[i].key;
		h *= 0x100000001b3ull;
		h ^= (uintptr_t)l[i].value;
		h *= 0x100000001b3ull;
	}
	return (__u32)(h ^ (h >> 32));
}

void pol_ids_init(struct pol_ids *t, __u32 first_id)
{
	memset(t, 0, sizeof(*t));
	t->next_id = first_id < SL_ID_FIRST ? SL_ID_FIRST : first_id;
}

static size_t used_slot(const struct pol_ids *t, __u32 id)
{
	size_t i = (id * 0x9e3779b1u) & (t->used_size - 1);

	while (t->used[i] && t->used[i] != id)
		i = (i + 1) & (t->used_size - 1);
	return i;
}

static bool id_used(const struct pol_ids *t, __u32 id)
{
	return t->used_size && t->used[used_slot(t, id)] == id;
}

/* Backward-shift deletion keeps every probe chain whole. */
static void used_del(struct pol_ids *t, __u32 id)
{
	size_t i = used_slot(t, id), j = i;

	if (t->used[i] != id)
		return;
	for (;;) {
		t->used[i] = 0;
		for (;;) {
			size_t home;

			j = (j + 1) & (t->used_size - 1);
			if (!t->used[j])
				return;
			home = (t->used[j] * 0x9e3779b1u) & (t->used_size - 1);
			if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j))
				break;
		}
		t->used[i] = t->used[j];
		i = j;
	}
}

/* The used set sized for the table (twice its buckets), filled again. */
static int used_rebuild(struct pol_ids *t, size_t size)
{
	__u32 *used = calloc(size, sizeof(*used));

	if (!used)
		return -1;
	free(t->used);
	t->used = used;
	t->used_size = size;
	for (size_t i = 0; i < t->size; i++)
		for (struct pol_ident *e = t->tab[i]; e; e = e->next)
			t->used[used_slot(t, e->id)] = e->id;
	return 0;
}

static void ident_free(struct pol_ident *e)
{
	intern_put(e->ns);
	for (size_t i = 0; i < e->n_labels; i++) {
		intern_put(e->labels[i].key);
		intern_put(e->labels[i].value);
	}
	free(e->labels);
	free(e);
}

void pol_ids_fini(struct pol_ids *t)
{
	pol_ids_mark(t);
	pol_ids_sweep(t);
	free(t->tab);
	free(t->used);
	memset(t, 0, sizeof(*t));
}

static int ids_grow(struct pol_ids *t)
{
	size_t size = t->size ? t->size * 2 : 1024;
	struct pol_ident **tab = calloc(size, sizeof(*tab));

	if (!tab)
		return -1;
	for (size_t i = 0; i < t->size; i++)
		for (struct pol_ident *e = t->tab[i], *next; e; e = next) {
			next = e->next;
			e->next = tab[e->hash & (size - 1)];
			tab[e->hash & (size - 1)] = e;
		}
	free(t->tab);
	t->tab = tab;
	t->size = size;
	return used_rebuild(t, size * 2);
}

static struct pol_ident *ident_new(const char *ns, const struct kube_label *sorted, size_t n,
				   __u32 hash, __u32 id)
{
	struct pol_ident *e = calloc(1, sizeof(*e));

	if (!e || (n && !(e->labels = calloc(n, sizeof(*e->labels))))) {
		free(e);
		return NULL;
	}
	e->ns = intern_get(ns);
	for (size_t i = 0; i < n; i++) {
		e->labels[i].key = intern_get(sorted[i].key);
		e->labels[i].value = intern_get(sorted[i].value);
	}
	e->n_labels = (__u16)n;
	e->hash = hash;
	e->id = id;
	return e;
}

struct pol_ident *pol_ids_ref(struct pol_ids *t, const char *ns, const struct kube_label *l,
			      size_t n, __u32 hint)
{
	struct kube_label sorted[n ? n : 1];
	struct pol_ident *e;
	__u32 h;

	memcpy(sorted, l, n * sizeof(*l));
	qsort(sorted, n, sizeof(*sorted), label_cmp);
	h = ident_hash(ns, sorted, n);
	for (e = t->size ? t->tab[h & (t->size - 1)] : NULL; e; e = e->next)
		if (e->hash == h && e->ns == ns && e->n_labels == n &&
		    !memcmp(e->labels, sorted, n * sizeof(*sorted)))
			break;
	if (!e) {
		if (t->count >= t->size / 2 && ids_grow(t) < 0)
			return NULL;
		bool reuse = hint >= SL_ID_FIRST && hint < SL_ID_CIDR_BASE && !id_used(t, hint);
		__u32 id = reuse ? hint : t->next_id;

		if (id >= SL_ID_CIDR_BASE || !(e = ident_new(ns, sorted, n, h, id)))
			return NULL;
		if (!reuse)
			t->next_id++;
		else if (hint >= t->next_id)
			t->next_id = hint + 1;
		t->used[used_slot(t, id)] = id;
		e->next = t->tab[h & (t->size - 1)];
		t->tab[h & (t->size - 1)] = e;
		t->count++;
	}
	e->refs++;
	return e;
}

void pol_ids_mark(struct pol_ids *t)
{
	for (size_t i = 0; i < t->size; i++)
		for (struct pol_ident *e = t->tab[i]; e; e = e->next)
			e->refs = 0;
}

void pol_ids_sweep(struct pol_ids *t)
{
	for (size_t i = 0; i < t->size; i++) {
		struct pol_ident **pp = &t->tab[i];

		while (*pp) {
			struct pol_ident *e = *pp;

			if (e->refs) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			used_del(t, e->id);
			ident_free(e);
			t->count--;
		}
	}
}
