/* SPDX-License-Identifier: Apache-2.0 */
/* The uplink program (node.bpf.c) opened and loaded with its maps unpinned, for a BPF test. */
#ifndef SLUICE_BPF_TESTS_NODE_FIXTURE_H
#define SLUICE_BPF_TESTS_NODE_FIXTURE_H

#include <stdbool.h>
#include <arpa/inet.h>

#include <bpf/libbpf.h>

#include "dp.h"
#include "node.skel.h"
#include "unit.h"

/* Where a test's frontends and backends go: the node's sl_svc4 and sl_be4,
 * and the address its external frontends SNAT to. */
struct node_fixture_lb {
	int svc, be;
	__be32 snat_ip;
};

/* The external-scope entry {ip, port, proto, slot} -> {id, count, flags}
 * (slot 0: the frontend, count its backends; slot n: its n-th backend id). */
static inline void node_fixture_svc_ext(const struct node_fixture_lb *lb, __be32 ip, __u16 port,
					__u8 proto, __u16 slot, __u32 id, __u16 count, __u16 flags)
{
	struct sl_svc_key k = {.vip = ip, .port = htons(port), .proto = proto};
	struct sl_svc_val v = {.id = id, .count = count, .flags = flags, .snat_ip = lb->snat_ip};

	k.scope = SL_SVC_SCOPE_EXT;
	k.slot = slot;
	CHECK_INT(dp_svc_update(lb->svc, &k, &v), 0);
}

/* A frontend svc_id with the one backend be_id: its slot 1, then its slot 0 (count 1). */
static inline void node_fixture_svc_one(const struct node_fixture_lb *lb, __be32 ip, __u16 port,
					__u8 proto, __u32 svc_id, __u32 be_id, __u16 flags)
{
	node_fixture_svc_ext(lb, ip, port, proto, 1, be_id, 0, 0);
	node_fixture_svc_ext(lb, ip, port, proto, 0, svc_id, 1, flags);
}

/* Backend id -> {ip, port, proto, flags}. */
static inline void node_fixture_be_put(const struct node_fixture_lb *lb, __u32 id, __be32 ip,
				       __u16 port, __u8 proto, __u8 flags)
{
	struct sl_be_val v = {.ip = ip, .port = htons(port), .proto = proto, .flags = flags};

	CHECK_INT(dp_be_update(lb->be, id, &v), 0);
}

/* The case what: the skeleton opened and loaded (checked), in DSR mode
 * when dsr is set; NULL when it cannot even be opened. */
static inline struct sl_node *node_fixture_load_mode(const char *what, bool dsr)
{
	struct sl_node *skel;
	struct bpf_map *map;

	UNIT_CASE(what);
	skel = sl_node__open();
	CHECK(skel != NULL);
	if (!skel)
		return NULL;
	bpf_object__for_each_map(map, skel->obj) bpf_map__set_pin_path(map, NULL);
	skel->rodata->nodeport_dsr = dsr;
	CHECK_INT(sl_node__load(skel), 0);
	return skel;
}

static inline struct sl_node *node_fixture_load(const char *what)
{
	return node_fixture_load_mode(what, false);
}

#endif
