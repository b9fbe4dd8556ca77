// SPDX-License-Identifier: Apache-2.0
/* The agent's sync state as agent-status.json (jansson): written atomically, read by `status`. */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cleanup.h"
#include "kube_store.h"
#include "pin_step.h"
#include "pol_publish.h"
#include "status.h"
#include "svc_publish.h"

/* What the service publisher did: sizes, map-full counts per map, failures. */
static json_t *svc_build(const struct svc_stats *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:{s:I, s:I}, s:I, s:I, s:I, s:b, s:I, s:I}",
			 "services", (json_int_t)s->services, "servicePorts", (json_int_t)s->ports,
			 "backends", (json_int_t)s->backends, "clusterIPs", (json_int_t)s->vips,
			 "mapFull", SL_PIN_SVC4, (json_int_t)s->full[SVC_MAP_SVC], SL_PIN_BE4,
			 (json_int_t)s->full[SVC_MAP_BE], "idsFull", (json_int_t)s->ids_full,
			 "errors", (json_int_t)s->errors, "failing", (json_int_t)s->failing,
			 "synced", s->gc_done, "writes", (json_int_t)s->writes, "deletes",
			 (json_int_t)s->deletes);
}

static int bad_policy(const struct kube_obj *o, void *ctx)
{
	if (o->u.np.error || !o->u.np.sel_ok)
		return json_array_append_new(
		    ctx, json_pack("{s:s, s:s, s:s}", "namespace", o->ns, "name", o->name, "error",
				   o->u.np.error ? o->u.np.error : "spec.podSelector: unusable"));
	return 0;
}

/* What the policy publisher did, and the NetworkPolicies it cannot enforce as written. */
static json_t *pol_build(const struct pol_stats *s, const struct kube_store *netpols)
{
	json_t *bad = json_array();
	json_t *j;

	if (!bad)
		return NULL;
	if (netpols)
		kube_store_foreach(netpols, bad_policy, bad);
	j = json_pack(
	    "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}, s:I, "
	    "s:I, s:I, s:I, s:I, s:o}",
	    "active", s->active, "policies", (json_int_t)(netpols ? netpols->count : 0),
	    "invalidPolicies", (json_int_t)json_array_size(bad), "identities",
	    (json_int_t)s->identities, "ipcacheEntries", (json_int_t)s->ipcache, "allowEntries",
	    (json_int_t)s->entries, "cidrEntries", (json_int_t)s->cidrs, "endpoints",
	    (json_int_t)s->endpoints, "isolatedIngress", (json_int_t)s->iso_in, "isolatedEgress",
	    (json_int_t)s->iso_out, "pending", (json_int_t)s->pending, "failedClosed",
	    (json_int_t)s->failed, "mapFull", SL_PIN_IPCACHE4, (json_int_t)s->full[POL_MAP_IPCACHE],
	    SL_PIN_POL, (json_int_t)s->full[POL_MAP_POL], SL_PIN_POLCIDR4,
	    (json_int_t)s->full[POL_MAP_CIDR], "errors", (json_int_t)s->errors, "generation",
	    (json_int_t)s->gen, "syncs", (json_int_t)s->syncs, "writes", (json_int_t)s->writes,
	    "deletes", (json_int_t)s->deletes, "invalid", bad);
	return j;
}

static json_t *agent_build(const struct status_agent *a)
{
	json_auto_t *j = NULL;
	json_t *res, *routes;

	j = json_pack("{s:{s:o, s:s}, s:s, s:s, s:b, s:o, s:I, s:I, s:[], s:[]}", "api", "server",
		      a->server ? json_string(a->server) : json_null(), "mode", a->mode, "node",
		      a->node, "podCIDR", a->pod_cidr, "cniReady", a->cni_ready, "waiting",
		      a->waiting && a->waiting[0] ? json_string(a->waiting) : json_null(), "pid",
		      (json_int_t)getpid(), "updatedAt", (json_int_t)time(NULL), "resources",
		      "routes");
	if (!j)
		return NULL;
	if (a->nodeport_mode &&
	    json_object_set_new(j, "nodePortMode", json_string(a->nodeport_mode)) < 0)
		return NULL;
	res = json_object_get(j, "resources");
	routes = json_object_get(j, "routes");
	for (int i = 0; i < a->n_resources; i++) {
		const struct status_resource *r = &a->resources[i];

		if (json_array_append_new(
			res, json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:I}", "name", r->name,
				       "synced", r->synced, "resourceVersion", r->rv, "objects",
				       (json_int_t)r->objects, "relists", (json_int_t)r->relists,
				       "errors", (json_int_t)r->errors, "malformed",
				       (json_int_t)r->malformed)))
			return NULL;
	}
	for (size_t i = 0; i < a->n_routes; i++)
		if (json_array_append_new(routes, json_pack("{s:s, s:s}", "dst", a->routes[i].dst,
							    "via", a->routes[i].via)))
			return NULL;
	if (a->svc && json_object_set_new(j, "services", svc_build(a->svc)))
		return NULL;
	if (a->pol && json_object_set_new(j, "policy", pol_build(a->pol, a->netpols)))
		return NULL;
	if (a->pins &&
	    json_object_set_new(j, "pins",
				json_pack("{s:I, s:I, s:I}", "held", (json_int_t)a->pins->held,
					  "restored", (json_int_t)a->pins->restored, "foreign",
					  (json_int_t)a->pins->foreign)))
		return NULL;
	return json_incref(j);
}

/* mkdir -p of path's directory. */
static int parent_create(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(dir, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int status_agent_publish(const char *path, const struct status_agent *a)
{
	json_auto_t *j = agent_build(a);

	return j ? status_file_write(path, j) : -ENOMEM;
}

int status_file_write_with(const char *path, status_fill_fn fill, void *ctx)
{
	_cleanup_free_ char *tmp = NULL;
	FILE *f;
	int fd, r;

	r = (int)parent_create(path);
	if (r < 0)
		return r;
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		goto out_unlink;
	}
	r = fill(f, ctx);
	if (fflush(f) == EOF && !r)
		r = -errno;
	if (!r && fchmod(fileno(f), 0644) < 0)
		r = -errno;
	if (fclose(f) == EOF && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (!r)
		return 0;
out_unlink:
	unlink(tmp);
	return r;
}

static int json_fill(FILE *f, void *ctx)
{
	if (json_dumpf(ctx, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 || fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

int status_file_write(const char *path, json_t *j)
{
	return status_file_write_with(path, json_fill, j);
}

void status_agent_load(struct status *st, const char *path)
{
	json_error_t jerr;

	st->agent = json_load_file(path, 0, &jerr);
	if (st->agent && !json_is_object(st->agent)) {
		json_decref(st->agent);
		st->agent = NULL;
		st->agent_err = -EBADMSG;
		return;
	}
	st->agent_err = st->agent ? 0 : access(path, R_OK) < 0 ? -errno : -EBADMSG;
}
