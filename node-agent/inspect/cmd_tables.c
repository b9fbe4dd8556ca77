// SPDX-License-Identifier: Apache-2.0
/* `sluice-agent services|backends|endpoints|ct|routes`: the datapath's tables
 * from the pinned maps (and the node's routes from the kernel), named with
 * the Kubernetes objects in agent-names.json. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "config.h"
#include "dp.h"
#include "inspect.h"
#include "names.h"
#include "routes.h"
#include "table.h"

struct tab {
	const struct status_flags *f;
	struct inspect_maps m;
	struct names *names; /* NULL when the agent never wrote them */
	json_t *rows;
};

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *addr_json(__be32 ip, __be16 port, __u8 proto)
{
	char a[INSPECT_ADDR_MAX], p[8], buf[INSPECT_ADDR_MAX + 8];

	inspect_addr(ip, port, a);
	if (!proto)
		return json_string(a);
	snprintf(buf, sizeof(buf), "%s/%s", a, inspect_proto_name(proto, p));
	return json_string(buf);
}

/* --- services -------------------------------------------------------------- */

static int svc_row(const struct sl_svc_key *k, const struct sl_svc_val *v, void *ctx)
{
	struct tab *t = ctx;
	struct sl_svc_key slot = *k;
	struct sl_svc_val sv;
	json_t *flags, *ids;

	if (k->slot || !k->port) /* backend slots and VIP markers */
		return 0;
	flags = json_array();
	ids = json_array();
	if (v->flags & SL_SVC_F_AFFINITY)
		json_array_append_new(flags, json_sprintf("affinity=%us", v->affinity_timeout));
	if (v->flags & SL_SVC_F_DROP_EMPTY)
		json_array_append_new(flags, json_string("local-only"));
	if (k->scope == SL_SVC_SCOPE_EXT) /* what arrives from outside; its twin serves pods */
		json_array_append_new(flags, json_string("external"));
	if (v->flags & SL_SVC_F_SRC_RANGES)
		json_array_append_new(flags, json_string("source-ranges"));
	for (slot.slot = 1; slot.slot <= v->count; slot.slot++)
		json_array_append_new(
		    ids, dp_svc_lookup(t->m.svc, &slot, &sv) ? json_null() : json_integer(sv.id));
	return json_array_append_new(
	    t->rows, json_pack("{s:I, s:o, s:o, s:I, s:o, s:o}", "id", (json_int_t)v->id, "service",
			       str_or_null(names_svc(t->names, v->id)), "address",
			       addr_json(k->vip, k->port, k->proto), "backends",
			       (json_int_t)v->count, "backendIds", ids, "flags", flags));
}

static int services_build(struct tab *t)
{
	return dp_svc_foreach(t->m.svc, svc_row, t);
}

/* --- backends -------------------------------------------------------------- */

/* Backend id -> the svc ids whose slots hold it, from one walk of sl_svc4. */
struct be_use {
	__u32 be, svc;
};

struct be_uses {
	struct tab *t;
	struct be_use *v;
	size_t n, cap;
};

static int be_use_cmp(const void *a, const void *b)
{
	const struct be_use *x = a, *y = b;

	return x->be < y->be ? -1 : x->be > y->be;
}

static int be_use_add(const struct sl_svc_key *k, const struct sl_svc_val *v, void *ctx)
{
	struct be_uses *u = ctx;
	struct sl_svc_key master = *k;
	struct sl_svc_val mv;

	if (!k->slot)
		return 0;
	master.slot = 0;
	if (dp_svc_lookup(u->t->m.svc, &master, &mv) || k->slot > mv.count)
		return 0; /* a stale slot past the count */
	if (u->n == u->cap) {
		struct be_use *p = realloc(u->v, (u->cap = u->cap ? 2 * u->cap : 64) * sizeof(*p));

		if (!p)
			return -ENOMEM;
		u->v = p;
	}
	u->v[u->n++] = (struct be_use){v->id, mv.id};
	return 0;
}

static int be_row(__u32 id, const struct sl_be_val *v, void *ctx)
{
	struct be_uses *u = ctx;
	struct be_use key = {.be = id}, *e = bsearch(&key, u->v, u->n, sizeof(*u->v), be_use_cmp);
	json_t *svcs = json_array();

	while (e && e > u->v && e[-1].be == id)
		e--;
	for (; e && e < u->v + u->n && e->be == id; e++)
		json_array_append_new(svcs, names_svc(u->t->names, e->svc)
						? json_string(names_svc(u->t->names, e->svc))
						: json_sprintf("svc %u", e->svc));
	return json_array_append_new(
	    u->t->rows, json_pack("{s:I, s:o, s:o, s:s, s:b, s:o}", "id", (json_int_t)id, "address",
				  addr_json(v->ip, v->port, v->proto), "pod",
				  str_or_null(names_pod(u->t->names, v->ip)), "state",
				  v->flags & SL_BE_F_TERMINATING ? "terminating" : "ready", "local",
				  !!(v->flags & SL_BE_F_LOCAL), "services", svcs));
}

