// SPDX-License-Identifier: Apache-2.0
/* Parses NetworkPolicies into selectors, peers and ports. A policy whose
 * rules cannot be used is kept with its error: the pods it selects fail closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kube_intern.h"
#include "kube_objects.h"
#include "kube_parse.h"

static void selector_free(struct kube_selector *s)
{
	for (size_t i = 0; i < s->n_reqs; i++) {
		intern_put(s->reqs[i].key);
		for (size_t j = 0; j < s->reqs[i].n_values; j++)
			intern_put(s->reqs[i].values[j]);
		free(s->reqs[i].values);
	}
	free(s->reqs);
	memset(s, 0, sizeof(*s));
}

static void rules_free(struct kube_np_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < r[i].n_peers; j++) {
			selector_free(&r[i].peers[j].pods);
			selector_free(&r[i].peers[j].nss);
			free(r[i].peers[j].except);
		}
		for (size_t j = 0; j < r[i].n_ports; j++)
			intern_put(r[i].ports[j].name);
		free(r[i].peers);
		free(r[i].ports);
	}
	free(r);
}

void kube_netpol_free(struct kube_netpol *np)
{
	free(np->spec);
	free(np->error);
	selector_free(&np->pod_sel);
	rules_free(np->in, np->n_in);
	rules_free(np->out, np->n_out);
}

static int req_add(struct pctx *pc, struct kube_selector *s, const char *key, __u8 op,
		   json_t *values, const char *path)
{
	struct kube_sel_req *r = &s->reqs[s->n_reqs];
	json_t *v;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->op = op;
	if (!(r->key = intern_get(key)))
		return kp_bad(pc, "out of memory");
	s->n_reqs++;
	if (!values || !json_array_size(values))
		return 0;
	if (!(r->values = calloc(json_array_size(values), sizeof(*r->values))))
		return kp_bad(pc, "out of memory");
	json_array_foreach(values, i, v) {
		if (!json_is_string(v))
			return kp_bad(pc, "%svalues[%zu]: expected a string", path, i);
		if (!(r->values[r->n_values] = intern_get(json_string_value(v))))
			return kp_bad(pc, "out of memory");
		r->n_values++;
	}
	return 0;
}

static int expr_parse(struct pctx *pc, struct kube_selector *s, json_t *e, const char *path)
{
	static const char *const ops[] = {[KUBE_SEL_IN] = "In",
					  [KUBE_SEL_NOT_IN] = "NotIn",
					  [KUBE_SEL_EXISTS] = "Exists",
					  [KUBE_SEL_NOT_EXISTS] = "DoesNotExist"};
	const char *key, *op;
	json_t *values;
	size_t n;

	if (!json_is_object(e) || kp_get_str(pc, e, "key", path, &key) < 0 ||
	    kp_get_str(pc, e, "operator", path, &op) < 0 ||
	    kp_get_typed(pc, e, "values", path, JSON_ARRAY, &values) < 0)
		return kp_bad(pc, "%s: expected {key, operator, values}", path);
	if (!key || !op)
		return kp_bad(pc, "%s: key and operator are required", path);
	n = values ? json_array_size(values) : 0;
	for (__u8 i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(op, ops[i]))
			continue;
		if ((i <= KUBE_SEL_NOT_IN) != (n > 0))
			return kp_bad(pc, "%s: values must be %s for %s", path,
				      n ? "empty" : "non-empty", op);
		return req_add(pc, s, key, i, values, path);
	}
	return kp_bad(pc, "%soperator: unknown operator '%.32s'", path, op);
}

/* obj[key] as a LabelSelector; absent leaves s->present false. */
static int selector_parse(struct pctx *pc, json_t *obj, const char *key, const char *path,
			  struct kube_selector *s)
{
	json_t *sel, *labels, *exprs, *v;
	char sub[160];
	const char *k;
	size_t i, n;

	if (kp_get_typed(pc, obj, key, path, JSON_OBJECT, &sel) < 0)
		return -EINVAL;
	if (!sel)
		return 0;
	s->present = true;
	snprintf(sub, sizeof(sub), "%s%s.", path, key);
	if (kp_get_typed(pc, sel, "matchLabels", sub, JSON_OBJECT, &labels) < 0 ||
	    kp_get_typed(pc, sel, "matchExpressions", sub, JSON_ARRAY, &exprs) < 0)
		return -EINVAL;
	n = (labels ? json_object_size(labels) : 0) + (exprs ? json_array_size(exprs) : 0);
	if (!n)
		return 0;
	if (n > 0xffff || !(s->reqs = calloc(n, sizeof(*s->reqs))))
		return kp_bad(pc, "%s: too many requirements", sub);
	json_object_foreach(labels, k, v) {
		json_t *one = json_pack("[O]", v);
		int r;

		if (!json_is_string(v) || !one) {
			json_decref(one);
			return kp_bad(pc, "%smatchLabels.%.64s: expected a string", sub, k);
		}
		r = req_add(pc, s, k, KUBE_SEL_IN, one, sub);
		json_decref(one);
		if (r < 0)
			return r;
	}
	json_array_foreach(exprs, i, v) {
		char epath[200];

		snprintf(epath, sizeof(epath), "%smatchExpressions[%zu]", sub, i);
		if (expr_parse(pc, s, v, epath) < 0)
			return -EINVAL;
	}
	return 0;
}

