// SPDX-License-Identifier: Apache-2.0
/* Parses the request's network configuration (jansson) and CNI_ARGS. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "conf.h"
#include "sluice/abi.h"
#include "result.h"
#include "version.h"

static bool blank(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)buf[i]))
			return false;
	return true;
}

/* Copies a string member into out; absent is 0 (out untouched unless
 * required), wrong type or too long is -EINVAL with e set. */
static int conf_string(json_t *obj, const char *key, bool required, char *out, size_t size,
		       struct cni_err *e)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (!v || json_is_null(v)) {
		if (required)
			return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
					   "missing required key \"%s\"", key);
		return 0;
	}
	if (!json_is_string(v))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "key \"%s\" must be a string", key);
	s = json_string_value(v);
	if (required && !*s)
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "key \"%s\" must not be empty", key);
	if (strlen(s) >= size)
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "key \"%s\" is longer than %zu characters", key, size - 1);
	strcpy(out, s);
	return 1;
}

static bool name_valid(const char *s)
{
	if (!isalnum((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

static int conf_path(json_t *root, const char *key, char *out, size_t size, struct cni_err *e)
{
	int r = conf_string(root, key, false, out, size, e);

	if (r > 0 && out[0] != '/')
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "key \"%s\" must be an absolute path, got \"%s\"", key, out);
	return r < 0 ? r : 0;
}

struct json_t *conf_object_get_nocase(struct json_t *obj, const char *key)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
		if (!strcasecmp(k, key))
			return v;
	return NULL;
}

static int conf_runtime(json_t *root, struct conf *c, struct cni_err *e)
{
	json_t *rc = json_object_get(root, "runtimeConfig");
	unsigned char mac[6];
	json_t *v;

	if (!rc || json_is_null(rc))
		return 0;
	if (!json_is_object(rc))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "key \"runtimeConfig\" must be an object");
	portmaps_parse(conf_object_get_nocase(rc, "portMappings"), c->portmaps, &c->n_portmaps,
		       c->portmaps_bad, sizeof(c->portmaps_bad));
	v = conf_object_get_nocase(rc, "mac");
	if (!v)
		return 0;
	if (!json_is_string(v) || mac_parse(json_string_value(v), mac) < 0)
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "runtimeConfig.mac is not a MAC address");
	mac_format(mac, c->mac);
	return 0;
}

static int conf_ipam(json_t *root, struct conf *c, struct cni_err *e)
{
	json_t *ipam = json_object_get(root, "ipam");
	int r;

	if (!ipam || json_is_null(ipam))
		return 0;
	if (!json_is_object(ipam))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "key \"ipam\" must be an object");
	r = conf_string(ipam, "type", false, c->ipam_type, sizeof(c->ipam_type), e);
	if (r < 0)
		return r;
	if (strchr(c->ipam_type, '/') || !strcmp(c->ipam_type, ".") || !strcmp(c->ipam_type, ".."))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "ipam.type \"%s\" must be a plain file name", c->ipam_type);
	return 0;
}

static int conf_prev(json_t *root, struct conf *c, struct cni_err *e)
{
	json_t *prev = json_object_get(root, "prevResult");
	_cleanup_free_ char *s = NULL;
	int r;

	if (!prev || json_is_null(prev))
		return 0;
	if (!json_is_object(prev))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "key \"prevResult\" must be an object");
	s = json_dumps(prev, JSON_COMPACT);
	if (!s)
		return cni_err_set(e, -ENOMEM, CNI_ERR_INTERNAL, "Out of memory", "prevResult");
	r = result_parse(s, &c->prev, e);
	if (r < 0)
		return r;
	c->has_prev = true;
	return 0;
}

