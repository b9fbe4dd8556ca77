// SPDX-License-Identifier: Apache-2.0
/* Reflector: paginated list, then watch from its resourceVersion; 410 relists, errors back off. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_reflector.h"

/* kube-proxy's filter: no Services (or their slices) owned by another proxy, no headless ones. */
#define PROXY_SELECTOR                                                                             \
	"%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name"

const struct kube_resource kube_resources[KUBE_KIND_MAX] = {
    [KUBE_SERVICE] = {"services", KUBE_SERVICE, "/api/v1/services", PROXY_SELECTOR, false},
    [KUBE_ENDPOINTSLICE] = {"endpointslices", KUBE_ENDPOINTSLICE,
			    "/apis/discovery.k8s.io/v1/endpointslices", PROXY_SELECTOR, false},
    [KUBE_NODE] = {"nodes", KUBE_NODE, "/api/v1/nodes", NULL, false},
    [KUBE_POD] = {"pods", KUBE_POD, "/api/v1/pods", NULL, false}, /* policy: every node's */
    [KUBE_NAMESPACE] = {"namespaces", KUBE_NAMESPACE, "/api/v1/namespaces", NULL, false},
    [KUBE_NETPOL] = {"networkpolicies", KUBE_NETPOL, "/apis/networking.k8s.io/v1/networkpolicies",
		     NULL, false},
};

__attribute__((format(printf, 3, 4))) static void note(struct kube_reflector *r,
						       enum log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!r->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->note(r->note_ctx, r, level, msg);
}

static unsigned int rnd(struct kube_reflector *r)
{
	unsigned int x = r->seed ? r->seed : 0x9e3779b9u; /* xorshift32 */

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->seed = x;
	return x;
}

void kube_reflector_init(struct kube_reflector *r, const struct kube_resource *res,
			 const char *node, unsigned int seed, kube_store_fn cb, void *cb_ctx,
			 kube_note_fn note_fn, void *note_ctx)
{
	memset(r, 0, sizeof(*r));
	r->res = res;
	snprintf(r->node, sizeof(r->node), "%s", node);
	kube_store_init(&r->store, res->kind, cb, cb_ctx);
	r->phase = KUBE_PHASE_LIST;
	r->backoff_ms = KUBE_BACKOFF_INIT_MS;
	r->seed = seed;
	r->note = note_fn;
	r->note_ctx = note_ctx;
}

void kube_reflector_fini(struct kube_reflector *r)
{
	kube_store_fini(&r->store);
	free(r->cont);
	r->cont = NULL;
}

unsigned long long kube_reflector_due(const struct kube_reflector *r)
{
	return r->in_flight ? ~0ULL : r->due_ms;
}

/* Appends s percent-encoded (RFC 3986 unreserved characters pass). */
static int url_escape(char *out, size_t len, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			if (*pos + 1 >= len)
				return -ENAMETOOLONG;
			out[(*pos)++] = (char)c;
		} else {
			if (*pos + 3 >= len)
				return -ENAMETOOLONG;
			out[(*pos)++] = '%';
			out[(*pos)++] = hex[c >> 4];
			out[(*pos)++] = hex[c & 15];
		}
	}
	out[*pos] = '\0';
	return 0;
}

__attribute__((format(printf, 4, 5))) static int url_append(char *out, size_t len, size_t *pos,
							    const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *pos)
		return -ENAMETOOLONG;
	*pos += (size_t)n;
	return 0;
}

static int selectors_append(const struct kube_reflector *r, char *out, size_t len, size_t *pos)
{
	if (r->res->label_selector &&
	    url_append(out, len, pos, "&labelSelector=%s", r->res->label_selector) < 0)
		return -ENAMETOOLONG;
	if (r->res->this_node &&
	    (url_append(out, len, pos, "&fieldSelector=spec.nodeName%%3D") < 0 ||
	     url_escape(out, len, pos, r->node) < 0))
		return -ENAMETOOLONG;
	return 0;
}

int kube_reflector_request(struct kube_reflector *r, unsigned long long now, char *path, size_t len,
			   int *timeout_s)
{
	size_t pos = 0;

	if (r->in_flight || now < r->due_ms)
		return 0;
	if (r->phase == KUBE_PHASE_LIST) {
		if (url_append(path, len, &pos, "%s?limit=%d", r->res->path, KUBE_PAGE_LIMIT) < 0 ||
		    (r->cont && (url_append(path, len, &pos, "&continue=") < 0 ||
				 url_escape(path, len, &pos, r->cont) < 0)) ||
		    selectors_append(r, path, len, &pos) < 0)
			return -ENAMETOOLONG;
		/* The first page starts a replace: whatever it and the following pages
		 * do not mention is deleted when the last page arrives. */
		if (!r->cont)
			kube_store_replace_begin(&r->store);
		*timeout_s = 0;
	} else {
		*timeout_s =
		    KUBE_WATCH_TIMEOUT_MIN_S +
		    (int)(rnd(r) % (KUBE_WATCH_TIMEOUT_MAX_S - KUBE_WATCH_TIMEOUT_MIN_S + 1));
		if (url_append(
			path, len, &pos,
			"%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=",
			r->res->path, *timeout_s) < 0 ||
		    url_escape(path, len, &pos, r->rv) < 0 ||
		    selectors_append(r, path, len, &pos) < 0)
			return -ENAMETOOLONG;
		r->watches++;
	}
	r->in_flight = true;
	r->status = 0;
	r->retry_after = 0;
	r->started_ms = now;
	r->events = 0;
	r->watch_error[0] = '\0';
	return 1;
}

