/* SPDX-License-Identifier: Apache-2.0 */
/* Compact C forms of the Kubernetes objects the datapath needs, and their parsers. */
#ifndef SLUICE_AGENT_KUBE_OBJECTS_H
#define SLUICE_AGENT_KUBE_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#define KUBE_NS_MAX   64  /* DNS label (63) + NUL */
#define KUBE_NAME_MAX 254 /* DNS subdomain (253) + NUL */
#define KUBE_RV_MAX   64
#define KUBE_WHY_MAX  160

enum kube_kind {
	KUBE_SERVICE,
	KUBE_ENDPOINTSLICE,
	KUBE_NODE,
	KUBE_POD,
	KUBE_NAMESPACE,
	KUBE_NETPOL,
	KUBE_KIND_MAX,
};

struct kube_ip {
	__u8 family;   /* 4, 6; 0 : unset */
	__u8 addr[16]; /* network order; IPv4 in the first 4 bytes */
};

struct kube_cidr {
	struct kube_ip ip;
	__u8 prefix;
};

struct kube_label {
	const char *key, *value; /* interned */
};

enum kube_svc_type {
	KUBE_SVC_CLUSTER_IP,
	KUBE_SVC_NODE_PORT,
	KUBE_SVC_LOAD_BALANCER,
	KUBE_SVC_EXTERNAL_NAME
};

struct kube_svc_port {
	const char *name;		    /* interned; "" when unnamed */
	const char *target_name;	    /* interned named targetPort; NULL when numeric */
	__u16 port, target_port, node_port; /* target_port 0 when named */
	__u8 proto;			    /* IPPROTO_TCP, _UDP, _SCTP */
};

struct kube_service {
	__u8 type;     /* enum kube_svc_type */
	bool headless; /* clusterIP "None" */
	bool affinity_client_ip;
	bool etp_local, itp_local;
	__u8 n_cluster_ips;
	__u16 n_ports, n_external_ips; /* external_ips: spec.externalIPs, then LB ingress IPs */
	__u16 n_lb_ips;
	__u16 n_src_ranges;
	__u16 health_node_port; /* spec.healthCheckNodePort, 0 when absent (served elsewhere) */
	__u32 affinity_timeout; /* seconds, when affinity_client_ip */
	__u16 hc_node_port;	/* spec.healthCheckNodePort; 0 when unset */
	struct kube_ip cluster_ips[2];
	struct kube_svc_port *ports;
	struct kube_ip *external_ips; /* n_external_ips + n_lb_ips entries */
	struct kube_cidr *src_ranges; /* spec.loadBalancerSourceRanges, host bits cleared */
};

enum kube_addr_type { KUBE_ADDR_IPV4, KUBE_ADDR_IPV6, KUBE_ADDR_FQDN };

#define KUBE_EP_READY	    0x1
#define KUBE_EP_SERVING	    0x2
#define KUBE_EP_TERMINATING 0x4

struct kube_eps_port {
	const char *name; /* interned; NULL when absent */
	__u16 port;	  /* 0 when absent */
	__u8 proto;
};

struct kube_endpoint {
	struct kube_ip addr; /* addresses[0], the only one kube-proxy uses; unset for FQDN */
	__u8 cond;	     /* KUBE_EP_*, nil conditions defaulted */
	__u8 n_zone_hints, n_node_hints;
	const char *node, *zone; /* interned; NULL when absent */
	const char **hints;	 /* interned zone hints, then node hints */
};

struct kube_endpointslice {
	const char *service; /* interned kubernetes.io/service-name; NULL when absent */
	__u8 address_type;   /* enum kube_addr_type */
	__u16 n_ports;
	__u32 n_endpoints;
	struct kube_eps_port *ports;
	struct kube_endpoint *endpoints;
};

struct kube_node {
	__u8 n_pod_cidrs, n_internal_ips, n_external_ips;
	struct kube_cidr pod_cidrs[2];
	struct kube_ip internal_ips[2], external_ips[2];
	const char *zone;   /* interned topology.kubernetes.io/zone; NULL when absent */
	bool deleting;	    /* metadata.deletionTimestamp is set */
	bool to_be_deleted; /* tainted ToBeDeletedByClusterAutoscaler (any effect) */
};

enum kube_pod_phase {
	KUBE_POD_PENDING,
	KUBE_POD_RUNNING,
	KUBE_POD_SUCCEEDED,
	KUBE_POD_FAILED,
	KUBE_POD_UNKNOWN
};

/* A container port: what NetworkPolicy named ports resolve against. */
struct kube_pod_port {
	const char *name; /* interned; NULL when unnamed */
	__u16 port;
	__u8 proto;
};

struct kube_pod {
	char *uid;
	bool host_network;
	__u8 phase; /* enum kube_pod_phase */
	__u8 n_ips;
	__u16 n_labels, n_ports;
	struct kube_ip ips[2];
	struct kube_label *labels;
	const char *node;	     /* interned spec.nodeName; NULL when unscheduled */
	struct kube_pod_port *ports; /* containers' and initContainers' ports */
};

