/* SPDX-License-Identifier: Apache-2.0 */
/* Runs the six reflectors over one HTTP client: requests, body framing, token refresh. */
#ifndef SLUICE_AGENT_KUBE_SYNC_H
#define SLUICE_AGENT_KUBE_SYNC_H

#include <stdbool.h>

#include "kube_config.h"
#include "kube_http.h"
#include "kube_reflector.h"

#define KUBE_LIST_BODY_MAX (256u << 20) /* one list page */
#define KUBE_LINE_MAX	   (32u << 20)	/* one watch event */

struct kube_sync;

struct kube_sync_slot {
	struct kube_sync *ks;
	struct kube_reflector ref;
	struct kube_http_req *req;
	bool too_large; /* the body or a line outgrew its buffer */
	bool stream;	/* the running request is a 200 watch: body split into lines */
	char *buf;	/* list page, error body or partial watch line */
	size_t len, cap;
};

struct kube_sync {
	struct kube_config *kc;
	struct kube_http *http;
	struct kube_sync_slot slots[KUBE_KIND_MAX];
	kube_note_fn note;
	void *note_ctx;
};

unsigned long long mono_ms(void);

/* Sets up every reflector (nothing is sent yet). cb sees every store change. */
int kube_sync_init(struct kube_sync *ks, struct kube_config *kc, const char *node, kube_store_fn cb,
		   void *cb_ctx, kube_note_fn note, void *note_ctx, char *err, size_t err_len);
void kube_sync_fini(struct kube_sync *ks);

/* Starts due requests, waits at most max_wait_ms for the network, extra_fd or
 * the next due request, and handles what arrived. */
int kube_sync_step(struct kube_sync *ks, int extra_fd, int max_wait_ms, bool *extra_ready);

/* Every reflector has completed its first list. */
bool kube_sync_synced(const struct kube_sync *ks);

static inline const struct kube_store *kube_sync_store(const struct kube_sync *ks, enum kube_kind k)
{
	return &ks->slots[k].ref.store;
}

#endif
