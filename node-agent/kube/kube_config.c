// SPDX-License-Identifier: Apache-2.0
/* Reads kubeconfig files (libyaml) and the in-cluster service-account setup. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "cleanup.h"
#include "errbuf.h"
#include "kube_config.h"

#define TOKEN_MAX (64 * 1024)

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len)
{
	unsigned char *buf = malloc(in_len / 4 * 3 + 4);
	unsigned int acc = 0, bits = 0;
	size_t n = 0, pad = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < in_len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = b64_val(c);
		if (v < 0 || pad) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (pad > 2 || bits >= 6 || !n) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

/* --- the YAML document --------------------------------------------------- */

static yaml_node_t *ymap_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)k->data.scalar.value, key))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static const char *yscalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A string field: absent is "" (0), present but not a string is -EINVAL. */
static int ystr(yaml_document_t *doc, yaml_node_t *map, const char *key, const char **out)
{
	yaml_node_t *n = ymap_get(doc, map, key);

	*out = "";
	if (!n)
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return -EINVAL;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    !strcmp((const char *)n->data.scalar.value, "null"))
		return 0;
	*out = (const char *)n->data.scalar.value;
	return 0;
}

/* contexts/clusters/users: [{name: N, <field>: {...}}] -> the map of entry N. */
static yaml_node_t *ynamed(yaml_document_t *doc, yaml_node_t *root, const char *list,
			   const char *field, const char *name)
{
	yaml_node_t *seq = ymap_get(doc, root, list);

	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++) {
		yaml_node_t *item = yaml_document_get_node(doc, *i);
		const char *n = yscalar(ymap_get(doc, item, "name"));

		if (n && !strcmp(n, name)) {
			yaml_node_t *v = ymap_get(doc, item, field);

			return v && v->type == YAML_MAPPING_NODE ? v : NULL;
		}
	}
	return NULL;
}

