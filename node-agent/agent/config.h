/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's configuration: `run` flags and the JSON config file, validated. */
#ifndef SLUICE_AGENT_CONFIG_H
#define SLUICE_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "log.h"

#define CONFIG_PATH_MAX	    256
#define CONFIG_NAME_MAX	    254 /* a DNS subdomain (253) + NUL */
#define CONFIG_MTU_MIN	    576
#define CONFIG_MTU_MAX	    65535
#define CONFIG_NPADDR_MAX   256
#define CONFIG_NPADDR_CIDRS 16

#define CONFIG_DEFAULT_CNI_CONF_DIR  "/etc/cni/net.d"
#define CONFIG_DEFAULT_CNI_BIN_DIR   "/opt/cni/bin"
#define CONFIG_DEFAULT_CNI_STATE_DIR "/var/lib/sluice"
#define CONFIG_DEFAULT_IPAM	     "sluice"
#define CONFIG_DEFAULT_SA_DIR	     "/var/run/secrets/kubernetes.io/serviceaccount"

/* Where the agent learns the cluster from: resolved by config_parse(). */
enum config_api {
	CONFIG_API_STANDALONE, /* no API: --pod-cidr only (single node) */
	CONFIG_API_KUBECONFIG, /* --kubeconfig or $KUBECONFIG */
	CONFIG_API_IN_CLUSTER, /* KUBERNETES_SERVICE_HOST/PORT and <sa-dir>/token */
};

struct config {
	char node_name[CONFIG_NAME_MAX];
	char pod_cidr[32]; /* canonical "a.b.c.d/n"; with an API, from the Node */
	char pin_dir[CONFIG_PATH_MAX];
	char cni_conf_dir[CONFIG_PATH_MAX];
	char cni_bin_dir[CONFIG_PATH_MAX];
	char cni_state_dir[CONFIG_PATH_MAX];
	char ipam[16];			     /* "sluice" (in-process) or "host-local" */
	char ipam_data_dir[CONFIG_PATH_MAX]; /* "" : host-local's default */
	char cni_log_file[CONFIG_PATH_MAX];  /* "" : the plugin logs to stderr */
	char log_file[CONFIG_PATH_MAX];	     /* "" : stderr */
	char config_file[CONFIG_PATH_MAX];   /* "" : none */
	char kubeconfig[CONFIG_PATH_MAX];    /* "" : none */
	char sa_dir[CONFIG_PATH_MAX];	     /* service-account dir for in-cluster config */
	char cgroup[CONFIG_PATH_MAX]; /* cgroup v2 for socket-level LB; "" : the cgroup2 root */
	char healthz_bind[32];	      /* "a.b.c.d:port" of /healthz and /livez; "" : off */
	char metrics_bind[32];	      /* "a.b.c.d:port" of /metrics; "" : off */
	char nodeport_addrs[CONFIG_NPADDR_MAX]; /* --nodeport-addresses; "" : every node address */
	char nodeport_mode[8]; /* --nodeport-mode: "snat" (default) or "dsr" (lib/dsr.h) */
	enum config_api api;
	int mtu; /* 0 : the plugin takes the uplink's */
	bool portmap;
	bool sock_lb_pods; /* socket-level LB for pods' sockets in the cgroup too */
	enum log_level log_level;
};

/* Parses `run`'s arguments (argv[0] is the subcommand name; argv is permuted
 * by getopt). A --config file is read first, flags override it. Then the API
 * source: --kubeconfig, else $KUBECONFIG (its first entry), else in-cluster
 * when KUBERNETES_SERVICE_HOST/PORT are set and <sa-dir>/token exists, else
 * standalone, which needs --pod-cidr. On failure returns -errno and puts a
 * one-line message in err. */
int config_parse(int argc, char **argv, struct config *c, char *err, size_t err_len);

/* --nodeport-addresses as kube-proxy reads it: "primary" (the node's own
 * InternalIP), or IPv4 CIDRs, comma-separated, that select node addresses. */
struct np_addrs {
	bool primary;
	int n;
	__u32 net[CONFIG_NPADDR_CIDRS]; /* network order, host bits cleared */
	__u8 prefix[CONFIG_NPADDR_CIDRS];
};

int np_addrs_parse(const char *s, struct np_addrs *out, char *err, size_t err_len);

/* Whether node address ip (network order) serves NodePorts under a; primary
 * is the node's primary address (0 when unknown). */
bool np_addrs_match(const struct np_addrs *a, __u32 ip, __u32 primary);
/* Whether a names 127.0.0.1 explicitly (a CIDR other than 0.0.0.0/0 holding
 * it): then host sockets reach NodePorts on 127.0.0.1 too, as kube-proxy's
 * localhost NodePorts when nodePortAddresses includes loopback. */
bool np_addrs_loopback(const struct np_addrs *a);

/* Checks an IPv4 CIDR "a.b.c.d/n": 0 and the canonical form in out, or -EINVAL
 * with the reason in err. */
int cidr4_parse(const char *s, char *out, size_t out_len, char *err, size_t err_len);

#endif
