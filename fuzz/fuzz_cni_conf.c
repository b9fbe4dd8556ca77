// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the CNI network configuration on stdin (every cniVersion). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct conf c = {};
	struct cni_err e = {};
	char version[16], *out = NULL;

	/* As main.c does: a conf is freed whether it parsed or not. */
	conf_parse(buf, size, &c, &e);
	conf_free(&c);
	conf_parse_version(buf, size, version, sizeof(version), &e);
	if (conf_rewrite_for_del(buf, size, "0.4.0", &out) == 0)
		free(out);
	out = NULL;
	if (conf_rewrite_version(buf, size, "0.3.1", &out) == 0)
		free(out);
	return 0;
}
