// SPDX-License-Identifier: Apache-2.0
/* Label selector matching, as apimachinery's Requirement.Matches. */
#include <stdbool.h>
#include <stddef.h>

#include "pol.h"

const char *pol_label_get(const struct kube_label *l, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].key == key) /* both interned */
			return l[i].value;
	return NULL;
}

static bool req_match(const struct kube_sel_req *r, const struct kube_label *l, size_t n)
{
	const char *v = pol_label_get(l, n, r->key);
	bool in = false;

	for (size_t i = 0; v && i < r->n_values; i++)
		in |= r->values[i] == v;
	switch (r->op) {
	case KUBE_SEL_IN:
		return in;
	case KUBE_SEL_NOT_IN:
		return !in;
	case KUBE_SEL_EXISTS:
		return v != NULL;
	case KUBE_SEL_NOT_EXISTS:
		return v == NULL;
	}
	return false;
}

bool pol_sel_match(const struct kube_selector *s, const struct kube_label *l, size_t n)
{
	if (!s->present)
		return false;
	for (size_t i = 0; i < s->n_reqs; i++)
		if (!req_match(&s->reqs[i], l, n))
			return false;
	return true;
}
