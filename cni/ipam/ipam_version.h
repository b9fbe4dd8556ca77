/* SPDX-License-Identifier: Apache-2.0 */
/* Which spec version to speak to the IPAM plugin: its VERSION answer, cached per binary. */
#ifndef SLUICE_CNI_IPAM_VERSION_H
#define SLUICE_CNI_IPAM_VERSION_H

#include <stddef.h>

#include "cni.h"

/* The highest version that the IPAM plugin type (found in cni_path) lists in
 * its VERSION answer, that we speak, and that is not above want. The answer
 * is kept in <state_dir>/ipam-versions/, keyed by the binary's path and
 * mtime, so only the first call after an install or upgrade runs VERSION.
 * A plugin whose VERSION fails, and the in-process IPAM, get want. No common version is code 1
 * naming both sides. */
int ipam_version_pick(const char *type, const char *cni_path, const char *state_dir,
		      const char *want, char *out, size_t size, struct cni_err *e);

#endif
