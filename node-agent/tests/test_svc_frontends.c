// SPDX-License-Identifier: Apache-2.0
/* The frontends, markers and loadBalancerSourceRanges entries a Service publishes. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_frontends.h"
#include "svc_ids.h"
#include "unit.h"

static struct kube_obj *svc_parse(const char *json)
{
	char why[KUBE_WHY_MAX] = "";
	struct kube_obj *o =
	    kube_obj_parse(KUBE_SERVICE, json, strlen(json), NULL, NULL, why, sizeof(why));

	if (!o)
		printf("fixture does not parse: %s\n", why);
	return o;
}

static const char lb_json[] =
    "{\"metadata\":{\"name\":\"lb\",\"namespace\":\"d\"},\"spec\":{\"type\":\"LoadBalancer\","
    "\"clusterIP\":\"10.96.0.5\",\"ports\":[{\"port\":80,\"nodePort\":30080}],"
    "\"loadBalancerSourceRanges\":[\"192.0.2.0/24\",\"fd00::/8\"]},"
    "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"203.0.113.10\"}]}}}";

static __u32 id_seven(void *ctx, __u64 key)
{
	*(__u64 *)ctx = key;
	return 7;
}

static __u32 id_none(void *ctx, __u64 key)
{
	return 0;
}

static void test_lbsrc(void)
{
	struct kube_obj *o = svc_parse(lb_json);
	struct sl_lbsrc_key out[8];
	__be32 node[1];
	__u64 seen = 0;
	size_t n;

	if (!o)
		return;
	UNIT_CASE("lbsrc: each v4 range for the LB IP's EXT frontend, IPv6 ranges skipped");
	CHECK(svc_lbsrc_max(&o->u.svc) <= 8);
	node[0] = inet_addr("172.18.0.2");
	n = svc_lbsrc_build(&o->u.svc, node, 1, id_seven, &seen, out);
	CHECK_INT(n, 1);
	CHECK_INT(out[0].prefixlen, 32 + 24);
	CHECK_INT(out[0].svc_id, 7);
	CHECK_INT(out[0].ip, inet_addr("192.0.2.0"));
	CHECK(seen == svc_ids_key_scoped(inet_addr("203.0.113.10"), htons(80), IPPROTO_TCP,
					 SL_SVC_SCOPE_EXT));

	UNIT_CASE("lbsrc: a range holding a node address lets the LB IPs in (hairpin)");
	node[0] = inet_addr("192.0.2.9");
	CHECK(svc_src_ranges_hold_node(&o->u.svc, node, 1));
	n = svc_lbsrc_build(&o->u.svc, node, 1, id_seven, &seen, out);
	CHECK_INT(n, 2);
	CHECK_INT(out[1].prefixlen, 64);
	CHECK_INT(out[1].ip, inet_addr("203.0.113.10"));

	UNIT_CASE("lbsrc: nothing for a frontend not published yet, nor for type NodePort");
	CHECK_INT(svc_lbsrc_build(&o->u.svc, node, 1, id_none, NULL, out), 0);
	o->u.svc.type = KUBE_SVC_NODE_PORT;
	CHECK_INT(svc_lbsrc_build(&o->u.svc, node, 1, id_seven, &seen, out), 0);
	kube_obj_free(o);
}

static void test_markers(void)
{
	struct kube_obj *o = svc_parse(lb_json);
	struct svc_marker m[32];
	__be32 node[2] = {inet_addr("172.18.0.2"), inet_addr("203.0.113.10")};
	size_t n;

	if (!o)
		return;
	UNIT_CASE(
	    "markers: ClusterIP VIP, node addresses NODEIP, an LB IP on a node address skipped");
	CHECK(svc_frontends_max(&o->u.svc, 2) <= 32);
	n = svc_markers_build(&o->u.svc, node, 2, m);
	CHECK_INT(n, 5);
	CHECK_INT(m[0].flags, SL_SVC_F_VIP);
	CHECK_INT(m[1].flags, SL_SVC_F_NODEIP);
	CHECK_INT(m[1].scope, SL_SVC_SCOPE_INT);
	CHECK_INT(m[2].ip, node[1]);
	CHECK_INT(m[2].flags, SL_SVC_F_NODEIP);
	CHECK_INT(m[3].scope, SL_SVC_SCOPE_EXT); /* the uplink's marker of each node address */
	CHECK_INT(m[4].ip, node[1]);
	CHECK_INT(m[4].flags, SL_SVC_F_NODEIP);
	kube_obj_free(o);
}

static void test_snat_ip(void)
{
	struct kube_obj *o = svc_parse(lb_json);
	__be32 node[2] = {inet_addr("172.18.0.2"), htonl(INADDR_LOOPBACK)};
	struct svc_frontend f[32];
	size_t n;

	if (!o)
		return;
	UNIT_CASE("frontends: the LB IP's EXT frontend SNATs to the first node address, never to "
		  "127.0.0.1 (a NodePort address for host sockets only)");
	CHECK(svc_frontends_max(&o->u.svc, 2) <= 32);
	n = svc_frontends_build(&o->u.svc, node, 2, f);
	CHECK_INT(f[n - 2].key, svc_ids_key_scoped(inet_addr("203.0.113.10"), htons(80),
						   IPPROTO_TCP, SL_SVC_SCOPE_EXT));
	CHECK_INT(f[n - 2].snat_ip, node[0]);
	n = svc_frontends_build(&o->u.svc, node + 1, 1, f);
	CHECK_INT(f[n - 2].snat_ip, 0);
	CHECK_INT(f[1].key, svc_ids_key_scoped(node[1], htons(30080), IPPROTO_TCP,
					       SL_SVC_SCOPE_EXT)); /* its NodePort is served */
	kube_obj_free(o);
}

int main(void)
{
	test_lbsrc();
	test_markers();
	test_snat_ip();
	return unit_done();
}
