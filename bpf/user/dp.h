/* SPDX-License-Identifier: Apache-2.0 */
/* User-space access to the datapath, the only place libbpf is used: load and
 * pin (agent), open pinned objects, typed map operations, tc attach. All
 * functions return >= 0 on success or a negative errno; none of them logs. */
#ifndef SLUICE_DP_H
#define SLUICE_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "sluice/abi.h"

/* --- agent: load + pin (pin_load.c) ---------------------------------------- */

struct dp_pin_report {
	int maps_reused; /* compatible pins kept, with their contents */
	int maps_created;
	int maps_replaced;    /* incompatible pins removed and recreated */
	char replaced[8][32]; /* names of the replaced pins, with the reason */
	int maps_retired;     /* pins of maps this version no longer has, removed */
};

/* Mounts bpffs at the pin dir's bpffs root if needed (e.g. /sys/fs/bpf). */
int dp_bpffs_ensure(const char *pin_dir);
/* Loads the datapath objects once, reusing compatible pinned maps and replacing
 * incompatible ones (layout or SL_ABI_VERSION mismatch), then pins programs
 * and maps under pin_dir (created 0700 if missing) and removes the pins of
 * retired maps (SL_PINS_RETIRED). Idempotent. */
int dp_load_and_pin(const char *pin_dir, struct dp_pin_report *rep);
/* The same with the north-south mode chosen: nodeport_dsr sends remote
 * NodePort flows by Direct Server Return (bpf/lib/dsr.h) instead of SNAT,
 * and lets this node's pods answer DSR flows from other nodes. */
int dp_load_and_pin_mode(const char *pin_dir, bool nodeport_dsr, struct dp_pin_report *rep);

/* --- agent: keeping the pins (pin_guard.c) -----------------------------------
 * Removed pins would stop the CNI plugin from attaching new pods, and free what
 * only a pin kept (socket links, sl_cnistat): the agent holds an fd of each
 * pinned object and pins it again under its old name when the name is gone. */

struct dp_pin_guard;
struct dp_pin_guard_result {
	bool dir_made;	       /* the pin dir itself was gone */
	unsigned int restored; /* pinned again this time */
	unsigned int foreign;  /* names that now hold another object (left alone) */
	char first[32], first_foreign[32];
};

/* Holds an fd and the id of every object pinned directly under pin_dir. */
int dp_pin_guard_new(const char *pin_dir, struct dp_pin_guard **out);
/* Pins again, from the held fds, every object whose name is gone (the pin dir
 * made again if needed); counts names that hold another object. 0 or the
 * first -errno, having tried every pin. */
int dp_pin_guard_check(struct dp_pin_guard *g, struct dp_pin_guard_result *res);
size_t dp_pin_guard_held(const struct dp_pin_guard *g);
void dp_pin_guard_free(struct dp_pin_guard *g);

/* --- everyone: libbpf's messages (libbpf_log.c) ------------------------------- */

/* Routes libbpf's own messages into log.h one level quieter. */
void dp_libbpf_log_setup(void);

/* --- everyone: pinned objects (pins.c) --------------------------------------- */

/* 0 when the agent has pinned everything the CNI plugin needs, -ENOENT (or
 * another -errno) otherwise; why describes what is missing. */
int dp_ready(const char *pin_dir, char *why, size_t why_len);
/* fd of a pinned object by its pin name (SL_PIN_*); caller closes. */
int dp_pin_open(const char *pin_dir, const char *name);

struct dp_obj_info {
	char name[32];
	__u32 id;
	__u32 type;				 /* bpf_map_type or bpf_prog_type */
	__u32 key_size, value_size, max_entries; /* maps only */
	__u32 entries;				 /* maps only: counted by iteration (hash/lpm) */
};
int dp_pin_info(const char *pin_dir, const char *name, struct dp_obj_info *info);

/* --- the endpoint maps (ep_maps.c) ---------------------------------------------------
 * sl_ep4 (by address) and sl_epsrc4 (the anti-spoofing slot of the pod's
 * host veth, by its ifindex) are written only here, together: an entry is
 * written before its slot, and its slot emptied before it goes. A slot names
 * one address of the pod (the first written); a veth beyond the array has
 * none. */

