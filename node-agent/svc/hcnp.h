/* SPDX-License-Identifier: Apache-2.0 */
/* kube-proxy's health check node ports: an HTTP server per LoadBalancer Service with
 * externalTrafficPolicy Local, answering whether this node has ready endpoints of it. */
#ifndef SLUICE_AGENT_HCNP_H
#define SLUICE_AGENT_HCNP_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "kube_store.h"
#include "svc_publish.h"

#define HCNP_RETRY_MS 5000 /* a port that could not be bound is tried again after this */
#define HCNP_ADDR_MAX 32   /* addresses one port listens on (--nodeport-addresses) */

/* One Service that wants a health check server: ns/name, its port, and how
 * many distinct ready endpoints (ip:port) of it are on this node. */
struct hcnp_want {
	const char *ns, *name; /* the Service object's, valid while the store holds it */
	__u16 port;
	__u32 local_eps;
};

/* The Services kube-proxy serves a health check for (proxied, type
 * LoadBalancer, externalTrafficPolicy Local, healthCheckNodePort set), each
 * with its local ready endpoints counted over its IPv4 EndpointSlices as
 * kube-proxy's LocalReadyEndpoints() does; sorted by ns/name. -ENOMEM. */
int hcnp_wants(const struct kube_store *svcs, const struct kube_store *slices, const char *node,
	       struct hcnp_want **out, size_t *n);

/* kube-proxy's answer (service_health.go): 200 iff local_eps > 0 and the
 * proxy is healthy, else 503; the JSON body and headers it writes. Every
 * path; GET and HEAD. Its length in out, 0 while the request is incomplete. */
size_t hcnp_respond(const char *ns, const char *name, __u32 local_eps, bool healthy,
		    const char *req, size_t len, char *out, size_t out_len);

struct hcnp;

/* Servers listen on *:<healthCheckNodePort>, as kube-proxy without
 * --nodeport-addresses (hcnp_bind). note receives what to log. */
int hcnp_new(svc_note_fn note, void *note_ctx, struct hcnp **out);
void hcnp_free(struct hcnp *h);

/* Where the servers listen: on each of ips[0..n) (network order; the NodePort
 * addresses, as kube-proxy with --nodeport-addresses; n 0: nowhere), or on
 * every address when ips is NULL. A change closes every server; the next
 * hcnp_sync() opens them on the new addresses (hcnp_retry_due() says so). At
 * most HCNP_ADDR_MAX addresses. */
void hcnp_bind(struct hcnp *h, const __be32 *ips, size_t n);

/* Readable when a client connects or sends: add it to the caller's poll. */
int hcnp_fd(const struct hcnp *h);

/* Opens the servers wants asks for, closes (releasing the port) those it no
 * longer does or whose port changed, and updates the endpoint counts; ports
 * that could not be bound are retried after HCNP_RETRY_MS. 0, or -errno of
 * the first failure (the rest was still done). */
int hcnp_sync(struct hcnp *h, const struct hcnp_want *wants, size_t n, unsigned long long now_ms);

/* A port is waiting for a retry of its bind (since a failed hcnp_sync()). */
bool hcnp_retry_due(const struct hcnp *h, unsigned long long now_ms);

/* Answers whatever is ready, without blocking; healthy is the proxy's health
 * (kube-proxy's IsHealthy(): programming not stale, node eligibility aside). */
void hcnp_serve(struct hcnp *h, bool healthy, unsigned long long now_ms);

/* Servers listening now. */
size_t hcnp_count(const struct hcnp *h);

#endif
