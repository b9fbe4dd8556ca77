// SPDX-License-Identifier: Apache-2.0
/* Parses and validates the agent's `run` flags and JSON config file (jansson). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "dp.h"
#include "errbuf.h"
#include "healthz.h"
#include "http_server.h"
#include "metrics.h"

enum opt_kind {
	OPT_NAME,   /* node name: RFC 1123 subdomain */
	OPT_CIDR,   /* IPv4 CIDR, stored canonical */
	OPT_PATH,   /* absolute path */
	OPT_INT,    /* mtu */
	OPT_BOOL,   /* flag without value; JSON boolean */
	OPT_LEVEL,  /* log level */
	OPT_IPAM,   /* "sluice" or "host-local" */
	OPT_ADDR,   /* ipv4:port; "" or "0" : off */
	OPT_NPADDR, /* "primary" or IPv4 CIDRs, comma-separated */
	OPT_NPMODE, /* "snat" or "dsr" */
};

struct opt {
	const char *flag; /* --flag */
	const char *key;  /* config file key, NULL if flag only */
	enum opt_kind kind;
	size_t off, size;
};

#define OPT(flag, key, kind, field)                                                                \
	{                                                                                          \
		flag, key, kind, offsetof(struct config, field),                                   \
		    sizeof(((struct config *)0)->field)                                            \
	}

static const struct opt opts[] = {
    OPT("node-name", "nodeName", OPT_NAME, node_name),
    OPT("pod-cidr", "podCIDR", OPT_CIDR, pod_cidr),
    OPT("pin-dir", "pinDir", OPT_PATH, pin_dir),
    OPT("cni-conf-dir", "cniConfDir", OPT_PATH, cni_conf_dir),
    OPT("cni-bin-dir", "cniBinDir", OPT_PATH, cni_bin_dir),
    OPT("cni-state-dir", "cniStateDir", OPT_PATH, cni_state_dir),
    OPT("ipam", "ipam", OPT_IPAM, ipam),
    OPT("ipam-data-dir", "ipamDataDir", OPT_PATH, ipam_data_dir),
    OPT("mtu", "mtu", OPT_INT, mtu),
    OPT("portmap", "portmap", OPT_BOOL, portmap),
    OPT("cni-log-file", "cniLogFile", OPT_PATH, cni_log_file),
    OPT("log-file", "logFile", OPT_PATH, log_file),
    OPT("log-level", "logLevel", OPT_LEVEL, log_level),
    OPT("kubeconfig", "kubeconfig", OPT_PATH, kubeconfig),
    OPT("sa-dir", "saDir", OPT_PATH, sa_dir),
    OPT("cgroup", "cgroup", OPT_PATH, cgroup),
    OPT("sock-lb-pods", "sockLbPods", OPT_BOOL, sock_lb_pods),
    OPT("healthz-bind-address", "healthzBindAddress", OPT_ADDR, healthz_bind),
    OPT("metrics-bind-address", "metricsBindAddress", OPT_ADDR, metrics_bind),
    OPT("nodeport-addresses", "nodePortAddresses", OPT_NPADDR, nodeport_addrs),
    OPT("nodeport-mode", "nodePortMode", OPT_NPMODE, nodeport_mode),
    OPT("config", NULL, OPT_PATH, config_file),
};

#define N_OPTS	     (sizeof(opts) / sizeof(opts[0]))
#define OPT_VAL_BASE 256 /* getopt values above any short option character */

static const struct opt *opt_by_key(const char *key)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (opts[i].key && !strcmp(opts[i].key, key))
			return &opts[i];
	return NULL;
}

static const struct opt *opt_by_flag(const char *flag, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strlen(opts[i].flag) == len && !strncmp(opts[i].flag, flag, len))
			return &opts[i];
	return NULL;
}

static bool name_valid(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > 253 || s[0] == '.' || s[0] == '-' || s[len - 1] == '.' ||
	    s[len - 1] == '-')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '.'))
			return false;
	return true;
}

