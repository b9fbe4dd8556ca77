// SPDX-License-Identifier: Apache-2.0
/* Parses Kubernetes JSON (jansson) into the compact objects of kube_objects.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kube_intern.h"
#include "kube_objects.h"
#include "kube_parse.h"

static const struct {
	const char *name;
	bool namespaced;
} kinds[KUBE_KIND_MAX] = {
    [KUBE_SERVICE] = {"Service", true},	     [KUBE_ENDPOINTSLICE] = {"EndpointSlice", true},
    [KUBE_NODE] = {"Node", false},	     [KUBE_POD] = {"Pod", true},
    [KUBE_NAMESPACE] = {"Namespace", false}, [KUBE_NETPOL] = {"NetworkPolicy", true},
};

const char *kube_kind_name(enum kube_kind k)
{
	return k < KUBE_KIND_MAX ? kinds[k].name : "?";
}

bool kube_kind_namespaced(enum kube_kind k)
{
	return k < KUBE_KIND_MAX && kinds[k].namespaced;
}

const char *kube_ip_str(const struct kube_ip *ip, char *buf, size_t len)
{
	if (!ip->family ||
	    !inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->addr, buf, (socklen_t)len))
		snprintf(buf, len, "-");
	return buf;
}

static int (*const parsers[KUBE_KIND_MAX])(struct pctx *pc, json_t *root, json_t *meta,
					   struct kube_obj *o) = {
    [KUBE_SERVICE] = kube_svc_parse,  [KUBE_ENDPOINTSLICE] = kube_eps_parse,
    [KUBE_NODE] = kube_node_parse,    [KUBE_POD] = kube_pod_parse,
    [KUBE_NAMESPACE] = kube_ns_parse, [KUBE_NETPOL] = kube_netpol_parse,
};

static void labels_free(struct kube_label *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		intern_put(l[i].key);
		intern_put(l[i].value);
	}
	free(l);
}

void kube_obj_free(struct kube_obj *o)
{
	if (!o)
		return;
	switch (o->kind) {
	case KUBE_SERVICE:
		for (size_t i = 0; i < o->u.svc.n_ports; i++) {
			intern_put(o->u.svc.ports[i].name);
			intern_put(o->u.svc.ports[i].target_name);
		}
		free(o->u.svc.ports);
		free(o->u.svc.external_ips);
		free(o->u.svc.src_ranges);
		break;
	case KUBE_ENDPOINTSLICE:
		intern_put(o->u.eps.service);
		for (size_t i = 0; i < o->u.eps.n_ports; i++)
			intern_put(o->u.eps.ports[i].name);
		for (size_t i = 0; i < o->u.eps.n_endpoints; i++) {
			struct kube_endpoint *e = &o->u.eps.endpoints[i];

			intern_put(e->node);
			intern_put(e->zone);
			for (size_t j = 0; j < (size_t)e->n_zone_hints + e->n_node_hints; j++)
				intern_put(e->hints[j]);
			free(e->hints);
		}
		free(o->u.eps.ports);
		free(o->u.eps.endpoints);
		break;
	case KUBE_NODE:
		intern_put(o->u.node.zone);
		break;
	case KUBE_POD:
		free(o->u.pod.uid);
		labels_free(o->u.pod.labels, o->u.pod.n_labels);
		intern_put(o->u.pod.node);
		for (size_t i = 0; i < o->u.pod.n_ports; i++)
			intern_put(o->u.pod.ports[i].name);
		free(o->u.pod.ports);
		break;
	case KUBE_NAMESPACE:
		labels_free(o->u.ns.labels, o->u.ns.n_labels);
		break;
	case KUBE_NETPOL:
		kube_netpol_free(&o->u.np);
		break;
	}
	intern_put(o->ns);
	free(o);
}

/* metadata.namespace and .name into ns/name (either may be NULL). */
static int meta_key(struct pctx *pc, enum kube_kind k, json_t *root, json_t **meta, char *ns,
		    char *name)
{
	const char *n = NULL, *s = NULL;

	if (kp_get_typed(pc, root, "metadata", "", JSON_OBJECT, meta) < 0)
		return -EINVAL;
	if (!*meta)
		return kp_bad(pc, "metadata: missing");
	if (kp_get_str(pc, *meta, "namespace", "metadata.", &s) < 0)
		return -EINVAL;
	if (s && ns && strlen(s) < KUBE_NS_MAX)
		strcpy(ns, s);
	if (kp_get_str(pc, *meta, "name", "metadata.", &n) < 0)
		return -EINVAL;
	if (n && name && strlen(n) < KUBE_NAME_MAX)
		strcpy(name, n);
	if (!n || !n[0])
		return kp_bad(pc, "metadata.name: missing");
	if (strlen(n) >= KUBE_NAME_MAX)
		return kp_bad(pc, "metadata.name: longer than %d characters", KUBE_NAME_MAX - 1);
	if (kube_kind_namespaced(k) && (!s || !s[0]))
		return kp_bad(pc, "metadata.namespace: missing");
	if (s && strlen(s) >= KUBE_NS_MAX)
		return kp_bad(pc, "metadata.namespace: longer than %d characters", KUBE_NS_MAX - 1);
	return 0;
}

