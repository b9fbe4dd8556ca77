// SPDX-License-Identifier: Apache-2.0
/* The service publisher against a recording fake map layer: order, diff, restart reuse, map full,
 * cleanup. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_store.h"
#include "svc_ids.h"
#include "svc_publish.h"
#include "unit.h"

/* --- fake maps ------------------------------------------------------------------- */

#define FAKE_MAX 4096
#define OPS_MAX	 8192

struct fake_ent {
	bool used;
	struct sl_svc_key sk;
	__u32 id;
	struct sl_svc_val sv;
	struct sl_be_val bv;
};

struct fake {
	struct fake_ent svc[FAKE_MAX], be[FAKE_MAX];
	size_t cap[SVC_MAP_N]; /* entries allowed, FAKE_MAX when unset */
	char ops[OPS_MAX]; /* one letter per write: V/v marker, B/b backend, S/s slot, M/m master */
	size_t n_ops;
	__u32 resets[16]; /* ids whose per service port counters were zeroed */
	size_t n_resets;
};

static struct fake_ent *fake_find(struct fake_ent *t, const struct sl_svc_key *sk, __u32 id,
				  bool svc)
{
	for (size_t i = 0; i < FAKE_MAX; i++)
		if (t[i].used && (svc ? !memcmp(&t[i].sk, sk, sizeof(*sk)) : t[i].id == id))
			return &t[i];
	return NULL;
}

static size_t fake_count(const struct fake_ent *t)
{
	size_t n = 0;

	for (size_t i = 0; i < FAKE_MAX; i++)
		n += t[i].used;
	return n;
}

/* Service ports published: master entries (slot 0 of a port). */
static size_t masters_count(const struct fake *f)
{
	size_t n = 0;

	for (size_t i = 0; i < FAKE_MAX; i++)
		n += f->svc[i].used && f->svc[i].sk.port && !f->svc[i].sk.slot;
	return n;
}

static struct fake_ent *fake_slot(struct fake *f, struct fake_ent *t, enum svc_map m,
				  const struct sl_svc_key *sk, __u32 id, int *err)
{
	struct fake_ent *e = fake_find(t, sk, id, m == SVC_MAP_SVC);
	size_t cap = f->cap[m] ? f->cap[m] : FAKE_MAX;

	*err = 0;
	if (e)
		return e;
	if (fake_count(t) >= cap) {
		*err = -E2BIG;
		return NULL;
	}
	for (size_t i = 0; i < FAKE_MAX; i++)
		if (!t[i].used) {
			memset(&t[i], 0, sizeof(t[i]));
			t[i].used = true;
			return &t[i];
		}
	*err = -E2BIG;
	return NULL;
}

static void op(struct fake *f, char c)
{
	if (f->n_ops < OPS_MAX - 1)
		f->ops[f->n_ops++] = c;
	f->ops[f->n_ops] = '\0';
}

static char svc_letter(const struct sl_svc_key *k, bool del)
{
	char c = !k->port && !k->proto ? 'V' : k->slot ? 'S' : 'M';

	return del ? (char)(c + 32) : c;
}

static int f_svc_update(void *ctx, const struct sl_svc_key *k, const struct sl_svc_val *v)
{
	struct fake *f = ctx;
	int err;
	struct fake_ent *e = fake_slot(f, f->svc, SVC_MAP_SVC, k, 0, &err);

	if (!e)
		return err;
	e->sk = *k;
	e->sv = *v;
	op(f, svc_letter(k, false));
	return 0;
}

static int f_svc_delete(void *ctx, const struct sl_svc_key *k)
{
	struct fake *f = ctx;
	struct fake_ent *e = fake_find(f->svc, k, 0, true);

	if (!e)
		return -ENOENT;
	e->used = false;
	op(f, svc_letter(k, true));
	return 0;
}

static int f_be_update(void *ctx, __u32 id, const struct sl_be_val *v)
{
	struct fake *f = ctx;
	int err;
	struct fake_ent *e = fake_slot(f, f->be, SVC_MAP_BE, NULL, id, &err);

	if (!e)
		return err;
	e->id = id;
	e->bv = *v;
	op(f, 'B');
	return 0;
}

static int f_be_delete(void *ctx, __u32 id)
{
	struct fake *f = ctx;
	struct fake_ent *e = fake_find(f->be, NULL, id, false);

	if (!e)
		return -ENOENT;
	e->used = false;
	op(f, 'b');
	return 0;
}

static int f_svc_each(void *ctx,
		      int (*fn)(const struct sl_svc_key *, const struct sl_svc_val *, void *),
		      void *c)
{
	struct fake *f = ctx;

	for (size_t i = 0; i < FAKE_MAX; i++) {
		int r = f->svc[i].used ? fn(&f->svc[i].sk, &f->svc[i].sv, c) : 0;

		if (r)
			return r;
	}
	return 0;
}

static int f_be_each(void *ctx, int (*fn)(__u32, const struct sl_be_val *, void *), void *c)
{
	struct fake *f = ctx;

	for (size_t i = 0; i < FAKE_MAX; i++) {
		int r = f->be[i].used ? fn(f->be[i].id, &f->be[i].bv, c) : 0;

		if (r)
			return r;
	}
	return 0;
}

