/* SPDX-License-Identifier: Apache-2.0 */
/* The agent loop's pin step: pins removed under the running agent are pinned again. */
#ifndef SLUICE_AGENT_PIN_STEP_H
#define SLUICE_AGENT_PIN_STEP_H

#include <stdbool.h>

#include "dp.h"

struct pin_stats {
	unsigned long held;	/* objects the agent keeps pinned */
	unsigned long restored; /* pins made again since the start */
	unsigned long foreign;	/* pins found holding another object */
	unsigned long checks;
};

struct pin_step {
	const char *pin_dir;
	struct dp_pin_guard *guard; /* NULL when it could not be set up */
	struct pin_stats st;
	unsigned long long next_ms;
	int last_err; /* logged once until it changes */
};

/* Holds every object pinned under pin_dir now (after the datapath's load). */
void pin_step_start(struct pin_step *s, const char *pin_dir);
/* Every PIN_CHECK_MS, pins again what was removed; true when it did. */
bool pin_step_update(struct pin_step *s, unsigned long long now);
void pin_step_stop(struct pin_step *s);

#endif
