/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's subcommands; each returns the process exit code. */
#ifndef SLUICE_AGENT_CMD_H
#define SLUICE_AGENT_CMD_H

#include "version.h"

#define EXIT_USAGE 2 /* bad flags or configuration */

/* argv[0] is the subcommand's name. */
int agent_cmd_run(int argc, char **argv);
int agent_cmd_status(int argc, char **argv);
int agent_cmd_install_cni(int argc, char **argv);

#endif