static int f_stats_reset(void *ctx, __u32 id)
{
	struct fake *f = ctx;

	if (f->n_resets < sizeof(f->resets) / sizeof(f->resets[0]))
		f->resets[f->n_resets++] = id;
	return 0;
}

static const struct svc_map_ops fake_ops = {
    .svc_update = f_svc_update,
    .svc_delete = f_svc_delete,
    .be_update = f_be_update,
    .be_delete = f_be_delete,
    .svc_foreach = f_svc_each,
    .be_foreach = f_be_each,
    .stats_reset = f_stats_reset,
};

static struct fake_ent *master_of(struct fake *f, const char *vip, int port, int proto)
{
	struct sl_svc_key k = {.port = htons(port), .proto = (__u8)proto};

	inet_pton(AF_INET, vip, &k.vip);
	return fake_find(f->svc, &k, 0, true);
}

static void snapshot(struct fake *f, struct fake *copy)
{
	memcpy(copy->svc, f->svc, sizeof(f->svc));
	memcpy(copy->be, f->be, sizeof(f->be));
}

/* Every entry of a is in b with the same value, and the counts match. */
static bool same_table(struct fake_ent *a, struct fake_ent *b, bool svc)
{
	if (fake_count(a) != fake_count(b))
		return false;
	for (size_t i = 0; i < FAKE_MAX; i++) {
		struct fake_ent *e = a[i].used ? fake_find(b, &a[i].sk, a[i].id, svc) : NULL;

		if (a[i].used && (!e || memcmp(&e->sv, &a[i].sv, sizeof(e->sv)) ||
				  memcmp(&e->bv, &a[i].bv, sizeof(e->bv))))
			return false;
	}
	return true;
}

static bool same_maps(struct fake *a, struct fake *b)
{
	return same_table(a->svc, b->svc, true) && same_table(a->be, b->be, false);
}

/* --- the world: stores wired to the publisher ---------------------------------------- */

struct world {
	struct fake *f;
	struct svc_pub *p;
	struct kube_store svcs, slices;
	unsigned long long now;
	char notes[2048];
	int n_notes;
};

static void w_note(void *ctx, enum log_level level, const char *msg)
{
	struct world *w = ctx;
	size_t used = strlen(w->notes);

	w->n_notes++;
	snprintf(w->notes + used, sizeof(w->notes) - used, "%s\n", msg);
}

static void w_changed(void *ctx, enum kube_op op, const struct kube_obj *old,
		      const struct kube_obj *cur)
{
	struct world *w = ctx;

	CHECK_INT(svc_pub_changed(w->p, op, old, cur, w->now), 0);
}

static void world_init(struct world *w, struct fake *f, bool restore)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->now = 1000;
	CHECK_INT(svc_pub_new(&fake_ops, f, "node-a", w_note, w, &w->p), 0);
	if (restore)
		CHECK_INT(svc_pub_restore(w->p), 0);
	kube_store_init(&w->svcs, KUBE_SERVICE, w_changed, w);
	kube_store_init(&w->slices, KUBE_ENDPOINTSLICE, w_changed, w);
}

static void world_fini(struct world *w)
{
	kube_store_fini(&w->svcs);
	kube_store_fini(&w->slices);
	svc_pub_free(w->p);
}

/* JSON written with ' for " to stay readable. */
static struct kube_obj *obj(enum kube_kind k, const char *fmt, ...)
{
	char buf[4096], why[KUBE_WHY_MAX];
	struct kube_obj *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *c = buf; *c; c++)
		if (*c == '\'')
			*c = '"';
	o = kube_obj_parse(k, buf, strlen(buf), NULL, NULL, why, sizeof(why));
	if (!o)
		printf("fixture does not parse: %s: %s\n", why, buf);
	return o;
}

static void svc_put(struct world *w, const char *name, const char *ip, const char *ports,
		    const char *extra)
{
	kube_store_upsert(
	    &w->svcs, obj(KUBE_SERVICE,
			  "{'metadata':{'name':'%s','namespace':'shop'},'spec':{'type':'ClusterIP',"
			  "'clusterIP':'%s','clusterIPs':['%s'],'ports':[%s]%s}}",
			  name, ip, ip, ports, extra));
}

static void eps_put(struct world *w, const char *name, const char *svc, const char *eps,
		    const char *ports)
{
	kube_store_upsert(
	    &w->slices,
	    obj(KUBE_ENDPOINTSLICE,
		"{'metadata':{'name':'%s','namespace':'shop','labels':{'kubernetes.io/"
		"service-name':'%s'}},'addressType':'IPv4','endpoints':[%s],'ports':[%s]}",
		name, svc, eps, ports));
}

static int sync(struct world *w)
{
	w->now += 100;
	return svc_pub_sync(w->p, &w->svcs, &w->slices, true, w->now);
}

#define EP(ip, node) "{'addresses':['" ip "'],'conditions':{'ready':true},'nodeName':'" node "'}"
#define HTTP	     "{'name':'http','protocol':'TCP','port':80,'targetPort':8080}"
#define HTTP_EP	     "{'name':'http','protocol':'TCP','port':8080}"

