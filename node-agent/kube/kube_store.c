// SPDX-License-Identifier: Apache-2.0
/* Hash table of compact Kubernetes objects keyed by namespace/name. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_store.h"

static __u32 key_hash(const char *ns, const char *name)
{
	__u32 h = 2166136261u; /* FNV-1a over "ns/name" */

	for (const char *p = ns; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

static struct kube_obj **slot_find(const struct kube_store *s, const char *ns, const char *name,
				   __u32 h)
{
	struct kube_obj **pp;

	if (!s->size)
		return NULL;
	for (pp = &s->tab[h & (s->size - 1)]; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && !strcmp((*pp)->name, name) && !strcmp((*pp)->ns, ns))
			return pp;
	return NULL;
}

static int tab_grow(struct kube_store *s)
{
	size_t nsize = s->size ? s->size * 2 : 64;
	struct kube_obj **ntab = calloc(nsize, sizeof(*ntab));

	if (!ntab)
		return -ENOMEM;
	for (size_t i = 0; i < s->size; i++) {
		struct kube_obj *o = s->tab[i], *next;

		for (; o; o = next) {
			next = o->next;
			o->next = ntab[o->hash & (nsize - 1)];
			ntab[o->hash & (nsize - 1)] = o;
		}
	}
	free(s->tab);
	s->tab = ntab;
	s->size = nsize;
	return 0;
}

void kube_store_init(struct kube_store *s, enum kube_kind kind, kube_store_fn cb, void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->cb = cb;
	s->ctx = ctx;
}

void kube_store_fini(struct kube_store *s)
{
	for (size_t i = 0; i < s->size; i++) {
		struct kube_obj *o = s->tab[i], *next;

		for (; o; o = next) {
			next = o->next;
			kube_obj_free(o);
		}
	}
	free(s->tab);
	s->tab = NULL;
	s->size = s->count = 0;
}

int kube_store_upsert(struct kube_store *s, struct kube_obj *o)
{
	struct kube_obj **pp, *old;

	o->hash = key_hash(o->ns, o->name);
	o->gen = s->gen;
	pp = slot_find(s, o->ns, o->name, o->hash);
	if (pp) {
		old = *pp;
		o->next = old->next;
		*pp = o;
		if (s->cb)
			s->cb(s->ctx, KUBE_OP_UPDATE, old, o);
		kube_obj_free(old);
		return 0;
	}
	if (s->count >= s->size && tab_grow(s) < 0) {
		kube_obj_free(o);
		return -ENOMEM;
	}
	o->next = s->tab[o->hash & (s->size - 1)];
	s->tab[o->hash & (s->size - 1)] = o;
	s->count++;
	if (s->cb)
		s->cb(s->ctx, KUBE_OP_ADD, NULL, o);
	return 0;
}

static void entry_remove(struct kube_store *s, struct kube_obj **pp)
{
	struct kube_obj *o = *pp;

	*pp = o->next;
	s->count--;
	if (s->cb)
		s->cb(s->ctx, KUBE_OP_DELETE, o, NULL);
	kube_obj_free(o);
}

int kube_store_delete(struct kube_store *s, const char *ns, const char *name)
{
	struct kube_obj **pp = slot_find(s, ns, name, key_hash(ns, name));

	if (!pp)
		return -ENOENT;
	entry_remove(s, pp);
	return 0;
}

const struct kube_obj *kube_store_get(const struct kube_store *s, const char *ns, const char *name)
{
	struct kube_obj **pp = slot_find(s, ns, name, key_hash(ns, name));

	return pp ? *pp : NULL;
}

void kube_store_replace_begin(struct kube_store *s)
{
	s->gen++;
}

size_t kube_store_replace_end(struct kube_store *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->size; i++) {
		struct kube_obj **pp = &s->tab[i];

		while (*pp) {
			if ((*pp)->gen != s->gen) {
				entry_remove(s, pp);
				n++;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
	return n;
}

int kube_store_foreach(const struct kube_store *s, int (*fn)(const struct kube_obj *o, void *ctx),
		       void *ctx)
{
	for (size_t i = 0; i < s->size; i++)
		for (const struct kube_obj *o = s->tab[i]; o; o = o->next) {
			int r = fn(o, ctx);

			if (r)
				return r;
		}
	return 0;
}
