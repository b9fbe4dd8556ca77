// SPDX-License-Identifier: Apache-2.0
/* The in-process IPAM: parses host-local's config keys (jansson), runs each verb on the pool. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "conf.h"
#include "ipam_pool.h"
#include "ipam_sluice.h"
#include "log.h"
#include "result.h"

#define BAD_CONF "Invalid network configuration"

struct isl_req {
	const char *command, *containerid, *ifname;
	char version[16];
	struct pool pool;
	char range_err[256]; /* why the ranges are unusable; "" if they are fine */
	struct cni_route routes[CNI_MAX_ROUTES];
	int n_routes;
	struct in_addr want[CNI_MAX_IPS];
	int n_want;
	struct in_addr prev[CNI_MAX_IPS]; /* DEL: the IPv4 addresses of prevResult */
	int n_prev;
	json_t *valid; /* GC: the valid attachments, borrowed from root */
	json_t *root;
};

bool ipam_sluice_is(const char *type)
{
	return type && !strcmp(type, IPAM_SLUICE_TYPE);
}

static const char *str_get(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* One range object into set s; a reason in q->range_err if it is unusable. */
static void range_add(struct isl_req *q, struct pool_set *s, json_t *o)
{
	if (s->n >= POOL_MAX_RANGES) {
		snprintf(q->range_err, sizeof(q->range_err), "more than %d ranges in a set",
			 POOL_MAX_RANGES);
		return;
	}
	if (!json_is_object(o)) {
		snprintf(q->range_err, sizeof(q->range_err), "a range must be an object");
		return;
	}
	if (pool_range_parse(&s->ranges[s->n], str_get(o, "subnet"), str_get(o, "rangeStart"),
			     str_get(o, "rangeEnd"), str_get(o, "gateway"), q->range_err,
			     sizeof(q->range_err)) == 0)
		s->n++;
}

/* ipam.ranges ([[{subnet, rangeStart, rangeEnd, gateway}]]) or host-local's
 * older flat form (ipam.subnet ...). */
static void ranges_parse(struct isl_req *q, json_t *ipam)
{
	json_t *ranges = json_object_get(ipam, "ranges"), *set, *o;
	size_t i, j;

	if (!ranges && json_object_get(ipam, "subnet")) {
		q->pool.n_sets = 1;
		range_add(q, &q->pool.sets[0], ipam);
		return;
	}
	if (!json_is_array(ranges) || !json_array_size(ranges)) {
		snprintf(q->range_err, sizeof(q->range_err),
			 "ipam needs \"ranges\": [[{\"subnet\": ...}]]");
		return;
	}
	json_array_foreach(ranges, i, set) {
		if (i >= POOL_MAX_SETS || !json_is_array(set) || !json_array_size(set)) {
			snprintf(q->range_err, sizeof(q->range_err),
				 "ipam.ranges must hold 1..%d non-empty lists of ranges",
				 POOL_MAX_SETS);
			return;
		}
		json_array_foreach(set, j, o)
			range_add(q, &q->pool.sets[i], o);
		q->pool.n_sets++;
	}
}

static int routes_parse(struct isl_req *q, json_t *ipam, struct cni_err *e)
{
	json_t *routes = json_object_get(ipam, "routes"), *o;
	size_t i;

	if (!routes || json_is_null(routes))
		return 0;
	if (!json_is_array(routes) || json_array_size(routes) > CNI_MAX_ROUTES)
		return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF,
				   "ipam.routes must be a list of at most %d routes",
				   CNI_MAX_ROUTES);
	json_array_foreach(routes, i, o) {
		struct cni_route *rt = &q->routes[q->n_routes++];
		const char *dst = str_get(o, "dst"), *gw = str_get(o, "gw");

		if (!dst || strlen(dst) >= sizeof(rt->dst) || (gw && strlen(gw) >= sizeof(rt->gw)))
			return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF,
					   "ipam.routes[%zu] needs a \"dst\" CIDR", i);
		snprintf(rt->dst, sizeof(rt->dst), "%s", dst);
		snprintf(rt->gw, sizeof(rt->gw), "%s", gw ? gw : "");
	}
	return 0;
}

/* One requested address, "10.244.1.9" or "10.244.1.9/24". */
static int want_add(struct isl_req *q, const char *s, const char *from, struct cni_err *e)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s", s);
	buf[strcspn(buf, "/")] = '\0';
	if (q->n_want >= CNI_MAX_IPS)
		return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF, "more than %d requested IPs",
				   CNI_MAX_IPS);
	if (inet_pton(AF_INET, buf, &q->want[q->n_want]) != 1)
		return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF,
				   "%s: requested IP \"%s\" is not an IPv4 address", from, s);
	q->n_want++;
	return 0;
}