static int conf_attachments(json_t *root, struct conf *c, struct cni_err *e)
{
	json_t *list = json_object_get(root, "cni.dev/valid-attachments");
	const char *key = "cni.dev/valid-attachments";
	size_t i;
	json_t *v;

	if (!list) {
		key = "cni.dev/attachments";
		list = json_object_get(root, key);
	}
	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "key \"%s\" must be an array", key);
	c->valid = calloc(json_array_size(list) + 1, sizeof(*c->valid));
	if (!c->valid)
		return cni_err_set(e, -ENOMEM, CNI_ERR_INTERNAL, "Out of memory", "%s", key);
	json_array_foreach(list, i, v) {
		struct cni_attachment *a = &c->valid[c->n_valid];
		int r;

		if (!json_is_object(v))
			return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
					   "%s[%zu] must be an object", key, i);
		r = conf_string(v, "containerID", true, a->containerid, sizeof(a->containerid), e);
		if (r >= 0)
			r = conf_string(v, "ifname", true, a->ifname, sizeof(a->ifname), e);
		if (r < 0)
			return r;
		c->n_valid++;
	}
	c->has_valid = true;
	return 0;
}

static json_t *conf_load(const char *buf, size_t len, struct cni_err *e)
{
	json_error_t jerr;
	json_t *root;

	if (!buf || blank(buf, len)) {
		cni_err_set(e, 0, CNI_ERR_DECODE, "Failed to decode configuration",
			    "empty configuration on stdin");
		return NULL;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		cni_err_set(e, 0, CNI_ERR_DECODE, "Failed to decode configuration",
			    "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
			    jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		cni_err_set(e, 0, CNI_ERR_DECODE, "Failed to decode configuration",
			    "configuration is not a JSON object");
		return NULL;
	}
	return root;
}

int conf_parse(const char *buf, size_t len, struct conf *c, struct cni_err *e)
{
	json_auto_t *root = NULL;
	json_t *v;
	int r;

	memset(c, 0, sizeof(*c));
	strcpy(c->pin_dir, SL_DEFAULT_PIN_DIR);
	strcpy(c->state_dir, CNI_DEFAULT_STATE_DIR);
	c->log_level = LOG_LVL_INFO;

	root = conf_load(buf, len, e);
	if (!root)
		return -EINVAL;
	r = conf_string(root, "cniVersion", true, c->cni_version, sizeof(c->cni_version), e);
	if (r < 0)
		return r;
	if (!cni_version_supported(c->cni_version))
		return cni_err_set(
		    e, 0, CNI_ERR_VERSION, "Incompatible CNI version",
		    "config is \"%s\", plugin supports 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0",
		    c->cni_version);
	r = conf_string(root, "name", true, c->name, sizeof(c->name), e);
	if (r < 0)
		return r;
	if (!name_valid(c->name))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "network name \"%s\" must match [A-Za-z0-9][A-Za-z0-9_.-]*",
				   c->name);
	r = conf_string(root, "type", true, c->type, sizeof(c->type), e);
	if (r < 0)
		return r;

	r = conf_path(root, "pinDir", c->pin_dir, sizeof(c->pin_dir), e);
	if (r >= 0)
		r = conf_path(root, "stateDir", c->state_dir, sizeof(c->state_dir), e);
	if (r >= 0)
		r = conf_path(root, "logFile", c->log_file, sizeof(c->log_file), e);
	if (r < 0)
		return r;

	v = json_object_get(root, "logLevel");
	if (v && (!json_is_string(v) || log_level_parse(json_string_value(v), &c->log_level) < 0))
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "logLevel must be one of error, warn, info, debug");

	v = json_object_get(root, "mtu");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 68 ||
		    json_integer_value(v) > 65535)
			return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
					   "mtu must be an integer between 68 and 65535");
		c->mtu = (int)json_integer_value(v);
	}

	r = conf_ipam(root, c, e);
	if (r >= 0)
		r = conf_runtime(root, c, e);
	if (r >= 0)
		r = conf_prev(root, c, e);
	if (r >= 0)
		r = conf_attachments(root, c, e);
	return r < 0 ? r : 0;
}