/* Every letter of first occurs before every letter of then in ops. */
static bool before(const char *ops, char first, char then)
{
	const char *l = strrchr(ops, first), *f = strchr(ops, then);

	return !l || !f || l < f;
}

/* Forgets the writes recorded so far. */
static void ops_clear(struct fake *f)
{
	f->n_ops = 0;
	f->ops[0] = '\0';
}

/* A new publisher on empty maps f. */
static void world_init_empty(struct world *w, struct fake *f)
{
	memset(f, 0, sizeof(*f));
	world_init(w, f, false);
}

/* The agent restarted on the maps it left: a new publisher restored from
 * them, the writes recorded so far forgotten; with snap, the maps as they
 * were copied there first. */
static void world_restart(struct world *w, struct fake *snap)
{
	struct fake *f = w->f;

	world_fini(w);
	if (snap)
		snapshot(f, snap);
	ops_clear(f);
	world_init(w, f, true);
}

/* web (10.96.0.10:80) with two endpoints. */
static void test_publish_first(struct world *w, struct fake *f)
{
	struct fake_ent *m;

	UNIT_CASE("first publish: marker, backends, slots, master");
	svc_put(w, "web", "10.96.0.10", HTTP, "");
	eps_put(w, "web-1", "web", EP("10.244.1.5", "node-a") "," EP("10.244.2.5", "node-b"),
		HTTP_EP);
	CHECK_INT(svc_pub_sync(w->p, &w->svcs, &w->slices, false, 1), 0);
	CHECK_STR(f->ops, ""); /* nothing before the first full sync */
	CHECK_INT(sync(w), 0);
	CHECK_STR(f->ops, "VBBSSM");
	m = master_of(f, "10.96.0.10", 80, IPPROTO_TCP);
	CHECK(m != NULL);
	if (m) {
		CHECK_INT(m->sv.count, 2);
		CHECK_INT(m->sv.flags, 0);
		CHECK(m->sv.id != 0);
	}
	CHECK_INT(fake_count(f->be), 2);
	CHECK_INT(masters_count(f), 1);

	UNIT_CASE("nothing changed: no writes");
	ops_clear(f);
	svc_put(w, "web", "10.96.0.10", HTTP, "");
	eps_put(w, "web-1", "web", EP("10.244.1.5", "node-a") "," EP("10.244.2.5", "node-b"),
		HTTP_EP);
	CHECK_INT(sync(w), 0);
	CHECK_STR(f->ops, "");
}

/* web's endpoints go from two to three, to one, to none. */
static void test_publish_scale(struct world *w, struct fake *f)
{
	struct fake_ent *m;

	UNIT_CASE("scale up then down: master after slots, stale slots and backends after master");
	ops_clear(f);
	eps_put(w, "web-1", "web",
		EP("10.244.1.5", "node-a") "," EP("10.244.2.5", "node-b") "," EP("10.244.3.5",
										 "node-c"),
		HTTP_EP);
	CHECK_INT(sync(w), 0);
	CHECK_STR(f->ops, "BSM");
	ops_clear(f);
	eps_put(w, "web-1", "web", EP("10.244.3.5", "node-c"), HTTP_EP);
	CHECK_INT(sync(w), 0);
	CHECK_STR(f->ops, "SMssbb");
	CHECK(before(f->ops, 'S', 'M') && before(f->ops, 'M', 's') && before(f->ops, 's', 'b'));
	m = master_of(f, "10.96.0.10", 80, IPPROTO_TCP);
	CHECK(m && m->sv.count == 1);
	CHECK_INT(fake_count(f->be), 1);

	UNIT_CASE("no endpoints: count 0 (reject)");
	ops_clear(f);
	kube_store_delete(&w->slices, "shop", "web-1");
	CHECK_INT(sync(w), 0);
	m = master_of(f, "10.96.0.10", 80, IPPROTO_TCP);
	CHECK(m && m->sv.count == 0 && !(m->sv.flags & SL_SVC_F_DROP_EMPTY));
	CHECK_INT(fake_count(f->be), 0);
}

/* The order the maps are written in, through one Service's life. */
static void test_publish_order(void)
{
	static struct fake f;
	struct world w;

	world_init_empty(&w, &f);
	test_publish_first(&w, &f);
	test_publish_scale(&w, &f);

	UNIT_CASE("Service deleted: master, slots, then marker");
	eps_put(&w, "web-1", "web", EP("10.244.1.5", "node-a"), HTTP_EP);
	CHECK_INT(sync(&w), 0);
	ops_clear(&f);
	kube_store_delete(&w.svcs, "shop", "web");
	CHECK_INT(sync(&w), 0);
	CHECK_STR(f.ops, "msbv");
	CHECK_INT(fake_count(f.svc) + fake_count(f.be), 0);
	world_fini(&w);
}

