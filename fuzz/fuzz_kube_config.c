// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: a kubeconfig file (YAML or JSON, through libyaml). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube_config.h"
#include "scratch.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	scratch_init("kubeconfig");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_config kc;
	unsigned char *raw;
	size_t raw_len;
	char err[256];

	if (base64_decode((const char *)data, size, &raw, &raw_len) == 0)
		free(raw);
	if (scratch_write(data, size) < 0)
		return 0;
	if (kube_config_load(scratch_path, &kc, err, sizeof(err)) == 0)
		kube_config_free(&kc);
	return 0;
}
