// SPDX-License-Identifier: Apache-2.0
/* Unit tests of result, prevResult, error and VERSION JSON (no root). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "result.h"
#include "unit.h"

static void result_fixture(struct cni_result *r)
{
	memset(r, 0, sizeof(*r));
	r->n_ifaces = 2;
	strcpy(r->ifaces[0].name, "sl9cb98730f29c");
	strcpy(r->ifaces[0].mac, "6a:ab:53:7f:9a:9c");
	r->ifaces[0].mtu = 1500;
	strcpy(r->ifaces[1].name, "eth0");
	strcpy(r->ifaces[1].mac, "82:a8:54:d7:5b:9c");
	strcpy(r->ifaces[1].sandbox, "/run/netns/p1");
	r->ifaces[1].mtu = 1500;
	r->n_ips = 1;
	r->ips[0].family = 4;
	strcpy(r->ips[0].address, "10.244.0.5/32");
	strcpy(r->ips[0].gateway, "169.254.1.1");
	r->ips[0].iface = 1;
	r->n_routes = 1;
	strcpy(r->routes[0].dst, "0.0.0.0/0");
	strcpy(r->routes[0].gw, "169.254.1.1");
	r->dns_json = strdup("{\"nameservers\":[\"10.96.0.10\"]}");
}

static void test_result_per_version(void)
{
	static const char ifaces[] =
	    "\"interfaces\":[{\"name\":\"sl9cb98730f29c\",\"mac\":\"6a:ab:53:7f:9a:9c\"},"
	    "{\"name\":\"eth0\",\"mac\":\"82:a8:54:d7:5b:9c\",\"sandbox\":\"/run/netns/p1\"}],";
	static const char ifaces_mtu[] = "\"interfaces\":[{\"name\":\"sl9cb98730f29c\",\"mac\":"
					 "\"6a:ab:53:7f:9a:9c\",\"mtu\":1500},"
					 "{\"name\":\"eth0\",\"mac\":\"82:a8:54:d7:5b:9c\","
					 "\"sandbox\":\"/run/netns/p1\",\"mtu\":1500}],";
	static const char tail[] = "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"169.254.1.1\"}],"
				   "\"dns\":{\"nameservers\":[\"10.96.0.10\"]}}";
	static const char ips_v[] = "\"ips\":[{\"version\":\"4\",\"address\":\"10.244.0.5/"
				    "32\",\"gateway\":\"169.254.1.1\",\"interface\":1}],";
	static const char ips[] = "\"ips\":[{\"address\":\"10.244.0.5/"
				  "32\",\"gateway\":\"169.254.1.1\",\"interface\":1}],";
	static const struct {
		const char *version, *ifaces, *ips;
	} cases[] = {
	    {"0.3.0", ifaces, ips_v}, {"0.3.1", ifaces, ips_v},	  {"0.4.0", ifaces, ips_v},
	    {"1.0.0", ifaces, ips},   {"1.1.0", ifaces_mtu, ips},
	};
	struct cni_result r;

	result_fixture(&r);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[2048];
		char *got;

		UNIT_CASE(cases[i].version);
		snprintf(want, sizeof(want), "{\"cniVersion\":\"%s\",%s%s%s", cases[i].version,
			 cases[i].ifaces, cases[i].ips, tail);
		got = result_format(&r, cases[i].version);
		CHECK_STR(got, want);
		free(got);
	}
	result_free(&r);

	UNIT_CASE("no dns from IPAM: empty object");
	result_fixture(&r);
	result_free(&r);
	{
		char *got = result_format(&r, "1.0.0");

		CHECK(got && strstr(got, "\"dns\":{}}"));
		free(got);
	}
}

static void test_prev_per_version(void)
{
	/* Results as each version's runtime caches and sends them back. */
	static const struct {
		const char *name, *json;
		int n_ifaces, n_ips, iface, family;
		const char *address, *sandbox;
	} cases[] = {
	    {"0.3.1 with ip version",
	     "{\"cniVersion\":\"0.3.1\",\"interfaces\":[{\"name\":\"slx\",\"mac\":\"6a:ab:53:7f:9a:"
	     "9c\"},"
	     "{\"name\":\"eth0\",\"mac\":\"82:a8:54:d7:5b:9c\",\"sandbox\":\"/run/netns/p1\"}],"
	     "\"ips\":[{\"version\":\"4\",\"address\":\"10.244.0.5/"
	     "32\",\"gateway\":\"169.254.1.1\",\"interface\":1}],"
	     "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"169.254.1.1\"}],\"dns\":{}}",
	     2, 1, 1, 4, "10.244.0.5/32", "/run/netns/p1"},
	    {"0.4.0",
	     "{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"slx\"},{\"name\":\"eth0\","
	     "\"sandbox\":\"/run/netns/p2\"}],"
	     "\"ips\":[{\"version\":\"4\",\"address\":\"10.244.1.9/32\",\"interface\":1}]}",
	     2, 1, 1, 4, "10.244.1.9/32", "/run/netns/p2"},
	    {"1.0.0 from the bridge plugin",
	     "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"cnidemo0\",\"mac\":\"46:a4:c5:"
	     "97:a7:8a\"},"
	     "{\"name\":\"vethbecc7c27\",\"mac\":\"6a:ab:53:7f:9a:9c\"},"
	     "{\"name\":\"eth0\",\"mac\":\"82:a8:54:d7:5b:9c\",\"sandbox\":\"/var/run/netns/"
	     "cnidemo-a\"}],"
	     "\"ips\":[{\"interface\":2,\"address\":\"10.250.7.3/24\",\"gateway\":\"10.250.7.1\"}],"
	     "\"routes\":[{\"dst\":\"0.0.0.0/0\"}],\"dns\":{}}",
	     3, 1, 2, 4, "10.250.7.3/24", "/var/run/netns/cnidemo-a"},
	    {"1.1.0 with mtu and route extras",
	     "{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"slx\",\"mtu\":1400},"
	     "{\"name\":\"eth0\",\"sandbox\":\"/run/netns/p3\",\"mtu\":1400,\"socketPath\":\"\"}],"
	     "\"ips\":[{\"address\":\"10.244.2.2/32\",\"interface\":1},{\"address\":\"fd00::2/"
	     "128\",\"interface\":1}],"
	     "\"routes\":[{\"dst\":\"0.0.0.0/"
	     "0\",\"gw\":\"169.254.1.1\",\"mtu\":1400,\"scope\":0,\"table\":254}]}",
	     2, 2, 1, 4, "10.244.2.2/32", "/run/netns/p3"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cni_err e = {};
		struct cni_result r;

		UNIT_CASE(cases[i].name);
		CHECK_INT(result_parse(cases[i].json, &r, &e), 0);
		CHECK_INT(r.n_ifaces, cases[i].n_ifaces);
		CHECK_INT(r.n_ips, cases[i].n_ips);
		CHECK_INT(r.ips[0].iface, cases[i].iface);
		CHECK_INT(r.ips[0].family, cases[i].family);
		CHECK_STR(r.ips[0].address, cases[i].address);
		CHECK_STR(r.ifaces[r.ips[0].iface].sandbox, cases[i].sandbox);
		result_free(&r);
	}
}

