// SPDX-License-Identifier: Apache-2.0
/* The health check node port servers: one listener per wanted Service on http_srv, opened and
 * released as the Services come and go, answering as kube-proxy's service_health.go. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "hcnp.h"
#include "http_srv.h"
#include "kube_objects.h"

/* One Service's server. Allocated on its own: connections point at it. */
struct inst {
	char ns[KUBE_NS_MAX], name[KUBE_NAME_MAX];
	__u16 port;
	int lis; /* http_srv listener; -1 while the bind waits for a retry */
	__u32 local_eps;
	unsigned long long retry_ms;
};

struct hcnp {
	struct http_srv *srv;
	__be32 bind_ip;
	svc_note_fn note;
	void *note_ctx;
	bool healthy;
	struct inst **insts;
	size_t n, cap;
};

size_t hcnp_respond(const char *ns, const char *name, __u32 local_eps, bool healthy,
		    const char *req, size_t len, char *out, size_t out_len)
{
	char path[HTTP_REQ_MAX], body[KUBE_NS_MAX + KUBE_NAME_MAX + 160], weight[64];
	bool head = false;
	int r = http_req_parse(req, len, &head, path, sizeof(path));

	if (r == -EAGAIN)
		return 0;
	if (r < 0 && r != -EOPNOTSUPP) /* Go's handler takes every method and path */
		return http_reply_error(out, out_len, r);
	/* Go's dedented template, tabs and all, without the trailing newline */
	snprintf(body, sizeof(body),
		 "{\n\t\"service\": {\n\t\t\"namespace\": \"%s\",\n\t\t\"name\": \"%s\"\n\t},\n"
		 "\t\"localEndpoints\": %u,\n\t\"serviceProxyHealthy\": %s\n}",
		 ns, name, local_eps, healthy ? "true" : "false");
	snprintf(weight, sizeof(weight), "X-Load-Balancing-Endpoint-Weight: %u\r\n", local_eps);
	return http_reply(out, out_len, local_eps && healthy ? 200 : 503, "application/json",
			  weight, body, head);
}

static size_t hcnp_answer(void *ctx, void *lis_ctx, const char *req, size_t len, char *out,
			  size_t out_len)
{
	const struct hcnp *h = ctx;
	const struct inst *in = lis_ctx;

	return hcnp_respond(in->ns, in->name, in->local_eps, h->healthy, req, len, out, out_len);
}

__attribute__((format(printf, 3, 4))) static void note(struct hcnp *h, enum log_level level,
						       const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->note(h->note_ctx, level, msg);
}

int hcnp_new(__be32 bind_ip, svc_note_fn note_fn, void *note_ctx, struct hcnp **out)
{
	struct hcnp *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	h->bind_ip = bind_ip;
	h->note = note_fn;
	h->note_ctx = note_ctx;
	r = http_srv_new(hcnp_answer, h, &h->srv);
	if (r < 0) {
		free(h);
		return r;
	}
	*out = h;
	return 0;
}

void hcnp_free(struct hcnp *h)
{
	if (!h)
		return;
	http_srv_free(h->srv); /* closes every listener */
	for (size_t i = 0; i < h->n; i++)
		free(h->insts[i]);
	free(h->insts);
	free(h);
}

int hcnp_fd(const struct hcnp *h)
{
	return http_srv_fd(h->srv);
}

size_t hcnp_count(const struct hcnp *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++)
		n += h->insts[i]->lis >= 0;
	return n;
}

static int inst_listen(struct hcnp *h, struct inst *in, unsigned long long now)
{
	int r = http_srv_listen(h->srv, h->bind_ip, htons(in->port), in);

	if (r < 0) {
		in->retry_ms = now + HCNP_RETRY_MS;
		note(h, LOG_LVL_ERROR,
		     "Failed to listen on health check node port %u of Service '%s/%s': %s; "
		     "retrying",
		     in->port, in->ns, in->name, strerror(-r));
		return r;
	}
	in->lis = r;
	note(h, LOG_LVL_INFO, "Serving the health check of Service '%s/%s' on port %u", in->ns,
	     in->name, in->port);
	return 0;
}

static const struct hcnp_want *want_find(const struct hcnp_want *w, size_t n, const char *ns,
					 const char *name)
{
	for (size_t i = 0; i < n; i++) /* sorted, but n is small and this runs per change */
		if (!strcmp(w[i].ns, ns) && !strcmp(w[i].name, name))
			return &w[i];
	return NULL;
}

/* Closes the servers no longer wanted (or wanted on another port). */
static void insts_prune(struct hcnp *h, const struct hcnp_want *wants, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < h->n; i++) {
		struct inst *in = h->insts[i];
		const struct hcnp_want *w = want_find(wants, n, in->ns, in->name);

		if (w && w->port == in->port) {
			h->insts[k++] = in;
			continue;
		}
		if (in->lis >= 0)
			note(h, LOG_LVL_INFO,
			     "Released health check node port %u of Service '%s/%s'", in->port,
			     in->ns, in->name);
		http_srv_unlisten(h->srv, in->lis);
		free(in);
	}
	h->n = k;
}

int hcnp_sync(struct hcnp *h, const struct hcnp_want *wants, size_t n, unsigned long long now)
{
	int ret = 0, r;

	insts_prune(h, wants, n);
	for (size_t i = 0; i < n; i++) {
		struct inst *in = NULL;

		for (size_t j = 0; j < h->n && !in; j++)
			if (!strcmp(h->insts[j]->ns, wants[i].ns) &&
			    !strcmp(h->insts[j]->name, wants[i].name))
				in = h->insts[j];
		if (!in) {
			if (h->n == h->cap) {
				size_t cap = h->cap ? h->cap * 2 : 8;
				struct inst **v = realloc(h->insts, cap * sizeof(*v));

				if (!v)
					return -ENOMEM;
				h->insts = v;
				h->cap = cap;
			}
			if (!(in = calloc(1, sizeof(*in))))
				return -ENOMEM;
			snprintf(in->ns, sizeof(in->ns), "%s", wants[i].ns);
			snprintf(in->name, sizeof(in->name), "%s", wants[i].name);
			in->port = wants[i].port;
			in->lis = -1;
			h->insts[h->n++] = in;
		}
		in->local_eps = wants[i].local_eps;
		if (in->lis < 0 && now >= in->retry_ms && (r = inst_listen(h, in, now)) < 0 && !ret)
			ret = r;
	}
	return ret;
}

bool hcnp_retry_due(const struct hcnp *h, unsigned long long now)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->insts[i]->lis < 0 && now >= h->insts[i]->retry_ms)
			return true;
	return false;
}

void hcnp_serve(struct hcnp *h, bool healthy, unsigned long long now)
{
	h->healthy = healthy;
	http_srv_serve(h->srv, now);
}
