/* SPDX-License-Identifier: Apache-2.0 */
/* Reference-counted string interning for the agent's object stores. */
#ifndef SLUICE_AGENT_KUBE_INTERN_H
#define SLUICE_AGENT_KUBE_INTERN_H

#include <stddef.h>

/* Returns the one shared copy of s[0..len) (NUL-terminated), taking a
 * reference; NULL when out of memory. Namespaces, node names, zones, label keys
 * and values repeat across thousands of objects: each is stored once. */
const char *intern_getn(const char *s, size_t len);
const char *intern_get(const char *s);

/* Drops a reference taken by intern_get(); NULL is ignored. */
void intern_put(const char *s);

/* Distinct strings currently held (for tests and status). */
size_t intern_count(void);

#endif
