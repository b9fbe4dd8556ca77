/* SPDX-License-Identifier: Apache-2.0 */
/* The pod CIDR sluice-agent published for this node, and whether an address is in it. */
#ifndef SLUICE_CNI_PODCIDR_H
#define SLUICE_CNI_PODCIDR_H

#include <stdbool.h>
#include <netinet/in.h>

/* The agent's status file in the CNI state dir (node-agent STATUS_AGENT_FILE). */
#define PODCIDR_AGENT_FILE "agent-status.json"

struct podcidr {
	struct in_addr net;
	int prefix;
	char text[64];
};

/* Reads podCIDR from <state_dir>/agent-status.json: -ENOENT when the agent
 * has written none (no file, or no podCIDR yet), -EBADMSG when it is not a
 * readable IPv4 CIDR. */
int podcidr_read(const char *state_dir, struct podcidr *pc);
bool podcidr_contains(const struct podcidr *pc, struct in_addr addr);

#endif
