// SPDX-License-Identifier: Apache-2.0
/* `sluice-agent policy`: per local endpoint its identity, isolation, the
 * NetworkPolicies in force and its policy drops. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cleanup.h"
#include "cmd.h"
#include "config.h"
#include "dp.h"
#include "pol_step.h"

static void policy_usage(FILE *f)
{
	fprintf(f, "usage: sluice-agent policy [--pin-dir DIR] [--cni-state-dir DIR | --state-file "
		   "FILE] [--json]\n");
}

/* Adds {"drops": {"ingress", "egress"}} to each endpoint from sl_poldrop. */
static void drops_add(json_t *eps, int fd)
{
	struct sl_poldrop_val d;
	json_t *e;
	size_t i;

	json_array_foreach(eps, i, e) {
		__u32 id = (__u32)json_integer_value(json_object_get(e, "epId"));

		if (fd < 0 || dp_poldrop_read(fd, id, &d) < 0)
			memset(&d, 0, sizeof(d));
		json_object_set_new(e, "drops",
				    json_pack("{s:I, s:I}", "ingress", (json_int_t)d.ingress,
					      "egress", (json_int_t)d.egress));
	}
}

static void policy_print_text(json_t *root)
{
	json_t *e, *p;
	size_t i, j;

	printf("policies %s, generation %lld\n",
	       json_is_true(json_object_get(root, "active")) ? "exist" : "absent",
	       json_integer_value(json_object_get(root, "generation")));
	json_array_foreach(json_object_get(root, "endpoints"), i, e) {
		json_t *iso = json_object_get(e, "isolation");
		json_t *drops = json_object_get(e, "drops");

		printf("%-15s %s/%s id %lld%s ingress %s, egress %s, %lld allows, drops in %lld "
		       "out %lld%s\n",
		       json_string_value(json_object_get(e, "ip")) ?: "?",
		       json_string_value(json_object_get(e, "namespace")) ?: "-",
		       json_string_value(json_object_get(e, "pod")) ?: "-",
		       json_integer_value(json_object_get(e, "identity")),
		       json_is_true(json_object_get(e, "pending")) ? " (pending)" : "",
		       json_is_true(json_object_get(iso, "ingress")) ? "isolated" : "open",
		       json_is_true(json_object_get(iso, "egress")) ? "isolated" : "open",
		       json_integer_value(json_object_get(e, "allowEntries")),
		       json_integer_value(json_object_get(drops, "ingress")),
		       json_integer_value(json_object_get(drops, "egress")),
		       json_is_true(json_object_get(e, "failedClosed")) ? " FAILED CLOSED" : "");
		json_array_foreach(json_object_get(e, "policies"), j, p) {
			_cleanup_free_ char *spec =
			    json_dumps(json_object_get(p, "spec"), JSON_COMPACT);

			printf("    %s/%s%s%s %s\n",
			       json_string_value(json_object_get(p, "namespace")),
			       json_string_value(json_object_get(p, "name")),
			       json_is_string(json_object_get(p, "error")) ? " INVALID: " : "",
			       json_string_value(json_object_get(p, "error")) ?: "",
			       spec ? spec : "");
		}
	}
}

int agent_cmd_policy(int argc, char **argv)
{
	struct status_flags f = {.pin_dir = SL_DEFAULT_PIN_DIR,
				 .state_dir = CONFIG_DEFAULT_CNI_STATE_DIR};
	char path[CONFIG_PATH_MAX + 32];
	_cleanup_close_ int fd = -1;
	json_error_t jerr;
	json_t *root;
	int r;

	r = status_flags_parse("policy", policy_usage, argc, argv, &f);
	if (r >= 0)
		return r;
	if (!f.state_file) {
		snprintf(path, sizeof(path), "%s/%s", f.state_dir, POL_REPORT_FILE);
		f.state_file = path;
	}
	root = json_load_file(f.state_file, 0, &jerr);
	if (!root || !json_is_object(root)) {
		fprintf(stderr,
			"sluice-agent policy: cannot read '%s': %s (is sluice-agent running "
			"with an API?)\n",
			f.state_file, root ? "not an object" : jerr.text);
		json_decref(root);
		return 1;
	}
	fd = dp_pin_open(f.pin_dir, SL_PIN_POLDROP);
	drops_add(json_object_get(root, "endpoints"), fd);
	if (f.json) {
		_cleanup_free_ char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (text)
			printf("%s\n", text);
	} else {
		policy_print_text(root);
	}
	json_decref(root);
	return 0;
}