static void test_ports_protocols_shared(void)
{
	static struct fake f;
	struct world w;
	struct fake_ent *t, *u;
	struct svc_stats st;

	UNIT_CASE("same port TCP and UDP: two service ports; a backend shared by two Services");
	world_init_empty(&w, &f);
	svc_put(&w, "dns", "10.96.0.53",
		"{'name':'dns','protocol':'UDP','port':53},{'name':'dns-tcp','protocol':'TCP','"
		"port':53}",
		",'sessionAffinity':'ClientIP'");
	eps_put(&w, "dns-1", "dns", EP("10.244.1.9", "node-a"),
		"{'name':'dns','protocol':'UDP','port':53},{'name':'dns-tcp','protocol':'TCP','"
		"port':53}");
	svc_put(&w, "dns2", "10.96.0.54", "{'name':'dns','protocol':'UDP','port':53}", "");
	eps_put(&w, "dns2-1", "dns2", EP("10.244.1.9", "node-a"),
		"{'name':'dns','protocol':'UDP','port':53}");
	CHECK_INT(sync(&w), 0);
	t = master_of(&f, "10.96.0.53", 53, IPPROTO_TCP);
	u = master_of(&f, "10.96.0.53", 53, IPPROTO_UDP);
	CHECK(t && u && t->sv.id != u->sv.id);
	CHECK(t && t->sv.flags == SL_SVC_F_AFFINITY && t->sv.affinity_timeout == 10800);
	CHECK_INT(fake_count(f.be), 2); /* 10.244.1.9:53 UDP (shared) and TCP */
	CHECK_INT(masters_count(&f), 3);
	svc_pub_stats(w.p, &st);
	CHECK_INT(st.ports, 3);
	CHECK_INT(st.services, 2);
	CHECK_INT(st.vips, 2);

	UNIT_CASE("a port removed from the Service goes, the other stays");
	svc_put(&w, "dns", "10.96.0.53", "{'name':'dns','protocol':'UDP','port':53}", "");
	CHECK_INT(sync(&w), 0);
	CHECK(master_of(&f, "10.96.0.53", 53, IPPROTO_TCP) == NULL);
	CHECK(master_of(&f, "10.96.0.53", 53, IPPROTO_UDP) != NULL);
	CHECK_INT(fake_count(f.be), 1);

	UNIT_CASE("headless and ExternalName Services are not published");
	kube_store_upsert(&w.svcs,
			  obj(KUBE_SERVICE, "{'metadata':{'name':'hl','namespace':'shop'},'spec':{"
					    "'clusterIP':'None','ports':[" HTTP "]}}"));
	kube_store_upsert(&w.svcs,
			  obj(KUBE_SERVICE, "{'metadata':{'name':'en','namespace':'shop'},'spec':{"
					    "'type':'ExternalName','externalName':'a.example'}}"));
	ops_clear(&f);
	CHECK_INT(sync(&w), 0);
	CHECK_STR(f.ops, "");
	world_fini(&w);
}

static void cluster_put(struct world *w)
{
	svc_put(w, "web", "10.96.0.10", HTTP, "");
	eps_put(w, "web-1", "web", EP("10.244.1.5", "node-a") "," EP("10.244.2.5", "node-b"),
		HTTP_EP);
	svc_put(w, "api", "10.96.0.11", HTTP ",{'name':'grpc','protocol':'TCP','port':9000}", "");
	eps_put(w, "api-1", "api", EP("10.244.2.7", "node-b"),
		HTTP_EP ",{'name':'grpc','protocol':'TCP','port':9000}");
	svc_put(w, "old", "10.96.0.12", HTTP, "");
	eps_put(w, "old-1", "old", EP("10.244.2.9", "node-b"), HTTP_EP);
}

struct port_seen {
	__u32 want;
	int n;
	char svc[64], vip[16];
	int port, proto;
};

static int port_seen_fn(__u32 id, const char *svc, __be32 vip, __be16 port, __u8 proto, void *ctx)
{
	struct port_seen *s = ctx;

	s->n++;
	if (id != s->want)
		return 0;
	snprintf(s->svc, sizeof(s->svc), "%s", svc);
	inet_ntop(AF_INET, &vip, s->vip, sizeof(s->vip));
	s->port = ntohs(port);
	s->proto = proto;
	return 0;
}

/* cluster_put published, web deleted and put again so the ids are not
 * simply 1..n, then a restart. */
static void test_restart_reuse(struct world *w, struct fake *f)
{
	static struct fake before_maps;
	struct svc_stats st;

	UNIT_CASE("restart: ids rebuilt from the maps, nothing rewritten");
	cluster_put(w);
	CHECK_INT(sync(w), 0);
	kube_store_delete(&w->svcs, "shop", "web");
	CHECK_INT(sync(w), 0);
	svc_put(w, "web", "10.96.0.10", HTTP, "");
	CHECK_INT(sync(w), 0);

	world_restart(w, &before_maps);
	svc_pub_stats(w->p, &st);
	CHECK_INT(st.restored_ports, 4);
	CHECK_INT(st.restored_backends, 5);
	CHECK_INT(st.restored_vips, 3);
	f->n_resets = 0;
	cluster_put(w);
	CHECK_INT(sync(w), 0);
	CHECK_STR(f->ops, "");
	CHECK(same_maps(f, &before_maps));
	CHECK_INT(f->n_resets, 0); /* restored ids keep their traffic counters */
}