struct dp_ep_maps {
	int ep;	 /* sl_ep4 */
	int src; /* sl_epsrc4 */
};
#define DP_EP_MAPS_NONE ((struct dp_ep_maps){.ep = -1, .src = -1})

/* Opens both pinned maps; on failure *failed names the one that failed. */
int dp_ep_maps_open(const char *pin_dir, struct dp_ep_maps *m, const char **failed);
void dp_ep_maps_close(struct dp_ep_maps *m);
#define _cleanup_ep_maps_ __attribute__((cleanup(dp_ep_maps_close)))
/* ip's entry and, when its veth has a slot not naming another of its
 * addresses, the slot; on failure neither is left. */
int dp_ep_update(const struct dp_ep_maps *m, __be32 ip, const struct sl_ep_val *val);
/* ip's slot emptied, then its entry deleted; -ENOENT if absent. */
int dp_ep_delete(const struct dp_ep_maps *m, __be32 ip);
/* Makes the slots agree with sl_ep4 (the agent at start: a new or kept
 * sl_epsrc4 beside a kept or restored sl_ep4): empties slots no entry backs,
 * claims slots for entries. Returns the slots changed. */
int dp_ep_slots_sync(const struct dp_ep_maps *m);
/* The valid slots of sl_epsrc4 (src_fd). */
int dp_ep_slots_count(int src_fd);

/* --- typed map ops (maps.c) ---------------------------------------------------- */

int dp_ep_lookup(int map_fd, __be32 ip, struct sl_ep_val *val);
/* Calls fn for each entry; stops and returns fn's value if it is non-zero. */
int dp_ep_foreach(int map_fd, int (*fn)(__be32 ip, const struct sl_ep_val *val, void *ctx),
		  void *ctx);
/* Sums the per-CPU counters; out has SL_METRICS_MAX entries. */
int dp_metrics_read(int map_fd, struct sl_metric_val *out);
int dp_info_read(int map_fd, struct sl_info_val *val);

/* --- service maps (svc_maps.c) ----------------------------------------------------
 * Typed access for the agent's service publisher; keys are copied into
 * zero-initialised structs. Deletes of absent keys return -ENOENT. */

int dp_svc_update(int map_fd, const struct sl_svc_key *key, const struct sl_svc_val *val);
int dp_svc_delete(int map_fd, const struct sl_svc_key *key);
int dp_svc_foreach(int map_fd,
		   int (*fn)(const struct sl_svc_key *key, const struct sl_svc_val *val, void *ctx),
		   void *ctx);
int dp_be_update(int map_fd, __u32 id, const struct sl_be_val *val);
int dp_be_delete(int map_fd, __u32 id);
int dp_be_foreach(int map_fd, int (*fn)(__u32 id, const struct sl_be_val *val, void *ctx),
		  void *ctx);
/* Deletes every conntrack entry (both directions) whose backend is backend_id
 * and, for UDP only when udp_only is set; returns how many were deleted. */
int dp_ct_purge_backend(int map_fd, __u32 backend_id, bool udp_only);

/* --- policy maps (pol_maps.c) ------------------------------------------------------
 * Walks hand raw key and value bytes to fn (non-zero stops). */

typedef int (*dp_walk_fn)(const void *key, const void *val, void *ctx);

int dp_ipcache_update(int map_fd, __be32 ip, __u32 prefix, __u32 identity);
int dp_ipcache_delete(int map_fd, __be32 ip, __u32 prefix);
int dp_ipcache_foreach(int map_fd, dp_walk_fn fn, void *ctx);
int dp_pol_update(int map_fd, const struct sl_pol_key *key);
int dp_pol_delete(int map_fd, const struct sl_pol_key *key);
int dp_pol_foreach(int map_fd, dp_walk_fn fn, void *ctx);
int dp_polcidr_update(int map_fd, const struct sl_polcidr_key *key, __u32 set_id);
int dp_polcidr_delete(int map_fd, const struct sl_polcidr_key *key);
int dp_polcidr_foreach(int map_fd, dp_walk_fn fn, void *ctx);
/* North-south (ns_maps.c): loadBalancerSourceRanges entries, SNAT entries. */
int dp_lbsrc_update(int map_fd, const struct sl_lbsrc_key *key);
int dp_lbsrc_delete(int map_fd, const struct sl_lbsrc_key *key);
int dp_lbsrc_foreach(int map_fd, dp_walk_fn fn, void *ctx);
int dp_nat_foreach(int map_fd, dp_walk_fn fn, void *ctx);

