// SPDX-License-Identifier: Apache-2.0
/* /healthz and /livez responses: status codes, kube-proxy's JSON shape, request parsing, bind
 * addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "healthz.h"
#include "http_server.h"
#include "unit.h"

static const struct timespec now = {.tv_sec = 1764067800,
				    .tv_nsec = 250000000}; /* 2025-11-25 10:50:00.25 */

static const char *respond(const char *req, bool healthy, bool eligible, bool updated)
{
	static char out[1024];
	struct healthz_state st = {.healthy = healthy, .node_eligible = eligible};
	size_t n;

	if (updated)
		st.last_updated = (struct timespec){.tv_sec = 1764067790};
	n = healthz_respond(req, strlen(req), &st, &now, out, sizeof(out));
	out[n] = '\0';
	return out;
}

static void test_responses(void)
{
	const char *r;

	UNIT_CASE("healthy /healthz: 200, lastUpdated is currentTime (kube-proxy), nodeEligible");
	r = respond("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", true, true, true);
	CHECK(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17));
	CHECK(strstr(r, "Content-Type: application/json\r\n") != NULL);
	CHECK(strstr(r, "X-Content-Type-Options: nosniff\r\n") != NULL);
	CHECK(strstr(
		  r,
		  "\r\n\r\n{\"lastUpdated\": \"2025-11-25 10:50:00.25 +0000 UTC\",\"currentTime\": "
		  "\"2025-11-25 10:50:00.25 +0000 UTC\", \"nodeEligible\": true}") != NULL);

	UNIT_CASE("unhealthy: lastUpdated is the last complete sync");
	r = respond("GET /healthz HTTP/1.1\r\n\r\n", false, true, true);
	CHECK(strstr(r, "{\"lastUpdated\": \"2025-11-25 10:49:50 +0000 UTC\",") != NULL);

	UNIT_CASE("stale programming: 503 on both");
	CHECK(!strncmp(respond("GET /healthz HTTP/1.1\r\n\r\n", false, true, true), "HTTP/1.1 503 ",
		       13));
	CHECK(!strncmp(respond("GET /livez HTTP/1.1\r\n\r\n", false, true, true), "HTTP/1.1 503 ",
		       13));

	UNIT_CASE("node not eligible: /healthz 503, /livez 200 without nodeEligible");
	r = respond("GET /healthz HTTP/1.1\r\n\r\n", true, false, true);
	CHECK(!strncmp(r, "HTTP/1.1 503 ", 13));
	CHECK(strstr(r, "\"lastUpdated\": \"2025-11-25 10:49:50 +0000 UTC\"") != NULL);
	CHECK(strstr(r, "\"nodeEligible\": false}") != NULL);
	r = respond("GET /livez?verbose HTTP/1.0\r\n\r\n", true, false, true);
	CHECK(!strncmp(r, "HTTP/1.1 200 ", 13));
	CHECK(strstr(r, "nodeEligible") == NULL);

	UNIT_CASE("never updated: Go's zero time");
	CHECK(strstr(respond("GET /healthz HTTP/1.1\r\n\r\n", false, true, false),
		     "\"lastUpdated\": \"0001-01-01 00:00:00 +0000 UTC\"") != NULL);

	UNIT_CASE("incomplete head: no answer yet; other paths and methods");
	CHECK_STR(respond("GET /healthz HTTP/1.1\r\nHost:", true, true, true), "");
	CHECK(!strncmp(respond("GET /metrics HTTP/1.1\r\n\r\n", true, true, true), "HTTP/1.1 404 ",
		       13));
	CHECK(!strncmp(respond("POST /healthz HTTP/1.1\r\n\r\n", true, true, true), "HTTP/1.1 405 ",
		       13));
	CHECK(!strncmp(respond("GET  HTTP/1.1\r\n\r\n", true, true, true), "HTTP/1.1 400 ", 13));
	r = respond("HEAD /healthz HTTP/1.1\r\n\r\n", true, true, true);
	CHECK(!strncmp(r, "HTTP/1.1 200 ", 13));
	CHECK(strstr(r, "lastUpdated") == NULL);
}

static void test_fresh(void)
{
	UNIT_CASE("stale only when a change waited more than 2 x 30 s");
	CHECK(healthz_fresh(1000000, 0));
	CHECK(healthz_fresh(1000000, 1000000 - 60000));
	CHECK(!healthz_fresh(1000000, 1000000 - 60001));
	CHECK(healthz_fresh(5, 10));
}

static void test_addr(void)
{
	__be32 ip;
	__be16 port;

	UNIT_CASE("bind addresses");
	CHECK_INT(http_addr_parse("127.0.0.1:10256", &ip, &port), 0);
	CHECK_INT(ntohs(port), 10256);
	CHECK_INT(ntohl(ip), 0x7f000001);
	CHECK_INT(http_addr_parse("0.0.0.0:1", &ip, &port), 0);
	CHECK_INT(http_addr_parse(":10256", &ip, &port), -EINVAL);
	CHECK_INT(http_addr_parse("127.0.0.1", &ip, &port), -EINVAL);
	CHECK_INT(http_addr_parse("127.0.0.1:0", &ip, &port), -EINVAL);
	CHECK_INT(http_addr_parse("127.0.0.1:65536", &ip, &port), -EINVAL);
	CHECK_INT(http_addr_parse("localhost:10256", &ip, &port), -EINVAL);
	CHECK_INT(http_addr_parse("127.0.0.1:10256x", &ip, &port), -EINVAL);
}

int main(void)
{
	test_responses();
	test_fresh();
	test_addr();
	return unit_done();
}
