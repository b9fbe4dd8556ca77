/* SPDX-License-Identifier: Apache-2.0 */
/* The list+watch state machine of one resource (client-go's reflector), free of I/O. */
#ifndef SLUICE_AGENT_KUBE_REFLECTOR_H
#define SLUICE_AGENT_KUBE_REFLECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "kube_objects.h"
#include "kube_store.h"
#include "log.h"

#define KUBE_PAGE_LIMIT		 500
#define KUBE_BACKOFF_INIT_MS	 800
#define KUBE_BACKOFF_MAX_MS	 30000
#define KUBE_WATCH_TIMEOUT_MIN_S 240
#define KUBE_WATCH_TIMEOUT_MAX_S 480
#define KUBE_RETRY_AFTER_MAX_S	 600
#define KUBE_SHORT_WATCH_MS	 1000 /* a watch that ends sooner without events is an error */

struct kube_resource {
	const char *name; /* "services": the status and log name */
	enum kube_kind kind;
	const char *path;	    /* collection path, all namespaces */
	const char *label_selector; /* URL-encoded, NULL for none */
	bool this_node;		    /* fieldSelector spec.nodeName=<node> */
};

/* Indexed by enum kube_kind. */
extern const struct kube_resource kube_resources[KUBE_KIND_MAX];

enum kube_phase { KUBE_PHASE_LIST, KUBE_PHASE_WATCH };

struct kube_reflector;

/* Something to log; the reflector itself never logs. */
typedef void (*kube_note_fn)(void *ctx, const struct kube_reflector *r, enum log_level level,
			     const char *msg);

struct kube_reflector {
	const struct kube_resource *res;
	struct kube_store store;
	char node[KUBE_NAME_MAX];
	enum kube_phase phase;
	bool in_flight;		   /* a request is running */
	bool synced;		   /* the first full list completed */
	bool relist_pending;	   /* a watch ERROR 410 arrived */
	bool auth_failed;	   /* a 401 arrived: re-read the token before the next request */
	unsigned long long due_ms; /* the next request starts at this time */
	unsigned int backoff_ms;   /* base of the next backoff delay */
	unsigned int seed;
	char rv[KUBE_RV_MAX]; /* last resourceVersion seen */
	char *cont;	      /* continue token of the list in progress */
	/* the request in progress */
	long status;
	long retry_after;
	unsigned long long started_ms;
	unsigned int events;
	char watch_error[KUBE_WHY_MAX]; /* a watch ERROR event other than 410 */
	/* counters */
	unsigned int lists, watches, relists, errors, malformed;
	unsigned long watch_events[KUBE_EV_TYPES]; /* by enum kube_ev_type, since start */
	char last_error[KUBE_WHY_MAX];
	kube_note_fn note;
	void *note_ctx;
};

/* seed makes the jitter reproducible (tests); any value works. */
void kube_reflector_init(struct kube_reflector *r, const struct kube_resource *res,
			 const char *node, unsigned int seed, kube_store_fn cb, void *cb_ctx,
			 kube_note_fn note, void *note_ctx);
void kube_reflector_fini(struct kube_reflector *r);

/* When the next request is due; ~0ULL while one is in flight. */
unsigned long long kube_reflector_due(const struct kube_reflector *r);

/* The next request if one is due at now: its path and query in path, its
 * deadline in *timeout_s (0 : a list, the client's default) and 1; 0 if none
 * is due, -ENAMETOOLONG if the path does not fit. */
int kube_reflector_request(struct kube_reflector *r, unsigned long long now, char *path, size_t len,
			   int *timeout_s);

/* The response's HTTP status and Retry-After (seconds, 0 : none). */
void kube_reflector_on_status(struct kube_reflector *r, long status, long retry_after);

/* One line of a 200 watch stream. 1 when the stream should be stopped now. */
int kube_reflector_on_watch_line(struct kube_reflector *r, const char *line, size_t len);

/* The request ended: err 0 when the response completed, else the -errno of
 * the transport failure with its text in msg. body holds the list page or the
 * error response (NULL for a 200 watch). */
void kube_reflector_on_end(struct kube_reflector *r, unsigned long long now, int err,
			   const char *msg, const char *body, size_t len);

#endif