static struct kube_obj *obj_from_json(enum kube_kind k, json_t *root, char *ns, char *name,
				      char *why, size_t why_len)
{
	struct pctx pc = {why, why_len};
	char ns_buf[KUBE_NS_MAX] = "", name_buf[KUBE_NAME_MAX] = "";
	struct kube_obj *o;
	const char *n;
	json_t *meta;

	if (ns)
		ns[0] = '\0';
	if (name)
		name[0] = '\0';
	if (!json_is_object(root)) {
		kp_bad(&pc, "not a JSON object");
		return NULL;
	}
	if (meta_key(&pc, k, root, &meta, ns ? ns : ns_buf, name ? name : name_buf) < 0)
		return NULL;
	n = json_string_value(json_object_get(meta, "name"));
	o = calloc(1, sizeof(*o) + strlen(n) + 1);
	if (!o) {
		kp_bad(&pc, "out of memory");
		return NULL;
	}
	o->kind = (__u8)k;
	strcpy(o->name, n);
	o->ns = intern_get(
	    kube_kind_namespaced(k) ? json_string_value(json_object_get(meta, "namespace")) : "");
	if (!o->ns) {
		kp_bad(&pc, "out of memory");
		goto out_free;
	}
	if (parsers[k](&pc, root, meta, o) < 0)
		goto out_free;
	return o;
out_free:
	kube_obj_free(o);
	return NULL;
}

struct kube_obj *kube_obj_parse(enum kube_kind k, const char *buf, size_t len, char *ns_out,
				char *name_out, char *why, size_t why_len)
{
	json_auto_t *root = NULL;
	json_error_t jerr;

	if (ns_out)
		ns_out[0] = '\0';
	if (name_out)
		name_out[0] = '\0';
	root = json_loadb(buf, len, 0, &jerr);
	if (!root) {
		snprintf(why, why_len, "not JSON: %s", jerr.text);
		return NULL;
	}
	return obj_from_json(k, root, ns_out, name_out, why, why_len);
}

int kube_page_parse(enum kube_kind k, const char *buf, size_t len, const struct kube_page_ops *ops,
		    void *ctx, char *rv, char **cont, char *why, size_t why_len)
{
	json_auto_t *root = NULL;
	json_error_t jerr;
	json_t *meta, *items, *item, *v;
	size_t i;

	*cont = NULL;
	rv[0] = '\0';
	root = json_loadb(buf, len, 0, &jerr);
	if (!root) {
		snprintf(why, why_len, "list is not JSON: %s", jerr.text);
		return -EBADMSG;
	}
	meta = json_object_get(root, "metadata");
	v = json_object_get(meta, "resourceVersion");
	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= KUBE_RV_MAX) {
		snprintf(why, why_len, "list has no valid metadata.resourceVersion");
		return -EBADMSG;
	}
	strcpy(rv, json_string_value(v));
	items = json_object_get(root, "items");
	if (items && !json_is_null(items) && !json_is_array(items)) {
		snprintf(why, why_len, "list items is not an array");
		return -EBADMSG;
	}
	v = json_object_get(meta, "continue");
	if (json_is_string(v) && json_string_length(v)) {
		*cont = strdup(json_string_value(v));
		if (!*cont)
			return -ENOMEM;
	}
	json_array_foreach(items, i, item) {
		char ns[KUBE_NS_MAX], name[KUBE_NAME_MAX], reason[KUBE_WHY_MAX];
		struct kube_obj *o = obj_from_json(k, item, ns, name, reason, sizeof(reason));

		if (o)
			ops->item(ctx, o);
		else
			ops->bad(ctx, ns, name, reason);
	}
	return 0;
}

