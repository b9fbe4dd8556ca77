// SPDX-License-Identifier: Apache-2.0
/* CNI VERSION, STATUS and GC. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "dp.h"
#include "log.h"
#include "netlink.h"
#include "result.h"
#include "state.h"
#include "version.h"

#define GC_MAX_STALE 65536

int cni_cmd_version(struct cni_ctx *ctx, struct cni_err *e)
{
	char version[16];
	int r;

	r = conf_parse_version(ctx->input, ctx->input_len, version, sizeof(version), e);
	if (r < 0)
		return r;
	r = json_print_free(version_format(version));
	return r < 0 ? cni_err_set(e, r, CNI_ERR_IO, "Failed to print the result", "VERSION") : 0;
}

/* STATUS and GC go to the IPAM plugin only if it speaks 1.1.0: Debian's
 * host-local 1.1.1 knows neither verb and rejects cniVersion 1.1.0. */
static int ipam_forward(struct cni_ctx *ctx, const char *command, struct cni_err *e)
{
	_cleanup_free_ char *out = NULL;
	struct ipam_call call;
	int r;

	if (!ctx->conf.ipam_type[0])
		return 0;
	r = ipam_negotiate(ctx, e);
	if (r < 0)
		return r;
	if (cni_version_cmp(ctx->ipam_version, "1.1.0") < 0) {
		log_debug("IPAM plugin '%s' speaks %s, which has no %s: not forwarded",
			  ctx->conf.ipam_type, ctx->ipam_version, command);
		return 0;
	}
	ipam_call_init(&call, ctx, command);
	return ipam_delegate(ctx, &call, &out, e);
}

int cni_cmd_status(struct cni_ctx *ctx, struct cni_err *e)
{
	char why[256] = "", path[4096];
	int r;

	r = dp_ready(ctx->conf.pin_dir, why, sizeof(why));
	if (r < 0)
		return cni_err_set(e, why[0] ? 0 : r, CNI_ERR_NOT_AVAILABLE,
				   "The sluice datapath is not ready", "%s",
				   why[0] ? why : ctx->conf.pin_dir);
	if (!ctx->conf.ipam_type[0] || !ctx->env.path[0])
		return 0;
	r = ipam_find(ctx->env.path, ctx->conf.ipam_type, path, sizeof(path), e);
	if (r < 0) {
		e->code = CNI_ERR_NOT_AVAILABLE;
		return r;
	}
	return ipam_forward(ctx, "STATUS", e);
}

struct gc_job {
	struct cni_ctx *ctx;
	struct ep_state *stale;
	size_t n_stale;
	int errors;
	struct cni_err first;
};

/* The first error is returned (and logged by main); later ones only logged. */
static void gc_error(struct gc_job *g, const struct cni_err *e)
{
	if (!g->errors++)
		g->first = *e;
	else
		log_error("GC: %s: %s", e->msg, e->details);
}

static bool attachment_valid(const struct conf *c, const char *cid, const char *ifname)
{
	for (size_t i = 0; i < c->n_valid; i++)
		if (!strcmp(c->valid[i].containerid, cid) && !strcmp(c->valid[i].ifname, ifname))
			return true;
	return false;
}

