// SPDX-License-Identifier: Apache-2.0
/* Drives the reflectors over kube_http: requests, watch line framing, list pages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube_sync.h"

unsigned long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

static int buf_append(struct kube_sync_slot *s, const char *data, size_t len, size_t max)
{
	if (s->len + len + 1 > max)
		return -EFBIG;
	if (s->len + len + 1 > s->cap) {
		size_t ncap = s->cap ? s->cap : 64 * 1024;
		char *nbuf;

		while (ncap < s->len + len + 1)
			ncap *= 2;
		nbuf = realloc(s->buf, ncap);
		if (!nbuf)
			return -ENOMEM;
		s->buf = nbuf;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return 0;
}

/* Between requests a slot keeps at most a modest buffer. */
static void buf_reset(struct kube_sync_slot *s)
{
	s->len = 0;
	if (s->cap > (1u << 20)) {
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
}

static void slot_status(void *ctx, long status, long retry_after)
{
	struct kube_sync_slot *s = ctx;

	kube_reflector_on_status(&s->ref, status, retry_after);
	s->stream = s->ref.phase == KUBE_PHASE_WATCH && status == 200;
}

static int slot_body(void *ctx, const char *data, size_t len)
{
	struct kube_sync_slot *s = ctx;
	size_t start = s->len, from = 0;

	if (!s->stream) {
		if (s->ref.status != 200 && s->len >= 64 * 1024)
			return 0; /* an error body: its start says enough */
		s->too_large = buf_append(s, data, len, KUBE_LIST_BODY_MAX) < 0;
		return s->too_large ? -1 : 0;
	}
	s->too_large = buf_append(s, data, len, KUBE_LINE_MAX) < 0;
	if (s->too_large)
		return -1;
	/* Frame on '\n': each watch event is one JSON document and a newline. */
	for (size_t i = start; i < s->len; i++) {
		if (s->buf[i] != '\n')
			continue;
		if (kube_reflector_on_watch_line(&s->ref, s->buf + from, i - from))
			return -1;
		from = i + 1;
	}
	memmove(s->buf, s->buf + from, s->len - from);
	s->len -= from;
	return 0;
}

static void slot_done(void *ctx, int err, const char *msg)
{
	struct kube_sync_slot *s = ctx;

	s->req = NULL;
	if (s->too_large)
		msg = "response too large or out of memory";
	kube_reflector_on_end(&s->ref, mono_ms(), err, msg, s->stream ? NULL : s->buf,
			      s->stream ? 0 : s->len);
	s->stream = false;
	s->too_large = false;
	buf_reset(s);
}

static const struct kube_http_ops slot_ops = {slot_status, slot_body, slot_done};

int kube_sync_init(struct kube_sync *ks, struct kube_config *kc, const char *node, kube_store_fn cb,
		   void *cb_ctx, kube_note_fn note, void *note_ctx, char *err, size_t err_len)
{
	unsigned int seed = (unsigned int)mono_ms() ^ (unsigned int)getpid();
	int r;

	memset(ks, 0, sizeof(*ks));
	ks->kc = kc;
	ks->note = note;
	ks->note_ctx = note_ctx;
	r = kube_http_new(kc, &ks->http, err, err_len);
	if (r < 0)
		return r;
	for (int k = 0; k < KUBE_KIND_MAX; k++) {
		ks->slots[k].ks = ks;
		kube_reflector_init(&ks->slots[k].ref, &kube_resources[k], node,
				    seed * 2654435761u + (unsigned)k + 1, cb, cb_ctx, note,
				    note_ctx);
	}
	return 0;
}

void kube_sync_fini(struct kube_sync *ks)
{
	kube_http_free(ks->http); /* drops running requests without callbacks */
	ks->http = NULL;
	for (int k = 0; k < KUBE_KIND_MAX; k++) {
		kube_reflector_fini(&ks->slots[k].ref);
		free(ks->slots[k].buf);
		ks->slots[k].buf = NULL;
	}
}

static void token_refresh(struct kube_sync *ks, bool force)
{
	int r = kube_config_token_refresh(ks->kc, force);
	char msg[KUBE_PATH_MAX + 64];

	if (!ks->note || !r)
		return;
	if (r > 0)
		snprintf(msg, sizeof(msg), "Re-read the bearer token from %s", ks->kc->token_file);
	else
		snprintf(msg, sizeof(msg),
			 "Failed to re-read the bearer token '%s': %s (keeping the last one)",
			 ks->kc->token_file, strerror(-r));
	ks->note(ks->note_ctx, NULL, r > 0 ? LOG_LVL_INFO : LOG_LVL_WARN, msg);
}

static void requests_start(struct kube_sync *ks, unsigned long long now)
{
	bool refreshed = false;

	for (int k = 0; k < KUBE_KIND_MAX; k++) {
		struct kube_sync_slot *s = &ks->slots[k];
		char path[4096];
		int timeout_s, r;

		if (kube_reflector_due(&s->ref) > now)
			continue;
		if (!refreshed) {
			bool force = false;

			for (int j = 0; j < KUBE_KIND_MAX; j++) {
				force |= ks->slots[j].ref.auth_failed;
				ks->slots[j].ref.auth_failed = false;
			}
			token_refresh(ks, force);
			refreshed = true;
		}
		r = kube_reflector_request(&s->ref, now, path, sizeof(path), &timeout_s);
		if (r <= 0) {
			if (r < 0) { /* a continue token too long for a URL: start over */
				free(s->ref.cont);
				s->ref.cont = NULL;
				kube_reflector_on_end(&s->ref, now, r, "request URL too long", NULL,
						      0);
			}
			continue;
		}
		s->len = 0;
		s->stream = false;
		r = kube_http_get(ks->http, path, timeout_s, &slot_ops, s, &s->req);
		if (r < 0)
			kube_reflector_on_end(&s->ref, now, r, "cannot start the request", NULL, 0);
	}
}

int kube_sync_step(struct kube_sync *ks, int extra_fd, int max_wait_ms, bool *extra_ready)
{
	unsigned long long now = mono_ms(), due = ~0ULL;
	int wait_ms = max_wait_ms;

	requests_start(ks, now);
	for (int k = 0; k < KUBE_KIND_MAX; k++) {
		unsigned long long d = kube_reflector_due(&ks->slots[k].ref);

		if (d < due)
			due = d;
	}
	now = mono_ms();
	if (due != ~0ULL)
		wait_ms = due <= now
			      ? 0
			      : (due - now < (unsigned long long)max_wait_ms ? (int)(due - now)
									     : max_wait_ms);
	return kube_http_poll(ks->http, extra_fd, wait_ms, extra_ready);
}

bool kube_sync_synced(const struct kube_sync *ks)
{
	for (int k = 0; k < KUBE_KIND_MAX; k++)
		if (!ks->slots[k].ref.synced)
			return false;
	return true;
}
