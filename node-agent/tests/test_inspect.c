// SPDX-License-Identifier: Apache-2.0
/* Unit tests of what the inspection commands share: agent-names.json read
 * back (names.c) and the filters of the shared flag parser (cmd_flags.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/abi.h"

#include "cmd.h"
#include "names.h"
#include "unit.h"

/* Trimmed from a file the agent wrote in e2e/inspect.bats. */
static const char names_json[] =
    "{\"version\": 1, \"servicePorts\": ["
    "{\"id\": 2, \"namespace\": \"default\", \"name\": \"web\", \"port\": \"http\"},"
    "{\"id\": 1, \"namespace\": \"default\", \"name\": \"kubernetes\", \"port\": \"https\"},"
    "{\"id\": 5, \"namespace\": \"kube-system\", \"name\": \"dns\"}],"
    "\"pods\": [{\"ip\": \"10.244.1.3\", \"namespace\": \"default\", \"name\": \"a1\", "
    "\"node\": \"n1\"}, {\"ip\": \"10.244.2.2\", \"namespace\": \"default\", \"name\": \"b1\"}],"
    "\"nodes\": [{\"name\": \"n1\", \"podCIDR\": \"10.244.1.0/24\", \"ip\": \"172.18.0.2\"},"
    "{\"name\": \"n2\", \"podCIDR\": \"10.244.2.0/24\", \"ip\": \"172.18.0.3\"}]}";

static __be32 ip4(const char *s)
{
	struct in_addr a = {};

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static int file_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

static void test_names(void)
{
	char path[] = "/tmp/sl-names-XXXXXX";
	struct names *n = NULL;
	__be32 ip = 0;
	int fd = mkstemp(path);

	UNIT_CASE("names: service ports, pods and nodes by id and address");
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(file_write(path, names_json), 0);
	CHECK_INT(names_load(path, &n), 0);
	CHECK_STR(names_svc(n, 2), "default/web:http");
	CHECK_STR(names_svc(n, 5), "kube-system/dns");
	CHECK(names_svc(n, 3) == NULL);
	CHECK_STR(names_pod(n, ip4("10.244.2.2")), "default/b1");
	CHECK(names_pod(n, ip4("10.244.2.9")) == NULL);
	CHECK_STR(names_node(n, ip4("172.18.0.3")), "n2");
	CHECK_STR(names_node(n, ip4("10.244.1.77")), "n1");
	CHECK_INT(names_pod_ip(n, "default/a1", &ip), 0);
	CHECK_INT(ip, ip4("10.244.1.3"));
	CHECK_INT(names_pod_ip(n, "default/zz", &ip), -ENOENT);
	names_free(n);

	UNIT_CASE("names: another version or no file is an error, not a guess");
	CHECK_INT(file_write(path, "{\"version\": 2, \"servicePorts\": []}"), 0);
	CHECK_INT(names_load(path, &n), -EINVAL);
	CHECK_INT(file_write(path, "not json"), 0);
	CHECK_INT(names_load(path, &n), -EINVAL);
	unlink(path);
	CHECK_INT(names_load(path, &n), -ENOENT);
	CHECK(names_svc(NULL, 2) == NULL);
}

static void usage_none(FILE *f)
{
}

/* Parses argv (NULL-terminated, argv[0] the command) into f. */
static int parse(struct status_flags *f, unsigned int accept, int max_args, const char **args)
{
	char *argv[16];
	int argc = 0;

	while (args[argc] && argc < 15) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	memset(f, 0, sizeof(*f));
	f->accept = accept;
	f->max_args = max_args;
	return status_flags_parse("t", usage_none, argc, argv, f);
}

static void test_flags(void)
{
	unsigned int all = CLI_F_SRC | CLI_F_DST | CLI_F_PORT | CLI_F_PROTO | CLI_F_TYPE |
			   CLI_F_POD | CLI_F_SERVICE;
	struct status_flags f;

	UNIT_CASE("flags: the filters a command takes are parsed and checked");
	CHECK_INT(parse(&f, all, 0,
			(const char *[]){"ct", "--src", "10.244.1.2", "--port=80", "--proto", "UDP",
					 "--json", NULL}),
		  -1);
	CHECK_INT(f.set, CLI_F_SRC | CLI_F_PORT | CLI_F_PROTO);
	CHECK_INT(f.src, ip4("10.244.1.2"));
	CHECK_INT(f.port, 80);
	CHECK_INT(f.proto, IPPROTO_UDP);
	CHECK(f.json);
	CHECK_INT(parse(&f, all, 0, (const char *[]){"m", "--type", "drop,flow", NULL}), -1);
	CHECK_INT(f.types, SL_EV_F(SL_EV_DROP) | SL_EV_F(SL_EV_FLOW));

	UNIT_CASE("flags: bad values and filters a command does not take are usage errors");
	CHECK_INT(parse(&f, all, 0, (const char *[]){"ct", "--port", "0", NULL}), EXIT_USAGE);
	CHECK_INT(parse(&f, all, 0, (const char *[]){"ct", "--port", "70000", NULL}), EXIT_USAGE);
	CHECK_INT(parse(&f, all, 0, (const char *[]){"ct", "--src", "10.1.2", NULL}), EXIT_USAGE);
	CHECK_INT(parse(&f, all, 0, (const char *[]){"ct", "--proto", "icmp", NULL}), EXIT_USAGE);
	CHECK_INT(parse(&f, all, 0, (const char *[]){"m", "--type", "drop,trace", NULL}),
		  EXIT_USAGE);
	CHECK_INT(parse(&f, all, 0, (const char *[]){"m", "--pod", "nons", NULL}), EXIT_USAGE);
	CHECK_INT(parse(&f, 0, 0, (const char *[]){"services", "--src", "10.0.0.1", NULL}),
		  EXIT_USAGE);

	UNIT_CASE("flags: positional arguments up to what the command takes");
	CHECK_INT(parse(&f, 0, 2, (const char *[]){"explain", "1.2.3.4", "5.6.7.8:80", NULL}), -1);
	CHECK_INT(f.n_args, 2);
	CHECK_STR(f.args[1], "5.6.7.8:80");
	CHECK_INT(parse(&f, 0, 0, (const char *[]){"services", "extra", NULL}), EXIT_USAGE);
}

int main(void)
{
	test_names();
	test_flags();
	return unit_done();
}
