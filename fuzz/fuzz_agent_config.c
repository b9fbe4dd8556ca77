// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the agent's JSON config file, read by `sluice-agent run --config`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "scratch.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	scratch_init("config.json");
	/* The API source is then what the file says, not this machine's. */
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char arg0[] = "run", arg1[] = "--config", *argv[] = {arg0, arg1, scratch_path, NULL};
	struct config c;
	char err[512];

	if (scratch_write(data, size) < 0)
		return 0;
	config_parse(3, argv, &c, err, sizeof(err));
	return 0;
}
