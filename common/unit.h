/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal table-driven test harness shared by the unit and BPF tests. Each
 * check prints what was expected and what came; main ends with unit_done(). */
#ifndef SLUICE_UNIT_H
#define SLUICE_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;
static const char *unit_case = "";

#define UNIT_CASE(name) (unit_case = (name))

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			unit_passed++;                                                             \
		} else {                                                                           \
			unit_failed++;                                                             \
			printf("FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, unit_case, #cond);     \
		}                                                                                  \
	} while (0)

#define CHECK_INT(got, want)                                                                       \
	do {                                                                                       \
		long long _g = (long long)(got), _w = (long long)(want);                           \
		if (_g == _w) {                                                                    \
			unit_passed++;                                                             \
		} else {                                                                           \
			unit_failed++;                                                             \
			printf("FAIL %s:%d [%s]: %s: expected %lld, got %lld\n", __FILE__,         \
			       __LINE__, unit_case, #got, _w, _g);                                 \
		}                                                                                  \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *_g = (got), *_w = (want);                                              \
		if (_g && _w && !strcmp(_g, _w)) {                                                 \
			unit_passed++;                                                             \
		} else {                                                                           \
			unit_failed++;                                                             \
			printf("FAIL %s:%d [%s]: %s: expected \"%s\", got \"%s\"\n", __FILE__,     \
			       __LINE__, unit_case, #got, _w ? _w : "(null)", _g ? _g : "(null)"); \
		}                                                                                  \
	} while (0)

static inline int unit_done(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
