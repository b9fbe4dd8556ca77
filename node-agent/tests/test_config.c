// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the agent's flag and config-file parsing (config.c). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dp.h"
#include "unit.h"

#define FILE_ARG "@FILE" /* replaced by the path of the case's config file */
#define MAX_ARGS 32

struct want {
	const char *node_name, *pod_cidr, *pin_dir, *cni_conf_dir, *cni_bin_dir, *cni_state_dir;
	const char *ipam_data_dir, *cni_log_file, *log_file;
	const char *ipam;
	int mtu;
	int portmap; /* 0 false, 1 true */
	enum log_level level;
	const char *kubeconfig;
	const char *cgroup;
	int sock_lb_pods;	   /* 0 false, 1 true */
	int api;		   /* 0: not checked; else CONFIG_API_* + 1 */
	const char *nodeport_mode; /* NULL: not checked */
	const char *healthz_bind;  /* NULL: not checked; "" disabled */
	const char *metrics_bind;  /* NULL: not checked; "" disabled */
};

struct tcase {
	const char *name;
	const char *args[MAX_ARGS]; /* after "run", NULL-terminated */
	const char *file;	    /* config file content, NULL for none */
	const char *err;	    /* NULL: must succeed; else a substring of the message */
	struct want want;
};

#define DEFAULTS                                                                                   \
	.pin_dir = SL_DEFAULT_PIN_DIR, .cni_conf_dir = "/etc/cni/net.d",                           \
	.cni_bin_dir = "/opt/cni/bin", .cni_state_dir = "/var/lib/sluice", .ipam_data_dir = "",    \
	.cni_log_file = "", .log_file = "", .level = LOG_LVL_INFO, .ipam = "sluice"

