/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's event loop with an API: sync, pod CIDR, conflist, routes, status. */
#ifndef SLUICE_AGENT_LOOP_H
#define SLUICE_AGENT_LOOP_H

#include "config.h"
#include "kube_config.h"

/* Loads the API configuration c asks for (kubeconfig or in-cluster) into kc;
 * logs and returns -errno when it cannot. */
int agent_loop_config(const struct config *c, struct kube_config *kc);

/* Runs until SIGTERM/SIGINT arrives on sfd; returns the signal number, or
 * -errno on a fatal error. Writes the conflist once every resource is listed
 * and the own Node has a pod CIDR; keeps routes to the other nodes' pod CIDRs
 * and <cni-state-dir>/agent-status.json up to date. */
int agent_loop_run(struct config *c, struct kube_config *kc, int sfd);

/* agent-status.json for an agent without an API. */
int agent_loop_publish_standalone(const struct config *c);

#endif