int cidr4_parse(const char *s, char *out, size_t out_len, char *err, size_t err_len)
{
	const char *slash = strchr(s, '/');
	char addr[INET_ADDRSTRLEN], canon[INET_ADDRSTRLEN];
	struct in_addr in, net;
	unsigned long prefix;
	char *end;
	__u32 mask;

	if (!slash)
		return errbuf_set(err, err_len, "invalid pod CIDR '%s': expected a.b.c.d/n", s);
	if ((size_t)(slash - s) >= sizeof(addr))
		return errbuf_set(err, err_len, "invalid pod CIDR '%s': bad address", s);
	memcpy(addr, s, slash - s);
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1)
		return errbuf_set(err, err_len,
				  "invalid pod CIDR '%s': '%s' is not an IPv4 address", s, addr);
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || *end || errno || prefix > 32)
		return errbuf_set(err, err_len,
				  "invalid pod CIDR '%s': prefix length must be 0..32", s);
	if (prefix == 0 || prefix > 30)
		return errbuf_set(err, err_len,
				  "invalid pod CIDR '%s': prefix length must be 1..30 to hold pods",
				  s);
	mask = htonl(~0u << (32 - prefix));
	net.s_addr = in.s_addr & mask;
	inet_ntop(AF_INET, &net, canon, sizeof(canon));
	if (net.s_addr != in.s_addr)
		return errbuf_set(err, err_len,
				  "invalid pod CIDR '%s': host bits set (did you mean %s/%lu?)", s,
				  canon, prefix);
	if ((size_t)snprintf(out, out_len, "%s/%lu", canon, prefix) >= out_len)
		return errbuf_set(err, err_len, "invalid pod CIDR '%s': too long", s);
	return 0;
}

int np_addrs_parse(const char *s, struct np_addrs *out, char *err, size_t err_len)
{
	char buf[CONFIG_NPADDR_MAX], *save = NULL, *tok;

	memset(out, 0, sizeof(*out));
	if (!strcmp(s, "primary")) {
		out->primary = true;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return errbuf_set(err, err_len, "invalid nodeport-addresses: longer than %zu",
				  sizeof(buf) - 1);
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *slash = strchr(tok, '/');
		char addr[INET_ADDRSTRLEN];
		unsigned long prefix;
		char *end;

		if (out->n == CONFIG_NPADDR_CIDRS)
			return errbuf_set(err, err_len,
					  "invalid nodeport-addresses '%s': more than %d CIDRs", s,
					  CONFIG_NPADDR_CIDRS);
		if (!slash || (size_t)(slash - tok) >= sizeof(addr))
			return errbuf_set(
			    err, err_len,
			    "invalid nodeport-addresses '%s': '%s' is not an IPv4 CIDR "
			    "or \"primary\"",
			    s, tok);
		memcpy(addr, tok, slash - tok);
		addr[slash - tok] = '\0';
		prefix = strtoul(slash + 1, &end, 10);
		if (inet_pton(AF_INET, addr, &out->net[out->n]) != 1 || slash[1] < '0' ||
		    slash[1] > '9' || *end || prefix > 32)
			return errbuf_set(
			    err, err_len,
			    "invalid nodeport-addresses '%s': '%s' is not an IPv4 CIDR", s, tok);
		out->prefix[out->n] = (__u8)prefix;
		out->net[out->n] &= prefix ? htonl(~0u << (32 - prefix)) : 0;
		out->n++;
	}
	if (!out->n)
		return errbuf_set(err, err_len, "invalid nodeport-addresses '%s': no CIDR", s);
	return 0;
}

bool np_addrs_match(const struct np_addrs *a, __u32 ip, __u32 primary)
{
	if (a->primary)
		return ip == primary;
	for (int i = 0; i < a->n; i++)
		if ((ip & (a->prefix[i] ? htonl(~0u << (32 - a->prefix[i])) : 0)) == a->net[i])
			return true;
	return !a->n;
}

