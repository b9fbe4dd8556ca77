// SPDX-License-Identifier: Apache-2.0
/* Unit tests of config parsing, CNI_ARGS and host veth naming (no root). */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "dp.h"
#include "state.h"
#include "unit.h"
#include "version.h"

/* Trimmed from requests in cni.md (podman 4.3, containerd 1.6, GC). */
static const char podman_add[] =
    "{\"capabilities\":{\"aliases\":true,\"portMappings\":true},\"cniVersion\":\"1.0.0\","
    "\"name\":\"cnidemo\",\"type\":\"sluice\",\"ipam\":{\"type\":\"host-local\","
    "\"ranges\":[[{\"subnet\":\"10.244.0.0/24\"}]],\"dataDir\":\"/tmp/x\"},"
    "\"runtimeConfig\":{\"aliases\":{\"cnidemo\":[\"1d10eb964059\"]},"
    "\"portMappings\":[{\"hostPort\":18082,\"containerPort\":80,\"protocol\":\"tcp\"}]}}";

static const char containerd_del[] =
    "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s-pod-network\",\"type\":\"sluice\","
    "\"pinDir\":\"/sys/fs/bpf/sluice-n1\",\"stateDir\":\"/run/sluice-n1\",\"mtu\":1400,"
    "\"logLevel\":\"debug\",\"ipam\":{\"type\":\"host-local\"},"
    "\"runtimeConfig\":{\"dns\":{\"Servers\":[\"10.96.0.10\"],\"Searches\":[\"svc\"],\"Options\":["
    "\"ndots:5\"]},"
    "\"io.kubernetes.cri.pod-annotations\":{\"example.com/note\":\"hello\"},"
    "\"MAC\":\"0A:58:0A:F4:00:05\","
    "\"portMappings\":[{\"HostPort\":18083,\"ContainerPort\":80,\"Protocol\":\"tcp\",\"HostIP\":"
    "\"\"}]},"
    "\"prevResult\":{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"sl0123456789ab\",\"mac\":"
    "\"6a:ab:53:7f:9a:9c\"},"
    "{\"name\":\"eth0\",\"mac\":\"82:a8:54:d7:5b:9c\",\"sandbox\":\"/var/run/netns/"
    "cni-f07a1879\"}],"
    "\"ips\":[{\"interface\":1,\"address\":\"10.244.0.5/32\",\"gateway\":\"169.254.1.1\"}],"
    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"169.254.1.1\"}],\"dns\":{}}}";

static const char gc_both_keys[] =
    "{\"cniVersion\":\"1.1.0\",\"name\":\"net1\",\"type\":\"sluice\",\"ipam\":{\"type\":\"host-"
    "local\"},"
    "\"cni.dev/valid-attachments\":[{\"containerID\":\"c1\",\"ifname\":\"eth0\"},"
    "{\"containerID\":\"c2\",\"ifname\":\"net1\"}],"
    "\"cni.dev/attachments\":[{\"containerID\":\"c1\",\"ifname\":\"eth0\"},"
    "{\"containerID\":\"c2\",\"ifname\":\"net1\"}]}";

static const char gc_old_key[] =
    "{\"cniVersion\":\"1.1.0\",\"name\":\"net1\",\"type\":\"sluice\","
    "\"cni.dev/attachments\":[{\"containerID\":\"c9\",\"ifname\":\"eth0\"}]}";

