// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the Kubernetes object parsers (kube_objects.c) and the store (kube_store.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_intern.h"
#include "kube_objects.h"
#include "kube_store.h"
#include "unit.h"

/* Trimmed from real API responses (kube-api.md §3). */
static const char svc_json[] =
    "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web\",\"namespace\":"
    "\"shop\","
    "\"uid\":\"3c1b\",\"resourceVersion\":\"10596\",\"labels\":{\"app\":\"web\"}},"
    "\"spec\":{\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080,"
    "\"nodePort\":30080},"
    "{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":53,\"targetPort\":\"dns-port\"},{\"port\":443}"
    "],"
    "\"selector\":{\"app\":\"web\"},\"clusterIP\":\"10.96.0.10\",\"clusterIPs\":[\"10.96.0.10\"],"
    "\"type\":\"NodePort\",\"sessionAffinity\":\"ClientIP\","
    "\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":125}},\"externalIPs\":[\"192.0.2."
    "7\"],"
    "\"externalTrafficPolicy\":\"Local\",\"internalTrafficPolicy\":\"Cluster\","
    "\"healthCheckNodePort\":32001,"
    "\"loadBalancerSourceRanges\":[\"203.0.113.9/24\",\"172.18.0.2/32\",\"fd00::/8\"],"
    "\"ipFamilies\":["
    "\"IPv4\"],"
    "\"ipFamilyPolicy\":\"SingleStack\"},"
    "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"198.51.100.9\",\"ipMode\":\"VIP\"},"
    "{\"ip\":\"198.51.100.10\",\"ipMode\":\"Proxy\"},{\"hostname\":\"lb.example\"}]}}}";

static const char eps_json[] =
    "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/"
    "v1\",\"metadata\":{\"name\":\"web-abc12\","
    "\"namespace\":\"shop\",\"labels\":{\"kubernetes.io/service-name\":\"web\","
    "\"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.k8s.io\"}},"
    "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.244.1.17\"],\"conditions\":{"
    "\"ready\":true,"
    "\"serving\":true,\"terminating\":false},\"nodeName\":\"node-a\",\"zone\":\"zone-a\","
    "\"hints\":{\"forZones\":[{\"name\":\"zone-a\"}],\"forNodes\":[{\"name\":\"node-a\"}]},"
    "\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"web-1\"}},"
    "{\"addresses\":[\"10.244.2.5\"],\"conditions\":{\"ready\":false,\"serving\":true,"
    "\"terminating\":true},"
    "\"nodeName\":\"node-b\"},{\"addresses\":[\"10.244.2.6\"],\"conditions\":{}}],"
    "\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080},{\"name\":\"\",\"protocol\":"
    "\"UDP\",\"port\":53},"
    "{\"name\":null,\"port\":null}]}";

static const char node_json[] =
    "{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"node-a\",\"labels\":{"
    "\"kubernetes.io/hostname\":\"node-a\",\"topology.kubernetes.io/zone\":\"zone-a\"}},"
    "\"spec\":{\"podCIDR\":\"10.244.1.0/24\",\"podCIDRs\":[\"10.244.1.0/24\",\"fd00:10:244:1::/"
    "64\"]},"
    "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.1.10\"},"
    "{\"type\":\"InternalIP\",\"address\":\"fd00:10:0:1::10\"},{\"type\":\"Hostname\",\"address\":"
    "\"node-a\"},"
    "{\"type\":\"ExternalIP\",\"address\":\"203.0.113.4\"}]}}";

static const char pod_json[] =
    "{\"metadata\":{\"name\":\"web-5d9c6b7f4-abcde\",\"namespace\":\"shop\",\"uid\":\"6f1e-42\","
    "\"resourceVersion\":\"48011\",\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"5d9c6b7f4\"}"
    "},"
    "\"spec\":{\"nodeName\":\"node-a\",\"hostNetwork\":false,\"containers\":[{\"name\":\"web\","
    "\"ports\":"
    "[{\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"TCP\"}]}]},"
    "\"status\":{\"phase\":\"Running\",\"hostIP\":\"10.0.1.10\",\"podIP\":\"10.244.1.17\","
    "\"podIPs\":[{\"ip\":\"10.244.1.17\"},{\"ip\":\"fd00:10:244:1::11\"}]}}";

