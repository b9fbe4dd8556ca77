// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: a result (prevResult, a delegated IPAM's), an error and a VERSION answer. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"

static const char *const versions[] = {"0.1.0", "0.2.0", "0.3.0", "0.3.1",
				       "0.4.0", "1.0.0", "1.1.0"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *json = strndup((const char *)data, size), highest[16];
	struct cni_result r = {};
	struct cni_err e = {};
	bool has;

	if (!json)
		return 0;
	if (result_parse(json, &r, &e) == 0) {
		for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
			free(result_format(&r, versions[i]));
		result_free(&r);
	}
	cni_err_parse(json, &e);
	versions_parse(json, "1.0.0", &has, highest, sizeof(highest));
	versions_parse(json, "0.3.1", &has, NULL, 0);
	free(json);
	return 0;
}