static const struct tcase cases[] = {
    {"minimal flags take the defaults",
     {"--node-name", "n1", "--pod-cidr", "10.244.1.0/24"},
     .want = {DEFAULTS, .node_name = "n1", .pod_cidr = "10.244.1.0/24", .cgroup = "",
	      .nodeport_mode = "snat", .healthz_bind = "127.0.0.1:10256",
	      .metrics_bind = "127.0.0.1:10249"}},
    {"--healthz-bind-address and --metrics-bind-address set",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--healthz-bind-address", "0.0.0.0:10256",
      "--metrics-bind-address", "0.0.0.0:10249"},
     .want = {DEFAULTS, .node_name = "n", .healthz_bind = "0.0.0.0:10256",
	      .metrics_bind = "0.0.0.0:10249"}},
    {"--healthz-bind-address 0 and --metrics-bind-address '' disable them",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--healthz-bind-address", "0",
      "--metrics-bind-address", ""},
     .want = {DEFAULTS, .node_name = "n", .healthz_bind = "", .metrics_bind = ""}},
    {"--healthz-bind-address '' and --metrics-bind-address 0 disable them",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--healthz-bind-address", "",
      "--metrics-bind-address", "0"},
     .want = {DEFAULTS, .node_name = "n", .healthz_bind = "", .metrics_bind = ""}},
    {"--healthz-bind-address needs an address with the port",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--healthz-bind-address", "10256"},
     .err = "invalid --healthz-bind-address '10256'"},
    {"--metrics-bind-address takes no host name",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--metrics-bind-address",
      "localhost:10249"},
     .err = "invalid --metrics-bind-address 'localhost:10249'"},
    {"--nodeport-mode dsr",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--nodeport-mode", "dsr"},
     .want = {DEFAULTS, .node_name = "n", .pod_cidr = "10.244.1.0/24", .nodeport_mode = "dsr"}},
    {"config file nodePortMode, overridden by the flag",
     {"--config", FILE_ARG, "--node-name", "n", "--pod-cidr", "10.1.0.0/16", "--nodeport-mode",
      "snat"},
     "{\"nodePortMode\": \"dsr\"}",
     .want = {DEFAULTS, .node_name = "n", .pod_cidr = "10.1.0.0/16", .nodeport_mode = "snat"}},
    {"config file nodePortMode dsr",
     {"--config", FILE_ARG, "--node-name", "n", "--pod-cidr", "10.1.0.0/16"},
     "{\"nodePortMode\": \"dsr\"}",
     .want = {DEFAULTS, .node_name = "n", .pod_cidr = "10.1.0.0/16", .nodeport_mode = "dsr"}},
    {"--nodeport-mode names no other mode",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--nodeport-mode", "ipip"},
     .err = "invalid --nodeport-mode 'ipip': must be snat or dsr"},
    {"every flag",
     {"--node-name",
      "node-a.example",
      "--pod-cidr",
      "10.244.7.0/24",
      "--pin-dir",
      "/sys/fs/bpf/sluice-x",
      "--cni-conf-dir",
      "/tmp/net.d",
      "--cni-bin-dir",
      "/usr/lib/cni",
      "--cni-state-dir",
      "/run/sl",
      "--ipam-data-dir",
      "/run/ipam",
      "--mtu",
      "1450",
      "--portmap",
      "--cni-log-file",
      "/tmp/cni.log",
      "--log-file",
      "/tmp/agent.log",
      "--log-level",
      "debug"},
     .want = {.node_name = "node-a.example",
	      .pod_cidr = "10.244.7.0/24",
	      .pin_dir = "/sys/fs/bpf/sluice-x",
	      .cni_conf_dir = "/tmp/net.d",
	      .cni_bin_dir = "/usr/lib/cni",
	      .cni_state_dir = "/run/sl",
	      .ipam_data_dir = "/run/ipam",
	      .cni_log_file = "/tmp/cni.log",
	      .log_file = "/tmp/agent.log",
	      .mtu = 1450,
	      .portmap = 1,
	      .level = LOG_LVL_DEBUG}},
    {"--flag=value form and mtu bounds",
     {"--node-name=n2", "--pod-cidr=10.0.0.0/8", "--mtu=576", "--log-level=WARN"},
     .want = {.node_name = "n2",
	      .pod_cidr = "10.0.0.0/8",
	      .pin_dir = SL_DEFAULT_PIN_DIR,
	      .mtu = 576,
	      .level = LOG_LVL_WARN}},
    {"mtu upper bound",
     {"--node-name", "n", "--pod-cidr", "10.244.0.0/30", "--mtu", "65535"},
     .want = {DEFAULTS, .node_name = "n", .pod_cidr = "10.244.0.0/30", .mtu = 65535}},
    {"config file alone",
     {"--config", FILE_ARG},
     "{\"nodeName\": \"n3\", \"podCIDR\": \"10.244.3.0/24\", \"pinDir\": "
     "\"/sys/fs/bpf/sluice-f\",\n"
     " \"cniConfDir\": \"/etc/x\", \"cniBinDir\": \"/b\", \"cniStateDir\": \"/s\", "
     "\"ipamDataDir\": \"/d\",\n"
     " \"mtu\": 9000, \"portmap\": true, \"cniLogFile\": \"/c.log\", \"logFile\": \"/a.log\",\n"
     " \"logLevel\": \"error\"}",
     .want = {.node_name = "n3",
	      .pod_cidr = "10.244.3.0/24",
	      .pin_dir = "/sys/fs/bpf/sluice-f",
	      .cni_conf_dir = "/etc/x",
	      .cni_bin_dir = "/b",
	      .cni_state_dir = "/s",
	      .ipam_data_dir = "/d",
	      .cni_log_file = "/c.log",
	      .log_file = "/a.log",
	      .mtu = 9000,
	      .portmap = 1,
	      .level = LOG_LVL_ERROR}},
    {"flags override the file, wherever they stand",
     {"--pod-cidr", "10.244.9.0/24", "--mtu", "1400", "--config", FILE_ARG, "--pin-dir", "/p"},
     "{\"nodeName\": \"n4\", \"podCIDR\": \"10.244.4.0/24\", \"mtu\": 9000, \"pinDir\": \"/f\", "
     "\"portmap\": false}",
     .want = {.node_name = "n4",
	      .pod_cidr = "10.244.9.0/24",
	      .pin_dir = "/p",
	      .cni_conf_dir = "/etc/cni/net.d",
	      .ipam_data_dir = "",
	      .mtu = 1400,
	      .level = LOG_LVL_INFO}},
    {"file supplies what flags leave out",
     {"--node-name", "n5", "--config", FILE_ARG},
     "{\"podCIDR\": \"192.168.0.0/16\", \"portmap\": true}",
     .want = {DEFAULTS, .node_name = "n5", .pod_cidr = "192.168.0.0/16", .portmap = 1}},
    {"--cgroup and --sock-lb-pods",
     {"--node-name", "n", "--pod-cidr", "10.1.0.0/16", "--cgroup", "/sys/fs/cgroup/sl",
      "--sock-lb-pods"},
     .want = {DEFAULTS, .node_name = "n", .pod_cidr = "10.1.0.0/16", .cgroup = "/sys/fs/cgroup/sl",
	      .sock_lb_pods = 1}},
    {"config file cgroup, sockLbPods",
     {"--config", FILE_ARG, "--node-name", "n", "--pod-cidr", "10.1.0.0/16"},
     "{\"cgroup\": \"/cg\", \"sockLbPods\": true}",
     .want = {DEFAULTS, .node_name = "n", .pod_cidr = "10.1.0.0/16", .cgroup = "/cg",
	      .sock_lb_pods = 1}},
    {"config file sockLbPods false",
     {"--config", FILE_ARG, "--node-name", "n", "--pod-cidr", "10.1.0.0/16"},
     "{\"sockLbPods\": false}",
     .want = {DEFAULTS, .node_name = "n", .pod_cidr = "10.1.0.0/16"}},
    {"empty config object",
     {"--config", FILE_ARG, "--node-name", "n", "--pod-cidr", "10.1.0.0/16"},
     "{}",
     .want = {DEFAULTS, .node_name = "n", .pod_cidr = "10.1.0.0/16"}},

    {"kubeconfig makes the pod CIDR optional",
     {"--node-name", "n", "--kubeconfig", "/etc/k/config"},
     .want = {DEFAULTS, .node_name = "n", .pod_cidr = "", .kubeconfig = "/etc/k/config",
	      .api = CONFIG_API_KUBECONFIG + 1}},
    {"kubeconfig and pod CIDR together",
     {"--node-name", "n", "--kubeconfig", "/k", "--pod-cidr", "10.244.2.0/24", "--sa-dir", "/sa"},
     .want = {DEFAULTS, .node_name = "n", .pod_cidr = "10.244.2.0/24", .kubeconfig = "/k",
	      .api = CONFIG_API_KUBECONFIG + 1}},
    {"kubeconfig from the config file",
     {"--config", FILE_ARG},
     "{\"nodeName\": \"n\", \"kubeconfig\": \"/etc/kc\", \"saDir\": \"/sa\"}",
     .want = {DEFAULTS, .node_name = "n", .kubeconfig = "/etc/kc",
	      .api = CONFIG_API_KUBECONFIG + 1}},
    {"no API: standalone",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24"},
     .want = {DEFAULTS, .node_name = "n", .kubeconfig = "", .api = CONFIG_API_STANDALONE + 1}},

    /* bad input */
    {"relative kubeconfig",
     {"--node-name", "n", "--kubeconfig", "kc"},
     .err = "invalid --kubeconfig 'kc': must be an absolute path"},
    {"relative sa dir",
     {"--node-name", "n", "--kubeconfig", "/kc", "--sa-dir", "sa"},
     .err = "invalid --sa-dir 'sa'"},
    {"no flags", {NULL}, .err = "node name is required"},
    {"missing node name", {"--pod-cidr", "10.244.1.0/24"}, .err = "node name is required"},
    {"missing pod CIDR", {"--node-name", "n1"}, .err = "pod CIDR is required"},
    {"uppercase node name",
     {"--node-name", "Node1", "--pod-cidr", "10.244.1.0/24"},
     .err = "invalid --node-name 'Node1'"},
    {"empty node name",
     {"--node-name", "", "--pod-cidr", "10.244.1.0/24"},
     .err = "invalid --node-name ''"},
    {"CIDR without prefix",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0"},
     .err = "expected a.b.c.d/n"},
    {"CIDR with host bits",
     {"--node-name", "n", "--pod-cidr", "10.244.1.5/24"},
     .err = "host bits set (did you mean 10.244.1.0/24?)"},
    {"CIDR bad octet",
     {"--node-name", "n", "--pod-cidr", "10.244.300.0/24"},
     .err = "not an IPv4 address"},
    {"CIDR IPv6", {"--node-name", "n", "--pod-cidr", "fd00::/64"}, .err = "not an IPv4 address"},
    {"CIDR prefix 33", {"--node-name", "n", "--pod-cidr", "10.244.1.0/33"}, .err = "prefix length"},
    {"CIDR prefix 31", {"--node-name", "n", "--pod-cidr", "10.244.1.0/31"}, .err = "1..30"},
    {"CIDR prefix 0", {"--node-name", "n", "--pod-cidr", "0.0.0.0/0"}, .err = "1..30"},
    {"CIDR empty prefix",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/"},
     .err = "prefix length"},
    {"CIDR junk prefix",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24x"},
     .err = "prefix length"},
    {"CIDR signed prefix",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/+24"},
     .err = "prefix length"},
    {"mtu too small",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--mtu", "575"},
     .err = "invalid --mtu '575': must be a number in 576..65535"},
    {"mtu too large",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--mtu", "65536"},
     .err = "invalid --mtu '65536'"},
    {"mtu not a number",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--mtu", "1500x"},
     .err = "invalid --mtu '1500x'"},
    {"mtu empty",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--mtu="},
     .err = "invalid --mtu ''"},
    {"bad log level",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--log-level", "loud"},
     .err = "invalid --log-level 'loud'"},
    {"relative pin dir",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--pin-dir", "bpf/x"},
     .err = "invalid --pin-dir 'bpf/x': must be an absolute path"},
    {"path too long",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--cni-conf-dir",
      "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
     .err = "longer than 255 characters"},
    {"--ipam host-local keeps the delegated plugin",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--ipam", "host-local"},
     .want = {.node_name = "n", .ipam = "host-local", .level = LOG_LVL_INFO}},
    {"config file ipam",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--config", FILE_ARG},
     "{\"ipam\": \"host-local\"}",
     .want = {.node_name = "n", .ipam = "host-local", .level = LOG_LVL_INFO}},
    {"--ipam names no other plugin",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--ipam", "dhcp"},
     .err = "invalid --ipam 'dhcp': must be sluice or host-local"},
    {"unknown flag",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--frobnicate"},
     .err = "unknown flag '--frobnicate'"},
    {"unknown short flag", {"-x", "--node-name", "n"}, .err = "unknown flag '-x'"},
    {"flag without its value",
     {"--pod-cidr", "10.244.1.0/24", "--node-name"},
     .err = "flag '--node-name' needs a value"},
    {"value for a switch",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--portmap=yes"},
     .err = "flag '--portmap' takes no value"},
    {"relative cgroup",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--cgroup", "cg"},
     .err = "invalid --cgroup 'cg': must be an absolute path"},
    {"value for --sock-lb-pods",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "--sock-lb-pods=no"},
     .err = "flag '--sock-lb-pods' takes no value"},
    {"positional argument",
     {"--node-name", "n", "--pod-cidr", "10.244.1.0/24", "extra"},
     .err = "unexpected argument 'extra'"},
    {"config file missing",
     {"--config", "/nonexistent/sluice-agent.json"},
     .err = "cannot read config file '/nonexistent/sluice-agent.json'"},
    {"config file truncated",
     {"--config", FILE_ARG},
     "{\"nodeName\": \"n\",\n",
     .err = "malformed config file"},
    {"config file not an object",
     {"--config", FILE_ARG},
     "[\"n\"]",
     .err = "top level must be an object"},
    {"config file unknown key",
     {"--config", FILE_ARG},
     "{\"nodename\": \"n\"}",
     .err = "unknown key 'nodename'"},
    {"config file duplicate key",
     {"--config", FILE_ARG},
     "{\"nodeName\": \"a\", \"nodeName\": \"b\"}",
     .err = "malformed config file"},
    {"config file mtu as string",
     {"--config", FILE_ARG},
     "{\"nodeName\": \"n\", \"mtu\": \"1500\"}",
     .err = "invalid mtu in"},
    {"config file mtu out of range",
     {"--config", FILE_ARG},
     "{\"nodeName\": \"n\", \"mtu\": 100}",
     .err = "'100': must be a number in 576..65535"},
    {"config file portmap not boolean",
     {"--config", FILE_ARG},
     "{\"portmap\": \"yes\"}",
     .err = "invalid portmap in"},
    {"config file sockLbPods not boolean",
     {"--config", FILE_ARG},
     "{\"sockLbPods\": 1}",
     .err = "invalid sockLbPods in"},
    {"config file bad CIDR",
     {"--config", FILE_ARG},
     "{\"nodeName\": \"n\", \"podCIDR\": \"10.244.1.1/24\"}",
     .err = "host bits set"},
    {"config file node name not a string",
     {"--config", FILE_ARG},
     "{\"nodeName\": 5}",
     .err = "invalid nodeName in"},
    {"config file relative path",
     {"--config", FILE_ARG},
     "{\"cniConfDir\": \"net.d\"}",
     .err = "invalid cniConfDir in"},
    {"config file keeps flags' validation",
     {"--config", FILE_ARG, "--mtu", "10"},
     "{\"nodeName\": \"n\", \"podCIDR\": \"10.244.1.0/24\"}",
     .err = "invalid --mtu '10'"},
};

