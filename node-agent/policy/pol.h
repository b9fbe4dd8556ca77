/* SPDX-License-Identifier: Apache-2.0 */
/* NetworkPolicy in the agent: selectors, identities, the desired datapath
 * state of this node's endpoints, and its publication to the maps. */
#ifndef SLUICE_AGENT_POL_H
#define SLUICE_AGENT_POL_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/abi.h"

#include "kube_objects.h"
#include "kube_store.h"

/* --- selectors (pol_match.c) ------------------------------------------------- */

/* A present selector against a label set: requirements ANDed, NotIn and
 * DoesNotExist true when the key is absent. An absent selector matches nothing. */
bool pol_sel_match(const struct kube_selector *s, const struct kube_label *l, size_t n);
/* labels[key] (interned key compared by pointer), NULL when absent. */
const char *pol_label_get(const struct kube_label *l, size_t n, const char *key);
/* Whether peer pe (pod/namespace selectors) of a policy in pol_ns selects
 * pods of namespace ns with labels l; namespace labels from nss. */
bool pol_peer_selects(const struct kube_store *nss, const struct kube_np_peer *pe,
		      const char *pol_ns, const char *ns, const struct kube_label *l, size_t n);

/* --- identities (pol_ids.c): one per (namespace, label set), refcounted ------ */

struct pol_ident {
	struct pol_ident *next;
	const char *ns; /* interned */
	__u16 n_labels;
	struct kube_label *labels; /* sorted by key, interned */
	__u32 hash, id, refs;
};

struct pol_ids {
	struct pol_ident **tab;
	size_t size, count;
	__u32 next_id;
	__u32 *used; /* open-addressing set of the numbers in use (0: empty slot) */
	size_t used_size;
};

void pol_ids_init(struct pol_ids *t, __u32 first_id);
void pol_ids_fini(struct pol_ids *t);
/* The identity of a pod's (ns, labels), created on first use (numbered hint
 * when that number is free, e.g. the pod's number before a restart); one
 * reference more. NULL when out of memory. */
struct pol_ident *pol_ids_ref(struct pol_ids *t, const char *ns, const struct kube_label *l,
			      size_t n, __u32 hint);
/* Every reference dropped (pol_ids_mark) before a recount; pol_ids_sweep
 * frees identities nobody referenced since. */
void pol_ids_mark(struct pol_ids *t);
void pol_ids_sweep(struct pol_ids *t);

/* --- the desired state (pol_compile.c) --------------------------------------- */

struct pol_ipc {
	__be32 ip;
	__u32 prefix, id;
};

struct pol_cidr {
	struct sl_polcidr_key key;
	__u32 set_id;
};

/* A local endpoint (an sl_ep4 entry) and what governs it. */
struct pol_ep {
	__be32 ip;
	__u32 ep_id;
	__u32 identity; /* SL_ID_PENDING when no Pod has its IP */
	__u32 flags;	/* SL_EP_F_ISO_* */
	const struct kube_obj *pod;
	size_t n_pols;
	const struct kube_obj **pols; /* the policies selecting it */
	size_t n_entries;	      /* its sl_pol entries */
	bool failed;		      /* an entry could not be written: fails closed */
	bool dirty;		      /* a change since may affect it (pol_affect) */
	unsigned long compiles;	      /* times its entries were computed */
};

struct pol_state {
	bool active; /* some NetworkPolicy exists */
	struct pol_ipc *ipc;
	size_t n_ipc;
	struct sl_pol_key *pol;
	size_t n_pol;
	struct pol_cidr *cidr;
	size_t n_cidr;
	struct pol_ep *eps; /* sorted by ip */
	size_t n_eps;
	unsigned long compiled; /* endpoints the compile computed, not reused */
};

/* What compiling needs: every Pod, Namespace, NetworkPolicy and Node, the
 * node's name, and the local endpoints (ip, ep_id) read from sl_ep4. */
struct pol_input {
	const struct kube_store *pods, *nss, *pols, *nodes;
	const char *node;
	const struct pol_ep *eps; /* ip and ep_id set, sorted by ip */
	size_t n_eps;
	const struct pol_ipc *hints; /* the IP cache as published, sorted: numbers kept */
	size_t n_hints;
	/* The state compiled last, NULL for none: its endpoints that are not
	 * dirty (nor failed) and still have the same pod are reused as they
	 * were instead of being compiled again. */
	const struct pol_state *prev;
};

/* Computes the desired state into out (sorted, deduplicated): the IP cache
 * and identities whole, the endpoints of in->prev that no change affected
 * copied, the others compiled. */
int pol_compile(struct pol_ids *ids, const struct pol_input *in, struct pol_state *out);
void pol_state_free(struct pol_state *s);

/* A store change (old and/or cur): marks dirty the endpoints of s it may
 * affect (pol_affect.c): for a Pod, the endpoint it is and those whose
 * policies' peers select it; for a NetworkPolicy, the endpoints it selected
 * and selects; for a Namespace, those with a namespaceSelector peer that
 * selects it. nss: the Namespaces as they are now. */
void pol_affect(struct pol_state *s, const struct kube_store *nss, const struct kube_obj *old,
		const struct kube_obj *cur);

int pol_key_cmp(const void *a, const void *b);
int pol_cidr_cmp(const void *a, const void *b);
int pol_ipc_cmp(const void *a, const void *b);
int pol_ep_ip_cmp(const void *a, const void *b); /* by address */

#endif
