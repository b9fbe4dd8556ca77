// SPDX-License-Identifier: Apache-2.0
/* Health check node ports: which Services get one, their local ready endpoint counts,
 * kube-proxy's exact answer, and the addresses they listen on (real sockets on loopback). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hcnp.h"
#include "kube_fixture.h"
#include "unit.h"

/* JSON written with ' for " to stay readable. */
static void put(struct kube_store *s, enum kube_kind k, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *c = buf; *c; c++)
		if (*c == '\'')
			*c = '"';
	fixture_put(s, k, buf);
}

static void svc(struct kube_store *s, const char *name, const char *extra)
{
	put(s, KUBE_SERVICE,
	    "{'metadata':{'name':'%s','namespace':'shop'},'spec':{'clusterIP':'10.96.0.10',"
	    "'ports':[{'name':'http','port':80,'nodePort':30080}]%s}}",
	    name, extra);
}

#define LB_LOCAL                                                                                   \
	",'type':'LoadBalancer','externalTrafficPolicy':'Local','healthCheckNodePort':32000"
#define EP(ip, node, ready, term)                                                                  \
	"{'addresses':['" ip "'],'nodeName':'" node "','conditions':{'ready':" ready               \
	",'serving':true,'terminating':" term "}}"

static void slice(struct kube_store *s, const char *name, const char *svc_name, const char *eps,
		  const char *ports)
{
	put(s, KUBE_ENDPOINTSLICE,
	    "{'metadata':{'name':'%s','namespace':'shop','labels':{'kubernetes.io/service-name':"
	    "'%s'}},'addressType':'IPv4','endpoints':[%s],'ports':[%s]}",
	    name, svc_name, eps, ports);
}