static void check_str(const char *got, const char *want)
{
	if (want)
		CHECK_STR(got, want);
}

static void case_run(const struct tcase *t)
{
	char path[] = "/tmp/sluice-agent-test-XXXXXX";
	char *argv[MAX_ARGS + 2];
	char err[512] = "";
	struct config c;
	int argc = 0, fd = -1, r;

	UNIT_CASE(t->name);
	if (t->file) {
		fd = mkstemp(path);
		CHECK(fd >= 0);
		if (fd < 0)
			return;
		CHECK_INT(write(fd, t->file, strlen(t->file)), (long long)strlen(t->file));
		close(fd);
	}
	argv[argc++] = "run";
	for (int i = 0; t->args[i]; i++)
		argv[argc++] = (char *)(strcmp(t->args[i], FILE_ARG) ? t->args[i] : path);
	argv[argc] = NULL;

	r = config_parse(argc, argv, &c, err, sizeof(err));
	if (t->file)
		unlink(path);
	if (t->err) {
		CHECK_INT(r < 0, 1);
		if (!strstr(err, t->err)) {
			unit_failed++;
			printf("FAIL [%s]: error \"%s\" lacks \"%s\"\n", t->name, err, t->err);
		} else {
			unit_passed++;
		}
		CHECK(!strchr(err, '\n'));
		return;
	}
	CHECK_INT(r, 0);
	if (r < 0) {
		printf("  error was: %s\n", err);
		return;
	}
	check_str(c.node_name, t->want.node_name);
	check_str(c.pod_cidr, t->want.pod_cidr);
	check_str(c.pin_dir, t->want.pin_dir);
	check_str(c.cni_conf_dir, t->want.cni_conf_dir);
	check_str(c.cni_bin_dir, t->want.cni_bin_dir);
	check_str(c.cni_state_dir, t->want.cni_state_dir);
	check_str(c.ipam_data_dir, t->want.ipam_data_dir);
	check_str(c.ipam, t->want.ipam);
	check_str(c.cni_log_file, t->want.cni_log_file);
	check_str(c.log_file, t->want.log_file);
	CHECK_INT(c.mtu, t->want.mtu);
	CHECK_INT(c.portmap, t->want.portmap);
	CHECK_INT(c.log_level, t->want.level);
	check_str(c.kubeconfig, t->want.kubeconfig);
	check_str(c.cgroup, t->want.cgroup);
	CHECK_INT(c.sock_lb_pods, t->want.sock_lb_pods);
	check_str(c.nodeport_mode, t->want.nodeport_mode);
	check_str(c.healthz_bind, t->want.healthz_bind);
	check_str(c.metrics_bind, t->want.metrics_bind);
	if (t->want.api)
		CHECK_INT(c.api, t->want.api - 1);
}

