// SPDX-License-Identifier: Apache-2.0
/* Reads agent-names.json (jansson) into sorted tables for the CLI's lookups. */
#define _GNU_SOURCE /* asprintf */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "names.h"

struct name_ent {
	__u32 key; /* svc_id, or an IPv4 address in host order */
	char *text;
};

struct node_ent {
	__u32 net, mask, ip; /* host order */
	char *name;
};

struct names {
	struct name_ent *svcs, *pods;
	size_t n_svcs, n_pods, n_nodes;
	struct node_ent *nodes;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct name_ent *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

static const char *ent_find(const struct name_ent *t, size_t n, __u32 key)
{
	struct name_ent k = {.key = key};
	const struct name_ent *e = bsearch(&k, t, n, sizeof(*t), ent_cmp);

	return e ? e->text : NULL;
}

static const char *str_of(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static int svcs_load(struct names *n, json_t *arr)
{
	json_t *v;
	size_t i;

	n->svcs = calloc(json_array_size(arr) + 1, sizeof(*n->svcs));
	if (!n->svcs)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		const char *port = str_of(v, "port");
		struct name_ent *e = &n->svcs[n->n_svcs];

		e->key = (__u32)json_integer_value(json_object_get(v, "id"));
		if (asprintf(&e->text, "%s/%s%s%s", str_of(v, "namespace"), str_of(v, "name"),
			     *port ? ":" : "", port) < 0)
			return -ENOMEM;
		n->n_svcs++;
	}
	qsort(n->svcs, n->n_svcs, sizeof(*n->svcs), ent_cmp);
	return 0;
}

static int pods_load(struct names *n, json_t *arr)
{
	struct in_addr a;
	json_t *v;
	size_t i;

	n->pods = calloc(json_array_size(arr) + 1, sizeof(*n->pods));
	if (!n->pods)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		struct name_ent *e = &n->pods[n->n_pods];

		if (inet_pton(AF_INET, str_of(v, "ip"), &a) != 1)
			continue;
		e->key = ntohl(a.s_addr);
		if (asprintf(&e->text, "%s/%s", str_of(v, "namespace"), str_of(v, "name")) < 0)
			return -ENOMEM;
		n->n_pods++;
	}
	qsort(n->pods, n->n_pods, sizeof(*n->pods), ent_cmp);
	return 0;
}

static int nodes_load(struct names *n, json_t *arr)
{
	char cidr[32], *slash;
	struct in_addr a;
	json_t *v;
	size_t i;

	n->nodes = calloc(json_array_size(arr) + 1, sizeof(*n->nodes));
	if (!n->nodes)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		struct node_ent *e = &n->nodes[n->n_nodes];
		unsigned int plen;

		e->name = strdup(str_of(v, "name"));
		if (!e->name)
			return -ENOMEM;
		n->n_nodes++;
		if (inet_pton(AF_INET, str_of(v, "ip"), &a) == 1)
			e->ip = ntohl(a.s_addr);
		snprintf(cidr, sizeof(cidr), "%s", str_of(v, "podCIDR"));
		slash = strchr(cidr, '/');
		if (!slash || sscanf(slash + 1, "%u", &plen) != 1 || plen > 32)
			continue;
		*slash = '\0';
		if (inet_pton(AF_INET, cidr, &a) != 1)
			continue;
		e->mask = plen ? ~0u << (32 - plen) : 0;
		e->net = ntohl(a.s_addr) & e->mask;
	}
	return 0;
}

int names_load(const char *path, struct names **out)
{
	json_t *j = json_load_file(path, 0, NULL);
	struct names *n;
	int r;

	if (!j)
		return access(path, R_OK) < 0 ? -errno : -EINVAL;
	if (json_integer_value(json_object_get(j, "version")) != NAMES_VERSION) {
		json_decref(j);
		return -EINVAL;
	}
	n = calloc(1, sizeof(*n));
	r = n ? svcs_load(n, json_object_get(j, "servicePorts")) : -ENOMEM;
	if (!r)
		r = pods_load(n, json_object_get(j, "pods"));
	if (!r)
		r = nodes_load(n, json_object_get(j, "nodes"));
	json_decref(j);
	if (r) {
		names_free(n);
		return r;
	}
	*out = n;
	return 0;
}

void names_free(struct names *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_svcs; i++)
		free(n->svcs[i].text);
	for (size_t i = 0; i < n->n_pods; i++)
		free(n->pods[i].text);
	for (size_t i = 0; i < n->n_nodes; i++)
		free(n->nodes[i].name);
	free(n->svcs);
	free(n->pods);
	free(n->nodes);
	free(n);
}

void names_freep(struct names **n)
{
	names_free(*n);
}

const char *names_svc(const struct names *n, __u32 svc_id)
{
	return n ? ent_find(n->svcs, n->n_svcs, svc_id) : NULL;
}

const char *names_pod(const struct names *n, __be32 ip)
{
	return n ? ent_find(n->pods, n->n_pods, ntohl(ip)) : NULL;
}

const char *names_node(const struct names *n, __be32 ip)
{
	__u32 h = ntohl(ip);

	for (size_t i = 0; n && i < n->n_nodes; i++)
		if ((n->nodes[i].mask && (h & n->nodes[i].mask) == n->nodes[i].net) ||
		    n->nodes[i].ip == h)
			return n->nodes[i].name;
	return NULL;
}

int names_pod_ip(const struct names *n, const char *ns_name, __be32 *ip)
{
	for (size_t i = 0; n && i < n->n_pods; i++)
		if (!strcmp(n->pods[i].text, ns_name)) {
			*ip = htonl(n->pods[i].key);
			return 0;
		}
	return -ENOENT;
}