static void test_wants(void)
{
	struct kube_store svcs, slices;
	struct hcnp_want *w = NULL;
	size_t n = 99;

	kube_store_init(&svcs, KUBE_SERVICE, fixture_noop, NULL);
	kube_store_init(&slices, KUBE_ENDPOINTSLICE, fixture_noop, NULL);

	UNIT_CASE("only LoadBalancer + Local + healthCheckNodePort Services get a server");
	svc(&svcs, "lb-local", LB_LOCAL);
	svc(&svcs, "lb-cluster",
	    ",'type':'LoadBalancer','externalTrafficPolicy':'Cluster','healthCheckNodePort':32001");
	svc(&svcs, "np-local", ",'type':'NodePort','externalTrafficPolicy':'Local'");
	svc(&svcs, "lb-no-port", ",'type':'LoadBalancer','externalTrafficPolicy':'Local'");
	put(&svcs, KUBE_SERVICE,
	    "{'metadata':{'name':'headless','namespace':'shop'},'spec':{'clusterIP':'None',"
	    "'ports':[{'port':80}]" LB_LOCAL "}}");
	CHECK_INT(hcnp_wants(&svcs, &slices, "node-a", &w, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(w[0].ns, "shop");
		CHECK_STR(w[0].name, "lb-local");
		CHECK_INT(w[0].port, 32000);
		CHECK_INT(w[0].local_eps, 0);
	}
	free(w);

	UNIT_CASE("healthCheckNodePort out of range: the Service is malformed");
	{
		const char *bad = "{\"metadata\":{\"name\":\"x\",\"namespace\":\"shop\"},"
				  "\"spec\":{\"healthCheckNodePort\":70000}}";
		char why[KUBE_WHY_MAX] = "";

		CHECK(kube_obj_parse(KUBE_SERVICE, bad, strlen(bad), NULL, NULL, why,
				     sizeof(why)) == NULL);
		CHECK(strstr(why, "spec.healthCheckNodePort") != NULL);
	}

	UNIT_CASE("local ready endpoints: distinct ip:port over slices and ports; "
		  "terminating, not ready, remote and unnamed ports not counted");
	slice(&slices, "lb-local-1", "lb-local",
	      EP("10.244.1.5", "node-a", "true",
		 "false") "," EP("10.244.1.6", "node-a", "false",
				 "true") "," EP("10.244.2.5", "node-b", "true", "false"),
	      "{'name':'http','port':8080,'protocol':'TCP'},{'name':'alt','port':8081,'protocol':"
	      "'TCP'},{'port':9000,'protocol':'TCP'}");
	/* the same endpoint again in a second slice, plus one more */
	slice(&slices, "lb-local-2", "lb-local",
	      EP("10.244.1.5", "node-a", "true", "false") "," EP("10.244.1.7", "node-a", "true",
								 "false"),
	      "{'name':'http','port':8080,'protocol':'TCP'}");
	/* another Service's slice does not count */
	slice(&slices, "other-1", "other", EP("10.244.1.9", "node-a", "true", "false"),
	      "{'name':'http','port':8080,'protocol':'TCP'}");
	CHECK_INT(hcnp_wants(&svcs, &slices, "node-a", &w, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1) /* 10.244.1.5:8080, :8081 and 10.244.1.7:8080 */
		CHECK_INT(w[0].local_eps, 3);
	free(w);
	CHECK_INT(hcnp_wants(&svcs, &slices, "node-b", &w, &n), 0);
	if (n == 1)
		CHECK_INT(w[0].local_eps, 2);
	free(w);

	UNIT_CASE("only terminating local endpoints: 0");
	kube_store_delete(&slices, "shop", "lb-local-2");
	slice(&slices, "lb-local-1", "lb-local", EP("10.244.1.5", "node-a", "false", "true"),
	      "{'name':'http','port':8080,'protocol':'TCP'}");
	CHECK_INT(hcnp_wants(&svcs, &slices, "node-a", &w, &n), 0);
	if (n == 1)
		CHECK_INT(w[0].local_eps, 0);
	free(w);
	kube_store_fini(&svcs);
	kube_store_fini(&slices);
}

static const char *respond(const char *req, __u32 eps, bool healthy)
{
	static char out[1024];
	size_t n =
	    hcnp_respond("shop", "ingress", eps, healthy, req, strlen(req), out, sizeof(out));

	out[n] = '\0';
	return out;
}

static void test_respond(void)
{
	const char *r;

	UNIT_CASE("local endpoints and healthy: 200 with kube-proxy's body and headers");
	r = respond("GET / HTTP/1.1\r\nHost: 172.18.0.2:32000\r\n\r\n", 2, true);
	CHECK(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17));
	CHECK(strstr(r, "\r\nContent-Type: application/json\r\n") != NULL);
	CHECK(strstr(r, "\r\nX-Content-Type-Options: nosniff\r\n") != NULL);
	CHECK(strstr(r, "\r\nX-Load-Balancing-Endpoint-Weight: 2\r\n") != NULL);
	CHECK(strstr(r, "\r\nContent-Length: 115\r\n") != NULL);
	CHECK_STR(strstr(r, "\r\n\r\n") + 4,
		  "{\n\t\"service\": {\n\t\t\"namespace\": \"shop\",\n\t\t"
		  "\"name\": \"ingress\"\n\t},\n\t\"localEndpoints\": "
		  "2,\n\t\"serviceProxyHealthy\": true\n}");

	UNIT_CASE("no local endpoints: 503; proxy unhealthy: 503");
	r = respond("GET /healthz HTTP/1.1\r\n\r\n", 0, true);
	CHECK(!strncmp(r, "HTTP/1.1 503 Service Unavailable\r\n", 34));
	CHECK(strstr(r, "\"localEndpoints\": 0,") != NULL);
	r = respond("GET / HTTP/1.1\r\n\r\n", 1, false);
	CHECK(!strncmp(r, "HTTP/1.1 503 ", 13));
	CHECK(strstr(r, "\"serviceProxyHealthy\": false\n}") != NULL);

	UNIT_CASE("every path and method; HEAD without a body; incomplete: no answer yet");
	CHECK(
	    !strncmp(respond("POST /anything?x=1 HTTP/1.0\r\n\r\n", 1, true), "HTTP/1.1 200 ", 13));
	r = respond("HEAD / HTTP/1.1\r\n\r\n", 1, true);
	CHECK(!strncmp(r, "HTTP/1.1 200 ", 13));
	CHECK(strstr(r, "localEndpoints") == NULL);
	CHECK_STR(respond("GET / HTTP/1.1\r\nHost:", 1, true), "");
}

static void note_quiet(void *ctx, enum log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

/* Listens on ip:port (host order) for a moment: 0, or -errno (-EADDRINUSE
 * while a health check server holds it there). fd_out keeps it open. */
static int listen_try(__u32 ip, __u16 port, int *fd_out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r = 0;

	sa.sin_addr.s_addr = htonl(ip);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* as http_server */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
		r = -errno;
	if (fd_out && !r)
		*fd_out = fd;
	else
		close(fd);
	return r;
}

/* A port free on loopback now (the kernel's choice). */
static __u16 port_free(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		sa.sin_port = 0;
	close(fd);
	return ntohs(sa.sin_port);
}

#define LO1 0x7f000001 /* 127.0.0.1 */
#define LO2 0x7f000002
#define LO3 0x7f000003

static void test_bind(void)
{
	__be32 one[] = {htonl(LO1)}, two[] = {htonl(LO2)}, both[] = {htonl(LO1), htonl(LO2)};
	struct hcnp_want w = {.ns = "shop", .name = "ingress", .local_eps = 1};
	struct hcnp *h = NULL;
	int busy = -1;

	w.port = port_free();
	CHECK(w.port != 0);
	CHECK_INT(hcnp_new(note_quiet, NULL, &h), 0);
	if (!h || !w.port)
		return;

	UNIT_CASE("without --nodeport-addresses: every address, as kube-proxy (0.0.0.0)");
	CHECK_INT(hcnp_sync(h, &w, 1, 0), 0);
	CHECK_INT(hcnp_count(h), 1);
	CHECK_INT(listen_try(LO1, w.port, NULL), -EADDRINUSE);
	CHECK_INT(listen_try(LO3, w.port, NULL), -EADDRINUSE);

	UNIT_CASE("with them: only the NodePort addresses; the port stays free on the others");
	hcnp_bind(h, one, 1);
	CHECK_INT(hcnp_count(h), 0); /* closed, to be opened on the new addresses */
	CHECK(hcnp_retry_due(h, 0));
	CHECK_INT(hcnp_sync(h, &w, 1, 0), 0);
	CHECK_INT(hcnp_count(h), 1);
	CHECK_INT(listen_try(LO1, w.port, NULL), -EADDRINUSE);
	CHECK_INT(listen_try(LO2, w.port, NULL), 0);
	CHECK(!hcnp_retry_due(h, 0));

	UNIT_CASE("the addresses change: the servers move with them");
	hcnp_bind(h, two, 1);
	CHECK_INT(hcnp_sync(h, &w, 1, 0), 0);
	CHECK_INT(listen_try(LO1, w.port, NULL), 0);
	CHECK_INT(listen_try(LO2, w.port, NULL), -EADDRINUSE);
	hcnp_bind(h, two, 1); /* the same set: nothing closed */
	CHECK_INT(hcnp_count(h), 1);

	UNIT_CASE("one address of two taken: none listens (kube-proxy's all or none), retried");
	CHECK_INT(listen_try(LO1, w.port, &busy), 0);
	hcnp_bind(h, both, 2);
	CHECK(hcnp_sync(h, &w, 1, 0) < 0);
	CHECK_INT(hcnp_count(h), 0);
	CHECK_INT(listen_try(LO2, w.port, NULL), 0); /* the one it got was let go */
	CHECK(!hcnp_retry_due(h, 1));
	CHECK(hcnp_retry_due(h, HCNP_RETRY_MS));
	close(busy);
	CHECK_INT(hcnp_sync(h, &w, 1, HCNP_RETRY_MS), 0);
	CHECK_INT(hcnp_count(h), 1);
	CHECK_INT(listen_try(LO1, w.port, NULL), -EADDRINUSE);
	CHECK_INT(listen_try(LO2, w.port, NULL), -EADDRINUSE);

	UNIT_CASE("no node address matches: it listens nowhere; released when unwanted");
	hcnp_bind(h, both, 0);
	CHECK_INT(hcnp_sync(h, &w, 1, HCNP_RETRY_MS), 0);
	CHECK_INT(listen_try(LO1, w.port, NULL), 0);
	hcnp_bind(h, NULL, 0);
	CHECK_INT(hcnp_sync(h, &w, 1, HCNP_RETRY_MS), 0);
	CHECK_INT(listen_try(LO3, w.port, NULL), -EADDRINUSE);
	CHECK_INT(hcnp_sync(h, NULL, 0, HCNP_RETRY_MS), 0);
	CHECK_INT(listen_try(LO3, w.port, NULL), 0);
	hcnp_free(h);
}

int main(void)
{
	test_wants();
	test_respond();
	test_bind();
	return unit_done();
}
