// SPDX-License-Identifier: Apache-2.0
/* Counted map writes, and removal of the reference-counted entries they keep (ports, backends,
 * VIPs). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "svc_writes.h"

/* Deletes count once; a key already gone is deleted. */
static int deleted(struct svc_pub *p, int r)
{
	p->st.deletes++;
	return r == -ENOENT ? 0 : r;
}

int pub_svc_write(struct svc_pub *p, const struct sl_svc_key *k, const struct sl_svc_val *v)
{
	p->st.writes++;
	return p->ops->svc_update(p->ops_ctx, k, v);
}

int pub_svc_delete(struct svc_pub *p, const struct sl_svc_key *k)
{
	return deleted(p, p->ops->svc_delete(p->ops_ctx, k));
}

int pub_be_write(struct svc_pub *p, __u32 id, const struct sl_be_val *v)
{
	p->st.writes++;
	return p->ops->be_update(p->ops_ctx, id, v);
}

int pub_be_delete(struct svc_pub *p, __u32 id)
{
	return deleted(p, p->ops->be_delete(p->ops_ctx, id));
}

/* --- backends ------------------------------------------------------------ */

int pub_be_unref(struct svc_pub *p, __u32 id)
{
	struct pub_be *b = id < p->bes_cap ? &p->bes[id] : NULL;
	int r = 0;

	if (!b || !svc_ids_ent(&p->be_ids, id))
		return 0;
	if (b->refs)
		b->refs--;
	if (b->refs)
		return 0;
	if (b->in_map)
		r = pub_be_delete(p, id);
	if (r < 0)
		return r;
	memset(b, 0, sizeof(*b));
	svc_ids_put(&p->be_ids, id);
	return 0;
}

/* --- service ports ----------------------------------------------------------- */

/* Master first (new packets then hit the VIP marker and are rejected), then
 * slots, backend refs; the id is freed. */
int pub_port_remove(struct svc_pub *p, __u32 svc_id)
{
	struct pub_port *pp = &p->ports[svc_id];
	__u64 key;
	int r = 0, e;

	if (!svc_ids_key_of(&p->svc_ids, svc_id, &key))
		return 0;
	if (pp->master) {
		struct sl_svc_key k = svc_key_slot(key, 0);

		r = pub_svc_delete(p, &k);
		if (r < 0)
			return r;
	}
	for (__u32 s = 1; s <= pp->n_slots; s++) {
		struct sl_svc_key k = svc_key_slot(key, (__u16)s);

		e = pub_svc_delete(p, &k);
		if (e < 0 && !r)
			r = e;
	}
	for (__u32 i = 0; i < pp->n_slots; i++)
		if (pp->slots[i] && (e = pub_be_unref(p, pp->slots[i])) < 0 && !r)
			r = e;
	free(pp->slots);
	memset(pp, 0, sizeof(*pp));
	svc_ids_put(&p->svc_ids, svc_id);
	return r;
}

/* --- VIP markers --------------------------------------------------------------- */

int pub_vip_ref(struct svc_pub *p, __be32 vip, __u8 scope, __u16 flags, __u32 *out)
{
	struct sl_svc_key k = {.vip = vip, .scope = scope};
	struct sl_svc_val v = {.flags = flags};
	bool created;
	int id = svc_ids_get(&p->vip_ids, svc_ids_marker_key(vip, scope, flags), &created), r;

	if (id < 0)
		return id;
	if (GROW(p, vip_in_map, vip_cap, (size_t)id) < 0)
		return -ENOMEM;
	if (!p->vip_in_map[id]) {
		r = pub_svc_write(p, &k, &v);
		if (r < 0) {
			if (created)
				svc_ids_put(&p->vip_ids, (__u32)id);
			return r;
		}
		p->vip_in_map[id] = true;
	}
	svc_ids_ent(&p->vip_ids, (__u32)id)->refs++;
	*out = (__u32)id;
	return 0;
}

int pub_vip_unref(struct svc_pub *p, __u32 id)
{
	struct svc_ids_ent *e = svc_ids_ent(&p->vip_ids, id);
	struct sl_svc_key k = {};
	int r = 0;

	if (!e)
		return 0;
	if (e->refs)
		e->refs--;
	if (e->refs)
		return 0;
	k.vip = (__be32)e->key;
	k.scope = (__u8)(e->key >> 32);
	if (p->vip_in_map[id])
		r = pub_svc_delete(p, &k);
	if (r < 0)
		return r;
	p->vip_in_map[id] = false;
	svc_ids_put(&p->vip_ids, id);
	return 0;
}
