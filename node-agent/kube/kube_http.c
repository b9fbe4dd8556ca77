// SPDX-License-Identifier: Apache-2.0
/* The agent's only libcurl user: TLS, bearer auth, one curl multi handle polled with an extra fd.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "kube_http.h"
#include "version.h"

#define LIST_TIMEOUT_S	  120
#define CONNECT_TIMEOUT_S 10
#define WATCH_GRACE_S	  30 /* beyond timeoutSeconds, for the server to end the stream */

struct kube_http {
	CURLM *multi;
	const struct kube_config *kc;
	char base[KUBE_PATH_MAX];      /* URL prefix; its host is tls-server-name when set */
	struct curl_slist *connect_to; /* tls-server-name:port -> server host:port */
	struct kube_http_req *reqs;    /* running requests */
};

struct kube_http_req {
	struct kube_http_req *next, **pprev;
	struct kube_http *h;
	CURL *easy;
	struct curl_slist *headers;
	const struct kube_http_ops *ops;
	void *ctx;
	bool status_sent, aborted;
	char errbuf[CURL_ERROR_SIZE];
};

/* "https://host[:port][/prefix]" into its parts; port defaults to 443. */
static int server_split(const char *server, char *host, size_t host_len, char *port,
			size_t port_len, const char **prefix)
{
	const char *p = server + strlen("https://"), *end, *colon;

	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return -EINVAL;
		end++;
	} else {
		end = p + strcspn(p, ":/");
	}
	if ((size_t)(end - p) >= host_len || end == p)
		return -EINVAL;
	memcpy(host, p, end - p);
	host[end - p] = '\0';
	colon = end;
	*prefix = colon + strcspn(colon, "/");
	if (*colon == ':') {
		size_t n = (size_t)(*prefix - colon - 1);

		if (!n || n >= port_len)
			return -EINVAL;
		memcpy(port, colon + 1, n);
		port[n] = '\0';
	} else {
		snprintf(port, port_len, "443");
	}
	return 0;
}

int kube_http_new(const struct kube_config *kc, struct kube_http **out, char *err, size_t err_len)
{
	static bool global_done;
	char host[300], port[16], entry[700];
	struct kube_http *h;
	const char *prefix;

	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
			snprintf(err, err_len, "cannot initialise libcurl");
			return -ENOMEM;
		}
		global_done = true;
	}
	if (server_split(kc->server, host, sizeof(host), port, sizeof(port), &prefix) < 0) {
		snprintf(err, err_len, "invalid server URL '%s'", kc->server);
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->kc = kc;
	h->multi = curl_multi_init();
	if (!h->multi) {
		free(h);
		return -ENOMEM;
	}
	if (kc->tls_server_name[0]) {
		snprintf(h->base, sizeof(h->base), "https://%s:%s%s", kc->tls_server_name, port,
			 prefix);
		snprintf(entry, sizeof(entry), "%s:%s:%s:%s", kc->tls_server_name, port, host,
			 port);
		h->connect_to = curl_slist_append(NULL, entry);
		if (!h->connect_to) {
			kube_http_free(h);
			return -ENOMEM;
		}
	} else {
		snprintf(h->base, sizeof(h->base), "%s", kc->server);
	}
	*out = h;
	return 0;
}

static void req_free(struct kube_http_req *req)
{
	if (req->pprev) {
		*req->pprev = req->next;
		if (req->next)
			req->next->pprev = req->pprev;
	}
	if (req->easy) {
		curl_multi_remove_handle(req->h->multi, req->easy);
		curl_easy_cleanup(req->easy);
	}
	curl_slist_free_all(req->headers);
	free(req);
}

void kube_http_free(struct kube_http *h)
{
	if (!h)
		return;
	/* Requests still running belong to nobody now: free them. */
	while (h->reqs)
		req_free(h->reqs);
	curl_multi_cleanup(h->multi);
	curl_slist_free_all(h->connect_to);
	free(h);
}

static void status_send(struct kube_http_req *req)
{
	curl_off_t retry_after = 0;
	long status = 0;

	if (req->status_sent)
		return;
	req->status_sent = true;
	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(req->easy, CURLINFO_RETRY_AFTER, &retry_after);
	req->ops->on_status(req->ctx, status, (long)retry_after);
}

static size_t body_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct kube_http_req *req = userdata;
	size_t n = size * nmemb;

	status_send(req);
	if (req->ops->on_body(req->ctx, data, n) < 0) {
		req->aborted = true;
		return 0; /* CURLE_WRITE_ERROR ends the transfer */
	}
	return n;
}

static int blob_set(CURL *easy, CURLoption opt, const struct kube_blob *b)
{
	struct curl_blob blob = {b->data, b->len, CURL_BLOB_COPY};

	return curl_easy_setopt(easy, opt, &blob) == CURLE_OK ? 0 : -EINVAL;
}

