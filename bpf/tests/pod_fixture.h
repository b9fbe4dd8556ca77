/* SPDX-License-Identifier: Apache-2.0 */
/* The node the pod-program tests (test_pod.c, test_svc.c) build: two pod
 * veths ha/hb and an uplink up0 with a router behind, their MACs and the
 * pods' addresses. */
#ifndef SLUICE_TESTS_POD_FIXTURE_H
#define SLUICE_TESTS_POD_FIXTURE_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/icmp.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "log.h"
#include "pkt.h"
#include "pod.skel.h"
#include "unit.h"

static const __u8 mac_a[6] = {0x02, 0xaa, 0, 0, 0, 0x0a};
static const __u8 host_a[6] = {0x02, 0xbb, 0, 0, 0, 0x0a};
static const __u8 mac_b[6] = {0x02, 0xaa, 0, 0, 0, 0x0b};
static const __u8 host_b[6] = {0x02, 0xbb, 0, 0, 0, 0x0b};
static const __u8 mac_uplink[6] = {0x02, 0, 0, 0, 0x01, 0};
static const __u8 mac_router[6] = {0x02, 0, 0, 0, 0, 0x02};

#define IP_A IP(10, 244, 1, 10) /* pod behind ha */
#define IP_B IP(10, 244, 1, 11) /* pod behind hb */

/* The first lines of each test's netns_setup: links, the node's uplink
 * address and the router's neighbour entry; each test adds its routes. */
#define POD_FIXTURE_LINKS                                                                          \
	"ip link set lo up", "ip link add ha type veth peer name pa",                              \
	    "ip link add hb type veth peer name pb",                                               \
	    "ip link add up0 address 02:00:00:00:01:00 type veth peer name up1",                   \
	    "ip link set ha up && ip link set pa up && ip link set hb up && ip link set pb up",    \
	    "ip link set up0 up && ip link set up1 up", "ip addr add 10.0.0.1/24 dev up0",         \
	    "ip neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev up0 nud permanent"

#endif
