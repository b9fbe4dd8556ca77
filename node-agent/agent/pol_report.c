// SPDX-License-Identifier: Apache-2.0
/* agent-policy.json (jansson): what governs each local endpoint, for `sluice-agent policy`. */
#include <arpa/inet.h>
#include <errno.h>

#include <jansson.h>

#include "pol_step.h"
#include "status.h"

static json_t *policy_build(const struct kube_obj *o)
{
	const struct kube_netpol *np = &o->u.np;
	json_t *spec = json_loads(np->spec ? np->spec : "{}", 0, NULL);
	json_t *types = json_array();

	if (np->types & KUBE_NP_INGRESS)
		json_array_append_new(types, json_string("Ingress"));
	if (np->types & KUBE_NP_EGRESS)
		json_array_append_new(types, json_string("Egress"));
	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "namespace", o->ns, "name", o->name,
			 "policyTypes", types ? types : json_null(), "error",
			 np->error ? json_string(np->error) : json_null(), "spec",
			 spec ? spec : json_null());
}

static json_t *ep_build(const struct pol_ep *e)
{
	char ip[INET_ADDRSTRLEN];
	json_t *pols = json_array();
	json_t *j;

	inet_ntop(AF_INET, &e->ip, ip, sizeof(ip));
	for (size_t i = 0; pols && i < e->n_pols; i++)
		if (json_array_append_new(pols, policy_build(e->pols[i])))
			return NULL;
	j = json_pack("{s:s, s:o, s:o, s:I, s:I, s:b, s:{s:b, s:b}, s:b, s:I, s:o}", "ip", ip,
		      "namespace", e->pod ? json_string(e->pod->ns) : json_null(), "pod",
		      e->pod ? json_string(e->pod->name) : json_null(), "epId",
		      (json_int_t)e->ep_id, "identity", (json_int_t)e->identity, "pending",
		      e->identity == SL_ID_PENDING, "isolation", "ingress",
		      !!(e->flags & SL_EP_F_ISO_IN), "egress", !!(e->flags & SL_EP_F_ISO_OUT),
		      "failedClosed", e->failed, "allowEntries", (json_int_t)e->n_entries,
		      "policies", pols ? pols : json_null());
	return j;
}

int pol_report_write(const char *path, const struct pol_state *st, __u32 gen)
{
	json_t *eps = json_array();
	json_t *j;
	int r;

	for (size_t i = 0; eps && i < st->n_eps; i++)
		if (json_array_append_new(eps, ep_build(&st->eps[i]))) {
			json_decref(eps);
			return -ENOMEM;
		}
	j = json_pack("{s:b, s:I, s:o}", "active", st->active, "generation", (json_int_t)gen,
		      "endpoints", eps ? eps : json_null());
	if (!j)
		return -ENOMEM;
	r = status_file_write(path, j);
	json_decref(j);
	return r;
}