/* Service new (10.96.0.20) after the restart, on web's backend. */
static void test_restart_fresh_id(struct world *w, struct fake *f)
{
	struct fake_ent *n;
	struct port_seen seen;
	int same = 0;

	UNIT_CASE("restart: a new Service gets a fresh id, not a restored one");
	svc_put(w, "new", "10.96.0.20", HTTP, "");
	eps_put(w, "new-1", "new", EP("10.244.1.5", "node-a"), HTTP_EP);
	CHECK_INT(sync(w), 0);
	CHECK_STR(f->ops, "VSM"); /* backend 10.244.1.5:8080 reused */
	n = master_of(f, "10.96.0.20", 80, IPPROTO_TCP);
	for (size_t i = 0; i < FAKE_MAX; i++)
		same += n && f->svc[i].used && f->svc[i].sk.port && !f->svc[i].sk.slot &&
			f->svc[i].sv.id == n->sv.id; /* masters with its id: itself only */
	CHECK_INT(same, 1);
	UNIT_CASE("a fresh service id starts its traffic counters at 0");
	CHECK_INT(f->n_resets, 1);
	CHECK_INT(f->resets[0], n ? n->sv.id : 0);

	UNIT_CASE("published service ports are listed with their Service for /metrics");
	seen = (struct port_seen){.want = n ? n->sv.id : 0};
	CHECK_INT(svc_pub_port_foreach(w->p, port_seen_fn, &seen), 0);
	CHECK_INT(seen.n, 5);
	CHECK_STR(seen.svc, "shop/new");
	CHECK_STR(seen.vip, "10.96.0.20");
	CHECK_INT(seen.port, 80);
	CHECK_INT(seen.proto, IPPROTO_TCP);
}

/* A second restart, and old gone from the cluster meanwhile. */
static void test_restart_gc(struct world *w, struct fake *f)
{
	struct svc_stats st;

	UNIT_CASE("restart: what no Service wants is removed only after the first sync");
	world_restart(w, NULL);
	cluster_put(w);
	kube_store_delete(&w->svcs, "shop", "old");
	kube_store_delete(&w->slices, "shop", "old-1");
	CHECK_INT(svc_pub_sync(w->p, &w->svcs, &w->slices, false, 5), 0);
	CHECK_STR(f->ops, "");
	svc_put(w, "new", "10.96.0.20", HTTP, "");
	eps_put(w, "new-1", "new", EP("10.244.1.5", "node-a"), HTTP_EP);
	CHECK_INT(sync(w), 0);
	CHECK_STR(f->ops, "msbv");
	CHECK(master_of(f, "10.96.0.12", 80, IPPROTO_TCP) == NULL);
	CHECK(master_of(f, "10.96.0.10", 80, IPPROTO_TCP) != NULL);
	svc_pub_stats(w->p, &st);
	CHECK(st.gc_done);
}

static void test_restart(void)
{
	static struct fake f;
	struct world w;

	world_init_empty(&w, &f);
	test_restart_reuse(&w, &f);
	test_restart_fresh_id(&w, &f);
	test_restart_gc(&w, &f);
	world_fini(&w);
}

static void test_map_full(void)
{
	static struct fake f, before_maps;
	struct world w;
	struct svc_stats st;
	struct fake_ent *m;

	UNIT_CASE("sl_be4 full: the service port keeps its old version");
	world_init_empty(&w, &f);
	svc_put(&w, "web", "10.96.0.10", HTTP, "");
	eps_put(&w, "web-1", "web", EP("10.244.1.5", "node-a"), HTTP_EP);
	CHECK_INT(sync(&w), 0);
	snapshot(&f, &before_maps);
	f.cap[SVC_MAP_BE] = 2;
	eps_put(&w, "web-1", "web",
		EP("10.244.1.5", "node-a") "," EP("10.244.1.6", "node-a") "," EP("10.244.1.7",
										 "node-a"),
		HTTP_EP);
	CHECK_INT(sync(&w), -E2BIG);
	CHECK(same_maps(&f, &before_maps));
	svc_pub_stats(w.p, &st);
	CHECK_INT(st.full[SVC_MAP_BE], 1);
	CHECK_INT(st.failing, 1);
	CHECK_INT(w.n_notes, 1);
	CHECK(strstr(w.notes,
		     "Failed to publish service 'shop/web' port 10.96.0.10:80/TCP: sl_be4 full") !=
	      NULL);
	CHECK(svc_pub_pending(w.p, &(unsigned long long){0}));

	UNIT_CASE(
	    "map full is logged once per Service, retried later, published when room appears");
	w.now += 10000;
	CHECK_INT(sync(&w), -E2BIG);
	CHECK_INT(w.n_notes, 1);
	f.cap[SVC_MAP_BE] = 0;
	w.now += 10000;
	CHECK_INT(sync(&w), 0);
	m = master_of(&f, "10.96.0.10", 80, IPPROTO_TCP);
	CHECK(m && m->sv.count == 3);
	CHECK(!svc_pub_pending(w.p, &(unsigned long long){0}));

	UNIT_CASE("sl_svc4 full on the slots: slots and backends rolled back");
	snapshot(&f, &before_maps);
	f.cap[SVC_MAP_SVC] = fake_count(f.svc) + 1;
	eps_put(&w, "web-1", "web",
		EP("10.244.1.5", "node-a") "," EP("10.244.1.6", "node-a") "," EP(
		    "10.244.1.7", "node-a") "," EP("10.244.1.8", "node-a") "," EP("10.244.1.9",
										  "node-a"),
		HTTP_EP);
	CHECK_INT(sync(&w), -E2BIG);
	CHECK(same_maps(&f, &before_maps));
	svc_pub_stats(w.p, &st);
	CHECK_INT(st.full[SVC_MAP_SVC], 1);

	UNIT_CASE("sl_svc4 full for a new Service: nothing of it is left");
	svc_put(&w, "other", "10.96.0.30", HTTP, "");
	eps_put(&w, "other-1", "other", EP("10.244.2.5", "node-b"), HTTP_EP);
	f.cap[SVC_MAP_SVC] = fake_count(f.svc) + 2; /* marker + slot fit, master does not */
	CHECK(sync(&w) < 0);
	CHECK(master_of(&f, "10.96.0.30", 80, IPPROTO_TCP) == NULL);
	CHECK_INT(masters_count(&f), 1);
	world_fini(&w);
}