static void test_ipam_result(void)
{
	/* Real output of Debian's host-local 1.1.1. */
	static const char v100[] =
	    "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.244.0.2/24\","
	    "\"gateway\":\"10.244.0.1\"}],\"dns\":{}}";
	static const char v031[] =
	    "{\"cniVersion\":\"0.3.1\",\"ips\":[{\"version\":\"4\",\"address\":"
	    "\"10.244.0.2/24\",\"gateway\":\"10.244.0.1\"}],\"dns\":{}}";
	const char *fixtures[] = {v100, v031};
	struct in_addr want;

	inet_pton(AF_INET, "10.244.0.2", &want);
	for (int i = 0; i < 2; i++) {
		struct cni_err e = {};
		struct cni_result r;

		UNIT_CASE(i ? "host-local 0.3.1" : "host-local 1.0.0");
		CHECK_INT(result_parse(fixtures[i], &r, &e), 0);
		CHECK_INT(r.n_ifaces, 0);
		CHECK_INT(r.n_ips, 1);
		CHECK_INT(r.ips[0].iface, -1);
		CHECK_INT(r.ips[0].prefix, 24);
		CHECK_INT(r.ips[0].addr.s_addr, want.s_addr);
		CHECK_STR(r.ips[0].gateway, "10.244.0.1");
		CHECK_STR(r.dns_json, "{}");
		result_free(&r);
	}
}