/* IP=a[,b] in CNI_ARGS, as host-local (podman --ip sends it). */
static int want_from_args(struct isl_req *q, const char *args, struct cni_err *e)
{
	_cleanup_free_ char *copy = strdup(args ? args : "");
	char *save = NULL, *save2 = NULL, *ip;
	int r;

	if (!copy)
		return -ENOMEM;
	for (char *p = strtok_r(copy, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
		if (strncmp(p, "IP=", 3))
			continue;
		for (ip = strtok_r(p + 3, ",", &save2); ip; ip = strtok_r(NULL, ",", &save2))
			if ((r = want_add(q, ip, "CNI_ARGS IP", e)) < 0)
				return r;
	}
	return 0;
}

/* args.cni.ips and the "ips" capability (runtimeConfig.ips). */
static int want_from_json(struct isl_req *q, json_t *list, const char *from, struct cni_err *e)
{
	json_t *v;
	size_t i;
	int r;

	if (!json_is_array(list))
		return 0;
	json_array_foreach(list, i, v) {
		if (!json_is_string(v))
			return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF, "%s must hold strings",
					   from);
		if ((r = want_add(q, json_string_value(v), from, e)) < 0)
			return r;
	}
	return 0;
}

/* prevResult.ips[].address; anything unreadable only costs DEL its fast path. */
static void prev_parse(struct isl_req *q)
{
	json_t *ips = json_object_get(json_object_get(q->root, "prevResult"), "ips"), *v;
	size_t i;

	json_array_foreach(ips, i, v) {
		const char *a = str_get(v, "address");
		char buf[64];

		if (!a || q->n_prev >= CNI_MAX_IPS)
			continue;
		snprintf(buf, sizeof(buf), "%s", a);
		buf[strcspn(buf, "/")] = '\0';
		if (inet_pton(AF_INET, buf, &q->prev[q->n_prev]) == 1)
			q->n_prev++;
	}
}

static int req_dir(struct isl_req *q, json_t *ipam, struct cni_err *e)
{
	const char *dir = str_get(ipam, "dataDir"), *name = str_get(q->root, "name");

	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF,
				   "the network \"name\" must be a plain file name");
	if (dir && *dir != '/')
		return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF,
				   "ipam.dataDir \"%s\" must be an absolute path", dir);
	if (snprintf(q->pool.dir, sizeof(q->pool.dir), "%s/%s", dir ? dir : POOL_DEFAULT_DIR,
		     name) >= (int)sizeof(q->pool.dir))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF, "ipam.dataDir is too long");
	return 0;
}

static int req_parse(struct isl_req *q, const struct ipam_call *c, struct cni_err *e)
{
	json_t *ipam, *rc;
	const char *v;
	int r;

	q->root = json_loadb(c->input ? c->input : "", c->input_len, 0, NULL);
	if (!json_is_object(q->root))
		return cni_err_set(e, 0, CNI_ERR_DECODE, "Failed to decode configuration",
				   "sluice IPAM: stdin is not a JSON object");
	v = str_get(q->root, "cniVersion");
	snprintf(q->version, sizeof(q->version), "%s", v ? v : CNI_VERSION_LATEST);
	if (!strcmp(c->command, "VERSION"))
		return 0;
	ipam = json_object_get(q->root, "ipam");
	if (!json_is_object(ipam))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF, "missing \"ipam\" object");
	if ((r = req_dir(q, ipam, e)) < 0 || (r = routes_parse(q, ipam, e)) < 0)
		return r;
	ranges_parse(q, ipam);
	rc = json_object_get(q->root, "runtimeConfig");
	if ((r = want_from_args(q, getenv("CNI_ARGS"), e)) < 0 ||
	    (r = want_from_json(
		 q,
		 json_object_get(json_object_get(json_object_get(q->root, "args"), "cni"), "ips"),
		 "args.cni.ips", e)) < 0 ||
	    (r = want_from_json(q, json_is_object(rc) ? conf_object_get_nocase(rc, "ips") : NULL,
				"runtimeConfig.ips", e)) < 0)
		return r;
	prev_parse(q);
	q->valid = json_object_get(q->root, "cni.dev/valid-attachments");
	if (!q->valid)
		q->valid = json_object_get(q->root, "cni.dev/attachments");
	return 0;
}

/* --- the verbs ------------------------------------------------------------------------ */