static int gc_collect(const struct ep_state *s, const char *file, int err, void *arg)
{
	struct gc_job *g = arg;
	struct cni_err e;

	if (err < 0) {
		cni_err_set(&e, err, CNI_ERR_IO, "Failed to read a state file", "%s", file);
		gc_error(g, &e);
		return 0;
	}
	if (attachment_valid(&g->ctx->conf, s->containerid, s->ifname))
		return 0;
	if (g->n_stale >= GC_MAX_STALE)
		return -E2BIG;
	if (!(g->n_stale & 63)) {
		struct ep_state *n = realloc(g->stale, (g->n_stale + 64) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		g->stale = n;
	}
	g->stale[g->n_stale++] = *s;
	return 0;
}

/* Every DEL synthesised by GC goes to IPAM at a version it accepts. */
static int gc_attachments(struct gc_job *g)
{
	struct cni_ctx *ctx = g->ctx;
	_cleanup_free_ char *input = NULL;
	struct cni_err e;
	int r;

	r = state_foreach(ctx->conf.state_dir, ctx->conf.name, gc_collect, g);
	if (r < 0) {
		cni_err_set(&e, r, CNI_ERR_IO, "Failed to list state files", "%s/%s",
			    ctx->conf.state_dir, ctx->conf.name);
		gc_error(g, &e);
	}
	if (!g->n_stale)
		return 0;
	if (ctx->conf.ipam_type[0]) {
		r = ipam_negotiate(ctx, &e);
		if (r < 0) {
			gc_error(g, &e);
			return 0; /* without IPAM DEL the state files must stay */
		}
		r = conf_rewrite_for_del(ctx->input, ctx->input_len, ctx->ipam_version, &input);
		if (r < 0) {
			cni_err_set(&e, r, CNI_ERR_INTERNAL, "GC failed",
				    "rewrite the request for IPAM DEL");
			gc_error(g, &e);
			return 0;
		}
	}
	for (size_t i = 0; i < g->n_stale; i++) {
		const struct ep_state *s = &g->stale[i];
		struct teardown t = {
		    .containerid = s->containerid,
		    .ifname = s->ifname,
		    .netns = "", /* may be gone: the spec lets GC assume so */
		    .ipam_input = input,
		    .ipam_input_len = input ? strlen(input) : 0,
		};

		log_info("GC: removing stale attachment %s/%s", s->containerid, s->ifname);
		if (attachment_teardown(ctx, &t, &e) < 0)
			gc_error(g, &e);
	}
	return 0;
}

struct ep_sweep {
	struct netlink *nl;
	__be32 stale[SL_EP_MAX];
	int n;
};

static int ep_stale(__be32 ip, const struct sl_ep_val *val, void *arg)
{
	struct ep_sweep *s = arg;
	struct link_info link;

	if (link_get_by_index(s->nl, (int)val->ifindex, &link) == 0 && link.is_veth &&
	    veth_name_ours(link.name))
		return 0;
	if (s->n < SL_EP_MAX)
		s->stale[s->n++] = ip;
	return 0;
}

/* Endpoint entries whose host veth is gone: collected first, deleted after,
 * so the iteration does not skip keys. */
static void gc_endpoints(struct gc_job *g)
{
	_cleanup_free_ struct ep_sweep *sweep = calloc(1, sizeof(*sweep));
	const struct conf *c = &g->ctx->conf;
	_cleanup_netlink_ struct netlink *nl = NULL;
	_cleanup_ep_maps_ struct dp_ep_maps maps = DP_EP_MAPS_NONE;
	struct cni_err e;
	const char *pin;
	int r;

	if (!sweep)
		return;
	r = dp_ep_maps_open(c->pin_dir, &maps, &pin);
	if (r == -ENOENT && !strcmp(pin, SL_PIN_EP4))
		return; /* nothing pinned, nothing to sweep */
	if (r < 0) {
		cni_err_set(&e, r, CNI_ERR_INTERNAL, "GC failed", "open pinned map %s/%s",
			    c->pin_dir, pin);
		gc_error(g, &e);
		return;
	}
	r = netlink_open(&nl);
	if (r < 0) {
		cni_err_set(&e, r, CNI_ERR_INTERNAL, "GC failed", "open netlink");
		gc_error(g, &e);
		return;
	}
	sweep->nl = nl;
	r = dp_ep_foreach(maps.ep, ep_stale, sweep);
	if (r < 0) {
		cni_err_set(&e, r, CNI_ERR_INTERNAL, "GC failed", "iterate %s", SL_PIN_EP4);
		gc_error(g, &e);
	}
	for (int i = 0; i < sweep->n; i++) {
		struct in_addr a = {sweep->stale[i]};

		r = dp_ep_delete(&maps, sweep->stale[i]);
		if (r < 0 && r != -ENOENT) {
			cni_err_set(&e, r, CNI_ERR_INTERNAL, "GC failed", "delete %s entry %s",
				    SL_PIN_EP4, inet_ntoa(a));
			gc_error(g, &e);
			continue;
		}
		log_info("GC: removed %s entry %s (its host veth is gone)", SL_PIN_EP4,
			 inet_ntoa(a));
	}
}

int cni_cmd_gc(struct cni_ctx *ctx, struct cni_err *e)
{
	struct gc_job g = {.ctx = ctx};
	_cleanup_close_ int lock = -1;
	int r;

	if (!ctx->conf.has_valid)
		return cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
				   "GC needs \"cni.dev/valid-attachments\"");
	lock = state_lock(ctx->conf.state_dir, false, CNI_LOCK_TIMEOUT_MS);
	if (lock < 0)
		return cni_err_set(e, lock, CNI_ERR_TRY_AGAIN, "GC failed", "lock %s/lock",
				   ctx->conf.state_dir);
	r = gc_attachments(&g);
	free(g.stale);
	if (r < 0) {
		cni_err_set(e, r, CNI_ERR_INTERNAL, "GC failed", "collect stale attachments");
		gc_error(&g, e);
	}
	gc_endpoints(&g);
	r = ipam_forward(ctx, "GC", e);
	if (r < 0)
		gc_error(&g, e);
	if (!g.errors)
		return 0;
	*e = g.first;
	if (g.errors > 1) {
		size_t n = strlen(e->details);

		snprintf(e->details + n, sizeof(e->details) - n,
			 " (and %d more errors, see the log)", g.errors - 1);
	}
	return -EIO;
}