static void test_result_bad(void)
{
	static const struct {
		const char *name, *json;
	} cases[] = {
	    {"not JSON", "{"},
	    {"not an object", "\"x\""},
	    {"ips not an array", "{\"ips\":{}}"},
	    {"address missing", "{\"ips\":[{\"gateway\":\"10.0.0.1\"}]}"},
	    {"address without prefix", "{\"ips\":[{\"address\":\"10.0.0.1\"}]}"},
	    {"prefix out of range", "{\"ips\":[{\"address\":\"10.0.0.1/33\"}]}"},
	    {"interface index out of range", "{\"interfaces\":[{\"name\":\"eth0\"}],\"ips\":[{"
					     "\"address\":\"10.0.0.1/32\",\"interface\":1}]}"},
	    {"interface without name", "{\"interfaces\":[{\"mac\":\"00:00:00:00:00:01\"}]}"},
	    {"route without dst", "{\"routes\":[{\"gw\":\"10.0.0.1\"}]}"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cni_err e = {};
		struct cni_result r;

		UNIT_CASE(cases[i].name);
		CHECK(result_parse(cases[i].json, &r, &e) < 0);
		CHECK_INT(e.code, 6);
		result_free(&r);
	}
}

static void test_errors(void)
{
	struct cni_err e = {};
	char *s;

	UNIT_CASE("error JSON");
	cni_err_set(&e, 0, 11, "The sluice datapath is not ready, try again later", "%s missing",
		    "/sys/fs/bpf/sluice/sl_ep4");
	s = cni_err_format(&e, "1.0.0");
	CHECK_STR(
	    s, "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"The sluice datapath is not ready, "
	       "try again later\",\"details\":\"/sys/fs/bpf/sluice/sl_ep4 missing\"}");
	free(s);

	UNIT_CASE("errno appended to details");
	CHECK_INT(cni_err_set(&e, -2, 999, "m", "open %s", "x"), -2);
	CHECK_STR(e.details, "open x: No such file or directory");

	UNIT_CASE("delegate's error kept");
	CHECK_INT(cni_err_parse("{\"code\":1,\"msg\":\"incompatible CNI versions\","
				"\"details\":\"config is \\\"1.1.0\\\", plugin supports [...]\"}",
				&e),
		  0);
	CHECK_INT(e.code, 1);
	CHECK_STR(e.msg, "incompatible CNI versions");
	CHECK_INT(cni_err_parse(
		      "{\"code\":4,\"msg\":\"required env variables [CNI_NETNS] missing\"}", &e),
		  0);
	CHECK_INT(e.code, 4);
	CHECK_STR(e.details, "");
	CHECK(cni_err_parse("not json", &e) < 0);
	CHECK(cni_err_parse("{\"msg\":\"no code\"}", &e) < 0);
}

static void test_version(void)
{
	char best[16];
	bool has;
	char *s;

	UNIT_CASE("VERSION answer");
	s = version_format("1.0.0");
	CHECK_STR(s,
		  "{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\","
		  "\"1.0.0\",\"1.1.0\"]}");
	free(s);

	UNIT_CASE("delegate VERSION: host-local 1.1.1");
	CHECK_INT(
	    versions_parse("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\","
			   "\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\"]}",
			   "1.1.0", &has, best, sizeof(best)),
	    0);
	CHECK(!has);
	CHECK_STR(best, "1.0.0");

	UNIT_CASE("delegate VERSION: a 1.1.0 plugin");
	CHECK_INT(
	    versions_parse("{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"1.0.0\",\"1.1.0\"]}",
			   "1.1.0", &has, best, sizeof(best)),
	    0);
	CHECK(has);
	CHECK_STR(best, "1.1.0");
	CHECK(versions_parse("{}", "1.1.0", &has, best, sizeof(best)) < 0);

	UNIT_CASE("delegate VERSION: never above what the request allows");
	CHECK_INT(
	    versions_parse("{\"cniVersion\":\"0.4.0\",\"supportedVersions\":[\"0.3.1\",\"0.4.0\","
			   "\"1.0.0\",\"1.1.0\"]}",
			   "0.4.0", &has, best, sizeof(best)),
	    0);
	CHECK_STR(best, "0.4.0");
	CHECK_INT(versions_parse("{\"supportedVersions\":[\"1.0.0\",\"1.1.0\"]}", "0.3.1", &has,
				 best, sizeof(best)),
		  0);
	CHECK_STR(best, "");
}

static void test_mac(void)
{
	unsigned char mac[6];
	char s[18];

	UNIT_CASE("MAC parse/format");
	CHECK_INT(mac_parse("0A:58:0a:f4:00:05", mac), 0);
	mac_format(mac, s);
	CHECK_STR(s, "0a:58:0a:f4:00:05");
	CHECK(mac_parse("0a:58:0a:f4:00", mac) < 0);
	CHECK(mac_parse("0a:58:0a:f4:00:0g", mac) < 0);
	CHECK(mac_parse("0a:58:0a:f4:00:05:", mac) < 0);
}

int main(void)
{
	test_result_per_version();
	test_prev_per_version();
	test_ipam_result();
	test_result_bad();
	test_errors();
	test_version();
	test_mac();
	return unit_done();
}