void conf_free(struct conf *c)
{
	result_free(&c->prev);
	free(c->valid);
	c->valid = NULL;
	c->n_valid = 0;
}

int conf_parse_version(const char *buf, size_t len, char *version, size_t size, struct cni_err *e)
{
	json_auto_t *root = NULL;
	json_t *v;

	snprintf(version, size, "%s", CNI_VERSION_LATEST);
	if (!buf || blank(buf, len))
		return 0;
	root = conf_load(buf, len, e);
	if (!root)
		return -EINVAL;
	v = json_object_get(root, "cniVersion");
	if (v && json_is_string(v) && *json_string_value(v))
		snprintf(version, size, "%s", json_string_value(v));
	return 0;
}

static int conf_rewrite(const char *buf, size_t len, const char *version, bool for_del, char **out)
{
	json_auto_t *root = NULL;
	const char *k;
	void *tmp;
	json_t *v;

	root = json_loadb(buf, len, 0, NULL);
	if (!root || !json_is_object(root))
		return -EINVAL;
	json_object_foreach_safe(root, tmp, k, v) {
		if (for_del && (!strncmp(k, "cni.dev/", 8) || !strcmp(k, "prevResult")))
			json_object_del(root, k);
	}
	if (json_object_set_new(root, "cniVersion", json_string(version)) < 0)
		return -ENOMEM;
	*out = json_dumps(root, JSON_COMPACT);
	return *out ? 0 : -ENOMEM;
}

int conf_rewrite_for_del(const char *buf, size_t len, const char *version, char **out)
{
	return conf_rewrite(buf, len, version, true, out);
}

int conf_rewrite_version(const char *buf, size_t len, const char *version, char **out)
{
	return conf_rewrite(buf, len, version, false, out);
}

static int args_store(const char *key, const char *val, struct cni_args *a, struct cni_err *e)
{
	static const struct {
		const char *key;
		size_t off, size;
	} keys[] = {
	    {"K8S_POD_NAMESPACE", offsetof(struct cni_args, pod_namespace),
	     sizeof(a->pod_namespace)},
	    {"K8S_POD_NAME", offsetof(struct cni_args, pod_name), sizeof(a->pod_name)},
	    {"K8S_POD_UID", offsetof(struct cni_args, pod_uid), sizeof(a->pod_uid)},
	    {"MAC", offsetof(struct cni_args, mac), sizeof(a->mac)},
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].key))
			continue;
		if (strlen(val) >= keys[i].size)
			return cni_err_set(e, 0, CNI_ERR_ENV, "Invalid CNI_ARGS",
					   "value of %s is too long", key);
		strcpy((char *)a + keys[i].off, val);
		return 0;
	}
	return 0; /* unknown keys are ignored */
}

int cni_args_parse(const char *s, struct cni_args *a, struct cni_err *e)
{
	_cleanup_free_ char *copy = NULL;
	char *save = NULL, *pair;
	unsigned char mac[6];

	memset(a, 0, sizeof(*a));
	if (!s || !*s)
		return 0;
	copy = strdup(s);
	if (!copy)
		return cni_err_set(e, -ENOMEM, CNI_ERR_INTERNAL, "Out of memory", "CNI_ARGS");
	for (pair = strtok_r(copy, ";", &save); pair; pair = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(pair, '=');
		int r;

		if (!eq || eq == pair)
			return cni_err_set(e, 0, CNI_ERR_ENV, "Invalid CNI_ARGS",
					   "CNI_ARGS: invalid pair \"%s\", expected KEY=VALUE",
					   pair);
		*eq = '\0';
		r = args_store(pair, eq + 1, a, e);
		if (r < 0)
			return r;
	}
	if (a->mac[0]) {
		if (mac_parse(a->mac, mac) < 0)
			return cni_err_set(e, 0, CNI_ERR_ENV, "Invalid CNI_ARGS",
					   "CNI_ARGS: MAC=\"%s\" is not a MAC address", a->mac);
		mac_format(mac, a->mac);
	}
	return 0;
}