static const char ns_json[] =
    "{\"metadata\":{\"name\":\"shop\",\"labels\":{\"kubernetes.io/"
    "metadata.name\":\"shop\",\"team\":\"a\"}},"
    "\"spec\":{\"finalizers\":[\"kubernetes\"]},\"status\":{\"phase\":\"Active\"}}";

static const char np_json[] =
    "{\"metadata\":{\"name\":\"deny\",\"namespace\":\"shop\"},\"spec\":{\"podSelector\":{},"
    "\"policyTypes\":[\"Ingress\"],\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/"
    "8\"}}]}]}}";

static struct kube_obj *parse(enum kube_kind k, const char *json)
{
	char why[KUBE_WHY_MAX] = "";
	struct kube_obj *o = kube_obj_parse(k, json, strlen(json), NULL, NULL, why, sizeof(why));

	if (!o)
		printf("  parse failed: %s\n", why);
	return o;
}

static const char *ip(const struct kube_ip *a)
{
	static char buf[4][64];
	static int i;

	i = (i + 1) % 4;
	return kube_ip_str(a, buf[i], sizeof(buf[i]));
}

static void test_service(void)
{
	struct kube_obj *o;
	const struct kube_service *s;

	UNIT_CASE("Service parsed field by field");
	o = parse(KUBE_SERVICE, svc_json);
	CHECK(o != NULL);
	if (!o)
		return;
	s = &o->u.svc;
	CHECK_STR(o->ns, "shop");
	CHECK_STR(o->name, "web");
	CHECK_INT(s->type, KUBE_SVC_NODE_PORT);
	CHECK_INT(s->headless, 0);
	CHECK_INT(s->n_cluster_ips, 1);
	CHECK_STR(ip(&s->cluster_ips[0]), "10.96.0.10");
	CHECK_INT(s->n_ports, 3);
	CHECK_STR(s->ports[0].name, "http");
	CHECK_INT(s->ports[0].proto, IPPROTO_TCP);
	CHECK_INT(s->ports[0].port, 80);
	CHECK_INT(s->ports[0].target_port, 8080);
	CHECK_INT(s->ports[0].node_port, 30080);
	CHECK(s->ports[0].target_name == NULL);
	CHECK_INT(s->ports[1].proto, IPPROTO_UDP);
	CHECK_INT(s->ports[1].target_port, 0);
	CHECK_STR(s->ports[1].target_name, "dns-port");
	CHECK_STR(s->ports[2].name, "");
	CHECK_INT(s->ports[2].target_port, 443); /* defaults to port */
	CHECK_INT(s->ports[2].proto, IPPROTO_TCP);
	CHECK_INT(s->affinity_client_ip, 1);
	CHECK_INT(s->affinity_timeout, 125);
	CHECK_INT(s->etp_local, 1);
	CHECK_INT(s->itp_local, 0);
	CHECK_INT(s->n_external_ips, 1);
	CHECK_STR(ip(&s->external_ips[0]), "192.0.2.7");
	CHECK_INT(s->n_lb_ips, 1); /* Proxy mode and hostnames are not captured */
	CHECK_STR(ip(&s->external_ips[1]), "198.51.100.9");
	CHECK_INT(s->health_node_port, 32001);
	CHECK_INT(s->n_src_ranges, 3);
	CHECK_STR(ip(&s->src_ranges[0].ip), "203.0.113.0"); /* host bits cleared */
	CHECK_INT(s->src_ranges[0].prefix, 24);
	CHECK_STR(ip(&s->src_ranges[1].ip), "172.18.0.2");
	CHECK_INT(s->src_ranges[1].prefix, 32);
	CHECK_INT(s->src_ranges[2].ip.family, 6);
	kube_obj_free(o);

	UNIT_CASE("Service defaults and headless");
	o = parse(
	    KUBE_SERVICE,
	    "{\"metadata\":{\"name\":\"h\",\"namespace\":\"d\"},\"spec\":{\"clusterIP\":\"None\","
	    "\"clusterIPs\":[\"None\"],\"sessionAffinity\":\"ClientIP\"}}");
	CHECK(o != NULL);
	if (o) {
		CHECK_INT(o->u.svc.type, KUBE_SVC_CLUSTER_IP);
		CHECK_INT(o->u.svc.headless, 1);
		CHECK_INT(o->u.svc.n_cluster_ips, 0);
		CHECK_INT(o->u.svc.affinity_timeout, 10800);
		CHECK_INT(o->u.svc.n_ports, 0);
		kube_obj_free(o);
	}
	UNIT_CASE("Service dual-stack clusterIPs");
	o = parse(KUBE_SERVICE, "{\"metadata\":{\"name\":\"d\",\"namespace\":\"d\"},\"spec\":{"
				"\"type\":\"LoadBalancer\","
				"\"clusterIPs\":[\"10.96.1.1\",\"fd00::1\"],\"ports\":null}}");
	CHECK(o != NULL);
	if (o) {
		CHECK_INT(o->u.svc.type, KUBE_SVC_LOAD_BALANCER);
		CHECK_INT(o->u.svc.n_cluster_ips, 2);
		CHECK_STR(ip(&o->u.svc.cluster_ips[1]), "fd00::1");
		kube_obj_free(o);
	}
}

