// SPDX-License-Identifier: Apache-2.0
/* CNI result, error and VERSION JSON (jansson): parse and format per version. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "result.h"
#include "version.h"

/* --- parse --------------------------------------------------------------------- */

#define decode_err(e, ...) cni_err_set(e, 0, CNI_ERR_DECODE, "Failed to decode result", __VA_ARGS__)

static int str_copy(json_t *obj, const char *key, bool required, char *out, size_t size,
		    const char *where, struct cni_err *e)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		if (required)
			return decode_err(e, "%s: missing \"%s\"", where, key);
		return 0;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) >= size)
		return decode_err(e, "%s: \"%s\" must be a string shorter than %zu", where, key,
				  size);
	strcpy(out, json_string_value(v));
	return 0;
}

static json_t *array_get(json_t *root, const char *key, size_t max, struct cni_err *e, int *r)
{
	json_t *v = json_object_get(root, key);

	*r = 0;
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_array(v))
		*r = decode_err(e, "\"%s\" must be an array", key);
	else if (json_array_size(v) > max)
		*r = decode_err(e, "\"%s\" has more than %zu entries", key, max);
	return *r ? NULL : v;
}

/* "10.1.2.3/24" -> addr + prefix; IPv6 only checked for shape. */
static int cidr_parse(struct cni_ip *ip)
{
	char buf[64], *slash, *end;
	struct in6_addr a6;
	long prefix;

	snprintf(buf, sizeof(buf), "%s", ip->address);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	prefix = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1)
		return -EINVAL;
	if (inet_pton(AF_INET, buf, &ip->addr) == 1) {
		ip->family = 4;
		if (prefix < 0 || prefix > 32)
			return -EINVAL;
	} else if (inet_pton(AF_INET6, buf, &a6) == 1) {
		ip->family = 6;
		if (prefix < 0 || prefix > 128)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	ip->prefix = (int)prefix;
	return 0;
}

static int ifaces_parse(json_t *root, struct cni_result *r, struct cni_err *e)
{
	json_t *list, *v;
	size_t i;
	int err;

	list = array_get(root, "interfaces", CNI_MAX_IFACES, e, &err);
	if (!list)
		return err;
	json_array_foreach(list, i, v) {
		struct cni_iface *f = &r->ifaces[r->n_ifaces];
		json_t *mtu;

		if (!json_is_object(v))
			return decode_err(e, "interfaces[%zu] must be an object", i);
		err = str_copy(v, "name", true, f->name, sizeof(f->name), "interfaces[]", e);
		if (!err)
			err = str_copy(v, "mac", false, f->mac, sizeof(f->mac), "interfaces[]", e);
		if (!err)
			err = str_copy(v, "sandbox", false, f->sandbox, sizeof(f->sandbox),
				       "interfaces[]", e);
		if (err)
			return err;
		mtu = json_object_get(v, "mtu");
		if (json_is_integer(mtu))
			f->mtu = (int)json_integer_value(mtu);
		r->n_ifaces++;
	}
	return 0;
}

static int ips_parse(json_t *root, struct cni_result *r, struct cni_err *e)
{
	json_t *list, *v;
	size_t i;
	int err;

	list = array_get(root, "ips", CNI_MAX_IPS, e, &err);
	if (!list)
		return err;
	json_array_foreach(list, i, v) {
		struct cni_ip *ip = &r->ips[r->n_ips];
		json_t *idx;

		if (!json_is_object(v))
			return decode_err(e, "ips[%zu] must be an object", i);
		err = str_copy(v, "address", true, ip->address, sizeof(ip->address), "ips[]", e);
		if (!err)
			err = str_copy(v, "gateway", false, ip->gateway, sizeof(ip->gateway),
				       "ips[]", e);
		if (err)
			return err;
		if (cidr_parse(ip) < 0)
			return decode_err(e, "ips[%zu]: \"%s\" is not an address in CIDR form", i,
					  ip->address);
		idx = json_object_get(v, "interface");
		ip->iface = -1;
		if (idx && !json_is_null(idx)) {
			if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
			    json_integer_value(idx) >= r->n_ifaces)
				return decode_err(
				    e, "ips[%zu]: \"interface\" is not an index into interfaces",
				    i);
			ip->iface = (int)json_integer_value(idx);
		}
		r->n_ips++;
	}
	return 0;
}

static int routes_parse(json_t *root, struct cni_result *r, struct cni_err *e)
{
	json_t *list, *v;
	size_t i;
	int err;

	list = array_get(root, "routes", CNI_MAX_ROUTES, e, &err);
	if (!list)
		return err;
	json_array_foreach(list, i, v) {
		struct cni_route *rt = &r->routes[r->n_routes];

		if (!json_is_object(v))
			return decode_err(e, "routes[%zu] must be an object", i);
		err = str_copy(v, "dst", true, rt->dst, sizeof(rt->dst), "routes[]", e);
		if (!err)
			err = str_copy(v, "gw", false, rt->gw, sizeof(rt->gw), "routes[]", e);
		if (err)
			return err;
		r->n_routes++;
	}
	return 0;
}