/* --- hostPort maps (hp_maps.c) --------------------------------------------------------- */
/* -EEXIST when the key is taken. */
int dp_hport_insert(int map_fd, const struct sl_hport_key *key, const struct sl_hport_val *val);
int dp_hport_lookup(int map_fd, const struct sl_hport_key *key, struct sl_hport_val *val);
int dp_hport_delete(int map_fd, const struct sl_hport_key *key);
int dp_hport_foreach(int map_fd, dp_walk_fn fn, void *ctx);
/* Sets port's bit for proto in the gate iff sl_hport4 (hport_fd) holds an
 * entry of that port and protocol: called after each change of them. */
int dp_hpgate_sync(int hport_fd, int gate_fd, __be16 port, __u8 proto);
/* Whether port's bit for proto is set in the gate: 1, 0, or -errno. */
int dp_hpgate_get(int gate_fd, __be16 port, __u8 proto);
int dp_polcfg_write(int map_fd, const struct sl_polcfg_val *val);
int dp_polcfg_read(int map_fd, struct sl_polcfg_val *val);
/* Drops of endpoint ep_id summed over CPUs; -ENOENT when none were counted. */
int dp_poldrop_read(int map_fd, __u32 ep_id, struct sl_poldrop_val *sum);
int dp_poldrop_delete(int map_fd, __u32 ep_id);
/* Sets the identity and SL_EP_F_ISO_* of the existing sl_ep4 entry of ip;
 * -ENOENT when there is none (it is never created here). */
int dp_ep_policy_set(int map_fd, __be32 ip, __u32 identity, __u32 flags);

/* --- observability maps (stat_maps.c) ---------------------------------------------- */

/* Counters of service port svc_id summed over CPUs; -ENOENT beyond the map. */
int dp_svcstat_read(int map_fd, __u32 svc_id, struct sl_svcstat_val *sum);
/* Zeroes svc_id's counters (an id given to another service port). */
int dp_svcstat_reset(int map_fd, __u32 svc_id);
/* Counts one CNI call of op (SL_CNI_OP_*) that took usec, in the sl_cnistat
 * pinned under pin_dir, with atomic adds on its shared memory. */
int dp_cnistat_record(const char *pin_dir, unsigned int op, bool ok, __u64 usec);
int dp_cnistat_read(int map_fd, unsigned int op, struct sl_cnistat_val *val);
/* --- single lookups and walks for the CLI (lookup.c) -------------------------------
 * The lookups the programs do, from user space; -ENOENT when absent. */

int dp_svc_lookup(int map_fd, const struct sl_svc_key *key, struct sl_svc_val *val);
int dp_be_lookup(int map_fd, __u32 id, struct sl_be_val *val);
int dp_ct_lookup(int map_fd, const struct sl_ct_key *key, struct sl_ct_val *val);
int dp_ct_foreach(int map_fd, dp_walk_fn fn, void *ctx);
int dp_aff_lookup(int map_fd, __be32 client, __u32 svc_id, struct sl_aff_val *val);
/* The /32 entry of ip (the programs look up no shorter prefix). */
int dp_ipcache_lookup(int map_fd, __be32 ip, __u32 *identity);
int dp_pol_lookup(int map_fd, const struct sl_pol_key *key);
/* The longest ipBlock prefix of {ep_id, dir} holding ip. */
int dp_polcidr_lookup(int map_fd, __u32 ep_id, __u8 dir, __be32 ip, __u32 *set_id);

/* --- datapath events (events.c) ---------------------------------------------------
 * sl_evcfg holds the listeners' lease; sl_events is the ring they read. */

struct dp_events;
/* Called per event; non-zero stops the poll and is returned by it. */
typedef int (*dp_event_fn)(const struct sl_event *ev, void *ctx);

/* Asks for events of types (SL_EV_F bits) for lease_ms from now, keeping the
 * types of another listener whose lease is still running. */
