/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's subcommands; each returns the process exit code. */
#ifndef SLUICE_AGENT_CMD_H
#define SLUICE_AGENT_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include "version.h"

#define EXIT_USAGE 2 /* bad flags or configuration */

/* argv[0] is the subcommand's name. */
int agent_cmd_run(int argc, char **argv);
int agent_cmd_status(int argc, char **argv);
int agent_cmd_install_cni(int argc, char **argv);
int agent_cmd_policy(int argc, char **argv);

/* Flags `status` and `policy` share: --pin-dir, --cni-state-dir,
 * --state-file, --json. */
struct status_flags {
	const char *pin_dir, *state_dir, *state_file;
	bool json;
};

/* -1 to go on, else the exit code (--help, bad flags); cmd names the
 * subcommand in messages, usage prints its usage line. */
int status_flags_parse(const char *cmd, void (*usage)(FILE *f), int argc, char **argv,
		       struct status_flags *f);

#endif
