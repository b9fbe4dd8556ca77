// SPDX-License-Identifier: Apache-2.0
/* Unit tests for kubeconfig and in-cluster configuration (kube_config.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube_config.h"
#include "unit.h"

static char dir[] = "/tmp/sluice-kc-test-XXXXXX";

/* base64 of "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n" */
#define PEM_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFBQQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
#define PEM	"-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"

static void file_put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

struct want {
	const char *server, *context, *token, *ca_file, *ca_data, *cert_data, *key_file,
	    *token_file, *tsn;
	int insecure;
};

struct tcase {
	const char *name;
	const char *yaml;
	const char *err; /* substring, NULL : must load */
	struct want want;
};

#define HEAD                                                                                       \
	"apiVersion: v1\nkind: Config\n"                                                           \
	"contexts:\n- name: a\n  context: {cluster: c1, user: u1}\n"                               \
	"- name: b\n  context:\n    cluster: c2\n    user: u2\n    namespace: x\n"

static const struct tcase cases[] = {
    {"token and CA file (relative to the kubeconfig)",
     HEAD
     "current-context: a\nclusters:\n- name: c1\n  cluster:\n    server: https://172.18.0.1:6443\n"
     "    certificate-authority: ca.crt\nusers:\n- name: u1\n  user:\n    token: abc.def\n",
     NULL,
     {.server = "https://172.18.0.1:6443",
      .context = "a",
      .token = "abc.def",
      .ca_file = "@/ca.crt"}},
    {"current-context selects the second context; CA data base64; client cert data; key file",
     HEAD "current-context: b\nclusters:\n- name: c1\n  cluster: {server: 'https://wrong:1'}\n"
	  "- name: c2\n  cluster:\n    server: https://10.0.0.1/\n    "
	  "certificate-authority-data: " PEM_B64
	  "\n    tls-server-name: api.internal\nusers:\n- name: u2\n  user:\n"
	  "    client-certificate-data: " PEM_B64 "\n    client-key: /dev/null\n",
     NULL,
     {.server = "https://10.0.0.1",
      .context = "b",
      .ca_data = PEM,
      .cert_data = PEM,
      .key_file = "/dev/null",
      .tsn = "api.internal"}},
    {"tokenFile wins over token, whitespace trimmed",
     HEAD "current-context: a\nclusters:\n- name: c1\n  cluster: {server: \"https://h:6443\"}\n"
	  "users:\n- name: u1\n  user: {token: old, tokenFile: tok}\n",
     NULL,
     {.server = "https://h:6443", .token = "from-file", .token_file = "@/tok"}},
    {"insecure-skip-tls-verify",
     HEAD "current-context: a\nclusters:\n- name: c1\n  cluster:\n    server: https://h\n"
	  "    insecure-skip-tls-verify: true\nusers:\n- name: u1\n  user: {token: t}\n",
     NULL,
     {.server = "https://h", .token = "t", .insecure = 1}},
    {"JSON kubeconfig",
     "{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\","
     "\"user\":\"u\"}}],"
     "\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://j:443\"}}],"
     "\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"jt\"}}]}",
     NULL,
     {.server = "https://j:443", .token = "jt"}},

    {"missing context", HEAD "current-context: zz\n", "context 'zz' not found"},
    {"no current-context", HEAD, "has no current-context"},
    {"missing cluster", HEAD "current-context: a\nclusters: []\n", "cluster 'c1' not found"},
    {"missing user",
     HEAD
     "current-context: a\nclusters:\n- name: c1\n  cluster: {server: 'https://h'}\nusers: []\n",
     "user 'u1' not found"},
    {"plain http refused",
     HEAD "current-context: a\nclusters:\n- name: c1\n  cluster: {server: 'http://h:8080'}\n",
     "must be an https:// URL"},
    {"no server", HEAD "current-context: a\nclusters:\n- name: c1\n  cluster: {}\n",
     "has no server"},
    {"bad base64",
     HEAD "current-context: a\nclusters:\n- name: c1\n  cluster:\n    server: https://h\n"
	  "    certificate-authority-data: '!!notbase64'\n",
     "not valid base64"},
    {"CA file missing",
     HEAD "current-context: a\nclusters:\n- name: c1\n  cluster:\n    server: https://h\n"
	  "    certificate-authority: /nonexistent/ca.crt\n",
     "cannot read certificate-authority '/nonexistent/ca.crt'"},
    {"exec plugin refused",
     HEAD "current-context: a\nclusters:\n- name: c1\n  cluster: {server: 'https://h'}\n"
	  "users:\n- name: u1\n  user:\n    exec: {command: aws}\n",
     "'exec' is not supported"},
    {"cert without key",
     HEAD "current-context: a\nclusters:\n- name: c1\n  cluster: {server: 'https://h'}\n"
	  "users:\n- name: u1\n  user:\n    client-certificate-data: " PEM_B64 "\n",
     "must be given together"},
    {"insecure not a boolean",
     HEAD "current-context: a\nclusters:\n- name: c1\n  cluster: {server: 'https://h', "
	  "insecure-skip-tls-verify: "
	  "maybe}\n",
     "insecure-skip-tls-verify must be true or false"},
    {"tokenFile missing",
     HEAD "current-context: a\nclusters:\n- name: c1\n  cluster: {server: 'https://h'}\n"
	  "users:\n- name: u1\n  user: {tokenFile: /nonexistent/t}\n",
     "cannot read tokenFile"},
    {"not YAML", "a: [b\n", "malformed kubeconfig"},
    {"a scalar document", "hello\n", "is empty or not a mapping"},
};

