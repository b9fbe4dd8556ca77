// SPDX-License-Identifier: Apache-2.0
/* After a (re)load, move every pod's host veth onto the freshly pinned programs. */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "dp.h"
#include "reattach.h"

struct reattach_ctx {
	int prog_fd;
	int rev_fd; /* sl_to_pod, for tc egress */
	struct reattach_stats *stats;
};

static int endpoint_reattach(__be32 ip, const struct sl_ep_val *val, void *data)
{
	struct reattach_ctx *ctx = data;
	enum dp_attach_mode mode;
	char name[16] = "";
	__u32 id;

	/* Only a veth that still runs our program: an entry whose interface is
	 * gone (or was reused by something else) is left to CNI DEL / GC. */
	if (dp_tc_query((int)val->ifindex, &id, name, &mode) < 0 || strcmp(name, SL_PIN_FROM_POD)) {
		ctx->stats->skipped++;
		return 0;
	}
	/* Egress too: veths from before sl_to_pod existed get it now. */
	if (dp_tc_attach((int)val->ifindex, ctx->prog_fd, &mode) < 0 ||
	    dp_tc_attach_egress((int)val->ifindex, ctx->rev_fd, &mode) < 0)
		ctx->stats->failed++;
	else
		ctx->stats->moved++;
	return 0;
}

int endpoints_reattach(const char *pin_dir, struct reattach_stats *stats)
{
	_cleanup_close_ int prog_fd = -1, rev_fd = -1, ep_fd = -1;
	struct reattach_ctx ctx = {.stats = stats};

	memset(stats, 0, sizeof(*stats));
	prog_fd = dp_pin_open(pin_dir, SL_PIN_FROM_POD);
	if (prog_fd < 0)
		return prog_fd;
	rev_fd = dp_pin_open(pin_dir, SL_PIN_TO_POD);
	if (rev_fd < 0)
		return rev_fd;
	ep_fd = dp_pin_open(pin_dir, SL_PIN_EP4);
	if (ep_fd < 0)
		return ep_fd;
	ctx.prog_fd = prog_fd;
	ctx.rev_fd = rev_fd;
	return dp_ep_foreach(ep_fd, endpoint_reattach, &ctx);
}