bool np_addrs_loopback(const struct np_addrs *a)
{
	struct np_addrs explicit = *a;
	int k = 0;

	for (int i = 0; i < a->n; i++) /* 0.0.0.0/0 names no address: not explicit */
		if (a->prefix[i]) {
			explicit.net[k] = a->net[i];
			explicit.prefix[k++] = a->prefix[i];
		}
	explicit.n = k;
	return !a->primary && k && np_addrs_match(&explicit, htonl(INADDR_LOOPBACK), 0);
}

/* The mtu from a flag's text; *out is set only when it is in range. */
static int mtu_parse(const char *val, int *out, const char *src, char *err, size_t len)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(val, &end, 10);
	if (!*val || *end || errno || n < CONFIG_MTU_MIN || n > CONFIG_MTU_MAX)
		return errbuf_set(err, len, "invalid %s '%s': must be a number in %d..%d", src, val,
				  CONFIG_MTU_MIN, CONFIG_MTU_MAX);
	*out = (int)n;
	return 0;
}

/* What a string-valued kind requires of val, as the "must be ..." of the
 * message, or NULL when val meets it. The kinds that parse check themselves. */
static const char *opt_value_check(enum opt_kind kind, const char *val)
{
	__be32 ip;
	__be16 port;

	switch (kind) {
	case OPT_NAME:
		return name_valid(val) ? NULL : "a lowercase DNS name (RFC 1123)";
	case OPT_PATH:
		return val[0] == '/' ? NULL : "an absolute path";
	case OPT_ADDR:
		if (val[0] && http_addr_parse(val, &ip, &port) < 0)
			return "IPv4:port (e.g. 0.0.0.0:10256), or \"\" or \"0\" to disable";
		return NULL;
	case OPT_NPMODE:
		return strcmp(val, "snat") && strcmp(val, "dsr") ? "snat or dsr" : NULL;
	case OPT_IPAM:
		return strcmp(val, "sluice") && strcmp(val, "host-local") ? "sluice or host-local"
									  : NULL;
	case OPT_CIDR:
	case OPT_INT:
	case OPT_BOOL:
	case OPT_LEVEL:
	case OPT_NPADDR:
		break;
	}
	return NULL;
}

/* Sets o from its text (a flag's argument or a config file string); src
 * names where it came from in the error. */
static int opt_set_str(const struct opt *o, struct config *c, const char *val, const char *src,
		       char *err, size_t len)
{
	char *field = (char *)c + o->off;
	struct np_addrs na;
	enum log_level level;
	const char *must;

	switch (o->kind) {
	case OPT_CIDR:
		return cidr4_parse(val, field, o->size, err, len);
	case OPT_NPADDR:
		if (np_addrs_parse(val, &na, err, len) < 0)
			return -EINVAL;
		break;
	case OPT_INT:
		return mtu_parse(val, (int *)field, src, err, len);
	case OPT_BOOL:
		*(bool *)field = true;
		return 0;
	case OPT_LEVEL:
		if (log_level_parse(val, &level))
			return errbuf_set(err, len,
					  "invalid %s '%s': must be error, warn, info or debug",
					  src, val);
		*(enum log_level *)field = level;
		return 0;
	case OPT_ADDR:
		if (!strcmp(val, "0")) /* off, stored as "" */
			val = "";
		/* fall through */
	case OPT_NAME:
	case OPT_PATH:
	case OPT_NPMODE:
	case OPT_IPAM:
		must = opt_value_check(o->kind, val);
		if (must)
			return errbuf_set(err, len, "invalid %s '%s': must be %s", src, val, must);
		break;
	}
	if (strlen(val) >= o->size)
		return errbuf_set(err, len, "invalid %s '%s': longer than %zu characters", src, val,
				  o->size - 1);
	strcpy(field, val);
	return 0;
}

