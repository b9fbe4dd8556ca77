/* SPDX-License-Identifier: Apache-2.0 */
/* The object parsers' shared ground: typed field access and the per-kind parsers. */
#ifndef SLUICE_AGENT_KUBE_PARSE_H
#define SLUICE_AGENT_KUBE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "kube_objects.h"

/* Parse state of one object: where errors are written. */
struct pctx {
	char *why;
	size_t why_len;
};

/* Writes the reason into pc; returns -EINVAL. */
__attribute__((format(printf, 2, 3))) int kp_bad(struct pctx *pc, const char *fmt, ...);

/* --- typed field access: absent and null read as "not set" ----------------- */

/* obj[key], NULL when absent or null. path prefixes key in error messages. */
json_t *kp_field(json_t *obj, const char *key);
int kp_get_str(struct pctx *pc, json_t *obj, const char *key, const char *path, const char **out);
int kp_get_int(struct pctx *pc, json_t *obj, const char *key, const char *path, long long min,
	       long long max, long long *out);
int kp_get_bool(struct pctx *pc, json_t *obj, const char *key, const char *path, bool *out);
int kp_get_typed(struct pctx *pc, json_t *obj, const char *key, const char *path, int type,
		 json_t **out);

/* --- values ----------------------------------------------------------------- */

/* family 0: either. */
int kp_ip_parse(struct pctx *pc, const char *s, int family, const char *path, struct kube_ip *ip);
int kp_cidr_parse(struct pctx *pc, const char *s, const char *path, struct kube_cidr *c);
int kp_proto_parse(struct pctx *pc, json_t *obj, const char *path, __u8 *proto);
/* An array of address strings into out (at most max), *n counting. */
int kp_ip_list_parse(struct pctx *pc, json_t *arr, const char *path, struct kube_ip *out,
		     size_t max, size_t *n);
/* One zeroed elem per entry of the ports array arr (none for absent or
 * empty), the count in *n. */
int kp_ports_alloc(struct pctx *pc, json_t *arr, const char *path, size_t elem, void **out,
		   __u16 *n);
int kp_labels_parse(struct pctx *pc, json_t *meta, struct kube_label **out, __u16 *n_out);
const char *kp_label_get(json_t *meta, const char *key);

/* --- one parser per kind: root is the object, meta its metadata ------------- */

int kube_svc_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o);
/* spec.healthCheckNodePort of a Service, into s->hc_node_port. */
int kube_svc_hc_parse(struct pctx *pc, json_t *spec, struct kube_service *s);
int kube_eps_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o);
int kube_node_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o);
int kube_pod_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o);
int kube_ns_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o);
int kube_netpol_parse(struct pctx *pc, json_t *root, json_t *meta, struct kube_obj *o);
void kube_netpol_free(struct kube_netpol *np);

#endif
