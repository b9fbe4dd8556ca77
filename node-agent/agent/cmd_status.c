// SPDX-License-Identifier: Apache-2.0
/* `sluice-agent status`: what is pinned, whether the CNI plugin can run, counters. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "config.h"
#include "status.h"

static void status_print_obj(const char *kind, const struct status_obj *o)
{
	const struct dp_obj_info *i = &o->info;
	char buf[32];

	if (o->err) {
		printf("%-8s %-12s not pinned (%s)\n", kind, o->name, strerror(-o->err));
		return;
	}
	if (!strcmp(kind, "program")) {
		printf("%-8s %-12s id %u, pinned\n", kind, o->name, i->id);
		return;
	}
	printf("%-8s %-12s id %u, %s, %u/%u entries (%.1f%% full)\n", kind, o->name, i->id,
	       map_type_name(i->type, buf, sizeof(buf)), i->entries, i->max_entries,
	       i->max_entries ? 100.0 * i->entries / i->max_entries : 0.0);
}

static void status_print_policy(json_t *p)
{
	json_t *full = json_object_get(p, "mapFull"), *v;
	size_t i;

	if (!p)
		return;
	printf("policy:      %lld policies (%lld cannot be enforced as written), %lld identities; "
	       "endpoints %lld, isolated in %lld / out %lld, pending %lld, failed closed %lld\n",
	       json_integer_value(json_object_get(p, "policies")),
	       json_integer_value(json_object_get(p, "invalidPolicies")),
	       json_integer_value(json_object_get(p, "identities")),
	       json_integer_value(json_object_get(p, "endpoints")),
	       json_integer_value(json_object_get(p, "isolatedIngress")),
	       json_integer_value(json_object_get(p, "isolatedEgress")),
	       json_integer_value(json_object_get(p, "pending")),
	       json_integer_value(json_object_get(p, "failedClosed")));
	printf("             map full: sl_ipcache4 %lld, sl_pol %lld, sl_polcidr4 %lld; errors "
	       "%lld; generation %lld\n",
	       json_integer_value(json_object_get(full, SL_PIN_IPCACHE4)),
	       json_integer_value(json_object_get(full, SL_PIN_POL)),
	       json_integer_value(json_object_get(full, SL_PIN_POLCIDR4)),
	       json_integer_value(json_object_get(p, "errors")),
	       json_integer_value(json_object_get(p, "generation")));
	json_array_foreach(json_object_get(p, "invalid"), i, v)
		printf("             invalid %s/%s: %s\n",
		       json_string_value(json_object_get(v, "namespace")) ?: "?",
		       json_string_value(json_object_get(v, "name")) ?: "?",
		       json_string_value(json_object_get(v, "error")) ?: "?");
}

static void status_print_agent(const struct status *st)
{
	json_t *api, *v;
	size_t i;

	if (!st->agent) {
		printf("api:         unknown (no agent status: %s)\n", strerror(-st->agent_err));
		return;
	}
	api = json_object_get(st->agent, "api");
	printf("api:         %s (%s)\n",
	       json_string_value(json_object_get(api, "server")) ?: "none",
	       json_string_value(json_object_get(api, "mode")) ?: "?");
	if (json_string_value(json_object_get(st->agent, "nodePortMode")))
		printf("nodeport:    %s (remote backends)\n",
		       json_string_value(json_object_get(st->agent, "nodePortMode")));
	printf("pod CIDR:    %s%s%s\n",
	       json_string_value(json_object_get(st->agent, "podCIDR")) ?: "",
	       json_is_true(json_object_get(st->agent, "cniReady")) ? "" : "; CNI not ready: ",
	       json_string_value(json_object_get(st->agent, "waiting")) ?: "");
	if (json_array_size(json_object_get(st->agent, "resources")))
		printf("resources:   %-16s %-6s %-12s %8s %7s %6s %9s\n", "name", "synced",
		       "version", "objects", "relists", "errors", "malformed");
	json_array_foreach(json_object_get(st->agent, "resources"), i, v)
		printf("             %-16s %-6s %-12s %8lld %7lld %6lld %9lld\n",
		       json_string_value(json_object_get(v, "name")) ?: "?",
		       json_is_true(json_object_get(v, "synced")) ? "yes" : "no",
		       json_string_value(json_object_get(v, "resourceVersion")) ?: "",
		       json_integer_value(json_object_get(v, "objects")),
		       json_integer_value(json_object_get(v, "relists")),
		       json_integer_value(json_object_get(v, "errors")),
		       json_integer_value(json_object_get(v, "malformed")));
	v = json_object_get(st->agent, "services");
	if (v) {
		json_t *full = json_object_get(v, "mapFull");

		printf("services:    %lld services, %lld service ports, %lld backends, %lld "
		       "ClusterIPs%s\n",
		       json_integer_value(json_object_get(v, "services")),
		       json_integer_value(json_object_get(v, "servicePorts")),
		       json_integer_value(json_object_get(v, "backends")),
		       json_integer_value(json_object_get(v, "clusterIPs")),
		       json_is_true(json_object_get(v, "synced")) ? "" : " (not synced yet)");
		printf("             map full: sl_svc4 %lld, sl_be4 %lld; no free service id %lld; "
		       "errors %lld; failing services %lld\n",
		       json_integer_value(json_object_get(full, SL_PIN_SVC4)),
		       json_integer_value(json_object_get(full, SL_PIN_BE4)),
		       json_integer_value(json_object_get(v, "idsFull")),
		       json_integer_value(json_object_get(v, "errors")),
		       json_integer_value(json_object_get(v, "failing")));
	}
	status_print_policy(json_object_get(st->agent, "policy"));
	json_array_foreach(json_object_get(st->agent, "routes"), i, v)
		printf("%s %s via %s\n", i ? "            " : "routes:     ",
		       json_string_value(json_object_get(v, "dst")) ?: "?",
		       json_string_value(json_object_get(v, "via")) ?: "?");
}

static void status_print_text(const struct status *st)
{
	bool any = false;

	printf("pin dir:     %s\n", st->pin_dir);
	printf("ready:       %s%s%s\n", st->ready ? "yes" : "no", st->ready ? "" : ": ",
	       st->reason);
	if (st->abi_err)
		printf("abi version: unknown (%s)\n", strerror(-st->abi_err));
	else
		printf("abi version: %u%s\n", st->abi_version,
		       st->abi_version == SL_ABI_VERSION
			   ? ""
			   : " (this binary expects another version)");
	status_print_agent(st);
	status_print_obj("program", &st->prog);
	for (int i = 0; i < STATUS_N_MAPS; i++)
		status_print_obj("map", &st->maps[i]);
	if (st->endpoints < 0)
		printf("endpoints:   unknown (%s)\n", strerror(-st->endpoints));
	else if (st->slots < 0)
		printf("endpoints:   %d (anti-spoofing slots unknown: %s)\n", st->endpoints,
		       strerror(-st->slots));
	else
		printf("endpoints:   %d (%d checked by their veth's slot)\n", st->endpoints,
		       st->slots);
	if (st->metrics_err) {
		printf("metrics:     unknown (%s)\n", strerror(-st->metrics_err));
		return;
	}
	printf("metrics:\n");
	for (unsigned int i = 0; i < SL_METRICS_MAX; i++) {
		const struct sl_metric_val *m = &st->metrics[i];
		const char *name = dp_metric_name(i);

		if (!name || (!m->packets && !m->bytes))
			continue;
		printf("  %-20s %12llu packets %14llu bytes\n", name,
		       (unsigned long long)m->packets, (unsigned long long)m->bytes);
		any = true;
	}
	if (!any)
		printf("  (all zero)\n");
}

static void status_usage(FILE *f)
{
	fprintf(f, "usage: sluice-agent status [--pin-dir DIR] [--cni-state-dir DIR | --state-file "
		   "FILE] [--json]\n");
}

int agent_cmd_status(int argc, char **argv)
{
	struct status_flags f = {.pin_dir = SL_DEFAULT_PIN_DIR,
				 .state_dir = CONFIG_DEFAULT_CNI_STATE_DIR};
	char path[CONFIG_PATH_MAX + 32];
	struct status st;
	char *text;
	int r;

	r = status_flags_parse("status", status_usage, argc, argv, &f);
	if (r >= 0)
		return r;
	r = status_collect(f.pin_dir, &st);
	if (r == -ENOENT) {
		fprintf(
		    stderr,
		    "sluice-agent status: nothing pinned under '%s' (is sluice-agent running?)\n",
		    f.pin_dir);
		return 1;
	}
	if (!f.state_file) {
		snprintf(path, sizeof(path), "%s/%s", f.state_dir, STATUS_AGENT_FILE);
		f.state_file = path;
	}
	status_agent_load(&st, f.state_file);
	if (!f.json) {
		status_print_text(&st);
		json_decref(st.agent);
		return 0;
	}
	text = status_json_dump(&st);
	json_decref(st.agent);
	if (!text) {
		fprintf(stderr, "sluice-agent status: out of memory\n");
		return 1;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}
