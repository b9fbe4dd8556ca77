// SPDX-License-Identifier: Apache-2.0
/* The CNI plugin `sluice`: reads the request, dispatches the command, exits. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "conf.h"
#include "dp.h"
#include "log.h"
#include "result.h"
#include "version.h"

#define INPUT_MAX (4 << 20)

enum env_need {
	NEED_CONTAINERID = 1 << 0,
	NEED_NETNS = 1 << 1,
	NEED_IFNAME = 1 << 2,
	NEED_PATH = 1 << 3,
	NEED_ARGS = 1 << 4, /* CNI_ARGS is parsed */
};

static const struct command {
	const char *name;
	int (*run)(struct cni_ctx *ctx, struct cni_err *e);
	unsigned int needs;
	bool config;		 /* a full network configuration on stdin */
	const char *min_version; /* the spec version that defined the verb */
	int stat_op;		 /* SL_CNI_OP_* counted in sl_cnistat, -1: not counted */
} commands[] = {
    {"ADD", cni_cmd_add, NEED_CONTAINERID | NEED_NETNS | NEED_IFNAME | NEED_ARGS, true, "0.1.0",
     SL_CNI_OP_ADD},
    /* DEL is best-effort: it does not need CNI_NETNS nor a parseable CNI_ARGS. */
    {"DEL", cni_cmd_del, NEED_CONTAINERID | NEED_IFNAME, true, "0.1.0", SL_CNI_OP_DEL},
    {"CHECK", cni_cmd_check, NEED_CONTAINERID | NEED_NETNS | NEED_IFNAME | NEED_ARGS, true, "0.4.0",
     -1},
    {"STATUS", cni_cmd_status, 0, true, "1.1.0", -1},
    {"GC", cni_cmd_gc, NEED_PATH, true, "1.1.0", -1},
    {"VERSION", cni_cmd_version, 0, false, "0.1.0", -1},
};

static const char *env_get(const char *name)
{
	const char *v = getenv(name);

	return v ? v : "";
}