static int need_ranges(const struct isl_req *q, struct cni_err *e)
{
	if (q->range_err[0])
		return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF, "sluice IPAM: %s", q->range_err);
	return 0;
}

static int need_attachment(const struct isl_req *q, struct cni_err *e)
{
	if (!q->containerid || !*q->containerid || !q->ifname || !*q->ifname)
		return cni_err_set(e, 0, CNI_ERR_ENV, "Invalid environment variables",
				   "sluice IPAM %s needs CNI_CONTAINERID and CNI_IFNAME",
				   q->command);
	return 0;
}

/* Which requested address goes to set s (NULL: any); every request must fit
 * exactly one set, at most one per set. */
static int want_for_sets(const struct isl_req *q, const struct in_addr *per_set[],
			 struct cni_err *e)
{
	char range[96];

	for (int i = 0; i < q->n_want; i++) {
		int s = pool_set_find(&q->pool, q->want[i]);

		if (s < 0 || per_set[s]) {
			pool_range_format(&q->pool.sets[0].ranges[0], range, sizeof(range));
			return cni_err_set(
			    e, 0, CNI_ERR_CONFIG, BAD_CONF, "requested IP %s is %s (range %s%s)",
			    inet_ntoa(q->want[i]),
			    s < 0 ? "outside every range" : "a second one in its range set", range,
			    q->pool.n_sets > 1 ? ", ..." : "");
		}
		per_set[s] = &q->want[i];
	}
	return 0;
}

static int reserve_err(const struct isl_req *q, int set, const struct in_addr *want, int r,
		       struct cni_err *e)
{
	char range[96], ip[INET_ADDRSTRLEN] = "";

	pool_range_format(&q->pool.sets[set].ranges[0], range, sizeof(range));
	if (want)
		inet_ntop(AF_INET, want, ip, sizeof(ip));
	switch (r) {
	case -ENOSPC:
		return cni_err_set(e, 0, CNI_ERR_INTERNAL, "No IP addresses available",
				   "no free address in range set %d (%s) in %s", set, range,
				   q->pool.dir);
	case -EADDRINUSE:
		return cni_err_set(
		    e, r, CNI_ERR_INTERNAL, "Requested IP address is taken",
		    "requested IP address %s (range %s) is leased to another container", ip, range);
	case -EINVAL:
		return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF,
				   "requested IP address %s is the gateway of %s", ip, range);
	default:
		return cni_err_set(e, r, CNI_ERR_IO, "Failed to reserve an IP address",
				   "lease in %s", q->pool.dir);
	}
}

static int isl_add(struct isl_req *q, char **out, struct cni_err *e)
{
	const struct in_addr *per_set[POOL_MAX_SETS] = {};
	struct cni_result res = {};
	int r;

	if ((r = need_attachment(q, e)) < 0 || (r = need_ranges(q, e)) < 0 ||
	    (r = want_for_sets(q, per_set, e)) < 0)
		return r;
	for (int s = 0; s < q->pool.n_sets; s++) {
		const struct pool_range *range;
		struct cni_ip *ip = &res.ips[res.n_ips];
		char gw[INET_ADDRSTRLEN];
		struct in_addr g;

		r = pool_reserve(&q->pool, s, q->containerid, q->ifname, per_set[s], &ip->addr,
				 &range);
		if (r < 0) {
			reserve_err(q, s, per_set[s], r, e);
			pool_release(&q->pool, q->containerid, q->ifname);
			return r;
		}
		g.s_addr = htonl(range->gw);
		inet_ntop(AF_INET, &g, gw, sizeof(gw));
		ip->family = 4;
		ip->prefix = range->prefix;
		ip->iface = -1;
		snprintf(ip->address, sizeof(ip->address), "%s/%d", inet_ntoa(ip->addr),
			 range->prefix);
		snprintf(ip->gateway, sizeof(ip->gateway), "%s", gw);
		res.n_ips++;
	}
	memcpy(res.routes, q->routes, sizeof(res.routes));
	res.n_routes = q->n_routes;
	*out = result_format(&res, q->version);
	if (!*out) {
		pool_release(&q->pool, q->containerid, q->ifname);
		return cni_err_set(e, -ENOMEM, CNI_ERR_INTERNAL, "Out of memory", "IPAM result");
	}
	return 0;
}

