// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the portMappings capability: the parser, its refusals and the overlap rule
 * behind hostPort conflicts (no root). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "portmaps.h"
#include "unit.h"

/* a.b.c.d in host byte order, a constant */
#define A4(a, b, c, d) (((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

/* What one parsed mapping must hold (the address in host byte order). */
struct want {
	__u32 ip;
	__u16 host_port, container_port;
	__u8 proto;
};

static const struct {
	const char *name;
	const char *json;
	int n;
	struct want want[2];
} good[] = {
    {"podman's shape: protocol and hostIP given",
     "[{\"hostPort\": 8080, \"containerPort\": 80, \"protocol\": \"tcp\", \"hostIP\": \"\"}]",
     1,
     {{0, 8080, 80, 6}}},
    {"containerd's capitalised keys, protocol upper case",
     "[{\"HostPort\": 53, \"ContainerPort\": 5353, \"Protocol\": \"UDP\", \"HostIP\": "
     "\"172.18.0.2\"}]",
     1,
     {{A4(172, 18, 0, 2), 53, 5353, 17}}},
    {"protocol absent is tcp, hostIP 0.0.0.0 is every address, sctp",
     "[{\"hostPort\": 9000, \"containerPort\": 9000},"
     " {\"hostPort\": 9001, \"containerPort\": 1, \"protocol\": \"sctp\", \"hostIP\": "
     "\"0.0.0.0\"}]",
     2,
     {{0, 9000, 9000, 6}, {0, 9001, 1, 132}}},
    {"the same port: other protocol, or other hostIPs, do not overlap",
     "[{\"hostPort\": 54323, \"containerPort\": 8080, \"hostIP\": \"127.0.0.1\"},"
     " {\"hostPort\": 54323, \"containerPort\": 8080, \"hostIP\": \"172.18.0.2\"}]",
     2,
     {{A4(127, 0, 0, 1), 54323, 8080, 6}, {A4(172, 18, 0, 2), 54323, 8080, 6}}},
    {"null and an empty array are no mapping", "null", 0, {}},
    {"an empty array", "[]", 0, {}},
};

static const struct {
	const char *json;
	const char *why;
} bad[] = {
    {"{}", "runtimeConfig.portMappings must be an array"},
    {"[7]", "portMappings[0]: is not an object"},
    {"[{\"containerPort\": 80}]", "portMappings[0]: hostPort must be an integer 1..65535"},
    {"[{\"hostPort\": 0, \"containerPort\": 80}]", "hostPort must be an integer 1..65535"},
    {"[{\"hostPort\": 65536, \"containerPort\": 80}]", "hostPort must be an integer 1..65535"},
    {"[{\"hostPort\": \"80\", \"containerPort\": 80}]", "hostPort must be an integer 1..65535"},
    {"[{\"hostPort\": 80.5, \"containerPort\": 80}]", "hostPort must be an integer 1..65535"},
    {"[{\"hostPort\": 80}]", "containerPort must be an integer 1..65535"},
    {"[{\"hostPort\": 80, \"containerPort\": 80, \"protocol\": \"icmp\"}]",
     "protocol must be \"tcp\", \"udp\" or \"sctp\""},
    {"[{\"hostPort\": 80, \"containerPort\": 80, \"protocol\": 6}]",
     "protocol must be \"tcp\", \"udp\" or \"sctp\""},
    {"[{\"hostPort\": 80, \"containerPort\": 80, \"hostIP\": \"10.0.0.300\"}]",
     "hostIP must be empty or an IPv4 address"},
    {"[{\"hostPort\": 80, \"containerPort\": 80, \"hostIP\": \"::1\"}]",
     "hostIP is IPv6: sluice supports IPv4 only"},
    {"[{\"hostPort\": 80, \"containerPort\": 80}, {\"hostPort\": 80, \"containerPort\": 81, "
     "\"hostIP\": \"10.0.0.1\"}]",
     "portMappings[1] (80/tcp on 10.0.0.1) overlaps portMappings[0]"},
};

