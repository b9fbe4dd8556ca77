/* SPDX-License-Identifier: Apache-2.0 */
/* The CNI spec versions the plugin speaks, and how to compare them. */
#ifndef SLUICE_CNI_VERSION_H
#define SLUICE_CNI_VERSION_H

#include <stdbool.h>

extern const char *const cni_supported_versions[];

bool cni_version_supported(const char *version);
/* <0, 0, >0 like strcmp, for "X.Y.Z" versions. */
int cni_version_cmp(const char *a, const char *b);

#endif