static void seed_svc(struct fake *f, const char *vip, int port, int proto, int slot, __u32 id,
		     __u16 count, __u16 flags)
{
	struct sl_svc_key k = {.port = htons(port), .proto = (__u8)proto, .slot = (__u16)slot};
	struct sl_svc_val v = {.id = id, .count = count, .flags = flags};

	inet_pton(AF_INET, vip, &k.vip);
	CHECK_INT(f_svc_update(f, &k, &v), 0);
}

static void test_restart_leftovers(void)
{
	static struct fake f;
	struct sl_be_val bv = {.port = htons(8080), .proto = IPPROTO_TCP};
	struct world w;
	struct fake_ent *m;

	UNIT_CASE(
	    "restart after a crash mid-publish: half-written leftovers go after the first sync");
	memset(&f, 0, sizeof(f));
	/* web: master with 1 slot, plus slot 2 written before a crash (count still 1) */
	inet_pton(AF_INET, "10.244.1.5", &bv.ip);
	bv.flags = SL_BE_F_LOCAL;
	f_be_update(&f, 7, &bv);
	inet_pton(AF_INET, "10.244.2.5", &bv.ip);
	bv.flags = 0;
	f_be_update(&f, 9, &bv);
	seed_svc(&f, "10.96.0.10", 0, 0, 0, 0, 0, SL_SVC_F_VIP);
	seed_svc(&f, "10.96.0.10", 80, IPPROTO_TCP, 0, 3, 1, 0);
	seed_svc(&f, "10.96.0.10", 80, IPPROTO_TCP, 1, 7, 0, 0);
	seed_svc(&f, "10.96.0.10", 80, IPPROTO_TCP, 2, 9, 0, 0);
	/* gone: the slot of a port whose master was never written */
	seed_svc(&f, "10.96.0.99", 80, IPPROTO_TCP, 1, 9, 0, 0);
	ops_clear(&f);

	world_init(&w, &f, true);
	svc_put(&w, "web", "10.96.0.10", HTTP, "");
	eps_put(&w, "web-1", "web", EP("10.244.1.5", "node-a"), HTTP_EP);
	CHECK_INT(svc_pub_sync(w.p, &w.svcs, &w.slices, false, 5), 0);
	CHECK_STR(f.ops, "");
	CHECK_INT(sync(&w), 0);
	/* web keeps svc_id 3 and backend 7; its stale slot 2, the orphan port and backend 9 go */
	m = master_of(&f, "10.96.0.10", 80, IPPROTO_TCP);
	CHECK(m && m->sv.id == 3 && m->sv.count == 1);
	CHECK_INT(fake_count(f.svc), 3); /* marker, master, slot 1 */
	CHECK_INT(fake_count(f.be), 1);
	CHECK(fake_find(f.be, NULL, 7, false) != NULL);
	CHECK_INT(masters_count(&f), 1);
	/* stale slot 2 after the master, backend 9; then the orphan slot */
	CHECK_STR(f.ops, "sbs");
	world_fini(&w);
}

static struct fake_ent *entry_at(struct fake *f, const char *ip, int port, int proto, int scope,
				 int slot)
{
	struct sl_svc_key k = {.port = htons(port), .proto = (__u8)proto, .scope = (__u8)scope};

	k.slot = (__u16)slot;
	inet_pton(AF_INET, ip, &k.vip);
	return fake_find(f->svc, &k, 0, true);
}

