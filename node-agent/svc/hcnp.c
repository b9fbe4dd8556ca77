// SPDX-License-Identifier: Apache-2.0
/* The health check node port servers: http_servers per wanted Service (one per address
 * listened on), opened and released as the Services come and go, answering as kube-proxy's
 * service_health.go. */
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

/* One Service's servers, one per address. Allocated on its own: their handler points at it. */
struct inst {
	char ns[KUBE_NS_MAX], name[KUBE_NAME_MAX];
	__u16 port;
	struct http_server *srv[HCNP_ADDR_MAX];
	size_t n_srv;
	bool listening; /* false while the bind waits for a retry */
	const struct hcnp *h;
	__u32 local_eps;
	unsigned long long retry_ms;
};

struct hcnp {
	int epfd;   /* every server's fd */
	bool every; /* listen on INADDR_ANY, else on ips[0..n_ips) */
	__be32 ips[HCNP_ADDR_MAX];
	size_t n_ips;
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

int hcnp_new(svc_note_fn note_fn, void *note_ctx, struct hcnp **out)
{
	struct hcnp *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	h->every = true;
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

/* Closes the servers of in: its port is free again on every address. */
static void inst_close(struct inst *in)
{
	for (size_t i = 0; i < in->n_srv; i++)
		http_server_close(in->srv[i]);
	in->n_srv = 0;
	in->listening = false;
}

void hcnp_free(struct hcnp *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		inst_close(h->insts[i]);
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
		n += h->insts[i]->listening;
	return n;
}

void hcnp_bind(struct hcnp *h, const __be32 *ips, size_t n)
{
	bool every = ips == NULL;

	if (n > HCNP_ADDR_MAX)
		n = HCNP_ADDR_MAX;
	if (every == h->every &&
	    (every || (n == h->n_ips && !memcmp(ips, h->ips, n * sizeof(*ips)))))
		return;
	h->every = every;
	h->n_ips = every ? 0 : n;
	if (!every)
		memcpy(h->ips, ips, n * sizeof(*ips));
	for (size_t i = 0; i < h->n; i++) { /* listen again on the new addresses, now */
		inst_close(h->insts[i]);
		h->insts[i]->retry_ms = 0;
	}
}

/* One server of in on ip:port, on h's poll. */
static int inst_listen_on(struct hcnp *h, struct inst *in, __be32 ip)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = in};
	char addr[INET_ADDRSTRLEN], bind[INET_ADDRSTRLEN + 8];
	struct http_server *srv;
	int r;

	inet_ntop(AF_INET, &ip, addr, sizeof(addr));
	snprintf(bind, sizeof(bind), "%s:%u", addr, in->port);
	r = http_server_open(bind, inst_handle, in, &srv);
	if (r < 0)
		return r;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, http_server_fd(srv), &ev) < 0) {
		r = -errno;
		http_server_close(srv);
		return r;
	}
	in->srv[in->n_srv++] = srv;
	return 0;
}

/* in's servers on every address h listens on (INADDR_ANY, or each NodePort
 * address as kube-proxy with --nodeport-addresses): all or none, as
 * kube-proxy's listenAndServeAll, retried later when one fails. */
static int inst_listen(struct hcnp *h, struct inst *in, unsigned long long now)
{
	size_t n = h->every ? 1 : h->n_ips;
	int r = 0;

	for (size_t i = 0; i < n && !r; i++)
		r = inst_listen_on(h, in, h->every ? htonl(INADDR_ANY) : h->ips[i]);
	if (r < 0) {
		inst_close(in);
		in->retry_ms = now + HCNP_RETRY_MS;
		note(h, LOG_LVL_ERROR,
		     "Failed to listen on health check node port %u of Service '%s/%s': %s; "
		     "retrying",
		     in->port, in->ns, in->name, strerror(-r));
		return r;
	}
	in->listening = true;
	note(h, LOG_LVL_INFO, "Serving the health check of Service '%s/%s' on port %u (%s)", in->ns,
	     in->name, in->port, h->every ? "every address" : "the NodePort addresses");
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
		if (in->listening)
			note(h, LOG_LVL_INFO,
			     "Released health check node port %u of Service '%s/%s'", in->port,
			     in->ns, in->name);
		inst_close(in); /* the port is free again */
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
		if (!in->listening && now >= in->retry_ms && (r = inst_listen(h, in, now)) < 0 &&
		    !ret)
			ret = r;
	}
	return ret;
}

bool hcnp_retry_due(const struct hcnp *h, unsigned long long now)
{
	for (size_t i = 0; i < h->n; i++)
		if (!h->insts[i]->listening && now >= h->insts[i]->retry_ms)
			return true;
	return false;
}

void hcnp_serve(struct hcnp *h, bool healthy, unsigned long long now)
{
	h->healthy = healthy;
	for (size_t i = 0; i < h->n; i++)
		for (size_t j = 0; j < h->insts[i]->n_srv; j++)
			http_server_serve(h->insts[i]->srv[j], now);
}