static const char *const ev_types[] = {
    [KUBE_EV_ADDED] = "ADDED",	     [KUBE_EV_MODIFIED] = "MODIFIED", [KUBE_EV_DELETED] = "DELETED",
    [KUBE_EV_BOOKMARK] = "BOOKMARK", [KUBE_EV_ERROR] = "ERROR",
};

int kube_event_parse(enum kube_kind k, const char *line, size_t len, struct kube_event *ev,
		     char *why, size_t why_len)
{
	json_auto_t *root = NULL;
	json_error_t jerr;
	const char *type;
	json_t *obj, *meta, *v;
	size_t i;

	memset(ev, 0, sizeof(*ev));
	root = json_loadb(line, len, 0, &jerr);
	if (!root) {
		snprintf(why, why_len, "watch line is not JSON: %s", jerr.text);
		return -EBADMSG;
	}
	type = json_string_value(json_object_get(root, "type"));
	obj = json_object_get(root, "object");
	if (!type || !json_is_object(obj)) {
		snprintf(why, why_len, "watch line has no type or object");
		return -EBADMSG;
	}
	for (i = 0; i < sizeof(ev_types) / sizeof(ev_types[0]) && strcmp(ev_types[i], type); i++)
		;
	if (i == sizeof(ev_types) / sizeof(ev_types[0])) {
		snprintf(why, why_len, "unknown watch event type '%.32s'", type);
		return -EBADMSG;
	}
	ev->type = (enum kube_ev_type)i;
	meta = json_object_get(obj, "metadata");
	v = json_object_get(meta, "resourceVersion");
	if (json_is_string(v) && json_string_length(v) < KUBE_RV_MAX)
		strcpy(ev->rv, json_string_value(v));

	switch (ev->type) {
	case KUBE_EV_ERROR:
		v = json_object_get(obj, "code");
		ev->code = json_is_integer(v) ? (int)json_integer_value(v) : 0;
		snprintf(ev->reason, sizeof(ev->reason), "%s",
			 json_string_value(json_object_get(obj, "reason")) ?: "");
		snprintf(ev->message, sizeof(ev->message), "%s",
			 json_string_value(json_object_get(obj, "message")) ?: "");
		return 0;
	case KUBE_EV_BOOKMARK:
		if (!ev->rv[0]) {
			snprintf(why, why_len, "BOOKMARK without metadata.resourceVersion");
			return -EBADMSG;
		}
		return 0;
	default:
		ev->obj = obj_from_json(k, obj, ev->ns, ev->name, why, why_len);
		return ev->obj ? 0 : -EINVAL;
	}
}

int kube_status_parse(const char *buf, size_t len, int *code, char *msg, size_t msg_len)
{
	json_auto_t *root = json_loadb(buf, len, 0, NULL);
	json_t *m;

	if (!json_is_object(root) || !json_is_string(json_object_get(root, "kind")) ||
	    strcmp(json_string_value(json_object_get(root, "kind")), "Status"))
		return -EBADMSG;
	*code = json_is_integer(json_object_get(root, "code"))
		    ? (int)json_integer_value(json_object_get(root, "code"))
		    : 0;
	m = json_object_get(root, "message");
	snprintf(msg, msg_len, "%s", json_is_string(m) ? json_string_value(m) : "");
	return 0;
}
