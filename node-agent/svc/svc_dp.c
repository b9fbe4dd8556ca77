// SPDX-License-Identifier: Apache-2.0
/* The publisher's map layer on the pinned sl_svc4/sl_be4, through dp.h. */
#include <unistd.h>

#include "dp.h"
#include "svc_dp.h"

const char *svc_map_name(enum svc_map m)
{
	static const char *const names[SVC_MAP_N] = {SL_PIN_SVC4, SL_PIN_BE4};

	return names[m];
}

static int dp_svc_up(void *ctx, const struct sl_svc_key *k, const struct sl_svc_val *v)
{
	return dp_svc_update(((struct svc_dp *)ctx)->fd[SVC_MAP_SVC], k, v);
}

static int dp_svc_del(void *ctx, const struct sl_svc_key *k)
{
	return dp_svc_delete(((struct svc_dp *)ctx)->fd[SVC_MAP_SVC], k);
}

static int dp_be_up(void *ctx, __u32 id, const struct sl_be_val *v)
{
	return dp_be_update(((struct svc_dp *)ctx)->fd[SVC_MAP_BE], id, v);
}

static int dp_be_del(void *ctx, __u32 id)
{
	return dp_be_delete(((struct svc_dp *)ctx)->fd[SVC_MAP_BE], id);
}

static int dp_svc_each(void *ctx,
		       int (*fn)(const struct sl_svc_key *, const struct sl_svc_val *, void *),
		       void *c)
{
	return dp_svc_foreach(((struct svc_dp *)ctx)->fd[SVC_MAP_SVC], fn, c);
}

static int dp_be_each(void *ctx, int (*fn)(__u32, const struct sl_be_val *, void *), void *c)
{
	return dp_be_foreach(((struct svc_dp *)ctx)->fd[SVC_MAP_BE], fn, c);
}

static int dp_stats_reset(void *ctx, __u32 id)
{
	int fd = ((struct svc_dp *)ctx)->stat_fd;

	return fd < 0 ? 0 : dp_svcstat_reset(fd, id);
}

const struct svc_map_ops svc_dp_ops = {
    .svc_update = dp_svc_up,
    .svc_delete = dp_svc_del,
    .be_update = dp_be_up,
    .be_delete = dp_be_del,
    .svc_foreach = dp_svc_each,
    .be_foreach = dp_be_each,
    .stats_reset = dp_stats_reset,
};

int svc_dp_open(const char *pin_dir, struct svc_dp *d)
{
	for (int m = 0; m < SVC_MAP_N; m++)
		d->fd[m] = -1;
	d->stat_fd = dp_pin_open(pin_dir, SL_PIN_SVCSTAT); /* -errno: an older datapath */
	for (int m = 0; m < SVC_MAP_N; m++) {
		d->fd[m] = dp_pin_open(pin_dir, svc_map_name(m));
		if (d->fd[m] < 0) {
			int r = d->fd[m];

			svc_dp_close(d);
			return r;
		}
	}
	return 0;
}

void svc_dp_close(struct svc_dp *d)
{
	for (int m = 0; m < SVC_MAP_N; m++) {
		if (d->fd[m] >= 0)
			close(d->fd[m]);
		d->fd[m] = -1;
	}
	if (d->stat_fd >= 0)
		close(d->stat_fd);
	d->stat_fd = -1;
}
