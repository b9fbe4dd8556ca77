// SPDX-License-Identifier: Apache-2.0
/* The health check node port servers: one http_server per wanted Service, opened and
 * released as the Services come and go, answering as kube-proxy's service_health.go. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "hcnp.h"
#include "http_server.h"
#include "kube_objects.h"

struct hcnp;

/* One Service's server. Allocated on its own: its server's handler points at it. */
struct inst {
	char ns[KUBE_NS_MAX], name[KUBE_NAME_MAX];
	__u16 port;
	struct http_server *srv; /* NULL while the bind waits for a retry */
	const struct hcnp *h;
	__u32 local_eps;
	unsigned long long retry_ms;
};

struct hcnp {
	int epfd; /* every server's fd */
	__be32 bind_ip;
	svc_note_fn note;
	void *note_ctx;
	bool healthy;
	struct inst **insts;
	size_t n, cap;
};

struct hc_answer {
	const char *ns, *name;
	__u32 local_eps;
	bool healthy;
};

/* kube-proxy's answer on every path and method. */
static void hc_answer_fill(const struct hc_answer *a, struct http_reply *r)
{
	/* Go's dedented template, tabs and all, without the trailing newline */
	http_buf_printf(
	    &r->body,
	    "{\n\t\"service\": {\n\t\t\"namespace\": \"%s\",\n\t\t\"name\": \"%s\"\n\t},\n"
	    "\t\"localEndpoints\": %u,\n\t\"serviceProxyHealthy\": %s\n}",
	    a->ns, a->name, a->local_eps, a->healthy ? "true" : "false");
	snprintf(r->extra, sizeof(r->extra), "X-Load-Balancing-Endpoint-Weight: %u\r\n",
		 a->local_eps);
	r->code = a->local_eps && a->healthy ? 200 : 503;
	r->type = "application/json";
	r->any_method = true;
}

static void answer_handle(void *ctx, const char *path, struct http_reply *r)
{
	(void)path;
	hc_answer_fill(ctx, r);
}

size_t hcnp_respond(const char *ns, const char *name, __u32 local_eps, bool healthy,
		    const char *req, size_t len, char *out, size_t out_len)
{
	struct hc_answer a = {ns, name, local_eps, healthy};

	return http_respond_str(req, len, answer_handle, &a, out, out_len);
}

static void inst_handle(void *ctx, const char *path, struct http_reply *r)
{
	const struct inst *in = ctx;
	struct hc_answer a = {in->ns, in->name, in->local_eps, in->h->healthy};

	(void)path;
	hc_answer_fill(&a, r);
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
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		r = -errno;
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
	for (size_t i = 0; i < h->n; i++) {
		http_server_close(h->insts[i]->srv);
		free(h->insts[i]);
	}
	free(h->insts);
	close(h->epfd);
	free(h);
}

int hcnp_fd(const struct hcnp *h)
{
	return h->epfd;
}

size_t hcnp_count(const struct hcnp *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++)
		n += h->insts[i]->srv != NULL;
	return n;
}

static int inst_listen(struct hcnp *h, struct inst *in, unsigned long long now)
{
	struct epoll_event ev = {.events = EPOLLIN};
	char ip[INET_ADDRSTRLEN], bind[INET_ADDRSTRLEN + 8];
	int r;

	inet_ntop(AF_INET, &h->bind_ip, ip, sizeof(ip));
	snprintf(bind, sizeof(bind), "%s:%u", ip, in->port);
	r = http_server_open(bind, inst_handle, in, &in->srv);
	ev.data.ptr = in;
	if (!r && epoll_ctl(h->epfd, EPOLL_CTL_ADD, http_server_fd(in->srv), &ev) < 0) {
		r = -errno;
		http_server_close(in->srv);
	}
	if (r < 0) {
		in->srv = NULL;
		in->retry_ms = now + HCNP_RETRY_MS;
		note(h, LOG_LVL_ERROR,
		     "Failed to listen on health check node port %u of Service '%s/%s': %s; "
		     "retrying",
		     in->port, in->ns, in->name, strerror(-r));
		return r;
	}
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
		if (in->srv)
			note(h, LOG_LVL_INFO,
			     "Released health check node port %u of Service '%s/%s'", in->port,
			     in->ns, in->name);
		http_server_close(in->srv); /* the port is free again */
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
			in->h = h;
			h->insts[h->n++] = in;
		}
		in->local_eps = wants[i].local_eps;
		if (!in->srv && now >= in->retry_ms && (r = inst_listen(h, in, now)) < 0 && !ret)
			ret = r;
	}
	return ret;
}

bool hcnp_retry_due(const struct hcnp *h, unsigned long long now)
{
	for (size_t i = 0; i < h->n; i++)
		if (!h->insts[i]->srv && now >= h->insts[i]->retry_ms)
			return true;
	return false;
}

void hcnp_serve(struct hcnp *h, bool healthy, unsigned long long now)
{
	h->healthy = healthy;
	for (size_t i = 0; i < h->n; i++)
		if (h->insts[i]->srv)
			http_server_serve(h->insts[i]->srv, now);
}