static int parse(const char **args, struct config *c, char *err, size_t len)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = "run";
	for (int i = 0; args[i]; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	return config_parse(argc, argv, c, err, len);
}

/* The API source from the environment: $KUBECONFIG, then in-cluster. */
static void test_api_env(void)
{
	const char *no_cidr[] = {"--node-name", "n", NULL};
	char dir[] = "/tmp/sluice-agent-sa-XXXXXX", tok[64], err[512];
	const char *sa_args[] = {"--node-name", "n", "--sa-dir", dir, NULL};
	const char *flag_wins[] = {"--node-name", "n", "--kubeconfig", "/flag", NULL};
	struct config c;
	FILE *f;

	UNIT_CASE("KUBECONFIG: the first entry of a list");
	setenv("KUBECONFIG", "/a/config:/b/config", 1);
	CHECK_INT(parse(no_cidr, &c, err, sizeof(err)), 0);
	CHECK_INT(c.api, CONFIG_API_KUBECONFIG);
	CHECK_STR(c.kubeconfig, "/a/config");
	UNIT_CASE("--kubeconfig wins over KUBECONFIG");
	CHECK_INT(parse(flag_wins, &c, err, sizeof(err)), 0);
	CHECK_STR(c.kubeconfig, "/flag");
	unsetenv("KUBECONFIG");

	UNIT_CASE("in-cluster needs host, port and a token file");
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	CHECK(parse(sa_args, &c, err, sizeof(err)) < 0);
	CHECK(strstr(err, "pod CIDR is required") != NULL);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	f = fopen(tok, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("t0ken\n", f);
		fclose(f);
	}
	UNIT_CASE("in-cluster with a token file");
	CHECK_INT(parse(sa_args, &c, err, sizeof(err)), 0);
	CHECK_INT(c.api, CONFIG_API_IN_CLUSTER);
	CHECK_STR(c.sa_dir, dir);
	UNIT_CASE("in-cluster without KUBERNETES_SERVICE_PORT is standalone");
	unsetenv("KUBERNETES_SERVICE_PORT");
	CHECK(parse(sa_args, &c, err, sizeof(err)) < 0);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unlink(tok);
	rmdir(dir);
}

