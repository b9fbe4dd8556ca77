/* SPDX-License-Identifier: Apache-2.0 */
/* The uplink program (node.bpf.c) opened and loaded with its maps unpinned, for a BPF test. */
#ifndef SLUICE_BPF_TESTS_NODE_FIXTURE_H
#define SLUICE_BPF_TESTS_NODE_FIXTURE_H

#include <stdbool.h>

#include <bpf/libbpf.h>

#include "node.skel.h"
#include "unit.h"

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
