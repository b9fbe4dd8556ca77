// SPDX-License-Identifier: Apache-2.0
/* Formats `status --json` (jansson): one object, every known metric present. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "status.h"

static int obj_set(json_t *obj, const char *key, json_t *value)
{
	return json_object_set_new(obj, key, value) ? -ENOMEM : 0;
}

static json_t *prog_build(const struct status_obj *o)
{
	json_auto_t *j = json_object();

	if (!j || obj_set(j, "name", json_string(o->name)) ||
	    obj_set(j, "pinned", json_boolean(!o->err)) ||
	    obj_set(j, "id", o->err ? json_null() : json_integer(o->info.id)))
		return NULL;
	if (o->err && obj_set(j, "error", json_string(strerror(-o->err))))
		return NULL;
	return json_incref(j);
}

static json_t *map_build(const struct status_obj *o)
{
	json_auto_t *j = json_object();
	char buf[32];

	if (!j || obj_set(j, "name", json_string(o->name)) ||
	    obj_set(j, "pinned", json_boolean(!o->err)))
		return NULL;
	if (o->err)
		return obj_set(j, "error", json_string(strerror(-o->err))) ? NULL : json_incref(j);
	if (obj_set(j, "id", json_integer(o->info.id)) ||
	    obj_set(j, "type", json_string(map_type_name(o->info.type, buf, sizeof(buf)))) ||
	    obj_set(j, "keySize", json_integer(o->info.key_size)) ||
	    obj_set(j, "valueSize", json_integer(o->info.value_size)) ||
	    obj_set(j, "maxEntries", json_integer(o->info.max_entries)) ||
	    obj_set(j, "entries", json_integer(o->info.entries)))
		return NULL;
	return json_incref(j);
}

static json_t *metrics_build(const struct status *st)
{
	json_auto_t *j = json_object();

	if (!j)
		return NULL;
	for (unsigned int i = 0; i < SL_METRICS_MAX; i++) {
		const char *name = dp_metric_name(i);
		const struct sl_metric_val *m = &st->metrics[i];

		if (!name)
			continue;
		if (obj_set(j, name,
			    json_pack("{s:I, s:I}", "packets",
				      (json_int_t)(st->metrics_err ? 0 : m->packets), "bytes",
				      (json_int_t)(st->metrics_err ? 0 : m->bytes))))
			return NULL;
	}
	return json_incref(j);
}

static const char *const agent_keys[] = {"api",	   "resources",	  "routes",   "services",
					 "policy", "podCIDR",	  "cniReady", "waiting",
					 "pins",   "nodePortMode"};

static json_t *status_build(const struct status *st)
{
	json_auto_t *j = json_object();
	json_t *maps;

	if (!j || obj_set(j, "pinDir", json_string(st->pin_dir)) ||
	    obj_set(j, "ready", json_boolean(st->ready)) ||
	    obj_set(j, "reason", st->ready ? json_null() : json_string(st->reason)) ||
	    obj_set(j, "abiVersion", st->abi_err ? json_null() : json_integer(st->abi_version)) ||
	    obj_set(j, "programs", json_pack("[o]", prog_build(&st->prog))) ||
	    obj_set(j, "maps", json_array()))
		return NULL;
	maps = json_object_get(j, "maps");
	for (int i = 0; i < STATUS_N_MAPS; i++)
		if (json_array_append_new(maps, map_build(&st->maps[i])))
			return NULL;
	if (obj_set(j, "endpoints",
		    st->endpoints < 0 ? json_null() : json_integer(st->endpoints)) ||
	    obj_set(j, "endpointSlots", st->slots < 0 ? json_null() : json_integer(st->slots)) ||
	    obj_set(j, "metrics", metrics_build(st)))
		return NULL;
	/* Published by the running agent; null when it never published. */
	for (size_t i = 0; i < sizeof(agent_keys) / sizeof(agent_keys[0]); i++) {
		json_t *v = st->agent ? json_object_get(st->agent, agent_keys[i]) : NULL;

		if (obj_set(j, agent_keys[i], v ? json_incref(v) : json_null()))
			return NULL;
	}
	return json_incref(j);
}

char *status_json_dump(const struct status *st)
{
	json_auto_t *j = status_build(st);

	return j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
}
