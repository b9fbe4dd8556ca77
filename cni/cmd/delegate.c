// SPDX-License-Identifier: Apache-2.0
/* The commands' calls to the IPAM plugin: our request, at a version the plugin speaks. */
#include <errno.h>
#include <string.h>

#include "cmd.h"
#include "ipam_version.h"

void ipam_call_init(struct ipam_call *c, const struct cni_ctx *ctx, const char *command)
{
	memset(c, 0, sizeof(*c));
	c->type = ctx->conf.ipam_type;
	c->cni_path = ctx->env.path;
	c->command = command;
}

int ipam_negotiate(struct cni_ctx *ctx, struct cni_err *e)
{
	const struct conf *c = &ctx->conf;
	char version[16];
	int r;

	if (ctx->ipam_version[0])
		return 0;
	r = ipam_version_pick(c->ipam_type, ctx->env.path, c->state_dir, c->cni_version, version,
			      sizeof(version), e);
	if (r < 0)
		return r;
	if (strcmp(version, c->cni_version)) {
		r = conf_rewrite_version(ctx->input, ctx->input_len, version, &ctx->ipam_input);
		if (r < 0)
			return cni_err_set(e, r, CNI_ERR_INTERNAL, "Failed to run IPAM plugin",
					   "rewrite the request for cniVersion %s", version);
		ctx->ipam_input_len = strlen(ctx->ipam_input);
	}
	strcpy(ctx->ipam_version, version);
	return 0;
}

int ipam_delegate(struct cni_ctx *ctx, struct ipam_call *call, char **out, struct cni_err *e)
{
	int r;

	r = ipam_negotiate(ctx, e);
	if (r < 0)
		return r;
	if (!call->input) {
		call->input = ctx->ipam_input ? ctx->ipam_input : ctx->input;
		call->input_len = ctx->ipam_input ? ctx->ipam_input_len : ctx->input_len;
	}
	return ipam_exec(call, out, e);
}
