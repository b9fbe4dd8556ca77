/* SPDX-License-Identifier: Apache-2.0 */
/* A test hook: SIGKILL between the steps of ADD (e2e/faults.bats). */
#ifndef SLUICE_CNI_TEST_KILL_H
#define SLUICE_CNI_TEST_KILL_H

/* Kills the process with SIGKILL when SLUICE_TEST_KILL_AT names step; a
 * runtime never sets it, so in production this is one getenv. */
void test_kill_at(const char *step);

#endif
