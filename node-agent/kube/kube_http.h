/* SPDX-License-Identifier: Apache-2.0 */
/* HTTPS GETs to the Kubernetes API on one curl multi handle, driven by one poll loop. */
#ifndef SLUICE_AGENT_KUBE_HTTP_H
#define SLUICE_AGENT_KUBE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "kube_config.h"

struct kube_http;
struct kube_http_req;

struct kube_http_ops {
	/* Once per request, before any body: HTTP status, Retry-After seconds (0 : none). */
	void (*on_status)(void *ctx, long status, long retry_after);
	/* Body bytes as they arrive; a negative return aborts the request. */
	int (*on_body)(void *ctx, const char *data, size_t len);
	/* The request is over: err 0 or -errno (-ECANCELED when on_body aborted
	 * it) with a message. The request is freed after this returns. */
	void (*on_done)(void *ctx, int err, const char *msg);
};

/* kc must outlive the client (its token is read at each request). */
int kube_http_new(const struct kube_config *kc, struct kube_http **out, char *err, size_t err_len);
void kube_http_free(struct kube_http *h);

/* Starts GET <server><path>. timeout_s bounds the whole transfer. */
int kube_http_get(struct kube_http *h, const char *path, int timeout_s,
		  const struct kube_http_ops *ops, void *ctx, struct kube_http_req **out);

/* Stops a request without calling on_done. */
void kube_http_cancel(struct kube_http *h, struct kube_http_req *req);

/* Waits up to timeout_ms for network activity or for extra_fd to become
 * readable, then moves every transfer forward and reports finished ones.
 * *extra_ready tells whether extra_fd is readable. */
int kube_http_poll(struct kube_http *h, int extra_fd, int timeout_ms, bool *extra_ready);

#endif
