/* SPDX-License-Identifier: Apache-2.0 */
/* The CNI commands and the request context they share. */
#ifndef SLUICE_CNI_CMD_H
#define SLUICE_CNI_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "cni.h"
#include "conf.h"
#include "ipam.h"

/* What a host-local (Go skel) DEL needs in CNI_NETNS when ours is empty. */
#define CNI_NETNS_PLACEHOLDER "/dev/null"
#define CNI_LOCK_TIMEOUT_MS   60000

struct cni_ctx {
	struct cni_env env;
	struct conf conf;
	struct cni_args args;
	const char *input; /* stdin, exactly as received */
	size_t input_len;
	/* Set by ipam_negotiate: the version the IPAM plugin is spoken to at, and
	 * the request rewritten to it (NULL if that is the request's own). */
	char ipam_version[16];
	char *ipam_input;
	size_t ipam_input_len;
};

/* Each prints its result (ADD, VERSION) on stdout; on failure fills e. */
int cni_cmd_add(struct cni_ctx *ctx, struct cni_err *e);
int cni_cmd_del(struct cni_ctx *ctx, struct cni_err *e);
int cni_cmd_check(struct cni_ctx *ctx, struct cni_err *e);
int cni_cmd_status(struct cni_ctx *ctx, struct cni_err *e);
int cni_cmd_gc(struct cni_ctx *ctx, struct cni_err *e);
int cni_cmd_version(struct cni_ctx *ctx, struct cni_err *e);

/* An IPAM call for command; the input is filled by ipam_delegate unless set. */
void ipam_call_init(struct ipam_call *c, const struct cni_ctx *ctx, const char *command);
/* Picks the version to speak to the IPAM plugin (once per invocation). */
int ipam_negotiate(struct cni_ctx *ctx, struct cni_err *e);
/* Runs the call: our request at the negotiated version, unless call->input
 * was set; *out as ipam_exec. */
int ipam_delegate(struct cni_ctx *ctx, struct ipam_call *call, char **out, struct cni_err *e);

struct teardown {
	const char *containerid;
	const char *ifname;
	const char *netns;	/* "" if unknown or gone */
	bool use_prev;		/* no state file: take the IPs from prevResult */
	const char *ipam_input; /* NULL: our stdin */
	size_t ipam_input_len;
};
/* Undoes an ADD as far as anything is left (the DEL path, also used by GC):
 * endpoint entries, tc attachment, host veth, IPAM, state file. */
int attachment_teardown(struct cni_ctx *ctx, const struct teardown *t, struct cni_err *e);

#endif
