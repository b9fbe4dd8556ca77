/* SPDX-License-Identifier: Apache-2.0 */
/* The in-process IPAM ("ipam": {"type": "sluice"}): a delegated plugin without the process. */
#ifndef SLUICE_CNI_IPAM_SLUICE_H
#define SLUICE_CNI_IPAM_SLUICE_H

#include <stdbool.h>

#include "cni.h"
#include "ipam.h"

#define IPAM_SLUICE_TYPE "sluice"

bool ipam_sluice_is(const char *type);
/* Answers c exactly as a delegated IPAM plugin would (same stdin, same CNI_*
 * environment with c's overrides): *out is what it would print on success
 * (the abbreviated result for ADD, "" for DEL, CHECK, STATUS and GC), else e
 * is set and a negative errno returned. */
int ipam_sluice_exec(const struct ipam_call *c, char **out, struct cni_err *e);

#endif