static void test_good(void)
{
	struct portmap got[CNI_MAX_PORTMAPS];
	char why[256] = "";
	int n;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		json_auto_t *j = json_loads(good[i].json, JSON_DECODE_ANY, NULL);

		UNIT_CASE(good[i].name);
		n = -1;
		CHECK_INT(portmaps_parse(j, got, &n, why, sizeof(why)), 0);
		CHECK_INT(n, good[i].n);
		for (int k = 0; k < n && k < 2; k++) {
			CHECK_INT(ntohl(got[k].host_ip), good[i].want[k].ip);
			CHECK_INT(got[k].host_port, good[i].want[k].host_port);
			CHECK_INT(got[k].container_port, good[i].want[k].container_port);
			CHECK_INT(got[k].proto, good[i].want[k].proto);
		}
	}
}

static void test_bad(void)
{
	struct portmap got[CNI_MAX_PORTMAPS];
	char why[256];
	int n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_auto_t *j = json_loads(bad[i].json, JSON_DECODE_ANY, NULL);

		UNIT_CASE(bad[i].json);
		why[0] = '\0';
		n = -1;
		CHECK_INT(portmaps_parse(j, got, &n, why, sizeof(why)), -EINVAL);
		CHECK_INT(n, 0); /* nothing half-parsed is used */
		CHECK(strstr(why, bad[i].why) != NULL);
		if (!strstr(why, bad[i].why))
			printf("# why: %s\n", why);
	}
}

static void test_too_many(void)
{
	json_auto_t *list = json_array();
	struct portmap got[CNI_MAX_PORTMAPS];
	char why[256] = "";
	int n = -1;

	UNIT_CASE("more than CNI_MAX_PORTMAPS mappings are refused");
	for (int i = 0; i <= CNI_MAX_PORTMAPS; i++)
		json_array_append_new(
		    list, json_pack("{s:i, s:i}", "hostPort", 1000 + i, "containerPort", 80));
	CHECK_INT(portmaps_parse(list, got, &n, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "at most 64") != NULL);
}

static void test_overlaps(void)
{
	struct portmap any = {0, 80, 80, 6}, ip1 = {htonl(A4(10, 0, 0, 1)), 80, 81, 6},
		       ip2 = {htonl(A4(10, 0, 0, 2)), 80, 80, 6}, udp = {0, 80, 80, 17},
		       other = {0, 81, 80, 6};

	UNIT_CASE("overlap: every address overlaps each hostIP of the port and protocol");
	CHECK(portmap_overlaps(&any, &ip1) && portmap_overlaps(&ip2, &any));
	UNIT_CASE("overlap: the same hostIP overlaps, whatever the containerPort");
	CHECK(portmap_overlaps(&ip1, &(struct portmap){htonl(A4(10, 0, 0, 1)), 80, 9, 6}));
	UNIT_CASE("no overlap: two hostIPs, another protocol, another port");
	CHECK(!portmap_overlaps(&ip1, &ip2));
	CHECK(!portmap_overlaps(&any, &udp));
	CHECK(!portmap_overlaps(&any, &other));
}

static void test_roundtrip(void)
{
	struct portmap pm[2] = {{htonl(A4(127, 0, 0, 1)), 54323, 8080, 6}, {0, 53, 5353, 132}},
		       got[2];
	json_auto_t *j = portmaps_format(pm, 2);
	char why[256] = "", desc[64];
	int n = 0;

	UNIT_CASE("format reads back as it was written");
	CHECK(j != NULL);
	CHECK_INT(portmaps_parse(j, got, &n, why, sizeof(why)), 0);
	CHECK_INT(n, 2);
	CHECK(!memcmp(pm, got, sizeof(pm)));
	portmap_describe(&pm[1], desc, sizeof(desc));
	CHECK_STR(desc, "53/sctp on 0.0.0.0");
}

static void test_conf(void)
{
	static const char req[] =
	    "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"type\": \"sluice\", "
	    "\"runtimeConfig\": {\"portMappings\": [{\"hostPort\": 0, \"containerPort\": 80}]}}";
	struct cni_err e = {};
	struct conf c;

	UNIT_CASE("a malformed portMappings is kept as a reason, the rest of the request parses");
	CHECK_INT(conf_parse(req, sizeof(req) - 1, &c, &e), 0);
	CHECK_INT(c.n_portmaps, 0);
	CHECK(strstr(c.portmaps_bad, "hostPort must be") != NULL);
	conf_free(&c);
}

int main(void)
{
	test_good();
	test_bad();
	test_too_many();
	test_overlaps();
	test_roundtrip();
	test_conf();
	return unit_done();
}
