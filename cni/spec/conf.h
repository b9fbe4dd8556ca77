/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin's network configuration and CNI_ARGS, parsed from the request. */
#ifndef SLUICE_CNI_CONF_H
#define SLUICE_CNI_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "cni.h"
#include "log.h"
#include "portmaps.h"

struct conf {
	char cni_version[16];
	char name[256];
	char type[64];
	char pin_dir[256];
	char state_dir[256];
	char log_file[256];
	enum log_level log_level;
	int mtu;				   /* 0: take the uplink's */
	char ipam_type[64];			   /* "" if no ipam object */
	char mac[18];				   /* runtimeConfig.mac, "" if none */
	struct portmap portmaps[CNI_MAX_PORTMAPS]; /* runtimeConfig.portMappings */
	int n_portmaps;
	char portmaps_bad[256]; /* why portMappings is malformed ("" if not): ADD
				 * refuses it, DEL goes on without them */
	bool has_prev;
	struct cni_result prev;
	bool has_valid; /* GC: cni.dev/valid-attachments or cni.dev/attachments */
	struct cni_attachment *valid;
	size_t n_valid;
};

/* Parses a request. Errors: code 6 (empty, not JSON), 7 (missing or invalid
 * key), 1 (unsupported cniVersion). c->cni_version is filled as early as it can
 * be, so the error can echo it. */
int conf_parse(const char *buf, size_t len, struct conf *c, struct cni_err *e);
void conf_free(struct conf *c);

/* Only the cniVersion of a VERSION request: empty input -> latest. */
int conf_parse_version(const char *buf, size_t len, char *version, size_t size, struct cni_err *e);

/* A copy of the request with cniVersion replaced and "cni.dev/..." keys removed,
 * for a DEL synthesised from GC. Caller frees *out. */
int conf_rewrite_for_del(const char *buf, size_t len, const char *version, char **out);
/* A copy of the request with only cniVersion replaced, for a delegate that
 * speaks an older version. Caller frees *out. */
int conf_rewrite_version(const char *buf, size_t len, const char *version, char **out);

/* A member of a JSON object by key without case: containerd capitalises the
 * runtimeConfig keys. (jansson's json_t, declared without its header.) */
struct json_t *conf_object_get_nocase(struct json_t *obj, const char *key);
/* CNI_ARGS "K=V;K=V": known keys stored, unknown ignored, a pair without '='
 * or an over-long value is -EINVAL. */
int cni_args_parse(const char *s, struct cni_args *a, struct cni_err *e);

#endif
