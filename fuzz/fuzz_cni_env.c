// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the CNI_* environment as the plugin's main.c checks it, for every verb. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The checks are static in main.c: take them from there, main renamed. */
#define main cni_main
#include "../cni/cmd/main.c"
#undef main

/* The input is CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS
 * and CNI_PATH separated by NUL bytes; missing ones are "". */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *vals[6] = {"", "", "", "", "", ""};
	char *buf = malloc(size + 1), *p;
	struct cni_ctx ctx = {};
	struct cni_err e;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	p = buf;
	for (size_t i = 0; i < 6 && p <= buf + size; i++) {
		vals[i] = p;
		p += strlen(p) + 1;
	}
	ctx.env = (struct cni_env){vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]};
	command_find(ctx.env.command);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		memset(&e, 0, sizeof(e));
		memset(&ctx.args, 0, sizeof(ctx.args));
		env_check(&commands[i], &ctx, &e);
	}
	free(buf);
	return 0;
}
