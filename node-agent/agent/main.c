// SPDX-License-Identifier: Apache-2.0
/* sluice-agent: the node agent's entry point, dispatching to subcommands. */
#include <stdio.h>
#include <string.h>

#include "sluice/abi.h"

#include "cmd.h"

static int agent_cmd_version(int argc, char **argv);
static int agent_cmd_help(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cmds[] = {
    {"run", agent_cmd_run, "load and pin the datapath, write the CNI config, keep running"},
    {"status", agent_cmd_status, "show the pinned datapath, readiness and counters"},
    {"policy", agent_cmd_policy,
     "show each local endpoint's NetworkPolicy isolation, rules and drops"},
    {"services", agent_cmd_table, "service ports in sl_svc4 with their Services and backends"},
    {"backends", agent_cmd_table, "backends in sl_be4 with their pods and Services"},
    {"endpoints", agent_cmd_table, "local pods in sl_ep4 with identity and isolation"},
    {"ct", agent_cmd_table, "conntrack entries of sl_ct4 (filters: --src --dst --port ...)"},
    {"routes", agent_cmd_table, "the routes to other nodes' pod CIDRs sluice installed"},
    {"monitor", agent_cmd_monitor, "stream datapath events: drops, new flows, verdicts"},
    {"explain", agent_cmd_explain, "walk the datapath's decisions for SRC -> DST:PORT/PROTO"},
    {"install-cni", agent_cmd_install_cni,
     "copy the plugin, its IPAM and loopback into the CNI bin dir"},
    {"version", agent_cmd_version, "print the version"},
    {"help", agent_cmd_help, "show this help"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sluice-agent <command> [flags]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'sluice-agent <command> --help' shows a command's flags.\n");
}

static int agent_cmd_version(int argc, char **argv)
{
	printf("sluice-agent %s (datapath ABI %d)\n", SLUICE_VERSION, SL_ABI_VERSION);
	return 0;
}

static int agent_cmd_help(int argc, char **argv)
{
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	if (!name) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		return agent_cmd_help(argc - 1, argv + 1);
	if (!strcmp(name, "--version"))
		return agent_cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(name, cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "sluice-agent: unknown command '%s'\n", name);
	usage(stderr);
	return EXIT_USAGE;
}
