// SPDX-License-Identifier: Apache-2.0
/* The agent loop's policy step: publish the policy maps when the API or the
 * local endpoints changed, and report what is in force. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pol_step.h"

#define POL_STEP_MIN_MS 100

void pol_step_start(struct pol_step *s, const struct config *c)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->dirty = true;
	r = pol_pub_open(c->pin_dir, &s->pub);
	if (r < 0)
		log_error_errno(r,
				"Failed to open the policy maps under '%s'; NetworkPolicy is "
				"not enforced",
				c->pin_dir);
}

void pol_step_stop(struct pol_step *s)
{
	pol_pub_free(s->pub);
	s->pub = NULL;
}

static bool error_same(const struct kube_obj *a, const struct kube_obj *b)
{
	const char *x = a ? a->u.np.error : NULL, *y = b ? b->u.np.error : NULL;

	return (!x && !y) || (x && y && !strcmp(x, y));
}

void pol_step_changed(struct pol_step *s, const struct kube_sync *ks, const struct kube_obj *old,
		      const struct kube_obj *cur)
{
	const struct kube_obj *o = cur ? cur : old;

	if (o->kind != KUBE_POD && o->kind != KUBE_NAMESPACE && o->kind != KUBE_NETPOL &&
	    o->kind != KUBE_NODE)
		return;
	s->dirty = true;
	if (s->pub)
		pol_pub_note(s->pub, kube_sync_store(ks, KUBE_NAMESPACE), old, cur);
	if (o->kind != KUBE_NETPOL || !cur || error_same(old, cur))
		return;
	if (!cur->u.np.sel_ok)
		log_warn("NetworkPolicy '%s/%s' selects no pods: its podSelector is unusable",
			 cur->ns, cur->name);
	else if (cur->u.np.error)
		log_warn("NetworkPolicy '%s/%s' cannot be enforced as written: %s; the pods it "
			 "selects are isolated in its directions with nothing allowed by it",
			 cur->ns, cur->name, cur->u.np.error);
}

bool pol_step_update(struct pol_step *s, const struct kube_sync *ks, const struct config *c,
		     unsigned long long now)
{
	static const enum kube_kind kinds[] = {KUBE_POD, KUBE_NAMESPACE, KUBE_NETPOL, KUBE_NODE};
	struct pol_input in = {.pods = kube_sync_store(ks, KUBE_POD),
			       .nss = kube_sync_store(ks, KUBE_NAMESPACE),
			       .pols = kube_sync_store(ks, KUBE_NETPOL),
			       .nodes = kube_sync_store(ks, KUBE_NODE),
			       .node = c->node_name};
	char path[CONFIG_PATH_MAX + 32];
	struct pol_stats st;
	int r;

	if (!s->pub || now < s->next_ms)
		return false;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!ks->slots[kinds[i]].ref.synced)
			return false; /* never judge from a partial view */
	s->next_ms = now + POL_STEP_MIN_MS;
	r = pol_pub_sync(s->pub, &in, s->dirty);
	if (r < 0) {
		log_error_errno(r, "Failed to publish the policy maps");
		return false;
	}
	s->dirty = false;
	if (!r)
		return false;
	pol_pub_stats(s->pub, &st);
	if (st.gen == s->logged_gen)
		return true;
	s->logged_gen = st.gen;
	log_debug("Policy maps: generation %u, %lu allows, %lu ipcache entries", st.gen, st.entries,
		  st.ipcache);
	snprintf(path, sizeof(path), "%s/%s", c->cni_state_dir, POL_REPORT_FILE);
	r = pol_report_write(path, pol_pub_state(s->pub), st.gen);
	if (r < 0)
		log_warn_errno(r, "Failed to write the policy report '%s'", path);
	return true;
}

const struct pol_stats *pol_step_stats(const struct pol_step *s, struct pol_stats *buf)
{
	if (!s->pub)
		return NULL;
	pol_pub_stats(s->pub, buf);
	return buf;
}
