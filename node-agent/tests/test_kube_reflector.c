// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the reflector state machine (kube_reflector.c) on canned HTTP responses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_reflector.h"
#include "unit.h"

struct rec {
	int add, update, del;
	int notes;
	char last_note[512];
};

static void on_change(void *ctx, enum kube_op op, const struct kube_obj *old,
		      const struct kube_obj *new)
{
	struct rec *r = ctx;

	if (op == KUBE_OP_ADD)
		r->add++;
	else if (op == KUBE_OP_UPDATE)
		r->update++;
	else
		r->del++;
}

static void on_note(void *ctx, const struct kube_reflector *ref, enum log_level level,
		    const char *msg)
{
	struct rec *r = ctx;

	r->notes++;
	snprintf(r->last_note, sizeof(r->last_note), "%s", msg);
}

static char path[4096];
static int timeout_s;

static int req(struct kube_reflector *r, unsigned long long now)
{
	return kube_reflector_request(r, now, path, sizeof(path), &timeout_s);
}

static void respond(struct kube_reflector *r, unsigned long long now, long status, long retry_after,
		    const char *body)
{
	kube_reflector_on_status(r, status, retry_after);
	kube_reflector_on_end(r, now, 0, "", body, body ? strlen(body) : 0);
}

static int line(struct kube_reflector *r, const char *l)
{
	return kube_reflector_on_watch_line(r, l, strlen(l));
}

#define NODE(n, cidr) "{\"metadata\":{\"name\":\"" n "\"},\"spec\":{\"podCIDR\":\"" cidr "\"}}"
#define EV(type, n, rv)                                                                            \
	"{\"type\":\"" type "\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"name\":\"" n         \
	"\",\"resourceVersion\":\"" rv "\"}}}"

/* The list, page by page. */
static void lwr_list(struct kube_reflector *r, struct rec *rec)
{
	UNIT_CASE("first request: a paginated list");
	CHECK_INT(req(r, 0), 1);
	CHECK_STR(path, "/api/v1/nodes?limit=500");
	CHECK_INT(timeout_s, 0);
	CHECK_INT(req(r, 0), 0); /* one request at a time */
	respond(
	    r, 10, 200, 0,
	    "{\"metadata\":{\"resourceVersion\":\"100\",\"continue\":\"c+1/=\"},\"items\":[" NODE(
		"a", "10.244.1.0/24") "," NODE("b", "10.244.2.0/24") "]}");
	CHECK_INT(r->synced, 0);
	UNIT_CASE("second page with the continue token, URL-encoded");
	CHECK_INT(req(r, 10), 1);
	CHECK_STR(path, "/api/v1/nodes?limit=500&continue=c%2B1%2F%3D");
	respond(r, 20, 200, 0,
		"{\"metadata\":{\"resourceVersion\":\"100\"},\"items\":[" NODE(
		    "c", "10.244.3.0/24") ",{\"metadata\":{}}]}");
	CHECK_INT(r->synced, 1);
	CHECK_INT(r->store.count, 3);
	CHECK_INT(r->malformed, 1);
	CHECK_STR(r->rv, "100");
	CHECK_INT(r->lists, 1);
	CHECK_INT(r->relists, 0);
}

/* The watch from the list's resourceVersion and its events. */
static void lwr_watch(struct kube_reflector *r, struct rec *rec)
{
	UNIT_CASE("then a watch from the list's resourceVersion, randomised timeout");
	CHECK_INT(req(r, 20), 1);
	CHECK(strstr(path, "/api/v1/nodes?watch=1&allowWatchBookmarks=true&timeoutSeconds=") ==
	      path);
	CHECK(strstr(path, "&resourceVersion=100") != NULL);
	CHECK(timeout_s >= KUBE_WATCH_TIMEOUT_MIN_S && timeout_s <= KUBE_WATCH_TIMEOUT_MAX_S);
	kube_reflector_on_status(r, 200, 0);

	UNIT_CASE("watch events applied; bookmark only moves the resourceVersion");
	CHECK_INT(line(r, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"d\","
			  "\"resourceVersion\":\"101\"}}}"),
		  0);
	CHECK_INT(line(r, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\","
			  "\"resourceVersion\":\"102\"},"
			  "\"spec\":{\"podCIDR\":\"10.244.9.0/24\"}}}"),
		  0);
	CHECK_INT(line(r, EV("DELETED", "b", "103")), 0);
	CHECK_INT(line(r, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Node\",\"metadata\":{"
			  "\"resourceVersion\":\"110\"}}}"),
		  0);
	CHECK_STR(r->rv, "110");
	CHECK_INT(r->store.count, 3);
	CHECK(kube_store_get(&r->store, "", "b") == NULL);
	CHECK_INT(kube_store_get(&r->store, "", "a")->u.node.pod_cidrs[0].ip.addr[2], 9);

	UNIT_CASE("a line that is not JSON and a malformed object are skipped and counted");
	rec->notes = 0;
	CHECK_INT(line(r, "this is not json"), 0);
	CHECK_INT(rec->notes, 1);
	CHECK(strstr(rec->last_note, "not JSON") != NULL);
	CHECK_INT(line(r, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\","
			  "\"resourceVersion\":\"111\"},"
			  "\"spec\":{\"podCIDR\":[]}}}"),
		  0);
	CHECK_INT(rec->notes, 2);
	CHECK(strstr(rec->last_note,
		     "Skipping malformed Node 'x': spec.podCIDR: expected a string") != NULL);
	CHECK_INT(r->malformed, 3);
	CHECK_STR(r->rv, "111");
	CHECK(kube_store_get(&r->store, "", "x") == NULL);
}