static int backends_build(struct tab *t)
{
	struct be_uses u = {.t = t};
	int r = dp_svc_foreach(t->m.svc, be_use_add, &u);

	if (!r) {
		qsort(u.v, u.n, sizeof(*u.v), be_use_cmp);
		r = dp_be_foreach(t->m.be, be_row, &u);
	}
	free(u.v);
	return r;
}

/* --- endpoints ------------------------------------------------------------- */

static int ep_row(__be32 ip, const struct sl_ep_val *v, void *ctx)
{
	struct tab *t = ctx;
	char mac[18];
	const char *pol = v->identity == SL_ID_PENDING ? "pending"
			  : (v->flags & SL_EP_F_ISO_IN) && (v->flags & SL_EP_F_ISO_OUT)
			      ? "isolated in+out"
			  : v->flags & SL_EP_F_ISO_IN  ? "isolated in"
			  : v->flags & SL_EP_F_ISO_OUT ? "isolated out"
						       : "open";

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", v->pod_mac[0], v->pod_mac[1],
		 v->pod_mac[2], v->pod_mac[3], v->pod_mac[4], v->pod_mac[5]);
	return json_array_append_new(
	    t->rows, json_pack("{s:o, s:o, s:I, s:I, s:I, s:s, s:s}", "ip", addr_json(ip, 0, 0),
			       "pod", str_or_null(names_pod(t->names, ip)), "ifindex",
			       (json_int_t)v->ifindex, "epId", (json_int_t)v->ep_id, "identity",
			       (json_int_t)v->identity, "policy", pol, "mac", mac));
}

static int endpoints_build(struct tab *t)
{
	return dp_ep_foreach(t->m.ep, ep_row, t);
}

/* --- ct -------------------------------------------------------------------- */

static bool ct_match(const struct status_flags *f, const struct sl_ct_key *k)
{
	if ((f->set & CLI_F_SRC) && k->saddr != f->src)
		return false;
	if ((f->set & CLI_F_DST) && k->daddr != f->dst)
		return false;
	if ((f->set & CLI_F_IP) && k->saddr != f->ip && k->daddr != f->ip)
		return false;
	if ((f->set & CLI_F_PORT) && ntohs(k->sport) != f->port && ntohs(k->dport) != f->port)
		return false;
	return !(f->set & CLI_F_PROTO) || k->proto == f->proto;
}

static json_t *tcp_flags_json(__u8 fl)
{
	static const char *const names[] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG"};
	json_t *a = json_array();

	for (int i = 0; i < 6; i++)
		if (fl & (1u << i))
			json_array_append_new(a, json_string(names[i]));
	return a;
}

/* An entry's direction: its flow's forward (client side) or reply entry, of
 * a Service flow or one tracked for NetworkPolicy only. */
static const char *ct_dir(const struct sl_ct_val *v)
{
	if (v->flags & SL_CT_F_POLICY)
		return v->flags & SL_CT_F_REPLY ? "policy-in" : "policy-out";
	return v->flags & SL_CT_F_REPLY ? "in" : "out";
}

static int ct_row(const void *key, const void *val, void *ctx)
{
	const struct sl_ct_key *k = key;
	const struct sl_ct_val *v = val;
	struct tab *t = ctx;
	bool pol = v->flags & SL_CT_F_POLICY;
	__u64 now = inspect_mono_ns();
	json_t *svc = json_null(), *backend = json_null();

	if (!ct_match(t->f, k))
		return 0;
	if (!pol && v->svc_id)
		svc = names_svc(t->names, v->svc_id) ? json_string(names_svc(t->names, v->svc_id))
						     : json_sprintf("svc %u", v->svc_id);
	/* the forward entry DNATs to the backend; the reply comes from it */
	if (!pol)
		backend = v->flags & SL_CT_F_REPLY ? addr_json(k->saddr, k->sport, 0)
						   : addr_json(v->nat_ip, v->nat_port, 0);
	return json_array_append_new(
	    t->rows,
	    json_pack(
		"{s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:b, s:b, s:I}", "dir", ct_dir(v),
		"proto", json_string(inspect_proto_name(k->proto, (char[8]){})), "src",
		addr_json(k->saddr, k->sport, 0), "dst", addr_json(k->daddr, k->dport, 0),
		"service", svc, "backend", backend, "ageSeconds",
		(json_int_t)(now > v->last_seen_ns ? (now - v->last_seen_ns) / 1000000000ull : 0),
		"tcpFlags", tcp_flags_json(v->tcp_flags), "hairpin", !!(v->flags & SL_CT_F_HAIRPIN),
		"dsr", !!(v->flags & SL_CT_F_DSR), "policyGen", (json_int_t)v->pol_gen));
}

static int ct_build(struct tab *t)
{
	return dp_ct_foreach(t->m.ct, ct_row, t);
}

