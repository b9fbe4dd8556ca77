/* SPDX-License-Identifier: Apache-2.0 */
/* A growable array of fixed-size elements, each zeroed as it is appended. */
#ifndef SLUICE_VEC_H
#define SLUICE_VEC_H

#include <stdlib.h>
#include <string.h>

struct vec {
	void *v;
	size_t n, cap, elem; /* elements used, elements allocated, bytes each */
};

/* A new zeroed last element of v, or NULL when memory runs out (v is then
 * unchanged). The first growth makes room for first elements, later ones
 * double. */
static inline void *vec_push(struct vec *v, size_t first)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : first;
		void *p = realloc(v->v, cap * v->elem);

		if (!p)
			return NULL;
		v->v = p;
		v->cap = cap;
	}
	return memset((char *)v->v + v->n++ * v->elem, 0, v->elem);
}

#endif
