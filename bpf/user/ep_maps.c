// SPDX-License-Identifier: Apache-2.0
/* The endpoint maps written together: sl_ep4 by address, sl_epsrc4 by host veth. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dp.h"
#include "dp_util.h"

/* The slot of ifindex: 0, or 1 when the array has none (beyond its end). */
static int slot_read(int fd, __u32 ifindex, struct sl_epsrc_val *s)
{
	int err = bpf_map_lookup_elem(fd, &ifindex, s);

	if (err == -ENOENT)
		return 1;
	return err;
}

static int slot_write(int fd, __u32 ifindex, const struct sl_epsrc_val *s)
{
	return bpf_map_update_elem(fd, &ifindex, s, BPF_ANY);
}

/* Each write changes either the slot's ifindex or the rest, never both: a
 * program reads the ifindex first, and a partial ifindex never equals the
 * whole one, so a slot it accepts is never half old, half new (the program
 * never reads a slot between two writes of one change: they are syscalls
 * apart). The slot is invalid (ifindex 0) from the first write to the last. */
static int slot_set(int fd, __u32 ifindex, const struct sl_epsrc_val *cur, __be32 ip,
		    const __u8 mac[6])
{
	struct sl_epsrc_val s = *cur;
	int err = 0;

	if (s.ifindex) {
		s.ifindex = 0;
		err = slot_write(fd, ifindex, &s);
	}
	s.ip = ip;
	memcpy(s.pod_mac, mac, 6);
	if (!err)
		err = slot_write(fd, ifindex, &s);
	if (!err && ip) {
		s.ifindex = ifindex;
		err = slot_write(fd, ifindex, &s);
	}
	return err;
}

/* Whether the valid slot s of ifindex names an address sl_ep4 still gives
 * to that veth (another address of the same pod keeps it). */
static bool slot_backed(int ep_fd, __u32 ifindex, const struct sl_epsrc_val *s)
{
	struct sl_ep_val v;

	return s->ifindex == ifindex && dp_ep_lookup(ep_fd, s->ip, &v) == 0 &&
	       v.ifindex == ifindex && !memcmp(v.pod_mac, s->pod_mac, 6);
}

/* The slot of val's veth for ip, unless it already names a backed address. */
static int slot_claim(const struct dp_ep_maps *m, __be32 ip, const struct sl_ep_val *val)
{
	struct sl_epsrc_val cur;
	int r = slot_read(m->src, val->ifindex, &cur);

	if (r)
		return r > 0 ? 0 : r;
	if (cur.ifindex == val->ifindex && cur.ip == ip && !memcmp(cur.pod_mac, val->pod_mac, 6))
		return 0;
	if (cur.ip != ip && slot_backed(m->ep, val->ifindex, &cur))
		return 0;
	r = slot_set(m->src, val->ifindex, &cur, ip, val->pod_mac);
	return r == -E2BIG ? 0 : r;
}

/* Empties the slot of ifindex if it names ip. */
static int slot_release(const struct dp_ep_maps *m, __u32 ifindex, __be32 ip)
{
	static const __u8 none[6];
	struct sl_epsrc_val cur;
	int r = slot_read(m->src, ifindex, &cur);

	if (r)
		return r > 0 ? 0 : r;
	if (cur.ip != ip)
		return 0;
	return slot_set(m->src, ifindex, &cur, 0, none);
}

int dp_ep_maps_open(const char *pin_dir, struct dp_ep_maps *m, const char **failed)
{
	m->src = -1;
	*failed = SL_PIN_EP4;
	m->ep = dp_pin_open(pin_dir, SL_PIN_EP4);
	if (m->ep < 0)
		return m->ep;
	*failed = SL_PIN_EPSRC4;
	m->src = dp_pin_open(pin_dir, SL_PIN_EPSRC4);
	if (m->src < 0) {
		int err = m->src;

		dp_ep_maps_close(m);
		return err;
	}
	return 0;
}

void dp_ep_maps_close(struct dp_ep_maps *m)
{
	if (m->ep >= 0)
		close(m->ep);
	if (m->src >= 0)
		close(m->src);
	m->ep = m->src = -1;
}

int dp_ep_update(const struct dp_ep_maps *m, __be32 ip, const struct sl_ep_val *val)
{
	struct sl_ep_key key = {};
	int err;

	key.ip = ip;
	err = bpf_map_update_elem(m->ep, &key, val, BPF_ANY);
	if (err)
		return err;
	err = slot_claim(m, ip, val);
	if (err)
		bpf_map_delete_elem(m->ep, &key); /* no entry without its slot */
	return err;
}

int dp_ep_delete(const struct dp_ep_maps *m, __be32 ip)
{
	struct sl_ep_key key = {};
	struct sl_ep_val val;
	int err;

	err = dp_ep_lookup(m->ep, ip, &val);
	if (err)
		return err;
	err = slot_release(m, val.ifindex, ip); /* first: until the entry goes, it decides */
	if (err)
		return err;
	key.ip = ip;
	return bpf_map_delete_elem(m->ep, &key);
}

struct slots_sync {
	const struct dp_ep_maps *m;
	int changed;
};

static int slot_sync_entry(__be32 ip, const struct sl_ep_val *val, void *ctx)
{
	struct slots_sync *x = ctx;
	struct sl_epsrc_val before, after;
	struct sl_ep_val now;
	int err;

	if (slot_read(x->m->src, val->ifindex, &before))
		return 0; /* beyond the array */
	err = slot_claim(x->m, ip, val);
	if (!err && dp_ep_lookup(x->m->ep, ip, &now) < 0)
		err = slot_release(x->m, val->ifindex, ip); /* a DEL took it meanwhile */
	if (err)
		return err;
	if (!slot_read(x->m->src, val->ifindex, &after) && memcmp(&before, &after, sizeof(after)))
		x->changed++;
	return 0;
}

int dp_ep_slots_sync(const struct dp_ep_maps *m)
{
	static const struct sl_epsrc_val empty;
	struct slots_sync x = {.m = m};
	struct bpf_map_info info = {};
	int err;

	err = dp_obj_info_get(m->src, &info, sizeof(info));
	if (err)
		return err;
	for (__u32 i = 0; i < info.max_entries; i++) {
		struct sl_epsrc_val s;

		if (slot_read(m->src, i, &s) || !memcmp(&s, &empty, sizeof(s)) ||
		    (i && slot_backed(m->ep, i, &s)))
			continue;
		err = slot_set(m->src, i, &s, 0, empty.pod_mac);
		if (err)
			return err;
		x.changed++;
	}
	err = dp_ep_foreach(m->ep, slot_sync_entry, &x);
	return err ? err : x.changed;
}

int dp_ep_slots_count(int src_fd)
{
	struct bpf_map_info info = {};
	int err, n = 0;

	err = dp_obj_info_get(src_fd, &info, sizeof(info));
	if (err)
		return err;
	for (__u32 i = 1; i < info.max_entries; i++) {
		struct sl_epsrc_val s;

		if (!slot_read(src_fd, i, &s) && s.ifindex == i)
			n++;
	}
	return n;
}