#define NP_SVC                                                                                     \
	"{'metadata':{'name':'np','namespace':'shop'},'spec':{'type':'%s','clusterIP':'10.96.0."   \
	"30',"                                                                                     \
	"'clusterIPs':['10.96.0.30'],'ports':[{'name':'http','protocol':'TCP','port':80,"          \
	"'targetPort':8080,'nodePort':30080}],'externalIPs':['192.0.2.7'],"                        \
	"'externalTrafficPolicy':'%s','loadBalancerSourceRanges':['203.0.113.0/24']},"             \
	"'status':{'loadBalancer':{'ingress':[{'ip':'198.51.100.9'}]}}}"

/* The NodePort on each node address: a frontend per scope, and the
 * address's markers. */
static void external_nodeports_check(struct world *w, const __be32 node_ips[2])
{
	struct fake_ent *m, *mi, *v;
	struct fake *f = w->f;

	for (int i = 0; i < 2; i++) {
		const char *ip = i ? "10.0.0.5" : "172.18.0.2";

		m = entry_at(f, ip, 30080, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0);
		mi = entry_at(f, ip, 30080, IPPROTO_TCP, SL_SVC_SCOPE_INT, 0);
		CHECK(m && mi);
		if (!m || !mi)
			break;
		CHECK_INT(m->sv.count, 1);  /* Local: this node's endpoint only */
		CHECK_INT(mi->sv.count, 2); /* pods and the node: Cluster (short-circuit) */
		CHECK_INT(m->sv.flags & SL_SVC_F_SRC_RANGES, 0); /* NodePorts ignore the ranges */
		CHECK(m->sv.id != mi->sv.id);
		CHECK(m->sv.snat_ip == node_ips[i]); /* SNAT to the address the client used */
		CHECK(svc_pub_port_id(w->p, svc_ids_key_scoped(node_ips[i], htons(30080),
							       IPPROTO_TCP, SL_SVC_SCOPE_EXT)) ==
		      m->sv.id); /* the frontend's own id */
		v = entry_at(f, ip, 0, 0, SL_SVC_SCOPE_INT, 0);
		CHECK(v && v->sv.flags == SL_SVC_F_NODEIP);
		v = entry_at(f, ip, 0, 0, SL_SVC_SCOPE_EXT, 0);
		CHECK(v && v->sv.flags == SL_SVC_F_NODEIP); /* for the uplink's first lookup */
	}
}

/* np as a LoadBalancer, Local, with one endpoint here and one on node-b. */
static void test_external_publish(struct world *w, const __be32 node_ips[2])
{
	struct fake *f = w->f;
	struct fake_ent *m;

	UNIT_CASE("external: NodePort per node address, externalIP, LB IP, in both scopes");
	CHECK_INT(svc_pub_node_ips(w->p, node_ips, 2, w->now), 0);
	kube_store_upsert(&w->svcs, obj(KUBE_SERVICE, NP_SVC, "LoadBalancer", "Local"));
	eps_put(w, "np-1", "np", EP("10.244.1.5", "node-a") "," EP("10.244.2.5", "node-b"),
		HTTP_EP);
	CHECK_INT(sync(w), 0);
	external_nodeports_check(w, node_ips);
	m = entry_at(f, "192.0.2.7", 80, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0);
	CHECK(m && m->sv.count == 1 && !(m->sv.flags & SL_SVC_F_SRC_RANGES));
	CHECK(m && m->sv.snat_ip == node_ips[0]); /* not a node address: the first one */
	m = entry_at(f, "198.51.100.9", 80, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0);
	CHECK(m && m->sv.count == 1 && (m->sv.flags & SL_SVC_F_SRC_RANGES));
	CHECK(svc_pub_port_id(w->p, svc_ids_key_scoped(inet_addr("198.51.100.9"), htons(80),
						       IPPROTO_TCP, SL_SVC_SCOPE_EXT)) == m->sv.id);
	m = entry_at(f, "198.51.100.9", 80, IPPROTO_TCP, SL_SVC_SCOPE_INT, 0);
	CHECK(m && m->sv.count == 2 && !(m->sv.flags & SL_SVC_F_SRC_RANGES));
}

/* What test_external_publish published, as /metrics lists it. */
static void test_external_metrics(struct world *w)
{
	struct fake_ent *m = entry_at(w->f, "198.51.100.9", 80, IPPROTO_TCP, SL_SVC_SCOPE_INT, 0);
	struct port_seen in = {.want = m ? m->sv.id : 0};
	struct port_seen ex = {
	    .want = svc_pub_port_id(w->p, svc_ids_key_scoped(inet_addr("198.51.100.9"), htons(80),
							     IPPROTO_TCP, SL_SVC_SCOPE_EXT))};
	struct fake_ent *v;

	UNIT_CASE("external: /metrics lists a frontend once, by its scope INT port (what pods "
		  "send), so no two series share labels");
	CHECK_INT(svc_pub_port_foreach(w->p, port_seen_fn, &in), 0);
	CHECK_INT(svc_pub_port_foreach(w->p, port_seen_fn, &ex), 0);
	CHECK(ex.want != 0 && ex.want != in.want);
	CHECK_STR(in.vip, "198.51.100.9");
	CHECK_INT(in.port, 80);
	CHECK_STR(ex.svc, ""); /* the EXT port is not listed */
	CHECK_INT(in.n, 5);    /* ClusterIP, 2 NodePorts, externalIP, LB IP */
	for (int sc = 0; sc < 2; sc++) {
		v = entry_at(w->f, "192.0.2.7", 0, 0, sc, 0);
		CHECK(v && v->sv.flags == SL_SVC_F_VIP);
	}
	m = entry_at(w->f, "172.18.0.2", 30080, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 1);
	CHECK(m && w->f->be[0].used);
}