static int isl_del(struct isl_req *q, char **out, struct cni_err *e)
{
	int r;

	if ((r = need_attachment(q, e)) < 0)
		return r;
	/* The addresses prevResult names, if each one's lease is ours, are all
	 * there is to release; otherwise every lease is read. */
	r = 0;
	if (q->n_prev)
		r = pool_release_addrs(&q->pool, q->containerid, q->ifname, q->prev, q->n_prev);
	if (r >= 0 && (!q->n_prev || r < q->n_prev))
		r = pool_release(&q->pool, q->containerid, q->ifname);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_IO, "Failed to release the IP address",
				   "leases of %s/%s in %s", q->containerid, q->ifname, q->pool.dir);
	return 0;
}

static int isl_check(struct isl_req *q, char **out, struct cni_err *e)
{
	int r;

	if ((r = need_attachment(q, e)) < 0)
		return r;
	r = pool_count(&q->pool, q->containerid, q->ifname);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_IO, "Failed to read the leases", "%s",
				   q->pool.dir);
	if (!r)
		return cni_err_set(e, 0, CNI_ERR_DRIFT, "IP address lease missing",
				   "no lease of %s/%s in %s", q->containerid, q->ifname,
				   q->pool.dir);
	return 0;
}

static int isl_status(struct isl_req *q, char **out, struct cni_err *e)
{
	char range[96];
	long cap, n;
	int r;

	if ((r = need_ranges(q, e)) < 0)
		return r;
	for (int s = 0; s < q->pool.n_sets; s++) {
		n = pool_free(&q->pool, s, &cap);
		if (n < 0)
			return cni_err_set(e, (int)n, CNI_ERR_NOT_AVAILABLE,
					   "Failed to read the leases", "%s", q->pool.dir);
		if (n > 0)
			continue;
		pool_range_format(&q->pool.sets[s].ranges[0], range, sizeof(range));
		return cni_err_set(e, 0, CNI_ERR_NOT_AVAILABLE, "IP pool exhausted",
				   "all %ld addresses of range set %d (%s) are leased in %s", cap,
				   s, range, q->pool.dir);
	}
	return 0;
}

/* A lease's owner is valid if GC's list holds it (ifname NULL: a lease of
 * old host-local without one, valid if the container is). */
static bool attachment_listed(const char *cid, const char *ifname, void *arg)
{
	json_t *list = arg, *a;
	size_t i;

	json_array_foreach(list, i, a) {
		const char *c = str_get(a, "containerID"), *f = str_get(a, "ifname");

		if (c && !strcmp(c, cid) && (!ifname || (f && !strcmp(f, ifname))))
			return true;
	}
	return false;
}

static int isl_gc(struct isl_req *q, char **out, struct cni_err *e)
{
	int removed = 0, r;

	if (!json_is_array(q->valid))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, BAD_CONF,
				   "GC needs \"cni.dev/valid-attachments\"");
	r = pool_gc(&q->pool, attachment_listed, q->valid, &removed);
	if (removed)
		log_info("GC: released %d lease(s) of attachments no longer valid in %s", removed,
			 q->pool.dir);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_IO, "GC failed", "leases in %s", q->pool.dir);
	return 0;
}

static int isl_version(struct isl_req *q, char **out, struct cni_err *e)
{
	*out = version_format(q->version);
	return *out ? 0 : cni_err_set(e, -ENOMEM, CNI_ERR_INTERNAL, "Out of memory", "VERSION");
}

static const struct {
	const char *command;
	int (*run)(struct isl_req *q, char **out, struct cni_err *e);
} verbs[] = {
    {"ADD", isl_add},	    {"DEL", isl_del}, {"CHECK", isl_check},
    {"STATUS", isl_status}, {"GC", isl_gc},   {"VERSION", isl_version},
};

int ipam_sluice_exec(const struct ipam_call *c, char **out, struct cni_err *e)
{
	struct isl_req q = {.command = c->command};
	int r = -EINVAL;

	q.containerid = c->containerid ? c->containerid : getenv("CNI_CONTAINERID");
	q.ifname = c->ifname ? c->ifname : getenv("CNI_IFNAME");
	*out = NULL;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].command, c->command))
			continue;
		r = req_parse(&q, c, e);
		if (r >= 0)
			r = verbs[i].run(&q, out, e);
		if (r >= 0 && !*out && !(*out = strdup("")))
			r = cni_err_set(e, -ENOMEM, CNI_ERR_INTERNAL, "Out of memory", "IPAM");
		json_decref(q.root);
		if (r < 0) {
			free(*out);
			*out = NULL;
		}
		return r < 0 ? r : 0;
	}
	return cni_err_set(e, 0, CNI_ERR_ENV, "Invalid environment variables",
			   "sluice IPAM: unknown CNI_COMMAND \"%s\"", c->command);
}