void kube_reflector_on_status(struct kube_reflector *r, long status, long retry_after)
{
	r->status = status;
	r->retry_after = retry_after;
}

static void backoff(struct kube_reflector *r, unsigned long long now)
{
	unsigned int base = r->backoff_ms, delay;

	/* client-go: each delay in [d, 2d), d doubling from 800 ms; capped here at 30 s. */
	delay = base + rnd(r) % (base ? base : 1);
	if (delay > KUBE_BACKOFF_MAX_MS)
		delay = KUBE_BACKOFF_MAX_MS;
	r->due_ms = now + delay;
	r->backoff_ms = base * 2 > KUBE_BACKOFF_MAX_MS ? KUBE_BACKOFF_MAX_MS : base * 2;
}

static void backoff_reset(struct kube_reflector *r)
{
	r->backoff_ms = KUBE_BACKOFF_INIT_MS;
}

static const char *what(const struct kube_reflector *r)
{
	return r->phase == KUBE_PHASE_LIST ? "list" : "watch";
}

__attribute__((format(printf, 3, 4))) static void fail(struct kube_reflector *r,
						       unsigned long long now, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->last_error, sizeof(r->last_error), fmt, ap);
	va_end(ap);
	r->errors++;
	if ((r->status == 429 || r->status >= 500) && r->retry_after > 0) {
		long s = r->retry_after > KUBE_RETRY_AFTER_MAX_S ? KUBE_RETRY_AFTER_MAX_S
								 : r->retry_after;

		r->due_ms = now + (unsigned long long)s * 1000;
		note(r, LOG_LVL_WARN, "Failed to %s %s: %s; retrying after %ld s (Retry-After)",
		     what(r), r->res->name, r->last_error, s);
		return;
	}
	backoff(r, now);
	note(r, LOG_LVL_WARN, "Failed to %s %s: %s; retrying in %llu ms", what(r), r->res->name,
	     r->last_error, r->due_ms - now);
}

static void relist(struct kube_reflector *r, unsigned long long now, const char *why)
{
	r->phase = KUBE_PHASE_LIST;
	free(r->cont);
	r->cont = NULL;
	r->relists++;
	r->due_ms = now;
	note(r, LOG_LVL_INFO, "Relisting %s: %s", r->res->name, why);
}

/* An HTTP error response: its Status message, or the first line of its text. */
static void http_fail(struct kube_reflector *r, unsigned long long now, const char *body,
		      size_t len)
{
	char msg[KUBE_WHY_MAX] = "";
	int code;

	if (body && len && kube_status_parse(body, len, &code, msg, sizeof(msg)) < 0) {
		size_t n = strcspn(body, "\r\n");

		snprintf(msg, sizeof(msg), "%.*s", (int)(n < len ? n : len), body);
	}
	if (r->status == 401)
		r->auth_failed = true;
	fail(r, now, "HTTP %ld%s%s", r->status, msg[0] ? ": " : "", msg);
}

struct page_ctx {
	struct kube_reflector *r;
	size_t items;
};

static void page_item(void *ctx, struct kube_obj *o)
{
	struct page_ctx *pc = ctx;

	pc->items++;
	if (kube_store_upsert(&pc->r->store, o) < 0)
		note(pc->r, LOG_LVL_ERROR, "Failed to store %s '%s': out of memory",
		     kube_kind_name(pc->r->res->kind), o->name);
}

static void malformed(struct kube_reflector *r, const char *ns, const char *name, const char *why)
{
	r->malformed++;
	if (name && name[0])
		note(r, LOG_LVL_WARN, "Skipping malformed %s '%s%s%s': %s",
		     kube_kind_name(r->res->kind), ns ? ns : "", ns && ns[0] ? "/" : "", name, why);
	else
		note(r, LOG_LVL_WARN, "Skipping malformed %s (name unknown): %s",
		     kube_kind_name(r->res->kind), why);
}

static void page_bad(void *ctx, const char *ns, const char *name, const char *why)
{
	struct page_ctx *pc = ctx;

	malformed(pc->r, ns, name, why);
}

static void list_page_end(struct kube_reflector *r, unsigned long long now, const char *body,
			  size_t len)
{
	static const struct kube_page_ops ops = {page_item, page_bad};
	struct page_ctx pc = {r, 0};
	char why[KUBE_WHY_MAX], rv[KUBE_RV_MAX];
	char *cont = NULL;
	size_t deleted;

	if (kube_page_parse(r->res->kind, body ? body : "", len, &ops, &pc, rv, &cont, why,
			    sizeof(why)) < 0) {
		fail(r, now, "%s", why);
		return;
	}
	free(r->cont);
	r->cont = cont;
	r->due_ms = now;
	if (cont)
		return; /* next page right away */
	deleted = kube_store_replace_end(&r->store);
	snprintf(r->rv, sizeof(r->rv), "%s", rv);
	r->phase = KUBE_PHASE_WATCH;
	r->lists++;
	backoff_reset(r);
	note(r, r->synced ? LOG_LVL_INFO : LOG_LVL_DEBUG,
	     "Listed %zu %s at resourceVersion %s (%zu deleted)", r->store.count, r->res->name,
	     r->rv, deleted);
	r->synced = true;
}