/* --- routes ---------------------------------------------------------------- */

static int routes_build(struct tab *t)
{
	struct route_have *rs = NULL;
	char dst[INSPECT_ADDR_MAX + 4];
	size_t n = 0;
	int r = routes_list(&rs, &n);

	for (size_t i = 0; !r && i < n; i++) {
		inspect_addr(rs[i].dst, 0, dst);
		snprintf(dst + strlen(dst), sizeof(dst) - strlen(dst), "/%u", rs[i].prefix_len);
		r = json_array_append_new(t->rows,
					  json_pack("{s:s, s:o, s:I, s:o}", "dst", dst, "via",
						    addr_json(rs[i].via, 0, 0), "ifindex",
						    (json_int_t)rs[i].ifindex, "node",
						    str_or_null(names_node(t->names, rs[i].via))));
	}
	free(rs);
	return r ? (r < 0 ? r : -ENOMEM) : 0;
}

/* --- the commands ---------------------------------------------------------- */

#define COLS(...)                                                                                  \
	(const struct table_col[]){__VA_ARGS__},                                                   \
	    sizeof((const struct table_col[]){__VA_ARGS__}) / sizeof(struct table_col)

static const struct table_cmd {
	const char *name, *usage;
	unsigned int accept;
	int (*build)(struct tab *t);
	const struct table_col *cols;
	size_t n_cols;
} table_cmds[] = {
    {"services", "", 0, services_build,
     COLS({"ID", "id"}, {"SERVICE", "service"}, {"ADDRESS", "address"}, {"BACKENDS", "backends"},
	  {"BACKEND-IDS", "backendIds"}, {"FLAGS", "flags"})},
    {"backends", "", 0, backends_build,
     COLS({"ID", "id"}, {"ADDRESS", "address"}, {"POD", "pod"}, {"STATE", "state"},
	  {"LOCAL", "local"}, {"SERVICES", "services"})},
    {"endpoints", "", 0, endpoints_build,
     COLS({"IP", "ip"}, {"POD", "pod"}, {"IFINDEX", "ifindex"}, {"EP-ID", "epId"},
	  {"IDENTITY", "identity"}, {"POLICY", "policy"}, {"MAC", "mac"})},
    {"ct", " [--src IP] [--dst IP] [--ip IP] [--port N] [--proto tcp|udp|sctp]",
     CLI_F_SRC | CLI_F_DST | CLI_F_IP | CLI_F_PORT | CLI_F_PROTO, ct_build,
     COLS({"DIR", "dir"}, {"PROTO", "proto"}, {"SRC", "src"}, {"DST", "dst"},
	  {"SERVICE", "service"}, {"BACKEND", "backend"}, {"AGE", "ageSeconds"},
	  {"TCP", "tcpFlags"}, {"HAIRPIN", "hairpin"})},
    {"routes", "", 0, routes_build,
     COLS({"DST", "dst"}, {"VIA", "via"}, {"IFINDEX", "ifindex"}, {"NODE", "node"})},
};

static const struct table_cmd *cur_cmd;

static void table_usage(FILE *out)
{
	fprintf(out,
		"usage: sluice-agent %s [--pin-dir DIR] [--cni-state-dir DIR | --state-file "
		"FILE]%s [--json]\n",
		cur_cmd->name, cur_cmd->usage);
}

static int table_run(const struct table_cmd *c, int argc, char **argv)
{
	struct status_flags f = {.pin_dir = SL_DEFAULT_PIN_DIR,
				 .state_dir = CONFIG_DEFAULT_CNI_STATE_DIR,
				 .accept = c->accept};
	char path[CONFIG_PATH_MAX + 32];
	struct tab t = {.f = &f};
	int r;

	cur_cmd = c;
	r = status_flags_parse(c->name, table_usage, argc, argv, &f);
	if (r >= 0)
		return r;
	if (inspect_maps_open(f.pin_dir, &t.m) < 0) {
		fprintf(stderr,
			"sluice-agent %s: nothing pinned under '%s' (was sluice-agent "
			"ever started?)\n",
			c->name, f.pin_dir);
		return 1;
	}
	names_load(status_flags_file(&f, NAMES_FILE, path, sizeof(path)), &t.names);
	t.rows = json_array();
	r = t.rows ? c->build(&t) : -ENOMEM;
	if (!r)
		r = table_print(c->cols, c->n_cols, t.rows, f.json);
	if (r)
		fprintf(stderr, "sluice-agent %s: failed to read the table: %s\n", c->name,
			strerror(r < 0 ? -r : ENOMEM));
	json_decref(t.rows);
	names_free(t.names);
	inspect_maps_close(&t.m);
	return r ? 1 : 0;
}

int agent_cmd_table(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(table_cmds) / sizeof(table_cmds[0]); i++)
		if (!strcmp(argv[0], table_cmds[i].name))
			return table_run(&table_cmds[i], argc, argv);
	return EXIT_USAGE;
}
