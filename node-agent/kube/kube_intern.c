// SPDX-License-Identifier: Apache-2.0
/* A process-wide, reference-counted string table (open hashing, grows by doubling). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_intern.h"

struct intern_ent {
	struct intern_ent *next;
	uint32_t hash;
	uint32_t refs;
	char str[];
};

static struct intern_ent **tab;
static size_t tab_size, tab_count;

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static int tab_grow(void)
{
	size_t nsize = tab_size ? tab_size * 2 : 256;
	struct intern_ent **ntab = calloc(nsize, sizeof(*ntab));

	if (!ntab)
		return -1;
	for (size_t i = 0; i < tab_size; i++) {
		struct intern_ent *e = tab[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = ntab[e->hash & (nsize - 1)];
			ntab[e->hash & (nsize - 1)] = e;
		}
	}
	free(tab);
	tab = ntab;
	tab_size = nsize;
	return 0;
}

const char *intern_getn(const char *s, size_t len)
{
	uint32_t h = hash_bytes(s, len);
	struct intern_ent *e;

	if (tab_size) {
		for (e = tab[h & (tab_size - 1)]; e; e = e->next) {
			if (e->hash == h && !strncmp(e->str, s, len) && !e->str[len]) {
				e->refs++;
				return e->str;
			}
		}
	}
	if (tab_count >= tab_size && tab_grow() < 0)
		return NULL;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	memcpy(e->str, s, len);
	e->str[len] = '\0';
	e->hash = h;
	e->refs = 1;
	e->next = tab[h & (tab_size - 1)];
	tab[h & (tab_size - 1)] = e;
	tab_count++;
	return e->str;
}

const char *intern_get(const char *s)
{
	return intern_getn(s, strlen(s));
}

void intern_put(const char *s)
{
	struct intern_ent *e, **pp;

	if (!s)
		return;
	e = (struct intern_ent *)(s - offsetof(struct intern_ent, str));
	if (--e->refs)
		return;
	for (pp = &tab[e->hash & (tab_size - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	tab_count--;
	free(e);
}

size_t intern_count(void)
{
	return tab_count;
}