static void test_bad_input(void)
{
	static const struct {
		const char *name, *json;
		int code;
		const char *details_has;
	} cases[] = {
	    {"empty", "", 6, "empty"},
	    {"whitespace", " \n\t", 6, "empty"},
	    {"invalid JSON", "{\"cniVersion\":\"1.0.0\",", 6, "invalid JSON"},
	    {"not an object", "[1,2]", 6, "not a JSON object"},
	    {"missing cniVersion", "{\"name\":\"n\",\"type\":\"sluice\"}", 7, "cniVersion"},
	    {"cniVersion not a string", "{\"cniVersion\":1,\"name\":\"n\",\"type\":\"sluice\"}", 7,
	     "cniVersion"},
	    {"missing name", "{\"cniVersion\":\"1.0.0\",\"type\":\"sluice\"}", 7, "\"name\""},
	    {"missing type", "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", 7, "\"type\""},
	    {"empty type", "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"\"}", 7,
	     "\"type\""},
	    {"unsupported version 0.2.0",
	     "{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"sluice\"}", 1, "0.2.0"},
	    {"unsupported version 2.0.0",
	     "{\"cniVersion\":\"2.0.0\",\"name\":\"n\",\"type\":\"sluice\"}", 1, "2.0.0"},
	    {"name with a slash",
	     "{\"cniVersion\":\"1.0.0\",\"name\":\"../etc\",\"type\":\"sluice\"}", 7,
	     "network name"},
	    {"relative stateDir",
	     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice\",\"stateDir\":\"var\"}",
	     7, "absolute"},
	    {"mtu too small",
	     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice\",\"mtu\":10}", 7, "mtu"},
	    {"bad logLevel",
	     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice\",\"logLevel\":\"loud\"}",
	     7, "logLevel"},
	    {"ipam type with a slash",
	     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice\",\"ipam\":{\"type\":\"../"
	     "x\"}}",
	     7, "ipam.type"},
	    {"bad runtimeConfig mac",
	     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice\",\"runtimeConfig\":{"
	     "\"mac\":\"zz\"}}",
	     7, "mac"},
	    {"prevResult with a bad address",
	     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice\",\"prevResult\":{\"ips\":"
	     "[{\"address\":\"10.0.0.300/32\"}]}}",
	     6, "10.0.0.300"},
	    {"attachment without ifname",
	     "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"sluice\",\"cni.dev/"
	     "valid-attachments\":[{\"containerID\":\"c\"}]}",
	     7, "ifname"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cni_err e = {};
		struct conf c;
		int r;

		UNIT_CASE(cases[i].name);
		r = conf_parse(cases[i].json, strlen(cases[i].json), &c, &e);
		CHECK(r < 0);
		CHECK_INT(e.code, cases[i].code);
		CHECK(strstr(e.details, cases[i].details_has) != NULL);
		if (!strstr(e.details, cases[i].details_has))
			printf("  details: %s\n", e.details);
		conf_free(&c);
	}
}

static void test_defaults(void)
{
	struct cni_err e = {};
	struct conf c;

	UNIT_CASE("podman ADD: defaults, unknown keys ignored");
	CHECK_INT(conf_parse(podman_add, strlen(podman_add), &c, &e), 0);
	CHECK_STR(c.cni_version, "1.0.0");
	CHECK_STR(c.name, "cnidemo");
	CHECK_STR(c.type, "sluice");
	CHECK_STR(c.pin_dir, SL_DEFAULT_PIN_DIR);
	CHECK_STR(c.state_dir, "/var/lib/sluice");
	CHECK_STR(c.log_file, "");
	CHECK_INT(c.log_level, LOG_LVL_INFO);
	CHECK_INT(c.mtu, 0);
	CHECK_STR(c.ipam_type, "host-local");
	CHECK_STR(c.mac, "");
	CHECK(!c.has_prev);
	CHECK(!c.has_valid);
	conf_free(&c);
}

static void test_own_keys(void)
{
	struct cni_err e = {};
	struct conf c;

	UNIT_CASE("containerd DEL: our keys, capitalised runtimeConfig, prevResult");
	CHECK_INT(conf_parse(containerd_del, strlen(containerd_del), &c, &e), 0);
	CHECK_STR(c.pin_dir, "/sys/fs/bpf/sluice-n1");
	CHECK_STR(c.state_dir, "/run/sluice-n1");
	CHECK_INT(c.mtu, 1400);
	CHECK_INT(c.log_level, LOG_LVL_DEBUG);
	CHECK_STR(c.mac, "0a:58:0a:f4:00:05");
	CHECK(c.has_prev);
	CHECK_INT(c.prev.n_ifaces, 2);
	CHECK_INT(c.prev.n_ips, 1);
	CHECK_STR(c.prev.ips[0].address, "10.244.0.5/32");
	CHECK_INT(c.prev.ips[0].iface, 1);
	CHECK_STR(c.prev.ifaces[1].sandbox, "/var/run/netns/cni-f07a1879");
	conf_free(&c);
}

static void test_gc_keys(void)
{
	struct cni_err e = {};
	struct conf c;

	UNIT_CASE("GC: both keys");
	CHECK_INT(conf_parse(gc_both_keys, strlen(gc_both_keys), &c, &e), 0);
	CHECK(c.has_valid);
	CHECK_INT(c.n_valid, 2);
	CHECK_STR(c.valid[1].containerid, "c2");
	CHECK_STR(c.valid[1].ifname, "net1");
	conf_free(&c);

	UNIT_CASE("GC: cni.dev/attachments of the spec-v1.1.0 tag");
	CHECK_INT(conf_parse(gc_old_key, strlen(gc_old_key), &c, &e), 0);
	CHECK(c.has_valid);
	CHECK_INT(c.n_valid, 1);
	CHECK_STR(c.valid[0].containerid, "c9");
	conf_free(&c);

	UNIT_CASE("GC: empty valid list is still a list");
	static const char empty[] = "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"sluice\","
				    "\"cni.dev/valid-attachments\":[]}";
	CHECK_INT(conf_parse(empty, strlen(empty), &c, &e), 0);
	CHECK(c.has_valid);
	CHECK_INT(c.n_valid, 0);
	conf_free(&c);
}

static void test_versions(void)
{
	char v[16];
	struct cni_err e = {};

	UNIT_CASE("supported versions");
	for (const char *const *s = cni_supported_versions; *s; s++)
		CHECK(cni_version_supported(*s));
	CHECK(!cni_version_supported("0.1.0"));
	CHECK(!cni_version_supported("1.0"));
	CHECK(cni_version_cmp("0.4.0", "1.0.0") < 0);
	CHECK(cni_version_cmp("1.1.0", "1.0.0") > 0);
	CHECK(cni_version_cmp("0.3.1", "0.3.1") == 0);

	UNIT_CASE("VERSION input");
	CHECK_INT(conf_parse_version("", 0, v, sizeof(v), &e), 0);
	CHECK_STR(v, "1.1.0");
	CHECK_INT(conf_parse_version("{\"cniVersion\":\"0.4.0\"}", 22, v, sizeof(v), &e), 0);
	CHECK_STR(v, "0.4.0");
	CHECK(conf_parse_version("{nope", 5, v, sizeof(v), &e) < 0);
	CHECK_INT(e.code, 6);
}

static void test_rewrite(void)
{
	char *out = NULL;

	UNIT_CASE("GC's DEL for IPAM: version set, cni.dev keys gone");
	CHECK_INT(conf_rewrite_for_del(gc_both_keys, strlen(gc_both_keys), "1.0.0", &out), 0);
	CHECK(out && strstr(out, "\"cniVersion\":\"1.0.0\""));
	CHECK(out && !strstr(out, "cni.dev/"));
	CHECK(out && strstr(out, "\"host-local\""));
	free(out);
	out = NULL;

	UNIT_CASE("a request for an older IPAM plugin: only cniVersion changes");
	CHECK_INT(conf_rewrite_version(gc_both_keys, strlen(gc_both_keys), "0.4.0", &out), 0);
	CHECK(out && strstr(out, "\"cniVersion\":\"0.4.0\""));
	CHECK(out && strstr(out, "cni.dev/valid-attachments"));
	free(out);
}

static void test_args(void)
{
	static const struct {
		const char *name, *args;
		int ok;
		const char *ns, *pod, *uid, *mac;
	} cases[] = {
	    {"empty", "", 1, "", "", "", ""},
	    {"containerd, random order",
	     "K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=uid-1234;IgnoreUnknown=1;K8S_POD_"
	     "NAMESPACE=default;K8S_POD_NAME=demo-pod",
	     1, "default", "demo-pod", "uid-1234", ""},
	    {"podman with MAC", "IgnoreUnknown=1;K8S_POD_NAME=pensive_booth;MAC=0A:58:00:00:00:01",
	     1, "", "pensive_booth", "", "0a:58:00:00:00:01"},
	    {"trailing separator", "K8S_POD_NAME=a;", 1, "", "a", "", ""},
	    {"empty value", "K8S_POD_NAME=", 1, "", "", "", ""},
	    {"pair without =", "IgnoreUnknown=1;garbage", 0, NULL, NULL, NULL, NULL},
	    {"empty key", "=x", 0, NULL, NULL, NULL, NULL},
	    {"bad MAC", "MAC=01:02", 0, NULL, NULL, NULL, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cni_err e = {};
		struct cni_args a;
		int r;

		UNIT_CASE(cases[i].name);
		r = cni_args_parse(cases[i].args, &a, &e);
		if (!cases[i].ok) {
			CHECK(r < 0);
			CHECK_INT(e.code, 4);
			continue;
		}
		CHECK_INT(r, 0);
		CHECK_STR(a.pod_namespace, cases[i].ns);
		CHECK_STR(a.pod_name, cases[i].pod);
		CHECK_STR(a.pod_uid, cases[i].uid);
		CHECK_STR(a.mac, cases[i].mac);
	}
}

static void test_veth_name(void)
{
	/* Expected values computed independently (Python FNV-1a 64). */
	static const struct {
		const char *cid, *ifname, *want;
	} cases[] = {
	    {"1d10eb964059", "eth0", "sl9cb98730f29c"},
	    {"1d10eb964059", "eth1", "sl9db98730f44f"},
	    {"abc", "eth0", "sl4ae81be81b20"},
	    {"", "x", "sl5007b4eb10c5"},
	};
	char name[16];

	UNIT_CASE("host veth names");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		veth_host_name(cases[i].cid, cases[i].ifname, name);
		CHECK_STR(name, cases[i].want);
		CHECK(strlen(name) <= 15);
		CHECK(veth_name_ours(name));
	}
	CHECK(!veth_name_ours("eth0"));
	CHECK(!veth_name_ours("sl9CB98730F29C"));
	CHECK(!veth_name_ours("sl9cb98730f29"));
}

int main(void)
{
	test_bad_input();
	test_defaults();
	test_own_keys();
	test_gc_keys();
	test_versions();
	test_rewrite();
	test_args();
	test_veth_name();
	return unit_done();
}
