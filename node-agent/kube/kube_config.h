/* SPDX-License-Identifier: Apache-2.0 */
/* Where the Kubernetes API is and how to authenticate: kubeconfig or in-cluster. */
#ifndef SLUICE_AGENT_KUBE_CONFIG_H
#define SLUICE_AGENT_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define KUBE_PATH_MAX	    512
#define KUBE_SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_TOKEN_PERIOD_S 60 /* client-go re-reads token files every minute */

enum kube_mode { KUBE_MODE_KUBECONFIG, KUBE_MODE_IN_CLUSTER };

struct kube_blob {
	unsigned char *data; /* decoded PEM; NULL when unset */
	size_t len;
};

struct kube_config {
	enum kube_mode mode;
	char source[KUBE_PATH_MAX];  /* kubeconfig file or service-account dir */
	char context[256];	     /* kubeconfig context in use; "" in-cluster */
	char server[KUBE_PATH_MAX];  /* "https://host:port[/prefix]", no trailing '/' */
	char tls_server_name[256];   /* "" : the server's host */
	bool insecure;		     /* insecure-skip-tls-verify: true */
	char ca_file[KUBE_PATH_MAX]; /* "" : ca_data or the system's CAs */
	struct kube_blob ca_data;
	char cert_file[KUBE_PATH_MAX];
	struct kube_blob cert_data;
	char key_file[KUBE_PATH_MAX];
	struct kube_blob key_data;
	char token_file[KUBE_PATH_MAX]; /* "" : token is fixed */
	char *token;			/* bearer token; NULL : none (client certificate) */
	time_t token_checked;		/* monotonic seconds of the last file check */
	struct timespec token_mtime;
};

/* Reads a kubeconfig (YAML or JSON) at path and resolves its current context;
 * relative paths are taken from the file's directory. -errno and a one-line
 * message in err on failure; kc needs kube_config_free() only on success. */
int kube_config_load(const char *path, struct kube_config *kc, char *err, size_t err_len);

/* In-cluster configuration: KUBERNETES_SERVICE_HOST/_PORT and sa_dir's token
 * and ca.crt. -ENOENT when not in a cluster (env unset or no token file). */
int kube_config_in_cluster(const char *sa_dir, struct kube_config *kc, char *err, size_t err_len);

void kube_config_free(struct kube_config *kc);

/* Re-reads token_file when force is set (after a 401), when it changed, or
 * at most every KUBE_TOKEN_PERIOD_S. Keeps the last good token on failure.
 * Returns 1 when the token changed, 0 when not, -errno when the read failed. */
int kube_config_token_refresh(struct kube_config *kc, bool force);

/* RFC 4648 base64 (whitespace ignored) into a new buffer; -EINVAL if invalid. */
int base64_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len);

#endif