/* An IPv4 cidr with its host bits cleared. */
static int cidr4_parse(struct pctx *pc, const char *s, const char *path, struct kube_cidr *c)
{
	__u32 a, mask;

	if (kp_cidr_parse(pc, s, path, c) < 0)
		return -EINVAL;
	if (c->ip.family != 4)
		return 0; /* IPv6 blocks are kept and never match (no IPv6 datapath) */
	memcpy(&a, c->ip.addr, 4);
	mask = c->prefix ? htonl(~0u << (32 - c->prefix)) : 0;
	a &= mask;
	memcpy(c->ip.addr, &a, 4);
	return 0;
}

static bool cidr_within(const struct kube_cidr *in, const struct kube_cidr *out)
{
	__u32 a, b, mask;

	if (in->ip.family != out->ip.family || in->prefix < out->prefix)
		return false;
	if (in->ip.family != 4)
		return true; /* not checked for IPv6 */
	memcpy(&a, in->ip.addr, 4);
	memcpy(&b, out->ip.addr, 4);
	mask = out->prefix ? htonl(~0u << (32 - out->prefix)) : 0;
	return (a & mask) == b;
}

static int ipblock_parse(struct pctx *pc, json_t *blk, const char *path, struct kube_np_peer *p)
{
	json_t *except, *v;
	const char *cidr;
	char sub[300];
	size_t i;

	p->ip_block = true;
	if (kp_get_str(pc, blk, "cidr", path, &cidr) < 0 ||
	    kp_get_typed(pc, blk, "except", path, JSON_ARRAY, &except) < 0)
		return -EINVAL;
	snprintf(sub, sizeof(sub), "%scidr", path);
	if (!cidr)
		return kp_bad(pc, "%s: missing", sub);
	if (cidr4_parse(pc, cidr, sub, &p->cidr) < 0)
		return -EINVAL;
	if (!except || !json_array_size(except))
		return 0;
	if (!(p->except = calloc(json_array_size(except), sizeof(*p->except))))
		return kp_bad(pc, "out of memory");
	json_array_foreach(except, i, v) {
		struct kube_cidr *e = &p->except[p->n_except];

		snprintf(sub, sizeof(sub), "%sexcept[%zu]", path, i);
		if (!json_is_string(v))
			return kp_bad(pc, "%s: expected a string", sub);
		if (cidr4_parse(pc, json_string_value(v), sub, e) < 0)
			return -EINVAL;
		if (!cidr_within(e, &p->cidr))
			return kp_bad(pc, "%s: '%.64s' is outside the cidr", sub,
				      json_string_value(v));
		p->n_except++;
	}
	return 0;
}

static int peer_parse(struct pctx *pc, json_t *v, const char *path, struct kube_np_peer *p)
{
	json_t *blk;
	char sub[256];

	if (!json_is_object(v))
		return kp_bad(pc, "%s: expected an object", path);
	snprintf(sub, sizeof(sub), "%s.", path);
	if (kp_get_typed(pc, v, "ipBlock", sub, JSON_OBJECT, &blk) < 0 ||
	    selector_parse(pc, v, "podSelector", sub, &p->pods) < 0 ||
	    selector_parse(pc, v, "namespaceSelector", sub, &p->nss) < 0)
		return -EINVAL;
	if (blk && (p->pods.present || p->nss.present))
		return kp_bad(pc, "%s: ipBlock excludes podSelector and namespaceSelector", path);
	if (!blk && !p->pods.present && !p->nss.present)
		return kp_bad(pc, "%s: an empty peer", path);
	snprintf(sub, sizeof(sub), "%s.ipBlock.", path);
	return blk ? ipblock_parse(pc, blk, sub, p) : 0;
}

static int port_parse(struct pctx *pc, json_t *v, const char *path, struct kube_np_port *p)
{
	long long end = 0;
	json_t *port;

	if (!json_is_object(v))
		return kp_bad(pc, "%s: expected an object", path);
	if (kp_proto_parse(pc, v, path, &p->proto) < 0 ||
	    kp_get_int(pc, v, "endPort", path, 1, 65535, &end) < 0)
		return -EINVAL;
	port = kp_field(v, "port");
	if (json_is_string(port)) {
		if (end)
			return kp_bad(pc, "%sendPort: only with a numeric port", path);
		p->name = intern_get(json_string_value(port));
		return p->name ? 0 : kp_bad(pc, "out of memory");
	}
	if (port && (!json_is_integer(port) || json_integer_value(port) < 1 ||
		     json_integer_value(port) > 65535))
		return kp_bad(pc, "%sport: expected 1..65535 or a name", path);
	p->port = port ? (__u16)json_integer_value(port) : 0;
	if (end && (!p->port || end < p->port))
		return kp_bad(pc, "%sendPort: must be >= port", path);
	p->end_port = (__u16)end;
	return 0;
}

