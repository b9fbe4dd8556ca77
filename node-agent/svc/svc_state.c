// SPDX-License-Identifier: Apache-2.0
/* The publisher's state: records per Service, tables by id, service port keys. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_state.h"

void svc_pub_note(struct svc_pub *p, enum log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!p->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->note(p->note_ctx, level, msg);
}

bool svc_map_full(int err)
{
	return err == -E2BIG || err == -ENOSPC || err == -ENOMEM;
}

static const char *proto_name(__u8 proto)
{
	return proto == IPPROTO_TCP    ? "TCP"
	       : proto == IPPROTO_UDP  ? "UDP"
	       : proto == IPPROTO_SCTP ? "SCTP"
				       : "?";
}

/* --- growable tables indexed by id ---------------------------------------- */

int svc_tab_grow(void **arr, size_t *cap, size_t want, size_t elem)
{
	size_t ncap = *cap ? *cap : 256;
	char *n;

	if (want < *cap)
		return 0;
	while (ncap <= want)
		ncap *= 2;
	n = realloc(*arr, ncap * elem);
	if (!n)
		return -ENOMEM;
	memset(n + *cap * elem, 0, (ncap - *cap) * elem);
	*arr = n;
	*cap = ncap;
	return 0;
}

int svc_tab_push(void **arr, size_t *n, size_t *cap, const void *v, size_t elem)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		void *a = realloc(*arr, ncap * elem);

		if (!a)
			return -ENOMEM;
		*arr = a;
		*cap = ncap;
	}
	memcpy((char *)*arr + *n * elem, v, elem);
	(*n)++;
	return 0;
}

/* --- records ------------------------------------------------------------------ */

static size_t rec_bucket(const char *key)
{
	size_t h = 5381;

	for (; *key; key++)
		h = h * 33 + (unsigned char)*key;
	return h & (REC_BUCKETS - 1);
}

static struct svc_rec *rec_find(struct svc_pub *p, const char *key)
{
	for (struct svc_rec *r = p->recs[rec_bucket(key)]; r; r = r->next)
		if (!strcmp(r->key, key))
			return r;
	return NULL;
}

struct svc_rec *svc_rec_get(struct svc_pub *p, const char *ns, const char *name)
{
	char key[SVC_KEY_MAX];
	struct svc_rec *r;
	size_t b;

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	r = rec_find(p, key);
	if (r)
		return r;
	r = calloc(1, sizeof(*r) + strlen(key) + 1);
	if (!r)
		return NULL;
	strcpy(r->key, key);
	b = rec_bucket(key);
	r->next = p->recs[b];
	p->recs[b] = r;
	return r;
}

void svc_rec_name(const struct svc_rec *r, char ns[KUBE_NS_MAX], char name[KUBE_NAME_MAX])
{
	const char *slash = strchr(r->key, '/');

	snprintf(ns, KUBE_NS_MAX, "%.*s", (int)(slash - r->key), r->key);
	snprintf(name, KUBE_NAME_MAX, "%s", slash + 1);
}

void svc_rec_dirty(struct svc_pub *p, struct svc_rec *r, unsigned long long now)
{
	if (!p->pending_since)
		p->pending_since = now ? now : 1;
	if (r->dirty)
		return;
	r->dirty = true;
	r->dirty_next = p->dirty;
	p->dirty = r;
}

void svc_rec_free(struct svc_rec *r)
{
	for (size_t i = 0; i < r->n_slices; i++)
		free(r->slices[i]);
	free(r->slices);
	free(r->ports);
	free(r->vips);
	free(r);
}

void svc_rec_maybe_drop(struct svc_pub *p, struct svc_rec *r, bool svc_exists)
{
	struct svc_rec **pp;

	if (svc_exists || r->n_slices || r->n_ports || r->n_vips || r->dirty || r->failed)
		return;
	for (pp = &p->recs[rec_bucket(r->key)]; *pp && *pp != r; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = r->next;
	svc_rec_free(r);
}

int svc_rec_slice_add(struct svc_rec *r, const char *slice)
{
	char *s;

	for (size_t i = 0; i < r->n_slices; i++)
		if (!strcmp(r->slices[i], slice))
			return 0;
	s = strdup(slice);
	if (!s ||
	    svc_tab_push((void **)&r->slices, &r->n_slices, &r->slices_cap, &s, sizeof(s)) < 0) {
		free(s);
		return -ENOMEM;
	}
	return 0;
}

void svc_rec_slice_del(struct svc_rec *r, const char *slice)
{
	for (size_t i = 0; i < r->n_slices; i++) {
		if (strcmp(r->slices[i], slice))
			continue;
		free(r->slices[i]);
		r->slices[i] = r->slices[--r->n_slices];
		return;
	}
}

void svc_rec_port_del(struct svc_rec *r, __u32 id)
{
	for (size_t i = 0; i < r->n_ports; i++) {
		if (r->ports[i] != id)
			continue;
		r->ports[i] = r->ports[--r->n_ports];
		return;
	}
}

/* --- keys ------------------------------------------------------------------ */

void svc_key_split(__u64 k, __be32 *ip, __be16 *port, __u8 *proto)
{
	*ip = (__be32)(k >> 24); /* the cast drops the scope byte */
	*port = (__be16)(k >> 8);
	*proto = (__u8)k;
}

struct sl_svc_key svc_key_slot(__u64 k, __u16 slot)
{
	struct sl_svc_key key = {};

	svc_key_split(k, &key.vip, &key.port, &key.proto);
	key.scope = svc_key_scope(k);
	key.slot = slot;
	return key;
}

__u64 svc_key_of(const struct sl_svc_key *k)
{
	return svc_ids_key_scoped(k->vip, k->port, k->proto, k->scope);
}

void svc_key_str(__u64 k, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];
	__be32 vip;
	__be16 port;
	__u8 proto;

	svc_key_split(k, &vip, &port, &proto);
	inet_ntop(AF_INET, &vip, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u/%s%s", ip, ntohs(port), proto_name(proto),
		 svc_key_scope(k) == SL_SVC_SCOPE_EXT ? " (external)" : "");
}