static void test_endpointslice(void)
{
	const struct kube_endpointslice *s;
	struct kube_obj *o;

	UNIT_CASE("EndpointSlice parsed field by field");
	o = parse(KUBE_ENDPOINTSLICE, eps_json);
	CHECK(o != NULL);
	if (!o)
		return;
	s = &o->u.eps;
	CHECK_STR(o->ns, "shop");
	CHECK_STR(o->name, "web-abc12");
	CHECK_STR(s->service, "web");
	CHECK_INT(s->address_type, KUBE_ADDR_IPV4);
	CHECK_INT(s->n_ports, 3);
	CHECK_STR(s->ports[0].name, "http");
	CHECK_INT(s->ports[0].port, 8080);
	CHECK_STR(s->ports[1].name, "");
	CHECK_INT(s->ports[1].proto, IPPROTO_UDP);
	CHECK(s->ports[2].name == NULL);
	CHECK_INT(s->ports[2].port, 0);
	CHECK_INT(s->n_endpoints, 3);
	CHECK_STR(ip(&s->endpoints[0].addr), "10.244.1.17");
	CHECK_INT(s->endpoints[0].cond, KUBE_EP_READY | KUBE_EP_SERVING);
	CHECK_STR(s->endpoints[0].node, "node-a");
	CHECK_STR(s->endpoints[0].zone, "zone-a");
	CHECK_INT(s->endpoints[0].n_zone_hints, 1);
	CHECK_INT(s->endpoints[0].n_node_hints, 1);
	CHECK_STR(s->endpoints[0].hints[0], "zone-a");
	CHECK_STR(s->endpoints[0].hints[1], "node-a");
	CHECK_INT(s->endpoints[1].cond, KUBE_EP_SERVING | KUBE_EP_TERMINATING);
	CHECK_STR(s->endpoints[1].node, "node-b");
	CHECK(s->endpoints[1].zone == NULL);
	/* nil conditions: ready and serving true, terminating false */
	CHECK_INT(s->endpoints[2].cond, KUBE_EP_READY | KUBE_EP_SERVING);
	CHECK(s->endpoints[2].node == NULL);
	/* one interned copy of "node-a" and "zone-a" shared */
	CHECK(s->endpoints[0].node == s->endpoints[0].hints[1]);
	kube_obj_free(o);

	UNIT_CASE("EndpointSlice with null endpoints and ports (bookmark shape)");
	o = parse(KUBE_ENDPOINTSLICE,
		  "{\"metadata\":{\"name\":\"e\",\"namespace\":\"n\"},\"addressType\":\"IPv6\","
		  "\"endpoints\":null,\"ports\":null}");
	CHECK(o != NULL);
	if (o) {
		CHECK_INT(o->u.eps.n_endpoints, 0);
		CHECK_INT(o->u.eps.address_type, KUBE_ADDR_IPV6);
		CHECK(o->u.eps.service == NULL);
		kube_obj_free(o);
	}
}

