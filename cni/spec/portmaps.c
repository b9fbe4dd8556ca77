// SPDX-License-Identifier: Apache-2.0
/* The portMappings capability (jansson): runtimeConfig.portMappings parsed and checked, and
 * written back in the same shape for the state file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <jansson.h>

#include "conf.h"
#include "portmaps.h"

static const struct {
	const char *name;
	__u8 proto;
} protos[] = {{"tcp", IPPROTO_TCP}, {"udp", IPPROTO_UDP}, {"sctp", IPPROTO_SCTP}};

const char *portmap_proto_name(__u8 proto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return "?";
}

bool portmap_overlaps(const struct portmap *a, const struct portmap *b)
{
	return a->host_port == b->host_port && a->proto == b->proto &&
	       (a->host_ip == b->host_ip || !a->host_ip || !b->host_ip);
}

void portmap_describe(const struct portmap *pm, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &pm->host_ip, ip, sizeof(ip));
	snprintf(buf, len, "%u/%s on %s", pm->host_port, portmap_proto_name(pm->proto), ip);
}

/* A port member: an integer 1..65535 (JSON numbers without fraction only). */
static int port_get(json_t *obj, const char *key, bool required, __u16 *out)
{
	json_t *v = conf_object_get_nocase(obj, key);
	json_int_t p;

	if (!v)
		return required ? -ENOENT : 0;
	if (!json_is_integer(v))
		return -EINVAL;
	p = json_integer_value(v);
	if (p < 1 || p > 65535)
		return -ERANGE;
	*out = (__u16)p;
	return 0;
}

static int proto_get(json_t *obj, __u8 *out)
{
	json_t *v = conf_object_get_nocase(obj, "protocol");
	const char *s;

	*out = IPPROTO_TCP;
	if (!v || (json_is_string(v) && !json_string_length(v)))
		return 0;
	s = json_string_value(v);
	for (size_t i = 0; s && i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcasecmp(s, protos[i].name)) {
			*out = protos[i].proto;
			return 0;
		}
	return -EINVAL;
}

static int host_ip_get(json_t *obj, __be32 *out)
{
	json_t *v = conf_object_get_nocase(obj, "hostIP");
	struct in_addr a;
	const char *s;

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	s = json_string_value(v);
	if (!s)
		return -EINVAL;
	if (!*s)
		return 0;
	if (strchr(s, ':'))
		return -EAFNOSUPPORT;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = a.s_addr;
	return 0;
}

/* One entry; why says what is wrong with it. */
static int portmap_parse(json_t *m, struct portmap *pm, char *why, size_t len)
{
	static const char *const hint = "an integer 1..65535";

	memset(pm, 0, sizeof(*pm));
	if (!json_is_object(m))
		return snprintf(why, len, "is not an object"), -EINVAL;
	if (port_get(m, "hostPort", true, &pm->host_port) < 0)
		return snprintf(why, len, "hostPort must be %s", hint), -EINVAL;
	if (port_get(m, "containerPort", true, &pm->container_port) < 0)
		return snprintf(why, len, "containerPort must be %s", hint), -EINVAL;
	if (proto_get(m, &pm->proto) < 0)
		return snprintf(why, len, "protocol must be \"tcp\", \"udp\" or \"sctp\""), -EINVAL;
	switch (host_ip_get(m, &pm->host_ip)) {
	case 0:
		return 0;
	case -EAFNOSUPPORT:
		return snprintf(why, len, "hostIP is IPv6: sluice supports IPv4 only"), -EINVAL;
	default:
		return snprintf(why, len, "hostIP must be empty or an IPv4 address"), -EINVAL;
	}
}

int portmaps_parse(json_t *list, struct portmap *out, int *n, char *why, size_t len)
{
	char sub[160], a[64];
	json_t *m;
	size_t i;

	*n = 0;
	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return snprintf(why, len, "runtimeConfig.portMappings must be an array"), -EINVAL;
	if (json_array_size(list) > CNI_MAX_PORTMAPS)
		return snprintf(why, len, "runtimeConfig.portMappings has %zu entries, at most %d",
				json_array_size(list), CNI_MAX_PORTMAPS),
		       -EINVAL;
	json_array_foreach(list, i, m) {
		if (portmap_parse(m, &out[i], sub, sizeof(sub)) < 0)
			return snprintf(why, len, "runtimeConfig.portMappings[%zu]: %s", i, sub),
			       -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (portmap_overlaps(&out[i], &out[j])) {
				portmap_describe(&out[i], a, sizeof(a));
				return snprintf(why, len,
						"runtimeConfig.portMappings[%zu] (%s) overlaps "
						"portMappings[%zu]",
						i, a, j),
				       -EINVAL;
			}
	}
	*n = (int)json_array_size(list);
	return 0;
}

json_t *portmaps_format(const struct portmap *pm, int n)
{
	json_auto_t *list = json_array();
	char ip[INET_ADDRSTRLEN];

	if (!list)
		return NULL;
	for (int i = 0; i < n; i++) {
		inet_ntop(AF_INET, &pm[i].host_ip, ip, sizeof(ip));
		if (json_array_append_new(list, json_pack("{s:i, s:i, s:s, s:s}", "hostPort",
							  pm[i].host_port, "containerPort",
							  pm[i].container_port, "protocol",
							  portmap_proto_name(pm[i].proto), "hostIP",
							  pm[i].host_ip ? ip : "")))
			return NULL;
	}
	return json_incref(list);
}