struct kube_namespace {
	__u16 n_labels;
	struct kube_label *labels;
};

/* A LabelSelector: requirements ANDed; matchLabels become KUBE_SEL_IN. */
enum kube_sel_op { KUBE_SEL_IN, KUBE_SEL_NOT_IN, KUBE_SEL_EXISTS, KUBE_SEL_NOT_EXISTS };

struct kube_sel_req {
	const char *key; /* interned */
	__u8 op;	 /* enum kube_sel_op */
	__u16 n_values;
	const char **values; /* interned */
};

struct kube_selector {
	bool present; /* absent (nil) selectors leave the dimension unconstrained */
	__u16 n_reqs;
	struct kube_sel_req *reqs;
};

struct kube_np_peer {
	bool ip_block; /* else pods/namespaces */
	struct kube_selector pods, nss;
	struct kube_cidr cidr;
	__u16 n_except;
	struct kube_cidr *except;
};

/* port 0 and name NULL: every port of proto; end_port 0: a single port. */
struct kube_np_port {
	__u8 proto;
	__u16 port, end_port;
	const char *name; /* interned named port */
};

struct kube_np_rule {
	__u16 n_peers, n_ports; /* 0: every peer, every port */
	struct kube_np_peer *peers;
	struct kube_np_port *ports;
};

#define KUBE_NP_INGRESS 0x1
#define KUBE_NP_EGRESS	0x2

struct kube_netpol {
	char *spec;  /* spec as compact JSON, as the API wrote it */
	__u8 types;  /* KUBE_NP_*, policyTypes defaulted */
	bool sel_ok; /* podSelector parsed: the policy selects pods */
	struct kube_selector pod_sel;
	__u16 n_in, n_out;
	struct kube_np_rule *in, *out;
	char *error; /* why the rules are unusable (fail closed: isolate, allow nothing) */
};

struct kube_obj {
	struct kube_obj *next; /* store hash chain */
	__u32 hash, gen;       /* store bookkeeping */
	__u8 kind;	       /* enum kube_kind */
	const char *ns;	       /* interned; "" for cluster-scoped kinds */
	union {
		struct kube_service svc;
		struct kube_endpointslice eps;
		struct kube_node node;
		struct kube_pod pod;
		struct kube_namespace ns;
		struct kube_netpol np;
	} u;
	char name[]; /* metadata.name */
};

/* "Service", "EndpointSlice", ... */
const char *kube_kind_name(enum kube_kind k);
bool kube_kind_namespaced(enum kube_kind k);

void kube_obj_free(struct kube_obj *o);

/* Parses one object of kind k from JSON text. NULL on failure with the reason
 * in why (and ns/name, when they could be read, in ns_out/name_out, which may
 * be NULL). */
struct kube_obj *kube_obj_parse(enum kube_kind k, const char *buf, size_t len, char *ns_out,
				char *name_out, char *why, size_t why_len);

/* A list page: items are handed one by one to item() (which owns them) or
 * bad() (a malformed item, skipped). rv is the list's resourceVersion; cont
 * its continue token, malloc'd, NULL on the last page. -EBADMSG with why when
 * the page itself is unusable. */
struct kube_page_ops {
	void (*item)(void *ctx, struct kube_obj *o);
	void (*bad)(void *ctx, const char *ns, const char *name, const char *why);
};

int kube_page_parse(enum kube_kind k, const char *buf, size_t len, const struct kube_page_ops *ops,
		    void *ctx, char *rv, char **cont, char *why, size_t why_len);

enum kube_ev_type {
	KUBE_EV_ADDED,
	KUBE_EV_MODIFIED,
	KUBE_EV_DELETED,
	KUBE_EV_BOOKMARK,
	KUBE_EV_ERROR
};
#define KUBE_EV_TYPES (KUBE_EV_ERROR + 1)

struct kube_event {
	enum kube_ev_type type;
	char rv[KUBE_RV_MAX];			   /* the object's resourceVersion, "" if none */
	char ns[KUBE_NS_MAX], name[KUBE_NAME_MAX]; /* when known */
	struct kube_obj *obj; /* ADDED/MODIFIED/DELETED: parsed object, owned by the caller */
	int code;	      /* ERROR: Status.code */
	char reason[32], message[KUBE_WHY_MAX]; /* ERROR: Status.reason, .message */
};

/* Parses one watch event line. 0 on success; -EBADMSG when the line is not a
 * usable event (not JSON, no type); -EINVAL when the event is usable but its
 * object is malformed (type, rv and, if known, ns/name are set; obj NULL). */
int kube_event_parse(enum kube_kind k, const char *line, size_t len, struct kube_event *ev,
		     char *why, size_t why_len);

/* A metav1.Status body (an API error): its code and message. -EBADMSG when
 * buf is not a Status (e.g. the plain-text body of a 429). */
int kube_status_parse(const char *buf, size_t len, int *code, char *msg, size_t msg_len);

/* "10.1.2.3" or "fd00::1" from ip into buf. */
const char *kube_ip_str(const struct kube_ip *ip, char *buf, size_t len);

#endif
