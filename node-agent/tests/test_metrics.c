// SPDX-License-Identifier: Apache-2.0
/* The Prometheus text format (escaping, values, histograms) and the HTTP server answering
 * /metrics: whole answers of any size, through a real loopback socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_server.h"
#include "metrics.h"
#include "metrics_collect.h"
#include "unit.h"

static const char *text(struct http_buf *b)
{
	static char out[4096];

	snprintf(out, sizeof(out), "%.*s", (int)b->len, b->data ? b->data : "");
	http_buf_free(b);
	return out;
}

static void test_format(void)
{
	struct metrics_label l[] = {{"reason", "spoof_ip"}, {"path", "a\"b\\c\nd"}};
	struct http_buf b = {};

	UNIT_CASE("a family has HELP and TYPE lines, HELP escapes backslash and newline");
	metrics_family(&b, "sluice_x_total", "counter", "Packets \\ dropped\nby reason.");
	CHECK_STR(text(&b), "# HELP sluice_x_total Packets \\\\ dropped\\nby reason.\n"
			    "# TYPE sluice_x_total counter\n");

	UNIT_CASE("label values escape quote, backslash and newline");
	metrics_sample(&b, "sluice_x_total", l, 2, 42);
	CHECK_STR(text(&b), "sluice_x_total{reason=\"spoof_ip\",path=\"a\\\"b\\\\c\\nd\"} 42\n");

	UNIT_CASE("a sample without labels; integers whole, fractions exact, infinities");
	metrics_sample(&b, "a", NULL, 0, 18446744073709.0);
	metrics_sample(&b, "b", NULL, 0, 0.25);
	metrics_sample(&b, "c", NULL, 0, 1.0 / 0.0);
	metrics_sample(&b, "d", NULL, 0, 0.1 + 0.2); /* as Go prints it: reads back the same */
	CHECK_STR(text(&b), "a 18446744073709\nb 0.25\nc +Inf\nd 0.30000000000000004\n");
}

static void test_hist(void)
{
	static const double bounds[] = {0.01, 0.1, 1};
	struct metrics_hist h = {.bounds = bounds, .n_bounds = 3};
	struct metrics_label l = {"command", "ADD"};
	struct http_buf b = {};

	UNIT_CASE("histogram buckets are cumulative, +Inf is the count, bounds are inclusive");
	metrics_hist_observe(&h, 0.005);
	metrics_hist_observe(&h, 0.1);
	metrics_hist_observe(&h, 0.5);
	metrics_hist_observe(&h, 7);
	metrics_hist_write(&b, "sluice_cni_duration_seconds", &l, 1, &h);
	CHECK_STR(text(&b), "sluice_cni_duration_seconds_bucket{command=\"ADD\",le=\"0.01\"} 1\n"
			    "sluice_cni_duration_seconds_bucket{command=\"ADD\",le=\"0.1\"} 2\n"
			    "sluice_cni_duration_seconds_bucket{command=\"ADD\",le=\"1\"} 3\n"
			    "sluice_cni_duration_seconds_bucket{command=\"ADD\",le=\"+Inf\"} 4\n"
			    "sluice_cni_duration_seconds_sum{command=\"ADD\"} 7.605\n"
			    "sluice_cni_duration_seconds_count{command=\"ADD\"} 4\n");
}