static void list_end(struct kube_reflector *r, unsigned long long now, int err, const char *msg,
		     const char *body, size_t len)
{
	if (err) {
		fail(r, now, "%s", msg && msg[0] ? msg : strerror(-err));
		return;
	}
	if (r->status == 200) {
		list_page_end(r, now, body, len);
		return;
	}
	if (r->status == 410 && r->cont) { /* the continue token expired: start over */
		r->errors++;
		relist(r, now, "continue token expired (410)");
		return;
	}
	http_fail(r, now, body, len);
}

static void watch_end(struct kube_reflector *r, unsigned long long now, int err, const char *msg,
		      const char *body, size_t len)
{
	bool short_watch = !r->events && now - r->started_ms < KUBE_SHORT_WATCH_MS;

	if (r->relist_pending) {
		r->relist_pending = false;
		relist(r, now, "resourceVersion expired (watch ERROR 410)");
		return;
	}
	if (r->watch_error[0]) {
		fail(r, now, "%s", r->watch_error);
		return;
	}
	if (err) {
		/* A stream cut after a while is resumed at once, like an EOF. */
		if (short_watch)
			fail(r, now, "%s", msg && msg[0] ? msg : strerror(-err));
		else
			r->due_ms = now;
		return;
	}
	if (r->status == 200) {
		if (short_watch) {
			fail(r, now, "watch closed after %llu ms without events",
			     now - r->started_ms);
			return;
		}
		r->due_ms = now; /* timeoutSeconds passed: resume from the last resourceVersion */
		note(r, LOG_LVL_DEBUG, "Watch of %s ended after %u events; resuming at %s",
		     r->res->name, r->events, r->rv);
		return;
	}
	if (r->status == 410) {
		r->errors++;
		relist(r, now, "resourceVersion expired (HTTP 410)");
		return;
	}
	http_fail(r, now, body, len);
}

void kube_reflector_on_end(struct kube_reflector *r, unsigned long long now, int err,
			   const char *msg, const char *body, size_t len)
{
	r->in_flight = false;
	if (r->phase == KUBE_PHASE_LIST)
		list_end(r, now, err, msg, body, len);
	else
		watch_end(r, now, err, msg, body, len);
}

static bool expired(const struct kube_event *ev)
{
	return ev->code == 410 || !strcmp(ev->reason, "Expired") || !strcmp(ev->reason, "Gone");
}

int kube_reflector_on_watch_line(struct kube_reflector *r, const char *line, size_t len)
{
	char why[KUBE_WHY_MAX];
	struct kube_event ev;
	int ret;

	if (!len || (len == 1 && line[0] == '\r'))
		return 0;
	ret = kube_event_parse(r->res->kind, line, len, &ev, why, sizeof(why));
	if (ret == -EBADMSG) {
		r->malformed++;
		note(r, LOG_LVL_WARN, "Skipping malformed watch line of %s: %s", r->res->name, why);
		return 0;
	}
	if (ev.type != KUBE_EV_ERROR && ev.rv[0])
		snprintf(r->rv, sizeof(r->rv), "%s", ev.rv);
	if (ret == -EINVAL) {
		/* A deletion is applied by key even when the last state is malformed. */
		if (ev.type == KUBE_EV_DELETED && ev.name[0] &&
		    (ev.ns[0] || !kube_kind_namespaced(r->res->kind)))
			kube_store_delete(&r->store, ev.ns, ev.name);
		malformed(r, ev.ns, ev.name, why);
		return 0;
	}
	r->events++;
	r->watch_events[ev.type]++;
	switch (ev.type) {
	case KUBE_EV_ADDED:
	case KUBE_EV_MODIFIED:
		if (kube_store_upsert(&r->store, ev.obj) < 0)
			note(r, LOG_LVL_ERROR, "Failed to store %s '%s': out of memory",
			     kube_kind_name(r->res->kind), ev.name);
		break;
	case KUBE_EV_DELETED:
		kube_store_delete(&r->store, ev.obj->ns, ev.obj->name);
		kube_obj_free(ev.obj);
		break;
	case KUBE_EV_BOOKMARK:
		break;
	case KUBE_EV_ERROR:
		if (expired(&ev)) {
			r->relist_pending = true;
			return 1;
		}
		snprintf(r->watch_error, sizeof(r->watch_error), "watch ERROR %d %.24s: %.100s",
			 ev.code, ev.reason, ev.message);
		if (ev.code == 429 || ev.code >= 500)
			r->status = ev.code; /* no Retry-After inside a stream: plain backoff */
		return 1;
	}
	if (r->events == 1)
		backoff_reset(r);
	return 0;
}
