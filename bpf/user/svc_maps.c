// SPDX-License-Identifier: Apache-2.0
/* Typed operations on the service maps: services, backends, conntrack. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <netinet/in.h>
#include <bpf/bpf.h>

#include "dp.h"
#include "dp_util.h"

int dp_svc_update(int map_fd, const struct sl_svc_key *key, const struct sl_svc_val *val)
{
	struct sl_svc_key k = dp_svc_key(key);

	return bpf_map_update_elem(map_fd, &k, val, BPF_ANY);
}

int dp_svc_delete(int map_fd, const struct sl_svc_key *key)
{
	struct sl_svc_key k = dp_svc_key(key);

	return bpf_map_delete_elem(map_fd, &k);
}

struct svc_walk {
	int (*fn)(const struct sl_svc_key *key, const struct sl_svc_val *val, void *ctx);
	void *ctx;
};

static int svc_walk_one(const void *key, const void *val, void *ctx)
{
	struct svc_walk *w = ctx;

	return w->fn(key, val, w->ctx);
}

int dp_svc_foreach(int map_fd,
		   int (*fn)(const struct sl_svc_key *key, const struct sl_svc_val *val, void *ctx),
		   void *ctx)
{
	struct svc_walk w = {.fn = fn, .ctx = ctx};

	return dp_map_walk(map_fd, sizeof(struct sl_svc_key), sizeof(struct sl_svc_val), SL_SVC_MAX,
			   svc_walk_one, &w);
}

int dp_be_update(int map_fd, __u32 id, const struct sl_be_val *val)
{
	struct sl_be_key key = {.id = id};

	return bpf_map_update_elem(map_fd, &key, val, BPF_ANY);
}

int dp_be_delete(int map_fd, __u32 id)
{
	struct sl_be_key key = {.id = id};

	return bpf_map_delete_elem(map_fd, &key);
}

struct be_walk {
	int (*fn)(__u32 id, const struct sl_be_val *val, void *ctx);
	void *ctx;
};

static int be_walk_one(const void *key, const void *val, void *ctx)
{
	const struct sl_be_key *k = key;
	struct be_walk *w = ctx;

	return w->fn(k->id, val, w->ctx);
}

int dp_be_foreach(int map_fd, int (*fn)(__u32 id, const struct sl_be_val *val, void *ctx),
		  void *ctx)
{
	struct be_walk w = {.fn = fn, .ctx = ctx};

	return dp_map_walk(map_fd, sizeof(struct sl_be_key), sizeof(struct sl_be_val), SL_BE_MAX,
			   be_walk_one, &w);
}

struct ct_purge {
	int fd;
	__u32 backend_id;
	bool udp_only;
	int deleted;
};

static int ct_purge_one(const void *key, const void *val, void *ctx)
{
	const struct sl_ct_key *k = key;
	const struct sl_ct_val *v = val;
	struct ct_purge *p = ctx;

	if (v->backend_id != p->backend_id || (p->udp_only && k->proto != IPPROTO_UDP))
		return 0;
	if (bpf_map_delete_elem(p->fd, k) == 0)
		p->deleted++;
	return 0;
}

int dp_ct_purge_backend(int map_fd, __u32 backend_id, bool udp_only)
{
	struct ct_purge p = {.fd = map_fd, .backend_id = backend_id, .udp_only = udp_only};
	int err;

	err = dp_map_walk(map_fd, sizeof(struct sl_ct_key), sizeof(struct sl_ct_val), SL_CT_MAX,
			  ct_purge_one, &p);
	return err < 0 ? err : p.deleted;
}
