// SPDX-License-Identifier: Apache-2.0
/* A test hook: SLUICE_TEST_KILL_AT=<step> ends ADD with SIGKILL after that
 * step, as an OOM kill or a node crash would, for the fault suite. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "test_kill.h"

void test_kill_at(const char *step)
{
	const char *want = getenv("SLUICE_TEST_KILL_AT");

	if (want && !strcmp(want, step))
		raise(SIGKILL);
}