static int opt_set_json(const struct opt *o, struct config *c, json_t *v, const char *file,
			char *err, size_t len)
{
	char src[CONFIG_PATH_MAX + 64];

	snprintf(src, sizeof(src), "%s in %s", o->key, file);
	switch (o->kind) {
	case OPT_INT:
		if (!json_is_integer(v))
			return errbuf_set(err, len, "invalid %s: must be a number in %d..%d", src,
					  CONFIG_MTU_MIN, CONFIG_MTU_MAX);
		if (json_integer_value(v) < CONFIG_MTU_MIN ||
		    json_integer_value(v) > CONFIG_MTU_MAX)
			return errbuf_set(
			    err, len,
			    "invalid %s '%" JSON_INTEGER_FORMAT "': must be a number in %d..%d",
			    src, json_integer_value(v), CONFIG_MTU_MIN, CONFIG_MTU_MAX);
		*(int *)((char *)c + o->off) = (int)json_integer_value(v);
		return 0;
	case OPT_BOOL:
		if (!json_is_boolean(v))
			return errbuf_set(err, len, "invalid %s: must be true or false", src);
		*(bool *)((char *)c + o->off) = json_is_true(v);
		return 0;
	default:
		if (!json_is_string(v))
			return errbuf_set(err, len, "invalid %s: must be a string", src);
		return opt_set_str(o, c, json_string_value(v), src, err, len);
	}
}

static int config_file_load(const char *file, struct config *c, char *err, size_t len)
{
	json_auto_t *root = NULL;
	json_error_t jerr;
	struct stat st;
	const char *key;
	json_t *v;
	int r;

	if (stat(file, &st) < 0)
		return errbuf_set(err, len, "cannot read config file '%s': %s", file,
				  strerror(errno));
	if (!S_ISREG(st.st_mode))
		return errbuf_set(err, len, "cannot read config file '%s': not a regular file",
				  file);
	root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (jerr.line < 0)
			return errbuf_set(err, len, "cannot read config file '%s': %s", file,
					  jerr.text);
		return errbuf_set(err, len, "malformed config file '%s': line %d column %d: %s",
				  file, jerr.line, jerr.column, jerr.text);
	}
	if (!json_is_object(root))
		return errbuf_set(err, len,
				  "malformed config file '%s': top level must be an object", file);
	json_object_foreach(root, key, v) {
		const struct opt *o = opt_by_key(key);

		if (!o)
			return errbuf_set(err, len, "unknown key '%s' in config file '%s'", key,
					  file);
		r = opt_set_json(o, c, v, file, err, len);
		if (r < 0)
			return r;
	}
	return 0;
}

static void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s", SL_DEFAULT_PIN_DIR);
	snprintf(c->cni_conf_dir, sizeof(c->cni_conf_dir), "%s", CONFIG_DEFAULT_CNI_CONF_DIR);
	snprintf(c->cni_bin_dir, sizeof(c->cni_bin_dir), "%s", CONFIG_DEFAULT_CNI_BIN_DIR);
	snprintf(c->cni_state_dir, sizeof(c->cni_state_dir), "%s", CONFIG_DEFAULT_CNI_STATE_DIR);
	snprintf(c->sa_dir, sizeof(c->sa_dir), "%s", CONFIG_DEFAULT_SA_DIR);
	snprintf(c->ipam, sizeof(c->ipam), "%s", CONFIG_DEFAULT_IPAM);
	snprintf(c->nodeport_mode, sizeof(c->nodeport_mode), "snat");
	snprintf(c->healthz_bind, sizeof(c->healthz_bind), "%s", HEALTHZ_DEFAULT_BIND);
	snprintf(c->metrics_bind, sizeof(c->metrics_bind), "%s", METRICS_DEFAULT_BIND);
	c->log_level = LOG_LVL_INFO;
}

/* The flag that getopt rejected: unknown, missing its value, or given one it
 * does not take. */
