// SPDX-License-Identifier: Apache-2.0
/* The agent loop's pin step: notices pins removed under it and pins its objects again. */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "pin_step.h"

#define PIN_CHECK_MS 2000

void pin_step_start(struct pin_step *s, const char *pin_dir)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->pin_dir = pin_dir;
	r = dp_pin_guard_new(pin_dir, &s->guard);
	if (r < 0) {
		log_error_errno(r,
				"Failed to hold the objects pinned under '%s'; pins removed while "
				"the agent runs are not restored",
				pin_dir);
		return;
	}
	s->st.held = dp_pin_guard_held(s->guard);
}

bool pin_step_update(struct pin_step *s, unsigned long long now)
{
	struct dp_pin_guard_result res;
	int r;

	if (!s->guard || now < s->next_ms)
		return false;
	s->next_ms = now + PIN_CHECK_MS;
	s->st.checks++;
	r = dp_pin_guard_check(s->guard, &res);
	if (r < 0 && r != s->last_err)
		log_error_errno(r, "Failed to check the pins under '%s'", s->pin_dir);
	s->last_err = r;
	if (res.foreign)
		log_warn("%u pins under '%s' (first '%s') now hold objects this agent did not "
			 "load; leaving them",
			 res.foreign, s->pin_dir, res.first_foreign);
	s->st.foreign += res.foreign;
	if (!res.restored)
		return res.foreign > 0;
	s->st.restored += res.restored;
	log_warn("Pinned %u of %lu objects again under '%s'%s (first '%s'): they were removed "
		 "while the agent ran",
		 res.restored, s->st.held, s->pin_dir, res.dir_made ? ", made again," : "",
		 res.first);
	return true;
}

void pin_step_stop(struct pin_step *s)
{
	dp_pin_guard_free(s->guard);
	s->guard = NULL;
}