static void test_respond(void)
{
	struct metrics_src src = {.pin_dir = "/nonexistent"};
	struct http_buf out = {};
	const char *body;
	size_t clen;

	UNIT_CASE("GET /metrics: 200, the exposition content type, Content-Length of the body");
	CHECK_INT(http_respond("GET /metrics HTTP/1.1\r\n\r\n", 25, metrics_handle, &src, &out), 1);
	CHECK(!strncmp(out.data, "HTTP/1.1 200 OK\r\n", 17));
	CHECK(strstr(out.data, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	body = strstr(out.data, "\r\n\r\n") + 4;
	CHECK_INT(sscanf(strstr(out.data, "Content-Length: "), "Content-Length: %zu", &clen), 1);
	CHECK_INT(clen, out.len - (size_t)(body - out.data));
	CHECK(strstr(body, "sluice_build_info{version=\""));
	CHECK(strstr(body,
		     "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes "));
	CHECK(strstr(body, "\nprocess_cpu_seconds_total "));
	CHECK(strstr(body, "\nprocess_open_fds "));
	http_buf_free(&out);

	UNIT_CASE("HEAD /metrics: the same head without a body; other paths 404, POST 405");
	CHECK_INT(http_respond("HEAD /metrics HTTP/1.1\r\n\r\n", 26, metrics_handle, &src, &out),
		  1);
	CHECK(!strncmp(out.data, "HTTP/1.1 200 OK\r\n", 17));
	CHECK_INT(strstr(out.data, "\r\n\r\n")[4], '\0');
	http_buf_free(&out);
	CHECK_INT(http_respond("GET /healthz HTTP/1.1\r\n\r\n", 25, metrics_handle, &src, &out), 1);
	CHECK(!strncmp(out.data, "HTTP/1.1 404 Not Found\r\n", 24));
	http_buf_free(&out);
	CHECK_INT(http_respond("POST /metrics HTTP/1.1\r\n\r\n", 26, metrics_handle, &src, &out),
		  1);
	CHECK(!strncmp(out.data, "HTTP/1.1 405 ", 13));
	http_buf_free(&out);
	CHECK_INT(http_respond("GET /metrics HTTP/1.1\r\n", 23, metrics_handle, &src, &out), 0);

	UNIT_CASE("GET /proxyMode: 200 and the mode's name, as kube-proxy's metrics server");
	CHECK_INT(http_respond("GET /proxyMode HTTP/1.1\r\n\r\n", 27, metrics_handle, &src, &out),
		  1);
	CHECK(!strncmp(out.data, "HTTP/1.1 200 OK\r\n", 17));
	CHECK(!strcmp(strstr(out.data, "\r\n\r\n") + 4, "sluice"));
	http_buf_free(&out);
}

#define BIG (3u << 20) /* more than any socket buffer takes at once */

static void big_handle(void *ctx, const char *path, struct http_reply *r)
{
	r->code = 200;
	for (unsigned int i = 0; i < BIG / 16; i++)
		http_buf_printf(&r->body, "%015u\n", i);
}

/* A free loopback port: bound to 0 and given back. */
static int port_free(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len))
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void test_server(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct http_server *h = NULL;
	size_t got = 0, body = 0;
	char bind_s[32], *buf = malloc(BIG + 4096);
	int port = port_free(), fd, ms = 0;
	ssize_t n = 1;

	UNIT_CASE("a 3 MiB answer reaches the client whole through non-blocking writes");
	snprintf(bind_s, sizeof(bind_s), "127.0.0.1:%d", port);
	CHECK_INT(http_server_open(bind_s, big_handle, NULL, &h), 0);
	sa.sin_port = htons((unsigned short)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	poll(&(struct pollfd){.fd = fd, .events = POLLOUT}, 1, 1000);
	CHECK_INT(write(fd, "GET /x HTTP/1.1\r\n\r\n", 19), 19);
	/* the loop's part: serve whenever its fd is ready, never blocking */
	while (n != 0 && ms < 10000 && got < BIG + 4096) {
		struct pollfd p[2] = {{.fd = http_server_fd(h), .events = POLLIN},
				      {.fd = fd, .events = POLLIN}};

		poll(p, 2, 10);
		ms += 10;
		http_server_serve(h, 1);
		n = read(fd, buf + got, BIG + 4096 - got);
		if (n > 0)
			got += (size_t)n;
		if (n < 0 && errno != EAGAIN)
			break;
	}
	CHECK_INT(n, 0); /* closed by the server once everything was sent */
	buf[got < BIG + 4096 ? got : BIG + 4095] = '\0';
	CHECK(strstr(buf, "Content-Length: 3145728\r\n"));
	if (strstr(buf, "\r\n\r\n"))
		body = got - (size_t)(strstr(buf, "\r\n\r\n") + 4 - buf);
	CHECK_INT(body, BIG);
	CHECK(!strncmp(buf + got - 16, "000000000196607\n", 16));
	close(fd);
	http_server_close(h);
	free(buf);
}

int main(void)
{
	test_format();
	test_hist();
	test_respond();
	test_server();
	return unit_done();
}