static void test_node_pod_ns_netpol(void)
{
	struct kube_obj *o;

	UNIT_CASE("Node parsed field by field");
	o = parse(KUBE_NODE, node_json);
	CHECK(o != NULL);
	if (o) {
		CHECK_STR(o->ns, "");
		CHECK_STR(o->name, "node-a");
		CHECK_INT(o->u.node.n_pod_cidrs, 2);
		CHECK_STR(ip(&o->u.node.pod_cidrs[0].ip), "10.244.1.0");
		CHECK_INT(o->u.node.pod_cidrs[0].prefix, 24);
		CHECK_INT(o->u.node.pod_cidrs[1].ip.family, 6);
		CHECK_INT(o->u.node.pod_cidrs[1].prefix, 64);
		CHECK_INT(o->u.node.n_internal_ips, 2);
		CHECK_STR(ip(&o->u.node.internal_ips[0]), "10.0.1.10");
		CHECK_STR(ip(&o->u.node.internal_ips[1]), "fd00:10:0:1::10");
		CHECK_INT(o->u.node.n_external_ips, 1);
		CHECK_STR(ip(&o->u.node.external_ips[0]), "203.0.113.4");
		CHECK_STR(o->u.node.zone, "zone-a");
		kube_obj_free(o);
	}
	UNIT_CASE("Node with only spec.podCIDR, no addresses");
	o = parse(KUBE_NODE,
		  "{\"metadata\":{\"name\":\"n2\"},\"spec\":{\"podCIDR\":\"10.244.2.0/24\"}}");
	CHECK(o != NULL);
	if (o) {
		CHECK_INT(o->u.node.n_pod_cidrs, 1);
		CHECK_INT(o->u.node.n_internal_ips, 0);
		CHECK_INT(o->u.node.deleting, 0);
		CHECK_INT(o->u.node.to_be_deleted, 0);
		kube_obj_free(o);
	}
	UNIT_CASE("Node on its way out: deletionTimestamp, the autoscaler's taint, other taints");
	o = parse(KUBE_NODE, "{\"metadata\":{\"name\":\"n3\",\"deletionTimestamp\":"
			     "\"2026-12-07T01:00:00Z\"},\"spec\":{\"taints\":[{\"key\":"
			     "\"node.kubernetes.io/unschedulable\",\"effect\":\"NoSchedule\"}]}}");
	CHECK(o != NULL);
	if (o) {
		CHECK_INT(o->u.node.deleting, 1);
		CHECK_INT(o->u.node.to_be_deleted, 0);
		kube_obj_free(o);
	}
	o = parse(KUBE_NODE, "{\"metadata\":{\"name\":\"n4\"},\"spec\":{\"taints\":[{\"key\":"
			     "\"ToBeDeletedByClusterAutoscaler\",\"value\":\"1733530000\","
			     "\"effect\":\"NoSchedule\"}]}}");
	CHECK(o != NULL);
	if (o) {
		CHECK_INT(o->u.node.deleting, 0);
		CHECK_INT(o->u.node.to_be_deleted, 1);
		kube_obj_free(o);
	}
	CHECK(parse(KUBE_NODE, "{\"metadata\":{\"name\":\"n5\"},\"spec\":{\"taints\":[1]}}") ==
	      NULL);

	UNIT_CASE("Pod parsed field by field");
	o = parse(KUBE_POD, pod_json);
	CHECK(o != NULL);
	if (o) {
		CHECK_STR(o->ns, "shop");
		CHECK_STR(o->name, "web-5d9c6b7f4-abcde");
		CHECK_STR(o->u.pod.uid, "6f1e-42");
		CHECK_INT(o->u.pod.host_network, 0);
		CHECK_INT(o->u.pod.phase, KUBE_POD_RUNNING);
		CHECK_INT(o->u.pod.n_ips, 2);
		CHECK_STR(ip(&o->u.pod.ips[0]), "10.244.1.17");
		CHECK_STR(ip(&o->u.pod.ips[1]), "fd00:10:244:1::11");
		CHECK_INT(o->u.pod.n_labels, 2);
		CHECK_STR(o->u.pod.labels[0].key, "app");
		CHECK_STR(o->u.pod.labels[0].value, "web");
		kube_obj_free(o);
	}
	UNIT_CASE("Namespace labels");
	o = parse(KUBE_NAMESPACE, ns_json);
	CHECK(o != NULL);
	if (o) {
		CHECK_STR(o->name, "shop");
		CHECK_INT(o->u.ns.n_labels, 2);
		CHECK_STR(o->u.ns.labels[1].key, "team");
		CHECK_STR(o->u.ns.labels[1].value, "a");
		kube_obj_free(o);
	}
	UNIT_CASE("NetworkPolicy spec kept as compact JSON");
	o = parse(KUBE_NETPOL, np_json);
	CHECK(o != NULL);
	if (o) {
		CHECK_STR(o->u.np.spec,
			  "{\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\"}}]}],"
			  "\"podSelector\":{},\"policyTypes\":[\"Ingress\"]}");
		kube_obj_free(o);
	}
}

