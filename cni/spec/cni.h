/* SPDX-License-Identifier: Apache-2.0 */
/* Types shared by the files of the CNI plugin: request, result, error. */
#ifndef SLUICE_CNI_H
#define SLUICE_CNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>

#include "cleanup.h"

#define CNI_IFNAME_MAX	      15
#define CNI_MAX_IPS	      8
#define CNI_MAX_IFACES	      8
#define CNI_MAX_ROUTES	      16
#define CNI_DEFAULT_STATE_DIR "/var/lib/sluice"
#define CNI_VERSION_LATEST    "1.1.0"

/* Error codes of the spec (A.7) and ours (100+). */
enum cni_code {
	CNI_ERR_VERSION = 1,
	CNI_ERR_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_CONFIG = 7,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_DRIFT = 100,	      /* CHECK: something we set up is missing or changed */
	CNI_ERR_HOSTPORT_TAKEN = 101, /* ADD: a hostPort another pod holds */
	CNI_ERR_INTERNAL = 999,
};

struct cni_err {
	int code;
	char msg[256];
	char details[1024];
};

/* The CNI_* environment of this invocation; unset variables are "". */
struct cni_env {
	const char *command;
	const char *containerid;
	const char *netns;
	const char *ifname;
	const char *args;
	const char *path;
};

/* Keys of CNI_ARGS we use; others are ignored. */
struct cni_args {
	char pod_namespace[254];
	char pod_name[254];
	char pod_uid[64];
	char mac[18];
};

struct cni_iface {
	char name[64];
	char mac[18];
	char sandbox[256];
	int mtu; /* 0: not set */
};

struct cni_ip {
	int family;	     /* 4 or 6 */
	char address[64];    /* CIDR as given */
	struct in_addr addr; /* family 4 only */
	int prefix;
	char gateway[64]; /* "" if none */
	int iface;	  /* index into interfaces, -1 if none */
};

struct cni_route {
	char dst[64];
	char gw[64];
};

struct cni_result {
	char cni_version[16];
	struct cni_iface ifaces[CNI_MAX_IFACES];
	int n_ifaces;
	struct cni_ip ips[CNI_MAX_IPS];
	int n_ips;
	struct cni_route routes[CNI_MAX_ROUTES];
	int n_routes;
	char *dns_json; /* the "dns" object serialised, NULL if absent */
};

struct cni_attachment {
	char containerid[256];
	char ifname[64];
};

/* Sets e and returns err (a negative errno; -EINVAL if err is 0). When err is
 * non-zero its strerror is appended to the formatted details. */
int cni_err_set(struct cni_err *e, int err, int code, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

int mac_parse(const char *s, unsigned char mac[6]);
void mac_format(const unsigned char mac[6], char out[18]);

#endif
