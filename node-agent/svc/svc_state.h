/* SPDX-License-Identifier: Apache-2.0 */
/* The publisher's state: what it knows per Service and what it has published, by id. */
#ifndef SLUICE_AGENT_SVC_STATE_H
#define SLUICE_AGENT_SVC_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "svc_ids.h"
#include "svc_publish.h"

#define REC_BUCKETS 4096
#define SVC_KEY_MAX (KUBE_NS_MAX + KUBE_NAME_MAX + 1)

/* One Service (ns/name) the publisher knows: from the Service store, from
 * EndpointSlices naming it, or from ports it still has published. */
struct svc_rec {
	struct svc_rec *next, *dirty_next;
	bool dirty, failed, full_logged;
	char **slices; /* EndpointSlice names in the namespace */
	size_t n_slices, slices_cap;
	__u32 *ports; /* published svc ids */
	size_t n_ports, ports_cap;
	__u32 *vips; /* marker ids held (vip table) */
	size_t n_vips;
	char key[]; /* "ns/name" */
};

/* One published service port, indexed by svc_id. */
struct pub_port {
	bool present, master;
	struct svc_rec *owner; /* NULL: found in the maps at restart, nobody wants it yet */
	__u16 count, flags;    /* master */
	__u32 timeout;
	__be32 snat_ip;
	__u32 n_slots; /* slots 1..n_slots are in sl_svc4 */
	__u32 *slots;  /* backend ids, n_slots entries (0: slot absent) */
};

struct pub_be {
	bool in_map;
	__u32 refs; /* slots pointing at it */
	struct sl_be_val val;
};

struct stale_slot {
	struct sl_svc_key key;
};

struct svc_pub {
	const struct svc_map_ops *ops;
	void *ops_ctx;
	svc_note_fn note;
	void *note_ctx;
	char *node, *zone;
	__be32 *node_ips; /* NodePort addresses of this node */
	size_t n_node_ips;
	struct svc_rec *recs[REC_BUCKETS];
	struct svc_rec *dirty;
	struct svc_ids svc_ids, be_ids, vip_ids;
	struct pub_port *ports;
	size_t ports_cap;
	struct pub_be *bes;
	size_t bes_cap;
	bool *vip_in_map;
	size_t vip_cap;
	__u32 *stale_be; /* found at restart, removed after the first sync */
	size_t n_stale_be, stale_be_cap;
	struct stale_slot *stale_slots;
	size_t n_stale_slots, stale_slots_cap;
	unsigned long long pending_since, retry_ms;
	bool any_failed;
	unsigned long n_services, n_failing; /* records with ports, failed records */
	struct svc_stats st;
};

/* Something to tell the caller (the publisher never logs itself). */
__attribute__((format(printf, 3, 4))) void svc_pub_note(struct svc_pub *p, enum log_level level,
							const char *fmt, ...);

/* A map write failed because the map (or memory for it) is full. */
bool svc_map_full(int err);

/* --- growable tables ---------------------------------------------------------- */

/* Grows *arr (zero-filled) so index want fits. */
int svc_tab_grow(void **arr, size_t *cap, size_t want, size_t elem);
#define GROW(p, field, cap, id)                                                                    \
	svc_tab_grow((void **)&(p)->field, &(p)->cap, (id), sizeof(*(p)->field))

/* Appends one elem-sized v to *arr of *n entries. */
int svc_tab_push(void **arr, size_t *n, size_t *cap, const void *v, size_t elem);

/* --- records ------------------------------------------------------------------ */

/* The record of ns/name, made when missing; NULL when out of memory. */
struct svc_rec *svc_rec_get(struct svc_pub *p, const char *ns, const char *name);
/* Splits the record's key into ns and name. */
void svc_rec_name(const struct svc_rec *r, char ns[KUBE_NS_MAX], char name[KUBE_NAME_MAX]);
void svc_rec_dirty(struct svc_pub *p, struct svc_rec *r, unsigned long long now);
void svc_rec_free(struct svc_rec *r);
/* Unlinks r when nothing refers to it any more. */
void svc_rec_maybe_drop(struct svc_pub *p, struct svc_rec *r, bool svc_exists);
int svc_rec_slice_add(struct svc_rec *r, const char *slice);
void svc_rec_slice_del(struct svc_rec *r, const char *slice);
void svc_rec_port_del(struct svc_rec *r, __u32 id);

/* --- service port keys (svc_ids_key()) ------------------------------------------- */

void svc_key_split(__u64 k, __be32 *ip, __be16 *port, __u8 *proto);
static inline __u8 svc_key_scope(__u64 k)
{
	return (__u8)(k >> 56);
}
/* The service port key (svc_ids_key_scoped()) of an sl_svc4 key. */
__u64 svc_key_of(const struct sl_svc_key *k);
/* The sl_svc4 key of slot slot (0: the master) of service port k. */
struct sl_svc_key svc_key_slot(__u64 k, __u16 slot);
/* "ip:port/PROTO" for messages. */
void svc_key_str(__u64 k, char *buf, size_t len);

#endif