static int flag_error(int ret, const char *arg, char *err, size_t len)
{
	const char *name, *eq;
	const struct opt *o;

	if (ret == '?' && optopt > 0 && optopt < OPT_VAL_BASE)
		return errbuf_set(err, len, "unknown flag '-%c'", optopt);
	if (!arg || strncmp(arg, "--", 2))
		return errbuf_set(err, len, "unknown flag '%s'", arg ? arg : "?");
	name = arg + 2;
	eq = strchr(name, '=');
	o = opt_by_flag(name, eq ? (size_t)(eq - name) : strlen(name));
	if (ret == ':')
		return errbuf_set(err, len, "flag '%s' needs a value", arg);
	if (o && o->kind == OPT_BOOL && eq)
		return errbuf_set(err, len, "flag '--%s' takes no value", o->flag);
	return errbuf_set(err, len, "unknown flag '%s'", arg);
}

static int api_resolve(struct config *c, char *err, size_t len)
{
	const char *env = getenv("KUBECONFIG"), *host = getenv("KUBERNETES_SERVICE_HOST"),
		   *port = getenv("KUBERNETES_SERVICE_PORT");
	char token[CONFIG_PATH_MAX + 8];
	size_t n;

	if (c->kubeconfig[0]) {
		c->api = CONFIG_API_KUBECONFIG;
		return 0;
	}
	if (env && env[0]) { /* a list like kubectl's; the first entry is used */
		n = strcspn(env, ":");
		if (!n || n >= sizeof(c->kubeconfig))
			return errbuf_set(err, len, "invalid KUBECONFIG '%s'", env);
		memcpy(c->kubeconfig, env, n);
		c->kubeconfig[n] = '\0';
		c->api = CONFIG_API_KUBECONFIG;
		return 0;
	}
	snprintf(token, sizeof(token), "%s/token", c->sa_dir);
	c->api = host && host[0] && port && port[0] && access(token, F_OK) == 0
		     ? CONFIG_API_IN_CLUSTER
		     : CONFIG_API_STANDALONE;
	return 0;
}

int config_parse(int argc, char **argv, struct config *c, char *err, size_t err_len)
{
	struct option longopts[N_OPTS + 1] = {};
	const char *vals[N_OPTS] = {};
	char src[64];
	int ret, r;

	for (size_t i = 0; i < N_OPTS; i++) {
		longopts[i].name = opts[i].flag;
		longopts[i].has_arg = opts[i].kind == OPT_BOOL ? no_argument : required_argument;
		longopts[i].val = OPT_VAL_BASE + (int)i;
	}
	config_defaults(c);
	optind = 0; /* reinitialise getopt: config_parse may run more than once */
	opterr = 0;
	while ((ret = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (ret < OPT_VAL_BASE || ret >= OPT_VAL_BASE + (int)N_OPTS)
			return flag_error(ret,
					  optind > 0 && optind <= argc ? argv[optind - 1] : NULL,
					  err, err_len);
		vals[ret - OPT_VAL_BASE] = optarg ? optarg : "";
	}
	if (optind < argc)
		return errbuf_set(err, err_len, "unexpected argument '%s'", argv[optind]);

	for (size_t i = 0; i < N_OPTS; i++) {
		if (!strcmp(opts[i].flag, "config") && vals[i]) {
			r = opt_set_str(&opts[i], c, vals[i], "--config", err, err_len);
			if (r < 0)
				return r;
			r = config_file_load(c->config_file, c, err, err_len);
			if (r < 0)
				return r;
		}
	}
	for (size_t i = 0; i < N_OPTS; i++) {
		if (!vals[i] || !strcmp(opts[i].flag, "config"))
			continue;
		snprintf(src, sizeof(src), "--%s", opts[i].flag);
		r = opt_set_str(&opts[i], c, vals[i], src, err, err_len);
		if (r < 0)
			return r;
	}

	if (!c->node_name[0])
		return errbuf_set(
		    err, err_len,
		    "node name is required (--node-name or nodeName in the config file)");
	r = api_resolve(c, err, err_len);
	if (r < 0)
		return r;
	if (c->api == CONFIG_API_STANDALONE && !c->pod_cidr[0])
		return errbuf_set(err, err_len,
				  "pod CIDR is required without a Kubernetes API (--pod-cidr or "
				  "podCIDR in the config "
				  "file, or --kubeconfig)");
	return 0;
}