int result_parse(const char *json, struct cni_result *r, struct cni_err *e)
{
	json_auto_t *root = NULL;
	json_error_t jerr;
	json_t *dns;
	int err;

	memset(r, 0, sizeof(*r));
	root = json_loads(json, 0, &jerr);
	if (!root)
		return decode_err(e, "invalid JSON at line %d: %s", jerr.line, jerr.text);
	if (!json_is_object(root))
		return decode_err(e, "result is not a JSON object");
	err = str_copy(root, "cniVersion", false, r->cni_version, sizeof(r->cni_version), "result",
		       e);
	if (!err)
		err = ifaces_parse(root, r, e);
	if (!err)
		err = ips_parse(root, r, e);
	if (!err)
		err = routes_parse(root, r, e);
	if (err)
		return err;
	dns = json_object_get(root, "dns");
	if (json_is_object(dns)) {
		r->dns_json = json_dumps(dns, JSON_COMPACT);
		if (!r->dns_json)
			return cni_err_set(e, -ENOMEM, CNI_ERR_INTERNAL, "Out of memory", "dns");
	}
	return 0;
}

void result_free(struct cni_result *r)
{
	free(r->dns_json);
	r->dns_json = NULL;
}

/* --- format -------------------------------------------------------------------- */

static json_t *iface_json(const struct cni_iface *f, bool with_mtu)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(f->name));
	if (f->mac[0])
		json_object_set_new(o, "mac", json_string(f->mac));
	if (f->sandbox[0])
		json_object_set_new(o, "sandbox", json_string(f->sandbox));
	if (with_mtu && f->mtu > 0)
		json_object_set_new(o, "mtu", json_integer(f->mtu));
	return o;
}

static json_t *ip_json(const struct cni_ip *ip, bool with_version)
{
	json_t *o = json_object();

	/* 0.3.x and 0.4.0 carry the family; 1.0.0 removed it. */
	if (with_version)
		json_object_set_new(o, "version", json_string(ip->family == 6 ? "6" : "4"));
	json_object_set_new(o, "address", json_string(ip->address));
	if (ip->gateway[0])
		json_object_set_new(o, "gateway", json_string(ip->gateway));
	if (ip->iface >= 0)
		json_object_set_new(o, "interface", json_integer(ip->iface));
	return o;
}

char *result_format(const struct cni_result *r, const char *version)
{
	bool with_ip_version = cni_version_cmp(version, "1.0.0") < 0;
	bool with_mtu = cni_version_cmp(version, "1.1.0") >= 0;
	json_auto_t *root = json_object();
	json_t *ifaces = json_array(), *ips = json_array(), *routes = json_array(), *dns = NULL;

	json_object_set_new(root, "cniVersion", json_string(version));
	json_object_set_new(root, "interfaces", ifaces);
	json_object_set_new(root, "ips", ips);
	json_object_set_new(root, "routes", routes);
	for (int i = 0; i < r->n_ifaces; i++)
		json_array_append_new(ifaces, iface_json(&r->ifaces[i], with_mtu));
	for (int i = 0; i < r->n_ips; i++)
		json_array_append_new(ips, ip_json(&r->ips[i], with_ip_version));
	for (int i = 0; i < r->n_routes; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "dst", json_string(r->routes[i].dst));
		if (r->routes[i].gw[0])
			json_object_set_new(o, "gw", json_string(r->routes[i].gw));
		json_array_append_new(routes, o);
	}
	if (r->dns_json)
		dns = json_loads(r->dns_json, 0, NULL);
	json_object_set_new(root, "dns", dns ? dns : json_object());
	return json_dumps(root, JSON_COMPACT);
}

char *cni_err_format(const struct cni_err *e, const char *version)
{
	json_auto_t *root = json_object();

	json_object_set_new(root, "cniVersion",
			    json_string(version && *version ? version : CNI_VERSION_LATEST));
	json_object_set_new(root, "code", json_integer(e->code));
	json_object_set_new(root, "msg", json_string(e->msg));
	json_object_set_new(root, "details", json_string(e->details));
	return json_dumps(root, JSON_COMPACT);
}

int cni_err_parse(const char *json, struct cni_err *e)
{
	json_auto_t *root = json_loads(json, 0, NULL);
	json_t *code, *msg, *details;

	if (!json_is_object(root))
		return -EINVAL;
	code = json_object_get(root, "code");
	msg = json_object_get(root, "msg");
	details = json_object_get(root, "details");
	if (!json_is_integer(code) || !json_integer_value(code))
		return -EINVAL;
	e->code = (int)json_integer_value(code);
	snprintf(e->msg, sizeof(e->msg), "%s", json_is_string(msg) ? json_string_value(msg) : "");
	snprintf(e->details, sizeof(e->details), "%s",
		 json_is_string(details) ? json_string_value(details) : "");
	return 0;
}

char *version_format(const char *version)
{
	json_auto_t *root = json_object();
	json_t *list = json_array();

	json_object_set_new(root, "cniVersion", json_string(version));
	for (const char *const *v = cni_supported_versions; *v; v++)
		json_array_append_new(list, json_string(*v));
	json_object_set_new(root, "supportedVersions", list);
	return json_dumps(root, JSON_COMPACT);
}

int versions_parse(const char *json, const char *want, bool *has, char *highest, size_t size)
{
	json_auto_t *root = json_loads(json, 0, NULL);
	const char *best = "";
	json_t *list, *v;
	size_t i;

	list = json_object_get(root, "supportedVersions");
	if (!json_is_array(list))
		return -EBADMSG;
	*has = false;
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);

		if (!s)
			continue;
		if (!strcmp(s, want))
			*has = true;
		if (cni_version_supported(s) && cni_version_cmp(s, want) <= 0 &&
		    (!*best || cni_version_cmp(s, best) > 0))
			best = s;
	}
	if (highest)
		snprintf(highest, size, "%s", best);
	return 0;
}

int json_print_free(char *s)
{
	int r = 0;

	if (!s)
		return -ENOMEM;
	if (printf("%s\n", s) < 0 || fflush(stdout) == EOF)
		r = -EIO;
	free(s);
	return r;
}