struct bad_case {
	enum kube_kind kind;
	const char *json;
	const char *why;  /* substring of the reason */
	const char *name; /* name reported, "" if unknown */
};

static const struct bad_case bad_cases[] = {
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{"
     "\"loadBalancerSourceRanges\":[\"10.0.0.0/33\"]}}",
     "spec.loadBalancerSourceRanges[0]: '10.0.0.0/33' has an invalid prefix length", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{"
     "\"loadBalancerSourceRanges\":[7]}}",
     "spec.loadBalancerSourceRanges[0]: expected a CIDR string", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{"
     "\"healthCheckNodePort\":70000}}",
     "spec.healthCheckNodePort", "a"},
    {KUBE_SERVICE, "{\"metadata\":{\"name\":\"a\",", "not JSON", ""},
    {KUBE_SERVICE, "[1,2]", "not a JSON object", ""},
    {KUBE_SERVICE, "{\"spec\":{}}", "metadata: missing", ""},
    {KUBE_SERVICE, "{\"metadata\":{\"namespace\":\"d\"},\"spec\":{}}", "metadata.name: missing",
     ""},
    {KUBE_SERVICE, "{\"metadata\":{\"name\":7,\"namespace\":\"d\"},\"spec\":{}}",
     "metadata.name: expected a string", ""},
    {KUBE_SERVICE, "{\"metadata\":{\"name\":\"a\"},\"spec\":{}}", "metadata.namespace: missing",
     "a"},
    {KUBE_SERVICE, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"}}", "spec: missing", "a"},
    {KUBE_SERVICE, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":[]}",
     "spec: expected an object", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{\"ports\":[{\"port\":\"80\"}]}}",
     "spec.ports[0].port: expected an integer", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{\"ports\":[{\"port\":70000}]}}",
     "spec.ports[0].port", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{\"ports\":[{\"name\":\"x\"}]}}",
     "spec.ports[0].port: missing", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{\"ports\":[{\"port\":1,"
     "\"protocol\":\"ICMP\"}]}}",
     "unknown protocol 'ICMP'", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{\"ports\":[{\"port\":1,"
     "\"targetPort\":true}]}}",
     "targetPort: expected a port number or name", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{\"clusterIPs\":[\"10.96.0.300\"]"
     "}}",
     "spec.clusterIPs[0]: '10.96.0.300' is not an IP address", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{\"clusterIPs\":\"10.96.0.1\"}}",
     "spec.clusterIPs: expected an array", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{\"type\":\"Weird\"}}",
     "unknown type 'Weird'", "a"},
    {KUBE_SERVICE,
     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":{\"sessionAffinity\":"
     "\"ClientIP\","
     "\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":0}}}}",
     "timeoutSeconds", "a"},
    {KUBE_ENDPOINTSLICE, "{\"metadata\":{\"name\":\"e\",\"namespace\":\"d\"}}",
     "addressType: missing", "e"},
    {KUBE_ENDPOINTSLICE,
     "{\"metadata\":{\"name\":\"e\",\"namespace\":\"d\"},\"addressType\":\"IPv4\",\"endpoints\":[{"
     "\"addresses\":[]}]}",
     "endpoints[0].addresses", "e"},
    {KUBE_ENDPOINTSLICE,
     "{\"metadata\":{\"name\":\"e\",\"namespace\":\"d\"},\"addressType\":\"IPv4\","
     "\"endpoints\":[{\"addresses\":[\"fd00::1\"]}]}",
     "is not an IPv4 address", "e"},
    {KUBE_ENDPOINTSLICE,
     "{\"metadata\":{\"name\":\"e\",\"namespace\":\"d\"},\"addressType\":\"IPv4\","
     "\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":\"yes\"}}]}",
     "conditions.ready: expected true or false", "e"},
    {KUBE_ENDPOINTSLICE,
     "{\"metadata\":{\"name\":\"e\",\"namespace\":\"d\"},\"addressType\":\"IPv4\",\"ports\":[{"
     "\"port\":-1}]}",
     "ports[0].port", "e"},
    {KUBE_NODE, "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"podCIDR\":\"10.244.1.0\"}}",
     "is not a CIDR", "n"},
    {KUBE_NODE, "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"podCIDRs\":[\"10.244.1.0/40\"]}}",
     "prefix length", "n"},
    {KUBE_NODE,
     "{\"metadata\":{\"name\":\"n\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\","
     "\"address\":5}]}}",
     "address: expected a string", "n"},
    {KUBE_POD, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"labels\":{\"a\":1}}}",
     "metadata.labels.a: expected a string", "p"},
    {KUBE_POD,
     "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{\"hostNetwork\":\"true\"}}",
     "spec.hostNetwork: expected true or false", "p"},
    {KUBE_POD,
     "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"status\":{\"podIPs\":[{\"ip\":\"x\"}]}}",
     "status.podIPs[0].ip", "p"},
    {KUBE_NAMESPACE, "{\"metadata\":{\"name\":\"n\",\"labels\":[]}}",
     "metadata.labels: expected an object", "n"},
    {KUBE_NETPOL, "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{}}",
     "spec.podSelector", "p"},
};

static void test_malformed(void)
{
	size_t before = intern_count();

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];
		char why[KUBE_WHY_MAX] = "", ns[KUBE_NS_MAX], name[KUBE_NAME_MAX];
		struct kube_obj *o;

		UNIT_CASE(b->why);
		o = kube_obj_parse(b->kind, b->json, strlen(b->json), ns, name, why, sizeof(why));
		CHECK(o == NULL);
		kube_obj_free(o);
		if (!strstr(why, b->why)) {
			unit_failed++;
			printf("FAIL [%s]: reason \"%s\" lacks \"%s\"\n", b->why, why, b->why);
		} else {
			unit_passed++;
		}
		CHECK_STR(name, b->name);
	}
	UNIT_CASE("a failed parse leaves no interned strings behind");
	CHECK_INT(intern_count(), before);
}

struct page_rec {
	int items, bad;
	char last_bad[KUBE_NAME_MAX + KUBE_WHY_MAX];
	struct kube_store *store;
};

static void rec_item(void *ctx, struct kube_obj *o)
{
	struct page_rec *p = ctx;

	p->items++;
	kube_store_upsert(p->store, o);
}

static void rec_bad(void *ctx, const char *ns, const char *name, const char *why)
{
	struct page_rec *p = ctx;

	p->bad++;
	snprintf(p->last_bad, sizeof(p->last_bad), "%s/%s: %s", ns, name, why);
}

/* Watch lines: events, bookmarks, errors, and what is refused. */
static void events_check(void)
{
	char why[KUBE_WHY_MAX];
	struct kube_event ev;

	UNIT_CASE("watch event MODIFIED");
	{
		const char l[] =
		    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"name\":"
		    "\"a\","
		    "\"resourceVersion\":\"10300\"},\"spec\":{\"podCIDR\":\"10.244.9.0/24\"}}}";

		CHECK_INT(kube_event_parse(KUBE_NODE, l, strlen(l), &ev, why, sizeof(why)), 0);
		CHECK_INT(ev.type, KUBE_EV_MODIFIED);
		CHECK_STR(ev.rv, "10300");
		CHECK(ev.obj != NULL);
		kube_obj_free(ev.obj);
	}
	UNIT_CASE("watch event BOOKMARK with placeholder fields");
	{
		const char l[] =
		    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"EndpointSlice\",\"apiVersion\":"
		    "\"discovery.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"12746\","
		    "\"creationTimestamp\":null},\"addressType\":\"\",\"endpoints\":null,\"ports\":"
		    "null}}";

		CHECK_INT(kube_event_parse(KUBE_ENDPOINTSLICE, l, strlen(l), &ev, why, sizeof(why)),
			  0);
		CHECK_INT(ev.type, KUBE_EV_BOOKMARK);
		CHECK_STR(ev.rv, "12746");
		CHECK(ev.obj == NULL);
	}
	UNIT_CASE("watch event ERROR 410");
	{
		const char l[] =
		    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		    "\"metadata\":{},"
		    "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (3171407)\","
		    "\"reason\":\"Expired\",\"code\":410}}";

		CHECK_INT(kube_event_parse(KUBE_NODE, l, strlen(l), &ev, why, sizeof(why)), 0);
		CHECK_INT(ev.type, KUBE_EV_ERROR);
		CHECK_INT(ev.code, 410);
		CHECK_STR(ev.reason, "Expired");
	}
	UNIT_CASE("watch line not JSON, unknown type, malformed object");
	CHECK_INT(kube_event_parse(KUBE_NODE, "garbage", 7, &ev, why, sizeof(why)), -EBADMSG);
	CHECK_INT(kube_event_parse(KUBE_NODE, "{\"type\":\"X\",\"object\":{}}", 24, &ev, why,
				   sizeof(why)),
		  -EBADMSG);
	{
		const char l[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"z\","
				 "\"resourceVersion\":\"77\"},"
				 "\"spec\":{\"podCIDRs\":5}}}";

		CHECK_INT(kube_event_parse(KUBE_NODE, l, strlen(l), &ev, why, sizeof(why)),
			  -EINVAL);
		CHECK_STR(ev.name, "z");
		CHECK_STR(ev.rv, "77");
		CHECK(ev.obj == NULL);
	}
}

static void test_page_and_events(void)
{
	static const struct kube_page_ops ops = {rec_item, rec_bad};
	const char page[] =
	    "{\"kind\":\"NodeList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
	    "\"10245\","
	    "\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ==\",\"remainingItemCount\":1},\"items\":"
	    "["
	    "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"podCIDR\":\"10.244.1.0/24\"}},"
	    "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"podCIDR\":7}},"
	    "{\"metadata\":{\"name\":\"c\"}}]}";
	char rv[KUBE_RV_MAX], why[KUBE_WHY_MAX], *cont = NULL;
	struct kube_store store;
	struct page_rec rec = {.store = &store};
	int r;

	kube_store_init(&store, KUBE_NODE, NULL, NULL);
	UNIT_CASE("list page: items stored, malformed item skipped, continue and RV read");
	r = kube_page_parse(KUBE_NODE, page, strlen(page), &ops, &rec, rv, &cont, why, sizeof(why));
	CHECK_INT(r, 0);
	CHECK_INT(rec.items, 2);
	CHECK_INT(rec.bad, 1);
	CHECK(strstr(rec.last_bad, "/b: spec.podCIDR: expected a string") != NULL);
	CHECK_STR(rv, "10245");
	CHECK_STR(cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ==");
	CHECK_INT(store.count, 2);
	free(cont);
	UNIT_CASE("list page not JSON");
	CHECK_INT(kube_page_parse(KUBE_NODE, "<html>", 6, &ops, &rec, rv, &cont, why, sizeof(why)),
		  -EBADMSG);
	CHECK(cont == NULL);
	UNIT_CASE("list page without resourceVersion");
	CHECK_INT(kube_page_parse(KUBE_NODE, "{\"items\":[]}", 12, &ops, &rec, rv, &cont, why,
				  sizeof(why)),
		  -EBADMSG);

	events_check();
	kube_store_fini(&store);
}

struct cb_rec {
	int add, update, del;
};

static void cb_count(void *ctx, enum kube_op op, const struct kube_obj *old,
		     const struct kube_obj *cur)
{
	struct cb_rec *c = ctx;

	if (op == KUBE_OP_ADD && !old && cur)
		c->add++;
	if (op == KUBE_OP_UPDATE && old && cur)
		c->update++;
	if (op == KUBE_OP_DELETE && old && !cur)
		c->del++;
}

static void test_store(void)
{
	struct cb_rec rec = {};
	struct kube_store s;
	char name[32], json[128];
	size_t before = intern_count();

	kube_store_init(&s, KUBE_NAMESPACE, cb_count, &rec);
	UNIT_CASE("store: 1000 adds grow the table");
	for (int i = 0; i < 1000; i++) {
		snprintf(json, sizeof(json),
			 "{\"metadata\":{\"name\":\"ns-%d\",\"labels\":{\"t\":\"x\"}}}", i);
		kube_store_upsert(&s, parse(KUBE_NAMESPACE, json));
	}
	CHECK_INT(s.count, 1000);
	CHECK_INT(rec.add, 1000);
	CHECK(kube_store_get(&s, "", "ns-999") != NULL);
	CHECK(kube_store_get(&s, "", "ns-1000") == NULL);
	UNIT_CASE("store: update replaces, delete removes");
	kube_store_upsert(&s, parse(KUBE_NAMESPACE, "{\"metadata\":{\"name\":\"ns-5\"}}"));
	CHECK_INT(rec.update, 1);
	CHECK_INT(kube_store_get(&s, "", "ns-5")->u.ns.n_labels, 0);
	CHECK_INT(kube_store_delete(&s, "", "ns-6"), 0);
	CHECK_INT(kube_store_delete(&s, "", "ns-6"), -ENOENT);
	CHECK_INT(rec.del, 1);
	UNIT_CASE("store: replace deletes what the relist did not mention");
	kube_store_replace_begin(&s);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "{\"metadata\":{\"name\":\"ns-%d\"}}", i);
		kube_store_upsert(&s, parse(KUBE_NAMESPACE, name));
	}
	CHECK_INT(kube_store_replace_end(&s), 990); /* 999 + ns-6 re-added, 10 kept */
	CHECK_INT(s.count, 10);
	CHECK_INT(rec.del, 991);
	kube_store_fini(&s);
	UNIT_CASE("store: every interned string released");
	CHECK_INT(intern_count(), before);
}

int main(void)
{
	test_service();
	test_endpointslice();
	test_node_pod_ns_netpol();
	test_malformed();
	test_page_and_events();
	test_store();
	return unit_done();
}