int dp_evcfg_lease(int map_fd, __u32 types, unsigned int lease_ms);
/* Stops events now (the lost counter is kept). */
int dp_evcfg_clear(int map_fd);
int dp_evcfg_read(int map_fd, struct sl_evcfg_val *val);
int dp_events_open(int ring_fd, dp_event_fn fn, void *ctx, struct dp_events **out);
/* Waits timeout_ms (the programs do not wake readers), then delivers what
 * arrived: the number of events or -errno (-EINTR on a signal). */
int dp_events_poll(struct dp_events *ev, int timeout_ms);
void dp_events_free(struct dp_events *ev);

/* --- socket-level load balancing (sock_load.c) ------------------------------------
 * cgroup connect4/sendmsg4/recvmsg4/getpeername4 programs translating ClusterIPs
 * for host-namespace clients, from the same pinned service maps. */

/* The cgroup2 mount point from /proc/mounts (e.g. /sys/fs/cgroup); -ENOENT. */
int dp_cgroup2_root(char *buf, size_t len);
/* 0 when cgroup_path is a directory on cgroup2; -ENOENT, -EMEDIUMTYPE, -EINVAL. */
int dp_cgroup_check(const char *cgroup_path);
/* Loads sock.bpf.c reusing the maps pinned under pin_dir (call after
 * dp_load_and_pin), attaches its four programs to the cgroup v2 directory
 * cgroup_path and pins the links under pin_dir, replacing the links of an
 * earlier call (never doubled; survives the caller's exit). Only sockets in
 * the caller's network namespace are translated, unless lb_pods (then every
 * socket in the cgroup; also every one before Linux 5.14, which cannot name
 * a namespace). -EMEDIUMTYPE when cgroup_path is not on cgroup2, -EOPNOTSUPP
 * when built without it. */
int dp_sock_attach(const char *pin_dir, const char *cgroup_path, bool lb_pods);
/* Unpins (and so detaches) the links; absent pins are success. */
int dp_sock_detach(const char *pin_dir);

/* --- tc attachment (tc.c) ------------------------------------------------------- */

enum dp_attach_mode { DP_ATTACH_NONE, DP_ATTACH_TCX, DP_ATTACH_CLSACT };

/* Creates what the tc hooks of ifindex need (the clsact qdisc unless tcx is
 * used); there already is success. Done once before attaching at both hooks,
 * it spares each attach asking for the qdisc (a netlink socket and a round
 * trip each). */
int dp_tc_hooks_create(int ifindex);
/* Attaches prog_fd to tc ingress of ifindex (in the caller's netns). Uses tcx
 * when both the kernel and the installed libbpf support it, clsact otherwise.
 * Replaces an earlier sluice attachment. */
int dp_tc_attach(int ifindex, int prog_fd, enum dp_attach_mode *mode);
/* The same at tc egress (packets going to the pod), for SL_PIN_TO_POD. */
int dp_tc_attach_egress(int ifindex, int prog_fd, enum dp_attach_mode *mode);
/* Removes sluice's attachment; -ENOENT/-ENODEV count as success (returns 0). */
int dp_tc_detach(int ifindex);
/* The program id and name attached at ingress, -ENOENT if none. */
int dp_tc_query(int ifindex, __u32 *prog_id, char name[16], enum dp_attach_mode *mode);
/* Egress twins of dp_tc_detach and dp_tc_query (SL_PIN_TO_POD). */
int dp_tc_detach_egress(int ifindex);
int dp_tc_query_egress(int ifindex, __u32 *prog_id, char name[16], enum dp_attach_mode *mode);

/* sl_from_net (SL_PIN_FROM_NET) at tc ingress of an uplink: the same three. */
int dp_tc_attach_uplink(int ifindex, int prog_fd, enum dp_attach_mode *mode);
int dp_tc_detach_uplink(int ifindex);
int dp_tc_query_uplink(int ifindex, __u32 *prog_id, char name[16], enum dp_attach_mode *mode);

const char *dp_attach_mode_name(enum dp_attach_mode mode);
const char *dp_metric_name(unsigned int index); /* NULL for unused indexes */
const char *dp_metric_desc(unsigned int index); /* the X-macro description, NULL if unused */

#endif