static void check_path(const char *got, const char *want)
{
	char buf[512];

	if (!want)
		return;
	if (want[0] == '@') {
		snprintf(buf, sizeof(buf), "%s%s", dir, want + 1);
		want = buf;
	}
	CHECK_STR(got, want);
}

static void check_blob(const struct kube_blob *b, const char *want)
{
	if (!want)
		return;
	CHECK_INT(b->len, strlen(want));
	CHECK(b->data && !memcmp(b->data, want, strlen(want)));
}

static void case_run(const struct tcase *t)
{
	char path[256], err[512] = "";
	struct kube_config kc;
	int r;

	UNIT_CASE(t->name);
	file_put("config", t->yaml);
	snprintf(path, sizeof(path), "%s/config", dir);
	r = kube_config_load(path, &kc, err, sizeof(err));
	if (t->err) {
		CHECK(r < 0);
		if (!strstr(err, t->err)) {
			unit_failed++;
			printf("FAIL [%s]: error \"%s\" lacks \"%s\"\n", t->name, err, t->err);
		} else {
			unit_passed++;
		}
		return;
	}
	CHECK_INT(r, 0);
	if (r < 0) {
		printf("  error was: %s\n", err);
		return;
	}
	CHECK_INT(kc.mode, KUBE_MODE_KUBECONFIG);
	CHECK_STR(kc.server, t->want.server);
	if (t->want.context)
		CHECK_STR(kc.context, t->want.context);
	if (t->want.token)
		CHECK_STR(kc.token, t->want.token);
	check_path(kc.ca_file, t->want.ca_file);
	check_blob(&kc.ca_data, t->want.ca_data);
	check_blob(&kc.cert_data, t->want.cert_data);
	check_path(kc.key_file, t->want.key_file);
	check_path(kc.token_file, t->want.token_file);
	if (t->want.tsn)
		CHECK_STR(kc.tls_server_name, t->want.tsn);
	CHECK_INT(kc.insecure, t->want.insecure);
	kube_config_free(&kc);
}

static void test_in_cluster(void)
{
	char sa[300], err[512], tok[320];
	struct kube_config kc;

	snprintf(sa, sizeof(sa), "%s/sa", dir);
	mkdir(sa, 0755);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	UNIT_CASE("in-cluster: not in a cluster without the env");
	CHECK_INT(kube_config_in_cluster(sa, &kc, err, sizeof(err)), -ENOENT);

	setenv("KUBERNETES_SERVICE_HOST", "172.18.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	UNIT_CASE("in-cluster: no token file");
	CHECK_INT(kube_config_in_cluster(sa, &kc, err, sizeof(err)), -ENOENT);

	file_put("sa/token", "tok-1\n");
	file_put("sa/ca.crt", PEM);
	UNIT_CASE("in-cluster: token, CA, server from the env");
	CHECK_INT(kube_config_in_cluster(sa, &kc, err, sizeof(err)), 0);
	CHECK_INT(kc.mode, KUBE_MODE_IN_CLUSTER);
	CHECK_STR(kc.server, "https://172.18.0.1:6443");
	CHECK_STR(kc.token, "tok-1");
	snprintf(tok, sizeof(tok), "%s/ca.crt", sa);
	CHECK_STR(kc.ca_file, tok);

	UNIT_CASE("token re-read when the file is replaced (symlink swap)");
	file_put("sa/token2", "tok-2");
	snprintf(tok, sizeof(tok), "%s/token", sa);
	unlink(tok);
	snprintf(err, sizeof(err), "%s/token2", sa);
	CHECK_INT(symlink(err, tok), 0);
	CHECK_INT(kube_config_token_refresh(&kc, false), 1);
	CHECK_STR(kc.token, "tok-2");
	CHECK_INT(kube_config_token_refresh(&kc, false), 0);
	UNIT_CASE("forced re-read after a 401 keeps the last good token when the file is empty");
	file_put("sa/token2", "  \n");
	CHECK_INT(kube_config_token_refresh(&kc, true), -EINVAL);
	CHECK_STR(kc.token, "tok-2");
	kube_config_free(&kc);

	UNIT_CASE("in-cluster: IPv6 host gets brackets");
	file_put("sa/token2", "tok-3");
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	CHECK_INT(kube_config_in_cluster(sa, &kc, err, sizeof(err)), 0);
	CHECK_STR(kc.server, "https://[fd00::1]:6443");
	kube_config_free(&kc);
	UNIT_CASE("in-cluster: bad port");
	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	CHECK_INT(kube_config_in_cluster(sa, &kc, err, sizeof(err)), -EINVAL);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_base64(void)
{
	unsigned char *out;
	size_t n;

	UNIT_CASE("base64 with line breaks and padding");
	CHECK_INT(base64_decode("aGVs\nbG8=", 9, &out, &n), 0);
	CHECK_INT(n, 5);
	CHECK(!memcmp(out, "hello", 5));
	free(out);
	UNIT_CASE("base64 rejects data after padding");
	CHECK_INT(base64_decode("aGVsbG8=aa", 10, &out, &n), -EINVAL);
}

int main(void)
{
	char cmd[128];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	file_put("ca.crt", PEM);
	file_put("tok", "\n from-file \n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		case_run(&cases[i]);
	test_in_cluster();
	test_base64();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		printf("warning: cannot remove %s\n", dir);
	return unit_done();
}