/* spec[key] (ingress or egress) into *out; peers under peers_key. */
static int rules_parse(struct pctx *pc, json_t *spec, const char *key, const char *peers_key,
		       struct kube_np_rule **out, __u16 *n_out)
{
	json_t *rules, *r, *peers, *ports, *v;
	char path[96], sub[160];
	size_t i, j;

	if (kp_get_typed(pc, spec, key, "spec.", JSON_ARRAY, &rules) < 0)
		return -EINVAL;
	if (!rules || !json_array_size(rules))
		return 0;
	if (!(*out = calloc(json_array_size(rules), sizeof(**out))))
		return kp_bad(pc, "out of memory");
	json_array_foreach(rules, i, r) {
		struct kube_np_rule *rule = &(*out)[(*n_out)++];

		snprintf(path, sizeof(path), "spec.%s[%zu].", key, i);
		if (!json_is_object(r) ||
		    kp_get_typed(pc, r, peers_key, path, JSON_ARRAY, &peers) < 0 ||
		    kp_get_typed(pc, r, "ports", path, JSON_ARRAY, &ports) < 0)
			return kp_bad(pc, "spec.%s[%zu]: not a rule", key, i);
		if (peers && json_array_size(peers) &&
		    !(rule->peers = calloc(json_array_size(peers), sizeof(*rule->peers))))
			return kp_bad(pc, "out of memory");
		json_array_foreach(peers, j, v) {
			snprintf(sub, sizeof(sub), "%s%s[%zu]", path, peers_key, j);
			if (peer_parse(pc, v, sub, &rule->peers[rule->n_peers++]) < 0)
				return -EINVAL;
		}
		if (ports && json_array_size(ports) &&
		    !(rule->ports = calloc(json_array_size(ports), sizeof(*rule->ports))))
			return kp_bad(pc, "out of memory");
		json_array_foreach(ports, j, v) {
			snprintf(sub, sizeof(sub), "%sports[%zu].", path, j);
			if (port_parse(pc, v, sub, &rule->ports[rule->n_ports++]) < 0)
				return -EINVAL;
		}
	}
	return 0;
}

static int types_parse(struct pctx *pc, json_t *spec, struct kube_netpol *np)
{
	json_t *types, *v;
	size_t i;

	if (kp_get_typed(pc, spec, "policyTypes", "spec.", JSON_ARRAY, &types) < 0)
		return -EINVAL;
	if (!types || !json_array_size(types)) { /* SetDefaults_NetworkPolicy */
		np->types = KUBE_NP_INGRESS;
		if (json_array_size(json_object_get(spec, "egress")))
			np->types |= KUBE_NP_EGRESS;
		return 0;
	}
	json_array_foreach(types, i, v) {
		const char *t = json_string_value(v);

		if (t && !strcmp(t, "Ingress"))
			np->types |= KUBE_NP_INGRESS;
		else if (t && !strcmp(t, "Egress"))
			np->types |= KUBE_NP_EGRESS;
		else
			return kp_bad(pc, "spec.policyTypes[%zu]: expected Ingress or Egress", i);
	}
	return 0;
}

/* Fails only when the object is not a NetworkPolicy at all (no spec or no
 * podSelector object). A podSelector with a bad requirement leaves sel_ok
 * false (selects nothing); bad policyTypes or rules leave np->error set: the
 * pods it selects are isolated in its directions and nothing is allowed. */
int kube_netpol_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o)
{
	struct kube_netpol *np = &o->u.np;
	json_t *spec;

	if (kp_get_typed(pc, root, "spec", "", JSON_OBJECT, &spec) < 0)
		return -EINVAL;
	if (!spec)
		return kp_bad(pc, "spec: missing");
	if (!(np->spec = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS)))
		return kp_bad(pc, "out of memory");
	if (!json_is_object(json_object_get(spec, "podSelector")))
		return kp_bad(pc, "spec.podSelector: expected an object");
	np->sel_ok = selector_parse(pc, spec, "podSelector", "spec.", &np->pod_sel) == 0;
	if (np->sel_ok && types_parse(pc, spec, np) == 0 &&
	    rules_parse(pc, spec, "ingress", "from", &np->in, &np->n_in) == 0 &&
	    rules_parse(pc, spec, "egress", "to", &np->out, &np->n_out) == 0)
		return 0;
	if (!np->types)
		np->types = KUBE_NP_INGRESS | KUBE_NP_EGRESS;
	rules_free(np->in, np->n_in);
	rules_free(np->out, np->n_out);
	np->in = np->out = NULL;
	np->n_in = np->n_out = 0;
	if (!(np->error = strdup(pc->why)))
		return kp_bad(pc, "out of memory");
	pc->why[0] = '\0';
	return 0;
}