/* Watch ends and the relist after 410. */
static void lwr_relist(struct kube_reflector *r, struct rec *rec)
{
	UNIT_CASE("a watch that ends normally resumes from the last resourceVersion, no relist");
	kube_reflector_on_end(r, 100000, 0, "", NULL, 0);
	CHECK_INT(r->phase, KUBE_PHASE_WATCH);
	CHECK_INT(req(r, 100000), 1);
	CHECK(strstr(path, "resourceVersion=111") != NULL);
	kube_reflector_on_status(r, 200, 0);

	UNIT_CASE("ERROR 410 stops the stream and relists");
	CHECK_INT(line(r,
		       "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		       "\"metadata\":{},"
		       "\"status\":\"Failure\",\"message\":\"too old resource version: 111 (300)\","
		       "\"reason\":\"Expired\",\"code\":410}}"),
		  1);
	kube_reflector_on_end(r, 100100, -ECANCELED, "aborted", NULL, 0);
	CHECK_INT(r->phase, KUBE_PHASE_LIST);
	CHECK_INT(r->relists, 1);
	CHECK_INT(req(r, 100100), 1);
	CHECK_STR(path, "/api/v1/nodes?limit=500");

	UNIT_CASE("the relist replaces the store: vanished objects are deleted with callbacks");
	rec->del = 0;
	respond(r, 100200, 200, 0,
		"{\"metadata\":{\"resourceVersion\":\"300\"},\"items\":[" NODE(
		    "a", "10.244.1.0/24") "," NODE("e", "10.244.5.0/24") "]}");
	CHECK_INT(r->store.count, 2);
	CHECK_INT(rec->del, 2); /* c and d */
	CHECK(kube_store_get(&r->store, "", "c") == NULL);
	CHECK(kube_store_get(&r->store, "", "e") != NULL);
	CHECK_STR(r->rv, "300");
	CHECK_INT(r->phase, KUBE_PHASE_WATCH);
}

/* 410 on a watch and on a continue token. */
static void lwr_expired(struct kube_reflector *r, struct rec *rec)
{
	UNIT_CASE("HTTP 410 on a watch relists too");
	CHECK_INT(req(r, 100200), 1);
	respond(r, 100300, 410, 0,
		"{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"gone\"}");
	CHECK_INT(r->phase, KUBE_PHASE_LIST);
	CHECK_INT(r->relists, 2);

	UNIT_CASE("an expired continue token restarts the list from the first page");
	CHECK_INT(req(r, 100300), 1);
	respond(r, 100310, 200, 0,
		"{\"metadata\":{\"resourceVersion\":\"400\",\"continue\":\"tok\"},\"items\":[" NODE(
		    "a", "10.244.1.0/24") "]}");
	CHECK_INT(req(r, 100310), 1);
	CHECK(strstr(path, "continue=tok") != NULL);
	respond(r, 100320, 410, 0, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}");
	CHECK_INT(req(r, 100320), 1);
	CHECK_STR(path, "/api/v1/nodes?limit=500");
	respond(r, 100330, 200, 0,
		"{\"metadata\":{\"resourceVersion\":\"401\"},\"items\":[" NODE(
		    "f", "10.244.6.0/24") "]}");
	CHECK_INT(r->store.count, 1);
	CHECK(kube_store_get(&r->store, "", "f") != NULL);
}

static void test_list_watch_relist(void)
{
	struct kube_reflector r;
	struct rec rec = {};

	kube_reflector_init(&r, &kube_resources[KUBE_NODE], "node-a", 42, on_change, &rec, on_note,
			    &rec);

	lwr_list(&r, &rec);
	lwr_watch(&r, &rec);
	lwr_relist(&r, &rec);
	lwr_expired(&r, &rec);
	kube_reflector_fini(&r);
}

