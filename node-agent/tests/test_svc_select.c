// SPDX-License-Identifier: Apache-2.0
/* kube-proxy's endpoint choice, table-driven: ready/serving/terminating, Local/Cluster, topology
 * hints. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/abi.h"
#include "svc_select.h"
#include "unit.h"

#define R  KUBE_EP_READY | KUBE_EP_SERVING
#define ST KUBE_EP_SERVING | KUBE_EP_TERMINATING
#define NR 0

struct ep_def {
	const char *ip;
	__u8 cond;
	const char *node;
	const char *zone_hint, *node_hint; /* NULL: none */
};

struct sel_case {
	const char *name;
	bool local_policy;
	struct ep_def eps[4];
	const char *want; /* chosen IPs, sorted, comma separated */
	__u16 want_flags;
};

static const struct sel_case cases[] = {
    {"ready only",
     false,
     {{"10.0.0.2", R, "a"}, {"10.0.0.1", R, "b"}, {"10.0.0.3", NR, "a"}},
     "10.0.0.1,10.0.0.2",
     0},
    {"no ready: serving+terminating fallback",
     false,
     {{"10.0.0.1", ST, "b"}, {"10.0.0.2", KUBE_EP_TERMINATING, "a"}, {"10.0.0.3", NR, "a"}},
     "10.0.0.1",
     0},
    {"ready preferred over terminating",
     false,
     {{"10.0.0.1", ST, "b"}, {"10.0.0.2", R, "b"}},
     "10.0.0.2",
     0},
    {"nothing usable: reject", false, {{"10.0.0.1", NR, "a"}}, "", 0},
    {"no endpoints at all, Local: reject, not drop", true, {{NULL}}, "", 0},
    {"Local: local ready only",
     true,
     {{"10.0.0.1", R, "a"}, {"10.0.0.2", R, "b"}, {"10.0.0.3", ST, "a"}},
     "10.0.0.1",
     0},
    {"Local: local terminating fallback",
     true,
     {{"10.0.0.1", ST, "a"}, {"10.0.0.2", R, "b"}},
     "10.0.0.1",
     0},
    {"Local: none local: drop", true, {{"10.0.0.2", R, "b"}}, "", SL_SVC_F_DROP_EMPTY},
    {"zone hints on all, one for this zone",
     false,
     {{"10.0.0.1", R, "b", "z1"}, {"10.0.0.2", R, "c", "z2"}},
     "10.0.0.1",
     0},
    {"zone hints partial: ignored",
     false,
     {{"10.0.0.1", R, "b", "z1"}, {"10.0.0.2", R, "c"}},
     "10.0.0.1,10.0.0.2",
     0},
    {"zone hints, none for this zone: ignored",
     false,
     {{"10.0.0.1", R, "b", "z2"}, {"10.0.0.2", R, "c", "z3"}},
     "10.0.0.1,10.0.0.2",
     0},
    {"node hints on all, one for this node",
     false,
     {{"10.0.0.1", R, "b", "z1", "a"}, {"10.0.0.2", R, "c", "z1", "c"}},
     "10.0.0.1",
     0},
    {"hints ignored for the terminating fallback",
     false,
     {{"10.0.0.1", ST, "b", "z2"}, {"10.0.0.2", ST, "c", "z3"}},
     "10.0.0.1,10.0.0.2",
     0},
    {"Local ignores hints",
     true,
     {{"10.0.0.1", R, "a", "z9"}, {"10.0.0.2", R, "b", "z1"}},
     "10.0.0.1",
     0},
};

static void run_case(const struct sel_case *c)
{
	struct kube_endpoint eps[4] = {};
	const char *hints[4][2];
	struct kube_eps_port port = {.name = "http", .port = 8080, .proto = IPPROTO_TCP};
	struct kube_endpointslice slice = {
	    .address_type = KUBE_ADDR_IPV4, .n_ports = 1, .ports = &port, .endpoints = eps};
	const struct kube_endpointslice *slices[] = {&slice};
	struct kube_svc_port sp = {.name = "http", .port = 80, .proto = IPPROTO_TCP};
	struct kube_service svc = {.itp_local = c->local_policy};
	struct svc_node node = {.name = "a", .zone = "z1"};
	struct svc_choice ch;
	char got[128] = "", ip[INET_ADDRSTRLEN];

	UNIT_CASE(c->name);
	for (int i = 0; i < 4 && c->eps[i].ip; i++) {
		struct kube_endpoint *e = &eps[i];
		int n = 0;

		e->addr.family = 4;
		inet_pton(AF_INET, c->eps[i].ip, e->addr.addr);
		e->cond = c->eps[i].cond;
		e->node = c->eps[i].node;
		if (c->eps[i].zone_hint)
			hints[i][n++] = c->eps[i].zone_hint, e->n_zone_hints = 1;
		if (c->eps[i].node_hint)
			hints[i][n++] = c->eps[i].node_hint, e->n_node_hints = 1;
		e->hints = hints[i];
		slice.n_endpoints++;
	}
	CHECK_INT(svc_select(&svc, &sp, slices, 1, &node, &ch), 0);
	for (size_t i = 0; i < ch.n; i++) {
		inet_ntop(AF_INET, &ch.backends[i].ip, ip, sizeof(ip));
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "," : "", ip);
		CHECK_INT(ntohs(ch.backends[i].port), 8080);
	}
	CHECK_STR(got, c->want);
	CHECK_INT(ch.flags, c->want_flags);
	free(ch.backends);
}

static void test_flags_and_ports(void)
{
	struct kube_endpoint ep = {
	    .addr = {.family = 4, .addr = {10, 0, 0, 1}}, .cond = ST, .node = "a"};
	struct kube_eps_port ports[] = {{.name = NULL, .port = 53, .proto = IPPROTO_UDP},
					{.name = NULL, .port = 5353, .proto = IPPROTO_TCP}};
	struct kube_endpointslice slice = {.address_type = KUBE_ADDR_IPV4,
					   .n_ports = 2,
					   .ports = ports,
					   .n_endpoints = 1,
					   .endpoints = &ep};
	struct kube_endpointslice v6 = slice;
	const struct kube_endpointslice *slices[] = {&slice, &v6};
	struct kube_svc_port sp = {.name = "", .port = 53, .proto = IPPROTO_TCP};
	struct kube_service svc = {.affinity_client_ip = true};
	struct svc_node node = {.name = "a"};
	struct svc_choice ch;

	UNIT_CASE("unnamed port matched by protocol; IPv6 slices skipped; flags");
	v6.address_type = KUBE_ADDR_IPV6;
	CHECK_INT(svc_select(&svc, &sp, slices, 2, &node, &ch), 0);
	CHECK_INT(ch.n, 1);
	if (ch.n) {
		CHECK_INT(ntohs(ch.backends[0].port), 5353);
		CHECK_INT(ch.backends[0].proto, IPPROTO_TCP);
		CHECK_INT(ch.backends[0].flags, SL_BE_F_LOCAL | SL_BE_F_TERMINATING);
	}
	CHECK_INT(ch.flags, SL_SVC_F_AFFINITY);
	CHECK_INT(ch.affinity_timeout, 10800);
	free(ch.backends);

	UNIT_CASE("a port name the slice does not have: no backends");
	sp.name = "dns";
	CHECK_INT(svc_select(&svc, &sp, slices, 2, &node, &ch), 0);
	CHECK_INT(ch.n, 0);
	free(ch.backends);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_flags_and_ports();
	return unit_done();
}
