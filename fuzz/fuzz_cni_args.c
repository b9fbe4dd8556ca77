// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: CNI_ARGS ("K=V;K=V"). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size);
	struct cni_args a = {};
	struct cni_err e = {};

	if (!s)
		return 0;
	cni_args_parse(s, &a, &e);
	free(s);
	return 0;
}
