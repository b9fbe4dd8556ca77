/* SPDX-License-Identifier: Apache-2.0 */
/* API objects of the policy tests put into stores from JSON fixtures. */
#ifndef SLUICE_KUBE_FIXTURE_H
#define SLUICE_KUBE_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "kube_objects.h"
#include "kube_store.h"
#include "unit.h"

/* A store callback for tests that watch no change. */
static inline void fixture_noop(void *ctx, enum kube_op op, const struct kube_obj *o,
				const struct kube_obj *n)
{
}

/* The object of kind k parsed from json stored in s; a fixture that does not
 * parse fails the test. */
static inline void fixture_put(struct kube_store *s, enum kube_kind k, const char *json)
{
	char why[KUBE_WHY_MAX] = "";
	struct kube_obj *o = kube_obj_parse(k, json, strlen(json), NULL, NULL, why, sizeof(why));

	if (!o) {
		unit_failed++;
		printf("FAIL: fixture does not parse (%s): %s\n", why, json);
		return;
	}
	CHECK_INT(kube_store_upsert(s, o), 0);
}

#endif