/* The list selector, and backoff on errors; returns the time it ends at. */
static unsigned long long backoff_errors(struct kube_reflector *r, unsigned long long now)
{
	unsigned long long lo = KUBE_BACKOFF_INIT_MS;

	UNIT_CASE("services are listed with kube-proxy's label selector");
	CHECK_INT(req(r, now), 1);
	CHECK_STR(
	    path,
	    "/api/v1/"
	    "services?limit=500&labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service."
	    "kubernetes.io%2Fservice-proxy-name");

	UNIT_CASE("500s back off exponentially with jitter, capped at 30 s");
	for (int i = 0; i < 12; i++) {
		unsigned long long delay;

		respond(r, now, 500, 0, "{\"kind\":\"Status\",\"code\":500,\"message\":\"boom\"}");
		delay = r->due_ms - now;
		CHECK(delay >= (lo < KUBE_BACKOFF_MAX_MS ? lo : KUBE_BACKOFF_MAX_MS));
		CHECK(delay < 2 * lo || delay == KUBE_BACKOFF_MAX_MS);
		CHECK(delay <= KUBE_BACKOFF_MAX_MS);
		CHECK_INT(req(r, r->due_ms - 1), 0); /* not before it is due */
		now = r->due_ms;
		CHECK_INT(req(r, now), 1);
		lo = lo * 2 > KUBE_BACKOFF_MAX_MS ? KUBE_BACKOFF_MAX_MS : lo * 2;
	}
	CHECK_INT(r->errors, 12);
	CHECK(strstr(r->last_error, "HTTP 500: boom") != NULL);

	UNIT_CASE("429 honours Retry-After");
	respond(r, now, 429, 7, "Too many requests, please try again later.\n");
	CHECK_INT(r->due_ms - now, 7000);
	CHECK(strstr(r->last_error, "HTTP 429: Too many requests") != NULL);
	now = r->due_ms;
	CHECK_INT(req(r, now), 1);
	UNIT_CASE("503 honours Retry-After");
	respond(r, now, 503, 3, NULL);
	CHECK_INT(r->due_ms - now, 3000);
	now = r->due_ms;
	CHECK_INT(req(r, now), 1);
	UNIT_CASE("401 asks for the token to be re-read and backs off");
	respond(r, now, 401, 0, "{\"kind\":\"Status\",\"code\":401,\"message\":\"Unauthorized\"}");
	CHECK_INT(r->auth_failed, 1);
	CHECK(r->due_ms > now);
	now = r->due_ms;

	return now;
}

/* What resets the backoff, and how watches that end are retried. */
static void backoff_watches(struct kube_reflector *r, unsigned long long now)
{
	UNIT_CASE("a successful list resets the backoff");
	CHECK_INT(req(r, now), 1);
	respond(r, now, 200, 0, "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":null}");
	CHECK_INT(r->synced, 1);
	CHECK_INT(r->backoff_ms, KUBE_BACKOFF_INIT_MS);

	UNIT_CASE("a watch closed at once without events counts as an error and backs off");
	CHECK_INT(req(r, now), 1);
	respond(r, now + 5, 200, 0, NULL);
	CHECK(r->due_ms >= now + 5 + KUBE_BACKOFF_INIT_MS);
	CHECK_INT(r->phase, KUBE_PHASE_WATCH);
	now = r->due_ms;
	UNIT_CASE("a watch cut by the network after events resumes at once");
	CHECK_INT(req(r, now), 1);
	kube_reflector_on_status(r, 200, 0);
	CHECK_INT(
	    line(r,
		 "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}"),
	    0);
	kube_reflector_on_end(r, now + 60000, -ECONNRESET, "Connection reset", NULL, 0);
	CHECK_INT(r->due_ms, now + 60000);
	CHECK_STR(r->rv, "9");
	now += 60000;
	UNIT_CASE("a watch ERROR other than 410 backs off and re-watches without relisting");
	CHECK_INT(req(r, now), 1);
	kube_reflector_on_status(r, 200, 0);
	CHECK_INT(line(r, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
			  "\"reason\":\"InternalError\","
			  "\"message\":\"etcd down\"}}"),
		  1);
	kube_reflector_on_end(r, now + 10, -ECANCELED, "", NULL, 0);
	CHECK_INT(r->phase, KUBE_PHASE_WATCH);
	CHECK(r->due_ms > now + 10);
	CHECK(strstr(r->last_error, "etcd down") != NULL);
}

static void test_backoff_and_retry_after(void)
{
	struct kube_reflector r;
	struct rec rec = {};
	unsigned long long now = 1000000;

	kube_reflector_init(&r, &kube_resources[KUBE_SERVICE], "n", 7, on_change, &rec, on_note,
			    &rec);
	now = backoff_errors(&r, now);
	backoff_watches(&r, now);
	kube_reflector_fini(&r);
}

static void test_pods_field_selector(void)
{
	struct kube_resource node_pods = kube_resources[KUBE_POD];
	struct kube_reflector r;

	kube_reflector_init(&r, &kube_resources[KUBE_POD], "node-a", 1, NULL, NULL, NULL, NULL);
	UNIT_CASE("pods of every node: NetworkPolicy selects peers cluster-wide");
	CHECK_INT(req(&r, 0), 1);
	CHECK_STR(path, "/api/v1/pods?limit=500");
	kube_reflector_fini(&r);

	node_pods.this_node = true;
	kube_reflector_init(&r, &node_pods, "node-a", 1, NULL, NULL, NULL, NULL);
	UNIT_CASE("a resource of this node only is listed with its field selector");
	CHECK_INT(req(&r, 0), 1);
	CHECK_STR(path, "/api/v1/pods?limit=500&fieldSelector=spec.nodeName%3Dnode-a");
	kube_reflector_fini(&r);
}

int main(void)
{
	test_list_watch_relist();
	test_backoff_and_retry_after();
	test_pods_field_selector();
	return unit_done();
}
