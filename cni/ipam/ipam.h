/* SPDX-License-Identifier: Apache-2.0 */
/* Delegation to the IPAM plugin named by ipam.type, found in CNI_PATH. */
#ifndef SLUICE_CNI_IPAM_H
#define SLUICE_CNI_IPAM_H

#include <stdbool.h>
#include <stddef.h>

#include "cni.h"

struct ipam_call {
	const char *type;     /* ipam.type */
	const char *cni_path; /* CNI_PATH */
	const char *command;  /* CNI_COMMAND for the plugin */
	/* Overrides of the environment we received; NULL keeps ours. */
	const char *containerid;
	const char *netns;
	const char *ifname;
	const char *input; /* stdin bytes */
	size_t input_len;
	unsigned int timeout_ms; /* for the plugin to answer and exit; 0: 60 s */
};

/* Finds the plugin in the CNI_PATH dirs; -ENOENT with e set (code 7). */
int ipam_find(const char *cni_path, const char *type, char *path, size_t size, struct cni_err *e);
/* Runs the plugin with our environment (plus overrides) and input on stdin.
 * Exit 0: *out is its stdout (caller frees). Otherwise e carries the plugin's
 * own error (code and msg kept) and a negative errno is returned. */
int ipam_exec(const struct ipam_call *c, char **out, struct cni_err *e);
#endif
