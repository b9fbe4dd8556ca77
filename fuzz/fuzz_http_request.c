// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: an HTTP request head as a client sends it to /healthz or /metrics. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "healthz.h"
#include "http_server.h"

/* Echoes the path, so the answer's body and its length are built from input. */
static void echo_handle(void *ctx, const char *path, struct http_reply *r)
{
	r->code = strcmp(path, "/metrics") ? 0 : 200;
	http_buf_printf(&r->body, "%s\n", path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct healthz_state st = {.healthy = size & 1, .node_eligible = size & 2};
	struct timespec now = {.tv_sec = 1764067800};
	struct http_buf out = {};
	char small[1024];

	http_respond((const char *)data, size, echo_handle, NULL, &out);
	http_buf_free(&out);
	healthz_respond((const char *)data, size, &st, &now, small, sizeof(small));
	return 0;
}