static int input_read(char **out, size_t *len, struct cni_err *e)
{
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return cni_err_set(e, -ENOMEM, CNI_ERR_IO, "Failed to read stdin", "allocate");
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb = cap >= INPUT_MAX ? NULL : realloc(buf, cap * 2 + 1);

			if (!nb) {
				free(buf);
				return cni_err_set(e, -EFBIG, CNI_ERR_IO, "Failed to read stdin",
						   "configuration larger than %d bytes", INPUT_MAX);
			}
			buf = nb;
			cap *= 2;
		}
		r = read(STDIN_FILENO, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return cni_err_set(e, -errno, CNI_ERR_IO, "Failed to read stdin", "read");
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Alnum first, then alnum, '_', '.', '-' (the spec's container id syntax). */
static bool id_valid(const char *s)
{
	if (!isalnum((unsigned char)s[0]) || strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

static bool ifname_valid(const char *s)
{
	if (!*s || strlen(s) > CNI_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s))
			return false;
	return true;
}

static int env_check(const struct command *cmd, struct cni_ctx *ctx, struct cni_err *e)
{
	static const struct {
		unsigned int need;
		const char *name;
		size_t off;
	} vars[] = {
	    {NEED_CONTAINERID, "CNI_CONTAINERID", offsetof(struct cni_env, containerid)},
	    {NEED_NETNS, "CNI_NETNS", offsetof(struct cni_env, netns)},
	    {NEED_IFNAME, "CNI_IFNAME", offsetof(struct cni_env, ifname)},
	    {NEED_PATH, "CNI_PATH", offsetof(struct cni_env, path)},
	};
	const struct cni_env *env = &ctx->env;

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = *(const char *const *)((const char *)env + vars[i].off);

		if ((cmd->needs & vars[i].need) && !*v)
			return cni_err_set(e, 0, CNI_ERR_ENV, "Invalid environment variables",
					   "required env variable %s missing for %s", vars[i].name,
					   cmd->name);
	}
	if ((cmd->needs & NEED_IFNAME) && !ifname_valid(env->ifname))
		return cni_err_set(e, 0, CNI_ERR_ENV, "Invalid environment variables",
				   "CNI_IFNAME \"%s\" is not a valid interface name (1-%d "
				   "characters, no '/', ':' or spaces)",
				   env->ifname, CNI_IFNAME_MAX);
	if ((cmd->needs & NEED_CONTAINERID) && !id_valid(env->containerid))
		return cni_err_set(e, 0, CNI_ERR_ENV, "Invalid environment variables",
				   "CNI_CONTAINERID \"%.64s\" must be alphanumeric first, then "
				   "[A-Za-z0-9_.-], at most 200 characters",
				   env->containerid);
	if (cmd->needs & NEED_ARGS)
		return cni_args_parse(env->args, &ctx->args, e);
	return 0;
}

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static __u64 mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (__u64)t.tv_sec * 1000000 + (__u64)t.tv_nsec / 1000;
}

/* Counts the call for the agent's /metrics; never fails the call. */
static void call_count(const struct cni_ctx *ctx, const struct command *cmd, int r, __u64 t0)
{
	int err;

	if (cmd->stat_op < 0)
		return;
	err = dp_cnistat_record(ctx->conf.pin_dir, (unsigned int)cmd->stat_op, r >= 0,
				mono_us() - t0);
	if (err < 0)
		log_msg(LOG_LVL_DEBUG, err, "Failed to count %s in %s/%s", cmd->name,
			ctx->conf.pin_dir, SL_PIN_CNISTAT);
}

static int run(struct cni_ctx *ctx, char *version, size_t size, struct cni_err *e)
{
	__u64 t0 = mono_us();
	const struct command *cmd;
	int r;

	r = input_read((char **)&ctx->input, &ctx->input_len, e);
	if (r < 0)
		return r;
	/* Errors echo the request's version when there is one. */
	if (conf_parse_version(ctx->input, ctx->input_len, version, size, e) < 0)
		snprintf(version, size, "%s", CNI_VERSION_LATEST);
	cmd = command_find(ctx->env.command);
	if (!cmd)
		return cni_err_set(
		    e, 0, CNI_ERR_ENV, "Invalid environment variables",
		    "CNI_COMMAND \"%s\" is not one of ADD, DEL, CHECK, STATUS, GC, VERSION",
		    ctx->env.command);
	if (!cmd->config)
		return cmd->run(ctx, e);
	/* The interface name is checked before anything else is looked at. */
	if ((cmd->needs & NEED_IFNAME) && strlen(ctx->env.ifname) > CNI_IFNAME_MAX)
		return env_check(cmd, ctx, e);
	r = conf_parse(ctx->input, ctx->input_len, &ctx->conf, e);
	if (r < 0)
		return r;
	snprintf(version, size, "%s", ctx->conf.cni_version);
	/* As libcni's skel: a verb the config's version does not define is
	 * refused before anything is looked at, so it can never act. */
	if (cni_version_cmp(ctx->conf.cni_version, cmd->min_version) < 0)
		return cni_err_set(e, 0, CNI_ERR_VERSION, "Incompatible CNI version",
				   "%s is not defined at cniVersion %s (it needs %s or later)",
				   cmd->name, ctx->conf.cni_version, cmd->min_version);
	log_open("sluice", ctx->conf.log_file, ctx->conf.log_level);
	dp_libbpf_log_setup();
	r = env_check(cmd, ctx, e);
	if (r < 0)
		return r;
	if (cmd->needs & NEED_CONTAINERID)
		log_debug("%s %s/%s netns '%s'", cmd->name, ctx->env.containerid, ctx->env.ifname,
			  ctx->env.netns);
	r = cmd->run(ctx, e);
	call_count(ctx, cmd, r, t0);
	return r;
}

int main(void)
{
	struct cni_ctx ctx = {
	    .env =
		{
		    .command = env_get("CNI_COMMAND"),
		    .containerid = env_get("CNI_CONTAINERID"),
		    .netns = env_get("CNI_NETNS"),
		    .ifname = env_get("CNI_IFNAME"),
		    .args = env_get("CNI_ARGS"),
		    .path = env_get("CNI_PATH"),
		},
	};
	char version[16] = CNI_VERSION_LATEST;
	struct cni_err e = {};
	int r;

	r = run(&ctx, version, sizeof(version), &e);
	if (r < 0) {
		log_error("%s %s/%s failed (code %d): %s: %s", ctx.env.command, ctx.env.containerid,
			  ctx.env.ifname, e.code, e.msg, e.details);
		json_print_free(cni_err_format(&e, version));
	}
	conf_free(&ctx.conf);
	free((char *)ctx.input);
	free(ctx.ipam_input);
	log_close();
	return r < 0 ? 1 : 0;
}
