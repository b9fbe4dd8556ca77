// SPDX-License-Identifier: Apache-2.0
/* Typed access to the fields of Kubernetes JSON (jansson): absent and null read as "not set",
 * errors name the field. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "errbuf.h"
#include "kube_intern.h"
#include "kube_objects.h"
#include "kube_parse.h"

int kp_bad(struct pctx *pc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errbuf_vset(pc->why, pc->why_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

json_t *kp_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

int kp_get_str(struct pctx *pc, json_t *obj, const char *key, const char *path, const char **out)
{
	json_t *v = kp_field(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return kp_bad(pc, "%s%s: expected a string", path, key);
	*out = json_string_value(v);
	return 0;
}

int kp_get_int(struct pctx *pc, json_t *obj, const char *key, const char *path, long long min,
	       long long max, long long *out)
{
	json_t *v = kp_field(obj, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return kp_bad(pc, "%s%s: expected an integer in %lld..%lld", path, key, min, max);
	*out = json_integer_value(v);
	return 1;
}

int kp_get_bool(struct pctx *pc, json_t *obj, const char *key, const char *path, bool *out)
{
	json_t *v = kp_field(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return kp_bad(pc, "%s%s: expected true or false", path, key);
	*out = json_is_true(v);
	return 1;
}

int kp_get_typed(struct pctx *pc, json_t *obj, const char *key, const char *path, int type,
		 json_t **out)
{
	json_t *v = kp_field(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if ((int)json_typeof(v) != type)
		return kp_bad(pc, "%s%s: expected %s", path, key,
			      type == JSON_ARRAY ? "an array" : "an object");
	*out = v;
	return 0;
}

int kp_ip_parse(struct pctx *pc, const char *s, int family, const char *path, struct kube_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (family != 6 && inet_pton(AF_INET, s, ip->addr) == 1) {
		ip->family = 4;
		return 0;
	}
	if (family != 4 && inet_pton(AF_INET6, s, ip->addr) == 1) {
		ip->family = 6;
		return 0;
	}
	return kp_bad(pc, "%s: '%.64s' is not an IP%s address", path, s,
		      family == 4   ? "v4"
		      : family == 6 ? "v6"
				    : "");
}

int kp_cidr_parse(struct pctx *pc, const char *s, const char *path, struct kube_cidr *c)
{
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN];
	char *end;
	long n;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return kp_bad(pc, "%s: '%.64s' is not a CIDR", path, s);
	memcpy(addr, s, slash - s);
	addr[slash - s] = '\0';
	if (kp_ip_parse(pc, addr, 0, path, &c->ip) < 0)
		return -EINVAL;
	n = strtol(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || *end || n > (c->ip.family == 4 ? 32 : 128))
		return kp_bad(pc, "%s: '%.64s' has an invalid prefix length", path, s);
	c->prefix = (__u8)n;
	return 0;
}

int kp_proto_parse(struct pctx *pc, json_t *obj, const char *path, __u8 *proto)
{
	const char *s;

	if (kp_get_str(pc, obj, "protocol", path, &s) < 0)
		return -EINVAL;
	if (!s || !strcmp(s, "TCP"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "UDP"))
		*proto = IPPROTO_UDP;
	else if (!strcmp(s, "SCTP"))
		*proto = IPPROTO_SCTP;
	else
		return kp_bad(pc, "%sprotocol: unknown protocol '%.16s'", path, s);
	return 0;
}

/* Label maps: string to string. */
int kp_labels_parse(struct pctx *pc, json_t *meta, struct kube_label **out, __u16 *n_out)
{
	const char *key;
	json_t *labels, *v;
	size_t i = 0, n;

	if (kp_get_typed(pc, meta, "labels", "metadata.", JSON_OBJECT, &labels) < 0)
		return -EINVAL;
	n = labels ? json_object_size(labels) : 0;
	if (!n)
		return 0;
	if (n > 0xffff)
		return kp_bad(pc, "metadata.labels: too many labels");
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return kp_bad(pc, "out of memory");
	*n_out = (__u16)n;
	json_object_foreach(labels, key, v) {
		if (!json_is_string(v))
			return kp_bad(pc, "metadata.labels.%.64s: expected a string", key);
		(*out)[i].key = intern_get(key);
		(*out)[i].value = intern_get(json_string_value(v));
		if (!(*out)[i].key || !(*out)[i].value)
			return kp_bad(pc, "out of memory");
		i++;
	}
	return 0;
}

const char *kp_label_get(json_t *meta, const char *key)
{
	json_t *v = json_object_get(json_object_get(meta, "labels"), key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int kp_ip_list_parse(struct pctx *pc, json_t *arr, const char *path, struct kube_ip *out,
		     size_t max, size_t *n)
{
	json_t *v;
	size_t i;
	char p[64];

	json_array_foreach(arr, i, v) {
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!json_is_string(v))
			return kp_bad(pc, "%s: expected a string", p);
		if (*n >= max)
			return kp_bad(pc, "%s: too many addresses", path);
		if (kp_ip_parse(pc, json_string_value(v), 0, p, &out[(*n)++]) < 0)
			return -EINVAL;
	}
	return 0;
}

int kp_ports_alloc(struct pctx *pc, json_t *arr, const char *path, size_t elem, void **out,
		   __u16 *n)
{
	size_t len = arr ? json_array_size(arr) : 0;

	if (!len)
		return 0;
	if (len > 0xffff)
		return kp_bad(pc, "%s: too many ports", path);
	*out = calloc(len, elem);
	if (!*out)
		return kp_bad(pc, "out of memory");
	*n = (__u16)len;
	return 0;
}