static int tls_setup(CURL *easy, const struct kube_config *kc)
{
	int r = 0;

	if (kc->insecure) { /* only when the kubeconfig says so */
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (kc->ca_data.data)
		r |= blob_set(easy, CURLOPT_CAINFO_BLOB, &kc->ca_data);
	else if (kc->ca_file[0])
		r |= curl_easy_setopt(easy, CURLOPT_CAINFO, kc->ca_file) ? -1 : 0;
	if (kc->cert_data.data)
		r |= blob_set(easy, CURLOPT_SSLCERT_BLOB, &kc->cert_data);
	else if (kc->cert_file[0])
		r |= curl_easy_setopt(easy, CURLOPT_SSLCERT, kc->cert_file) ? -1 : 0;
	if (kc->key_data.data)
		r |= blob_set(easy, CURLOPT_SSLKEY_BLOB, &kc->key_data);
	else if (kc->key_file[0])
		r |= curl_easy_setopt(easy, CURLOPT_SSLKEY, kc->key_file) ? -1 : 0;
	return r ? -EINVAL : 0;
}

/* The request's headers: JSON wanted, and the bearer token when there is one. */
static int req_headers_set(struct kube_http_req *req)
{
	char auth[64 * 1024 + 32];
	struct curl_slist *l;

	l = curl_slist_append(NULL, "Accept: application/json");
	if (!l)
		return -ENOMEM;
	req->headers = l;
	if (req->h->kc->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", req->h->kc->token);
		if (!curl_slist_append(req->headers, auth))
			return -ENOMEM;
	}
	return 0;
}

/* The transfer's options: a watch (timeout_s > 0) may run its timeoutSeconds
 * and a grace, a list LIST_TIMEOUT_S; the body goes to body_write. */
static int req_easy_setup(struct kube_http_req *req, const char *url, int timeout_s)
{
	struct kube_http *h = req->h;
	CURL *e = req->easy;

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sluice-agent/" SLUICE_VERSION);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_TIMEOUT,
			 (long)(timeout_s ? timeout_s + WATCH_GRACE_S : LIST_TIMEOUT_S));
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, req);
	if (h->connect_to)
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, h->connect_to);
	return tls_setup(e, h->kc);
}

int kube_http_get(struct kube_http *h, const char *path, int timeout_s,
		  const struct kube_http_ops *ops, void *ctx, struct kube_http_req **out)
{
	struct kube_http_req *req = calloc(1, sizeof(*req));
	char url[4096];

	if (!req)
		return -ENOMEM;
	req->h = h;
	req->ops = ops;
	req->ctx = ctx;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", h->base, path) >= sizeof(url)) {
		free(req);
		return -ENAMETOOLONG;
	}
	req->easy = req_headers_set(req) < 0 ? NULL : curl_easy_init();
	if (!req->easy) {
		req_free(req);
		return -ENOMEM;
	}
	if (req_easy_setup(req, url, timeout_s) < 0) {
		req_free(req);
		return -EINVAL;
	}
	if (curl_multi_add_handle(h->multi, req->easy) != CURLM_OK) {
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
		req_free(req);
		return -ENOMEM;
	}
	req->next = h->reqs;
	if (h->reqs)
		h->reqs->pprev = &req->next;
	req->pprev = &h->reqs;
	h->reqs = req;
	if (out)
		*out = req;
	return 0;
}

void kube_http_cancel(struct kube_http *h, struct kube_http_req *req)
{
	if (req)
		req_free(req);
}

static int curl_errno(CURLcode c, bool aborted)
{
	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_WRITE_ERROR:
		return aborted ? -ECANCELED : -EIO;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -ECONNRESET;
	}
}

int kube_http_poll(struct kube_http *h, int extra_fd, int timeout_ms, bool *extra_ready)
{
	struct curl_waitfd wfd = {.fd = extra_fd, .events = CURL_WAIT_POLLIN};
	CURLMsg *m;
	int running, left;

	*extra_ready = false;
	if (curl_multi_poll(h->multi, extra_fd >= 0 ? &wfd : NULL, extra_fd >= 0 ? 1 : 0,
			    timeout_ms, NULL) != CURLM_OK)
		return -EIO;
	*extra_ready = extra_fd >= 0 && (wfd.revents & CURL_WAIT_POLLIN);
	if (curl_multi_perform(h->multi, &running) != CURLM_OK)
		return -EIO;
	while ((m = curl_multi_info_read(h->multi, &left))) {
		struct kube_http_req *req = NULL;
		char msg[CURL_ERROR_SIZE + 64];
		CURLcode c;
		int err;

		if (m->msg != CURLMSG_DONE)
			continue;
		c = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&req);
		if (!req)
			continue;
		err = curl_errno(c, req->aborted);
		if (!err)
			status_send(req);
		snprintf(msg, sizeof(msg), "%s",
			 err ? (req->errbuf[0] ? req->errbuf : curl_easy_strerror(c)) : "");
		req->ops->on_done(req->ctx, err, msg);
		req_free(req);
	}
	return 0;
}
