// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the plan behind routes_sync (routes.c): wanted vs the kernel's routes. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "routes.h"
#include "unit.h"

#define MAX 8

static __be32 ip(const char *s)
{
	struct in_addr a = {};

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

/* "ADD 10.244.2.0/24 via 172.18.0.3 dev 2", "DELETE ...", "SKIP <why>" */
static void op_format(const struct route_op *op, char *out, size_t size)
{
	static const char *const kinds[] = {[ROUTE_OP_ADD] = "ADD",
					    [ROUTE_OP_REPLACE] = "REPLACE",
					    [ROUTE_OP_DELETE] = "DELETE",
					    [ROUTE_OP_SKIP] = "SKIP"};
	char dst[INET_ADDRSTRLEN], via[INET_ADDRSTRLEN];

	if (op->kind == ROUTE_OP_SKIP) {
		snprintf(out, size, "SKIP %s", op->why);
		return;
	}
	inet_ntop(AF_INET, &op->r.dst, dst, sizeof(dst));
	inet_ntop(AF_INET, &op->r.via, via, sizeof(via));
	snprintf(out, size, "%s %s/%u via %s dev %d", kinds[op->kind], dst, op->r.prefix_len, via,
		 op->r.ifindex);
}

struct want_s {
	const char *dst;
	int len;
	const char *via;
};
struct have_s {
	const char *dst;
	int len;
	const char *via;
	int ifindex;
	int prio;
};

static const struct have_s fabric[] = {{"172.18.0.0", 16, NULL, 2, 0}, {NULL}};

static const struct tcase {
	const char *name;
	struct want_s want[MAX];
	struct have_s ours[MAX], connected[MAX];
	const char *local[MAX];
	const char *ops[MAX]; /* expected, in order */
} cases[] = {
    {.name = "nothing wanted, nothing there", .ops = {NULL}},
    {.name = "missing route is added on the link that covers the next hop",
     .want = {{"10.244.2.0", 24, "172.18.0.3"}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops = {"ADD 10.244.2.0/24 via 172.18.0.3 dev 2"}},
    {.name = "route already right: no op",
     .want = {{"10.244.2.0", 24, "172.18.0.3"}},
     .ours = {{"10.244.2.0", 24, "172.18.0.3", 2, 0}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops = {NULL}},
    {.name = "next hop changed: replace",
     .want = {{"10.244.2.0", 24, "172.18.0.9"}},
     .ours = {{"10.244.2.0", 24, "172.18.0.3", 2, 0}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops = {"REPLACE 10.244.2.0/24 via 172.18.0.9 dev 2"}},
    {.name = "link of the next hop changed: replace",
     .want = {{"10.244.2.0", 24, "10.0.0.3"}},
     .ours = {{"10.244.2.0", 24, "10.0.0.3", 2, 0}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}, {"10.0.0.0", 24, NULL, 5, 0}},
     .ops = {"REPLACE 10.244.2.0/24 via 10.0.0.3 dev 5"}},
    {.name = "ours no longer wanted: delete",
     .ours = {{"10.244.2.0", 24, "172.18.0.3", 2, 0}, {"10.244.3.0", 24, "172.18.0.4", 2, 0}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops = {"DELETE 10.244.2.0/24 via 172.18.0.3 dev 2",
	     "DELETE 10.244.3.0/24 via 172.18.0.4 dev 2"}},
    {.name = "mixed: adds and replaces first, deletes last",
     .want = {{"10.244.3.0", 24, "172.18.0.4"}, {"10.244.1.0", 24, "172.18.0.7"}},
     .ours = {{"10.244.2.0", 24, "172.18.0.3", 2, 0}, {"10.244.1.0", 24, "172.18.0.2", 2, 0}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops = {"ADD 10.244.3.0/24 via 172.18.0.4 dev 2", "REPLACE 10.244.1.0/24 via 172.18.0.7 dev 2",
	     "DELETE 10.244.2.0/24 via 172.18.0.3 dev 2"}},
    {.name = "next hop not on-link: skipped with the reason, others still added",
     .want = {{"10.244.2.0", 24, "192.168.9.9"}, {"10.244.3.0", 24, "172.18.0.4"}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops =
	 {"SKIP 10.244.2.0/24: next hop 192.168.9.9 is not on-link (no connected route covers it)",
	  "ADD 10.244.3.0/24 via 172.18.0.4 dev 2"}},
    {.name = "next hop no longer on-link: our old route goes",
     .want = {{"10.244.2.0", 24, "192.168.9.9"}},
     .ours = {{"10.244.2.0", 24, "172.18.0.3", 2, 0}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops =
	 {"SKIP 10.244.2.0/24: next hop 192.168.9.9 is not on-link (no connected route covers it)",
	  "DELETE 10.244.2.0/24 via 172.18.0.3 dev 2"}},
    {.name = "no connected routes at all: everything skipped",
     .want = {{"10.244.2.0", 24, "172.18.0.3"}},
     .ops =
	 {"SKIP 10.244.2.0/24: next hop 172.18.0.3 is not on-link (no connected route covers it)"}},
    {.name = "next hop is the node's own address",
     .want = {{"10.244.2.0", 24, "172.18.0.2"}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .local = {"127.0.0.1", "172.18.0.2"},
     .ops = {"SKIP 10.244.2.0/24: next hop 172.18.0.2 is this node's own address"}},
    {.name = "duplicate destination: the first wins",
     .want = {{"10.244.2.0", 24, "172.18.0.3"}, {"10.244.2.0", 24, "172.18.0.4"}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops = {"ADD 10.244.2.0/24 via 172.18.0.3 dev 2",
	     "SKIP 10.244.2.0/24 via 172.18.0.4: duplicate of the route via 172.18.0.3"}},
    {.name = "host bits in the destination are masked",
     .want = {{"10.244.2.77", 24, "172.18.0.3"}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops = {"ADD 10.244.2.0/24 via 172.18.0.3 dev 2"}},
    {.name = "longest connected prefix picks the link",
     .want = {{"10.244.2.0", 24, "172.18.5.3"}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0},
		   {"172.18.5.0", 24, NULL, 7, 0},
		   {"0.0.0.0", 0, NULL, 9, 0}},
     .ops = {"ADD 10.244.2.0/24 via 172.18.5.3 dev 7"}},
    {.name = "ours with another metric is not the slot: added new, old deleted",
     .want = {{"10.244.2.0", 24, "172.18.0.3"}},
     .ours = {{"10.244.2.0", 24, "172.18.0.3", 2, 100}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops = {"ADD 10.244.2.0/24 via 172.18.0.3 dev 2",
	     "DELETE 10.244.2.0/24 via 172.18.0.3 dev 2"}},
    {.name = "two of ours for one destination: one kept, the other deleted",
     .want = {{"10.244.2.0", 24, "172.18.0.3"}},
     .ours = {{"10.244.2.0", 24, "172.18.0.3", 2, 0}, {"10.244.2.0", 24, "172.18.0.3", 2, 0}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops = {"DELETE 10.244.2.0/24 via 172.18.0.3 dev 2"}},
    {.name = "no next hop and a bad prefix length are skipped",
     .want = {{"10.244.2.0", 24, "0.0.0.0"}, {"10.244.3.0", 33, "172.18.0.3"}},
     .connected = {{"172.18.0.0", 16, NULL, 2, 0}},
     .ops = {"SKIP 10.244.2.0/24: no next hop", "SKIP 10.244.3.0/33: prefix length over 32"}},
};

static size_t haves_fill(const struct have_s *in, struct route_have *out)
{
	size_t n = 0;

	for (; n < MAX && in[n].dst; n++)
		out[n] = (struct route_have){.dst = ip(in[n].dst),
					     .prefix_len = (__u8)in[n].len,
					     .via = in[n].via ? ip(in[n].via) : 0,
					     .ifindex = in[n].ifindex,
					     .priority = (__u32)in[n].prio};
	return n;
}

static void case_run(const struct tcase *t)
{
	struct route_have ours[MAX], connected[MAX];
	struct route_want want[MAX];
	struct route_op ops[2 * MAX];
	__be32 local[MAX];
	struct routes_view v = {.ours = ours, .connected = connected, .local = local};
	size_t n_want = 0, n_exp = 0;
	ssize_t n_ops;
	char got[160];

	UNIT_CASE(t->name);
	for (; n_want < MAX && t->want[n_want].dst; n_want++)
		want[n_want] = (struct route_want){.dst = ip(t->want[n_want].dst),
						   .prefix_len = (__u8)t->want[n_want].len,
						   .via = ip(t->want[n_want].via)};
	v.n_ours = haves_fill(t->ours, ours);
	v.n_connected = haves_fill(t->connected, connected);
	for (; v.n_local < MAX && t->local[v.n_local]; v.n_local++)
		local[v.n_local] = ip(t->local[v.n_local]);
	while (n_exp < MAX && t->ops[n_exp])
		n_exp++;
	memset(ops, 0xa5, sizeof(ops));
	n_ops = routes_plan(want, n_want, &v, ops);
	CHECK_INT(n_ops, n_exp);
	for (size_t i = 0; i < n_exp && (ssize_t)i < n_ops; i++) {
		op_format(&ops[i], got, sizeof(got));
		CHECK_STR(got, t->ops[i]);
	}
}

/* Re-planning against the outcome of a plan gives no ops (the plan converges). */
static void converges(void)
{
	struct route_want want[3] = {{ip("10.244.1.0"), 24, ip("172.18.0.2")},
				     {ip("10.244.2.0"), 24, ip("172.18.0.3")},
				     {ip("10.244.3.0"), 24, ip("172.18.0.4")}};
	struct route_have ours[MAX] = {{ip("10.244.2.0"), 24, ip("172.18.0.9"), 2, 0},
				       {ip("10.244.9.0"), 24, ip("172.18.0.9"), 2, 0}};
	struct route_have connected[1];
	struct route_op ops[2 * MAX];
	struct routes_view v = {.ours = ours, .n_ours = 2, .connected = connected};
	ssize_t n;

	UNIT_CASE("applying the plan converges");
	v.n_connected = haves_fill(fabric, connected);
	n = routes_plan(want, 3, &v, ops);
	CHECK_INT(n, 4); /* 2 adds, 1 replace, 1 delete */
	/* the kernel after the ops: exactly the wanted routes */
	for (size_t i = 0; i < 3; i++)
		ours[i] = (struct route_have){want[i].dst, want[i].prefix_len, want[i].via, 2, 0};
	v.n_ours = 3;
	CHECK_INT(routes_plan(want, 3, &v, ops), 0);
	/* and with nothing wanted, every one of ours goes */
	CHECK_INT(routes_plan(NULL, 0, &v, ops), 3);
	CHECK_INT(ops[0].kind, ROUTE_OP_DELETE);
	CHECK_INT(ops[2].kind, ROUTE_OP_DELETE);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		case_run(&cases[i]);
	converges();
	return unit_done();
}