static void test_cidr4_parse(void)
{
	char out[32], err[256];

	UNIT_CASE("cidr4_parse canonical output");
	CHECK_INT(cidr4_parse("172.16.0.0/12", out, sizeof(out), err, sizeof(err)), 0);
	CHECK_STR(out, "172.16.0.0/12");
	CHECK_INT(cidr4_parse("10.244.1.0/24", out, sizeof(out), err, sizeof(err)), 0);
	CHECK_STR(out, "10.244.1.0/24");
	UNIT_CASE("cidr4_parse rejects a leading-zero free-form address");
	CHECK(cidr4_parse("10.244.1/24", out, sizeof(out), err, sizeof(err)) < 0);
}

static void test_np_addrs(void)
{
	struct np_addrs a;
	char err[256] = "";

	UNIT_CASE("nodeport-addresses: CIDRs select node addresses");
	CHECK_INT(np_addrs_parse("172.18.0.0/16,10.1.2.3/32", &a, err, sizeof(err)), 0);
	CHECK_INT(a.n, 2);
	CHECK(np_addrs_match(&a, inet_addr("172.18.0.2"), 0));
	CHECK(np_addrs_match(&a, inet_addr("10.1.2.3"), 0));
	CHECK(!np_addrs_match(&a, inet_addr("10.1.2.4"), 0));

	UNIT_CASE("nodeport-addresses: host bits are cleared, 0.0.0.0/0 takes all");
	CHECK_INT(np_addrs_parse("172.18.9.9/16", &a, err, sizeof(err)), 0);
	CHECK(np_addrs_match(&a, inet_addr("172.18.0.7"), 0));
	CHECK_INT(np_addrs_parse("0.0.0.0/0", &a, err, sizeof(err)), 0);
	CHECK(np_addrs_match(&a, inet_addr("192.0.2.1"), 0));

	UNIT_CASE("nodeport-addresses: primary is the node's own address only");
	CHECK_INT(np_addrs_parse("primary", &a, err, sizeof(err)), 0);
	CHECK(np_addrs_match(&a, inet_addr("172.18.0.2"), inet_addr("172.18.0.2")));
	CHECK(!np_addrs_match(&a, inet_addr("10.0.0.1"), inet_addr("172.18.0.2")));

	UNIT_CASE("nodeport-addresses: 127.0.0.1 only when a CIDR names it (not 0.0.0.0/0, "
		  "primary or unset)");
	CHECK(!np_addrs_loopback(&a));
	CHECK_INT(np_addrs_parse("172.18.0.0/16,127.0.0.1/32", &a, err, sizeof(err)), 0);
	CHECK(np_addrs_loopback(&a));
	CHECK_INT(np_addrs_parse("127.0.0.0/8", &a, err, sizeof(err)), 0);
	CHECK(np_addrs_loopback(&a));
	CHECK_INT(np_addrs_parse("0.0.0.0/0", &a, err, sizeof(err)), 0);
	CHECK(!np_addrs_loopback(&a));
	CHECK_INT(np_addrs_parse("172.18.0.0/16,127.0.0.2/32", &a, err, sizeof(err)), 0);
	CHECK(!np_addrs_loopback(&a));
	memset(&a, 0, sizeof(a)); /* unset: every node address, loopback not among them */
	CHECK(!np_addrs_loopback(&a));

	UNIT_CASE("nodeport-addresses: bad input is refused with the culprit named");
	CHECK(np_addrs_parse("172.18.0.0", &a, err, sizeof(err)) < 0);
	CHECK(strstr(err, "'172.18.0.0' is not an IPv4 CIDR") != NULL);
	CHECK(np_addrs_parse("10.0.0.0/33", &a, err, sizeof(err)) < 0);
	CHECK(np_addrs_parse("fd00::/8", &a, err, sizeof(err)) < 0);
	CHECK(np_addrs_parse(",", &a, err, sizeof(err)) < 0);
	CHECK(strstr(err, "no CIDR") != NULL);
}

int main(void)
{
	/* The cases assume no API in the environment. */
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		case_run(&cases[i]);
	test_cidr4_parse();
	test_np_addrs();
	test_api_env();
	return unit_done();
}
