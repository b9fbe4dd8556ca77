// SPDX-License-Identifier: Apache-2.0
/* Unit tests for `status --json` formatting (status_json.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>
#include <jansson.h>

#include "status.h"
#include "unit.h"

#define NAME_ENTRY(name, value, desc) {#name, value},
static const struct {
	const char *name;
	int index;
} known_metrics[] = {SL_DROP_REASONS(NAME_ENTRY) SL_PATHS(NAME_ENTRY)};
#undef NAME_ENTRY

static void status_base(struct status *st)
{
	memset(st, 0, sizeof(*st));
	st->pin_dir = "/sys/fs/bpf/sluice-t";
	st->ready = true;
	st->abi_version = SL_ABI_VERSION;
	st->prog = (struct status_obj){.name = SL_PIN_FROM_POD, .info = {.id = 42}};
	st->maps[0] = (struct status_obj){.name = SL_PIN_EP4,
					  .info = {.id = 7,
						   .type = BPF_MAP_TYPE_HASH,
						   .key_size = 4,
						   .value_size = 32,
						   .max_entries = 4096,
						   .entries = 3}};
	st->maps[1] = (struct status_obj){.name = SL_PIN_METRICS,
					  .info = {.id = 8,
						   .type = BPF_MAP_TYPE_PERCPU_ARRAY,
						   .key_size = 4,
						   .value_size = 16,
						   .max_entries = 64,
						   .entries = 64}};
	st->maps[2] = (struct status_obj){.name = SL_PIN_INFO,
					  .info = {.id = 9,
						   .type = BPF_MAP_TYPE_ARRAY,
						   .key_size = 4,
						   .value_size = 16,
						   .max_entries = 1,
						   .entries = 1}};
	st->maps[3] = (struct status_obj){.name = SL_PIN_SVC4,
					  .info = {.id = 10,
						   .type = BPF_MAP_TYPE_HASH,
						   .key_size = 12,
						   .value_size = 16,
						   .max_entries = 262144,
						   .entries = 5}};
	st->maps[4] = (struct status_obj){.name = SL_PIN_BE4, .err = -ENOENT};
	st->endpoints = 3;
	st->slots = 2;
	st->metrics[SL_DROP_SPOOF_IP] = (struct sl_metric_val){.packets = 5, .bytes = 420};
	st->metrics[SL_PATH_LOCAL] = (struct sl_metric_val){.packets = 1ull << 40, .bytes = 3};
}

static json_t *dump_parse(const struct status *st)
{
	char *text = status_json_dump(st);
	json_error_t jerr;
	json_t *j;

	CHECK(text != NULL);
	if (!text)
		return json_object();
	j = json_loads(text, 0, &jerr);
	CHECK(j != NULL);
	free(text);
	return j ? j : json_object();
}

static long long int_at(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void test_ready(void)
{
	json_t *j, *maps, *m, *prog, *metrics;
	struct status st;

	UNIT_CASE("ready node");
	status_base(&st);
	j = dump_parse(&st);
	CHECK_STR(json_string_value(json_object_get(j, "pinDir")), "/sys/fs/bpf/sluice-t");
	CHECK(json_is_true(json_object_get(j, "ready")));
	CHECK(json_is_null(json_object_get(j, "reason")));
	CHECK_INT(int_at(j, "abiVersion"), SL_ABI_VERSION);
	CHECK_INT(int_at(j, "endpoints"), 3);
	CHECK_INT(int_at(j, "endpointSlots"), 2);

	prog = json_array_get(json_object_get(j, "programs"), 0);
	CHECK_INT(json_array_size(json_object_get(j, "programs")), 1);
	CHECK_STR(json_string_value(json_object_get(prog, "name")), "sl_from_pod");
	CHECK_INT(int_at(prog, "id"), 42);
	CHECK(json_is_true(json_object_get(prog, "pinned")));

	maps = json_object_get(j, "maps");
	CHECK_INT(json_array_size(maps), 5);
	CHECK_STR(json_string_value(json_object_get(json_array_get(maps, 3), "name")), "sl_svc4");
	CHECK_INT(int_at(json_array_get(maps, 3), "entries"), 5);
	CHECK(json_is_false(json_object_get(json_array_get(maps, 4), "pinned")));
	m = json_array_get(maps, 0);
	CHECK_STR(json_string_value(json_object_get(m, "name")), "sl_ep4");
	CHECK_STR(json_string_value(json_object_get(m, "type")), "hash");
	CHECK_INT(int_at(m, "maxEntries"), 4096);
	CHECK_INT(int_at(m, "entries"), 3);
	CHECK_INT(int_at(m, "keySize"), 4);
	CHECK_INT(int_at(m, "valueSize"), 32);
	m = json_array_get(maps, 1);
	CHECK_STR(json_string_value(json_object_get(m, "name")), "sl_metrics");
	CHECK_STR(json_string_value(json_object_get(m, "type")), "percpu_array");
	CHECK_STR(json_string_value(json_object_get(json_array_get(maps, 2), "name")), "sl_info");

	metrics = json_object_get(j, "metrics");
	for (size_t i = 0; i < sizeof(known_metrics) / sizeof(known_metrics[0]); i++) {
		json_t *v = json_object_get(metrics, known_metrics[i].name);
		const struct sl_metric_val *want = &st.metrics[known_metrics[i].index];

		UNIT_CASE(known_metrics[i].name);
		CHECK(json_is_object(v));
		CHECK_INT(int_at(v, "packets"), (long long)want->packets);
		CHECK_INT(int_at(v, "bytes"), (long long)want->bytes);
	}
	UNIT_CASE("ready node: only known metrics");
	CHECK_INT(json_object_size(metrics), sizeof(known_metrics) / sizeof(known_metrics[0]));
	json_decref(j);
}

static void test_not_ready(void)
{
	json_t *j, *m, *v;
	struct status st;

	UNIT_CASE("partly pinned node");
	status_base(&st);
	st.ready = false;
	strcpy(st.reason, "sl_info is not pinned");
	st.maps[2].err = -ENOENT;
	st.abi_err = -ENOENT;
	st.endpoints = -EPERM;
	st.slots = -ENOENT;
	st.metrics_err = -ENOENT;
	j = dump_parse(&st);
	CHECK(json_is_false(json_object_get(j, "ready")));
	CHECK_STR(json_string_value(json_object_get(j, "reason")), "sl_info is not pinned");
	CHECK(json_is_null(json_object_get(j, "abiVersion")));
	CHECK(json_is_null(json_object_get(j, "endpoints")));
	CHECK(json_is_null(json_object_get(j, "endpointSlots")));
	m = json_array_get(json_object_get(j, "maps"), 2);
	CHECK_STR(json_string_value(json_object_get(m, "name")), "sl_info");
	CHECK(json_is_false(json_object_get(m, "pinned")));
	CHECK(!json_object_get(m, "maxEntries"));
	/* unreadable counters still list every name, as zeros */
	v = json_object_get(json_object_get(j, "metrics"), "SL_DROP_SPOOF_IP");
	CHECK_INT(int_at(v, "packets"), 0);
	CHECK_INT(int_at(v, "bytes"), 0);
	json_decref(j);
}

static void test_map_type_name(void)
{
	char buf[32];

	UNIT_CASE("map_type_name");
	CHECK_STR(map_type_name(BPF_MAP_TYPE_LRU_HASH, buf, sizeof(buf)), "lru_hash");
	CHECK_STR(map_type_name(9999, buf, sizeof(buf)), "type 9999");
}

int main(void)
{
	test_ready();
	test_not_ready();
	test_map_type_name();
	return unit_done();
}