/* np's local endpoint goes; then np turns Cluster; then the agent restarts. */
static void test_external_policy(struct world *w, const __be32 node_ips[2])
{
	static struct fake before_maps;
	struct fake *f = w->f;
	struct fake_ent *m;

	UNIT_CASE("external: Local without a local endpoint drops, Cluster takes every one");
	eps_put(w, "np-1", "np", EP("10.244.2.5", "node-b"), HTTP_EP);
	CHECK_INT(sync(w), 0);
	m = entry_at(f, "172.18.0.2", 30080, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0);
	CHECK(m && m->sv.count == 0 && (m->sv.flags & SL_SVC_F_DROP_EMPTY));
	kube_store_upsert(&w->svcs, obj(KUBE_SERVICE, NP_SVC, "LoadBalancer", "Cluster"));
	CHECK_INT(sync(w), 0);
	m = entry_at(f, "172.18.0.2", 30080, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0);
	CHECK(m && m->sv.count == 1 && !(m->sv.flags & SL_SVC_F_DROP_EMPTY));

	UNIT_CASE("external: restart rebuilds scoped ports and markers, rewrites nothing");
	world_restart(w, &before_maps);
	CHECK_INT(svc_pub_node_ips(w->p, node_ips, 2, w->now), 0);
	kube_store_upsert(&w->svcs, obj(KUBE_SERVICE, NP_SVC, "LoadBalancer", "Cluster"));
	eps_put(w, "np-1", "np", EP("10.244.2.5", "node-b"), HTTP_EP);
	CHECK_INT(sync(w), 0);
	CHECK_STR(f->ops, "");
	CHECK(same_maps(f, &before_maps));
}

/* np turns ClusterIP, then NodePort; node address 10.0.0.5 goes; np goes. */
static void test_external_release(struct world *w, const __be32 node_ips[2])
{
	struct fake *f = w->f;

	UNIT_CASE("external: NodePort -> ClusterIP releases node ports, LB IPs and node markers");
	kube_store_upsert(&w->svcs, obj(KUBE_SERVICE, NP_SVC, "ClusterIP", "Cluster"));
	CHECK_INT(sync(w), 0);
	CHECK(entry_at(f, "172.18.0.2", 30080, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0) == NULL);
	CHECK(entry_at(f, "172.18.0.2", 30080, IPPROTO_TCP, SL_SVC_SCOPE_INT, 0) == NULL);
	CHECK(entry_at(f, "172.18.0.2", 0, 0, SL_SVC_SCOPE_INT, 0) == NULL);
	CHECK(entry_at(f, "198.51.100.9", 80, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0) == NULL);
	CHECK(entry_at(f, "192.0.2.7", 80, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0) != NULL);

	UNIT_CASE("external: a node address that goes away takes its NodePorts with it");
	kube_store_upsert(&w->svcs, obj(KUBE_SERVICE, NP_SVC, "NodePort", "Cluster"));
	CHECK_INT(sync(w), 0);
	CHECK(entry_at(f, "10.0.0.5", 30080, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0) != NULL);
	CHECK_INT(svc_pub_node_ips(w->p, node_ips, 1, w->now), 0);
	CHECK_INT(sync(w), 0);
	CHECK(entry_at(f, "10.0.0.5", 30080, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0) == NULL);
	CHECK(entry_at(f, "10.0.0.5", 0, 0, SL_SVC_SCOPE_INT, 0) == NULL);
	CHECK(entry_at(f, "172.18.0.2", 30080, IPPROTO_TCP, SL_SVC_SCOPE_EXT, 0) != NULL);

	UNIT_CASE("external: deleting the Service removes every frontend and marker");
	kube_store_delete(&w->svcs, "shop", "np");
	kube_store_delete(&w->slices, "shop", "np-1");
	CHECK_INT(sync(w), 0);
	CHECK_INT(fake_count(f->svc), 0);
	CHECK_INT(fake_count(f->be), 0);
}

/* Service np's external frontends through its life; each chapter starts
 * from the maps the one before left. */
static void test_external_frontends(void)
{
	static struct fake f;
	__be32 node_ips[2];
	struct world w;

	inet_pton(AF_INET, "172.18.0.2", &node_ips[0]);
	inet_pton(AF_INET, "10.0.0.5", &node_ips[1]);
	world_init_empty(&w, &f);
	test_external_publish(&w, node_ips);
	test_external_metrics(&w);
	test_external_policy(&w, node_ips);
	test_external_release(&w, node_ips);
	world_fini(&w);
}

int main(void)
{
	test_publish_order();
	test_ports_protocols_shared();
	test_restart();
	test_map_full();
	test_restart_leftovers();
	test_external_frontends();
	return unit_done();
}