static int path_resolve(const char *base_dir, const char *p, char *out, size_t len)
{
	int n =
	    p[0] == '/' ? snprintf(out, len, "%s", p) : snprintf(out, len, "%s/%s", base_dir, p);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int file_read(const char *path, size_t max, char **out, size_t *out_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	while ((r = read(fd, buf + n, max - n)) > 0)
		n += (size_t)r;
	if (r < 0)
		return -errno;
	if (n == max)
		return -EFBIG;
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	buf = NULL;
	return 0;
}

static int server_check(const char *server, char *err, size_t len)
{
	if (strncmp(server, "https://", 8) || !server[8])
		return errbuf_set(err, len, "server '%s' must be an https:// URL", server);
	return 0;
}

/* One "-data" (base64) or path pair of a cluster or user entry. */
static int tls_item(yaml_document_t *doc, yaml_node_t *m, const char *key, const char *base_dir,
		    char *path, struct kube_blob *blob, const char *what, char *err, size_t len)
{
	char data_key[64];
	const char *v;
	int r;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	if (ystr(doc, m, data_key, &v) < 0)
		return errbuf_set(err, len, "%s: '%s' must be a string", what, data_key);
	if (v[0]) {
		r = base64_decode(v, strlen(v), &blob->data, &blob->len);
		if (r < 0)
			return errbuf_set(err, len, "%s: '%s' is not valid base64", what, data_key);
		return 0;
	}
	if (ystr(doc, m, key, &v) < 0)
		return errbuf_set(err, len, "%s: '%s' must be a string", what, key);
	if (!v[0])
		return 0;
	if (path_resolve(base_dir, v, path, KUBE_PATH_MAX) < 0)
		return errbuf_set(err, len, "%s: '%s' path too long", what, key);
	if (access(path, R_OK) < 0)
		return errbuf_set(err, len, "%s: cannot read %s '%s': %s", what, key, path,
				  strerror(errno));
	return 0;
}

static int cluster_load(yaml_document_t *doc, yaml_node_t *cl, const char *name,
			const char *base_dir, struct kube_config *kc, char *err, size_t len)
{
	char what[300];
	const char *v;
	int r;

	snprintf(what, sizeof(what), "cluster '%s'", name);
	if (ystr(doc, cl, "server", &v) < 0 || !v[0])
		return errbuf_set(err, len, "%s has no server", what);
	if (strlen(v) >= sizeof(kc->server))
		return errbuf_set(err, len, "%s: server URL too long", what);
	r = server_check(v, err, len);
	if (r < 0)
		return r;
	snprintf(kc->server, sizeof(kc->server), "%s", v);
	while (kc->server[strlen(kc->server) - 1] == '/')
		kc->server[strlen(kc->server) - 1] = '\0';
	if (ystr(doc, cl, "tls-server-name", &v) < 0 || strlen(v) >= sizeof(kc->tls_server_name))
		return errbuf_set(err, len, "%s: invalid tls-server-name", what);
	snprintf(kc->tls_server_name, sizeof(kc->tls_server_name), "%s", v);
	if (ystr(doc, cl, "insecure-skip-tls-verify", &v) < 0)
		return errbuf_set(err, len, "%s: insecure-skip-tls-verify must be true or false",
				  what);
	if (v[0] && strcmp(v, "true") && strcmp(v, "false"))
		return errbuf_set(err, len,
				  "%s: insecure-skip-tls-verify must be true or false, not '%s'",
				  what, v);
	kc->insecure = !strcmp(v, "true");
	if (ystr(doc, cl, "proxy-url", &v) < 0 || v[0])
		return errbuf_set(err, len, "%s: proxy-url is not supported", what);
	return tls_item(doc, cl, "certificate-authority", base_dir, kc->ca_file, &kc->ca_data, what,
			err, len);
}

static int user_load(yaml_document_t *doc, yaml_node_t *u, const char *name, const char *base_dir,
		     struct kube_config *kc, char *err, size_t len)
{
	static const char *const unsupported[] = {"exec", "auth-provider", "username", "password",
						  "as"};
	char what[300];
	const char *v;
	int r;

	snprintf(what, sizeof(what), "user '%s'", name);
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (ymap_get(doc, u, unsupported[i]))
			return errbuf_set(err, len,
					  "%s: '%s' is not supported (use a token, tokenFile or "
					  "client certificate)",
					  what, unsupported[i]);
	r = tls_item(doc, u, "client-certificate", base_dir, kc->cert_file, &kc->cert_data, what,
		     err, len);
	if (r < 0)
		return r;
	r = tls_item(doc, u, "client-key", base_dir, kc->key_file, &kc->key_data, what, err, len);
	if (r < 0)
		return r;
	if ((kc->cert_file[0] || kc->cert_data.data) != (kc->key_file[0] || kc->key_data.data))
		return errbuf_set(
		    err, len, "%s: client-certificate and client-key must be given together", what);
	if (ystr(doc, u, "token", &v) < 0)
		return errbuf_set(err, len, "%s: token must be a string", what);
	if (v[0] && !(kc->token = strdup(v)))
		return -ENOMEM;
	if (ystr(doc, u, "tokenFile", &v) < 0)
		return errbuf_set(err, len, "%s: tokenFile must be a string", what);
	if (v[0]) {
		if (path_resolve(base_dir, v, kc->token_file, sizeof(kc->token_file)) < 0)
			return errbuf_set(err, len, "%s: tokenFile path too long", what);
		r = kube_config_token_refresh(kc, true);
		if (r < 0)
			return errbuf_set(err, len, "%s: cannot read tokenFile '%s': %s", what,
					  kc->token_file, strerror(-r));
	}
	return 0;
}

static int doc_load(yaml_document_t *doc, const char *path, struct kube_config *kc, char *err,
		    size_t len)
{
	_cleanup_free_ char *dir_buf = strdup(path);
	yaml_node_t *root = yaml_document_get_root_node(doc), *ctx, *cl, *u;
	const char *cur, *cluster, *user, *base_dir;
	int r;

	if (!dir_buf)
		return -ENOMEM;
	base_dir = dirname(dir_buf);
	if (!root || root->type != YAML_MAPPING_NODE)
		return errbuf_set(err, len, "kubeconfig '%s' is empty or not a mapping", path);
	if (ystr(doc, root, "current-context", &cur) < 0 || !cur[0])
		return errbuf_set(err, len, "kubeconfig '%s' has no current-context", path);
	if (strlen(cur) >= sizeof(kc->context))
		return errbuf_set(err, len, "kubeconfig '%s': current-context too long", path);
	snprintf(kc->context, sizeof(kc->context), "%s", cur);
	ctx = ynamed(doc, root, "contexts", "context", cur);
	if (!ctx)
		return errbuf_set(err, len, "kubeconfig '%s': context '%s' not found", path, cur);
	if (ystr(doc, ctx, "cluster", &cluster) < 0 || !cluster[0])
		return errbuf_set(err, len, "kubeconfig '%s': context '%s' names no cluster", path,
				  cur);
	if (ystr(doc, ctx, "user", &user) < 0)
		return errbuf_set(err, len, "kubeconfig '%s': context '%s': user must be a string",
				  path, cur);
	cl = ynamed(doc, root, "clusters", "cluster", cluster);
	if (!cl)
		return errbuf_set(err, len, "kubeconfig '%s': cluster '%s' not found", path,
				  cluster);
	r = cluster_load(doc, cl, cluster, base_dir, kc, err, len);
	if (r < 0)
		return r;
	if (!user[0])
		return 0;
	u = ynamed(doc, root, "users", "user", user);
	if (!u)
		return errbuf_set(err, len, "kubeconfig '%s': user '%s' not found", path, user);
	return user_load(doc, u, user, base_dir, kc, err, len);
}

int kube_config_load(const char *path, struct kube_config *kc, char *err, size_t err_len)
{
	_cleanup_free_ char *text = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	size_t n;
	int r;

	memset(kc, 0, sizeof(*kc));
	kc->mode = KUBE_MODE_KUBECONFIG;
	if (strlen(path) >= sizeof(kc->source))
		return errbuf_set(err, err_len, "kubeconfig path too long");
	snprintf(kc->source, sizeof(kc->source), "%s", path);
	r = file_read(path, 4 << 20, &text, &n);
	if (r < 0) {
		snprintf(err, err_len, "cannot read kubeconfig '%s': %s", path, strerror(-r));
		return r;
	}
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
	if (!yaml_parser_load(&parser, &doc)) {
		r = errbuf_set(err, err_len, "malformed kubeconfig '%s': line %zu column %zu: %s",
			       path, parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			       parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return r;
	}
	r = doc_load(&doc, path, kc, err, err_len);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r < 0)
		kube_config_free(kc);
	return r;
}

int kube_config_in_cluster(const char *sa_dir, struct kube_config *kc, char *err, size_t err_len)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"),
		   *port = getenv("KUBERNETES_SERVICE_PORT");
	int r;

	memset(kc, 0, sizeof(*kc));
	kc->mode = KUBE_MODE_IN_CLUSTER;
	if (!host || !host[0] || !port || !port[0]) {
		snprintf(err, err_len, "not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset");
		return -ENOENT;
	}
	if (strspn(port, "0123456789") != strlen(port) || atoi(port) < 1 || atoi(port) > 65535)
		return errbuf_set(err, err_len, "invalid KUBERNETES_SERVICE_PORT '%s'", port);
	if (strlen(host) > 253 || strpbrk(host, "/[]@ "))
		return errbuf_set(err, err_len, "invalid KUBERNETES_SERVICE_HOST '%s'", host);
	snprintf(kc->source, sizeof(kc->source), "%s", sa_dir);
	snprintf(kc->server, sizeof(kc->server),
		 strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	if (path_resolve(sa_dir, "token", kc->token_file, sizeof(kc->token_file)) < 0 ||
	    path_resolve(sa_dir, "ca.crt", kc->ca_file, sizeof(kc->ca_file)) < 0)
		return errbuf_set(err, err_len, "service-account dir path too long");
	if (access(kc->token_file, F_OK) < 0) {
		snprintf(err, err_len, "not in a cluster: no token at '%s'", kc->token_file);
		return -ENOENT;
	}
	r = kube_config_token_refresh(kc, true);
	if (r < 0) {
		snprintf(err, err_len, "cannot read service-account token '%s': %s", kc->token_file,
			 strerror(-r));
		kube_config_free(kc);
		return r;
	}
	if (access(kc->ca_file, R_OK) < 0)
		kc->ca_file[0] = '\0'; /* as client-go: fall back to the system's CAs */
	return 0;
}

void kube_config_free(struct kube_config *kc)
{
	free(kc->ca_data.data);
	free(kc->cert_data.data);
	free(kc->key_data.data);
	free(kc->token);
	kc->ca_data.data = kc->cert_data.data = kc->key_data.data = NULL;
	kc->token = NULL;
}

static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int kube_config_token_refresh(struct kube_config *kc, bool force)
{
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t n;
	char *s, *e;
	int r;

	if (!kc->token_file[0])
		return 0;
	/* The file is swapped by symlink: stat it each time, never keep an fd. */
	if (!force && kc->token && mono_s() - kc->token_checked < KUBE_TOKEN_PERIOD_S) {
		if (stat(kc->token_file, &st) < 0 ||
		    (st.st_mtim.tv_sec == kc->token_mtime.tv_sec &&
		     st.st_mtim.tv_nsec == kc->token_mtime.tv_nsec))
			return 0;
	}
	kc->token_checked = mono_s();
	if (stat(kc->token_file, &st) < 0)
		return -errno;
	r = file_read(kc->token_file, TOKEN_MAX, &text, &n);
	if (r < 0)
		return r;
	for (s = text; *s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'; s++)
		;
	for (e = s + strlen(s);
	     e > s && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	if (!*s || strpbrk(s, "\r\n"))
		return -EINVAL;
	kc->token_mtime = st.st_mtim;
	if (kc->token && !strcmp(kc->token, s))
		return 0;
	s = strdup(s);
	if (!s)
		return -ENOMEM;
	free(kc->token);
	kc->token = s;
	return 1;
}
