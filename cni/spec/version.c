// SPDX-License-Identifier: Apache-2.0
/* The CNI spec versions the plugin speaks, and how to compare them. */
#include <stdio.h>
#include <string.h>

#include "version.h"

const char *const cni_supported_versions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL};

bool cni_version_supported(const char *version)
{
	for (const char *const *v = cni_supported_versions; *v; v++)
		if (!strcmp(*v, version))
			return true;
	return false;
}

int cni_version_cmp(const char *a, const char *b)
{
	unsigned int va[3] = {}, vb[3] = {};

	sscanf(a, "%u.%u.%u", &va[0], &va[1], &va[2]);
	sscanf(b, "%u.%u.%u", &vb[0], &vb[1], &vb[2]);
	for (int i = 0; i < 3; i++)
		if (va[i] != vb[i])
			return va[i] < vb[i] ? -1 : 1;
	return 0;
}
