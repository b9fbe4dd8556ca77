// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the in-process IPAM's request (ipam config, CNI_ARGS, runtimeConfig,
 * prevResult). */
#define _GNU_SOURCE
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ipam.h"
#include "ipam_sluice.h"

static const char *const commands[] = {"ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"};
static char data_dir[] = "/tmp/sluice-fuzz-ipam.XXXXXX";

static int entry_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void data_dir_remove(void)
{
	nftw(data_dir, entry_remove, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!mkdtemp(data_dir))
		abort();
	atexit(data_dir_remove);
	return 0;
}

/* Pools live only in the scratch dir: any ipam.dataDir is replaced by it.
 * Without an ipam object nothing touches the disk: the input goes as it is. */
static char *input_confine(const char *json, size_t *len)
{
	json_t *root = json_loadb(json, *len, 0, NULL), *ipam = json_object_get(root, "ipam");
	char *out;

	if (!json_is_object(ipam)) {
		json_decref(root);
		out = malloc(*len + 1);
		if (out) {
			memcpy(out, json, *len);
			out[*len] = '\0';
		}
		return out;
	}
	out = json_object_set_new(ipam, "dataDir", json_string(data_dir)) == 0
		  ? json_dumps(root, JSON_COMPACT)
		  : NULL;
	json_decref(root);
	if (out)
		*len = strlen(out);
	return out;
}

/* The input: a byte choosing CNI_COMMAND, CNI_ARGS up to the first newline, then stdin. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1, *nl;
	struct ipam_call c = {.type = "sluice", .containerid = "fuzzc1", .ifname = "eth0"};
	char *args, *input, *out = NULL;
	struct cni_err e = {};

	if (size < 1)
		return 0;
	c.command = commands[data[0] % (sizeof(commands) / sizeof(commands[0]))];
	size--;
	nl = memchr(p, '\n', size);
	if (!nl)
		return 0;
	args = strndup(p, (size_t)(nl - p));
	size -= (size_t)(nl + 1 - p);
	input = input_confine(nl + 1, &size);
	if (!args || !input)
		goto out_free;
	setenv("CNI_ARGS", args, 1);
	c.input = input;
	c.input_len = size;
	ipam_sluice_exec(&c, &out, &e);
	free(out);
out_free:
	free(args);
	free(input);
	return 0;
}
