/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's subcommands; each returns the process exit code. */
#ifndef SLUICE_AGENT_CMD_H
#define SLUICE_AGENT_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include <linux/types.h>

#include "version.h"

#define EXIT_USAGE 2 /* bad flags or configuration */

/* argv[0] is the subcommand's name. */
int agent_cmd_run(int argc, char **argv);
int agent_cmd_status(int argc, char **argv);
int agent_cmd_install_cni(int argc, char **argv);
int agent_cmd_policy(int argc, char **argv);
/* services, backends, endpoints, ct, routes: argv[0] says which. */
int agent_cmd_table(int argc, char **argv);
int agent_cmd_monitor(int argc, char **argv);
int agent_cmd_explain(int argc, char **argv);

/* Flags the inspection commands share: --pin-dir, --cni-state-dir,
 * --state-file, --json, and the filters a command accepts (CLI_F_* in
 * accept; a filter it does not accept is an unknown flag). */
#define CLI_F_SRC     0x01 /* --src IP */
#define CLI_F_DST     0x02 /* --dst IP */
#define CLI_F_IP      0x04 /* --ip IP: source or destination */
#define CLI_F_PORT    0x08 /* --port N: source or destination port */
#define CLI_F_PROTO   0x10 /* --proto tcp|udp|sctp */
#define CLI_F_POD     0x20 /* --pod NS/NAME */
#define CLI_F_SERVICE 0x40 /* --service NS/NAME */
#define CLI_F_TYPE    0x80 /* --type drop,flow,policy */

struct status_flags {
	const char *pin_dir, *state_dir, *state_file;
	bool json;
	unsigned int accept; /* CLI_F_* the command takes */
	unsigned int set;    /* CLI_F_* given */
	__be32 src, dst, ip;
	__u16 port; /* host order */
	__u8 proto;
	const char *pod, *service;
	__u32 types;  /* SL_EV_F(SL_EV_*) bits of --type */
	int max_args; /* positional arguments the command takes */
	int n_args;
	char **args;
};

/* -1 to go on, else the exit code (--help, bad flags); cmd names the
 * subcommand in messages, usage prints its usage line. */
int status_flags_parse(const char *cmd, void (*usage)(FILE *f), int argc, char **argv,
		       struct status_flags *f);
/* <state dir>/file unless --state-file named one; into buf of len bytes. */
const char *status_flags_file(const struct status_flags *f, const char *file, char *buf,
			      size_t len);

#endif
