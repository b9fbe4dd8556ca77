/* SPDX-License-Identifier: Apache-2.0 */
/* What ADD did for each attachment, kept on disk for DEL and GC; the lock. */
#ifndef SLUICE_CNI_STATE_H
#define SLUICE_CNI_STATE_H

#include <stdbool.h>
#include <netinet/in.h>

#include "cni.h"
#include "portmaps.h"

struct ep_state {
	char containerid[256];
	char ifname[16];
	char netns[256];
	char host_veth[16];
	int host_ifindex;
	char pod_mac[18];
	struct in_addr ips[CNI_MAX_IPS];
	int n_ips;
	struct portmap portmaps[CNI_MAX_PORTMAPS]; /* the hostPorts ADD wrote (sl_hport4) */
	int n_portmaps;
};

/* mkdir -p: each missing component with mode. */
int mkdir_p(const char *path, mode_t mode);
/* flock on <state_dir>/lock (dir created 0700); returns the fd to close.
 * ADD and DEL of different attachments touch nothing in common (the IPAM
 * plugin locks its own store), so they share it; GC, which must not run
 * beside them, takes it exclusive. Gives up with -ETIMEDOUT after timeout_ms. */
int state_lock(const char *state_dir, bool shared, int timeout_ms);
/* The same on <state_dir>/<file>: "hostport.lock", taken exclusive around
 * the check and write of sl_hport4 entries, so two ADDs cannot both find a
 * hostPort free. */
int state_lock_file(const char *state_dir, const char *file, bool shared, int timeout_ms);
/* <state_dir>/<net>/<containerid>-<ifname>.json, written to a temp file and renamed. */
int state_write(const char *state_dir, const char *net, const struct ep_state *s);
/* -ENOENT if there is none. */
int state_read(const char *state_dir, const char *net, const char *cid, const char *ifname,
	       struct ep_state *s);
/* Absent is success. */
int state_remove(const char *state_dir, const char *net, const char *cid, const char *ifname);
/* fn(state, file, err, ctx) for each state file of net; err < 0 and state NULL
 * when a file cannot be read. Stops at fn's first non-zero value. */
int state_foreach(const char *state_dir, const char *net,
		  int (*fn)(const struct ep_state *s, const char *file, int err, void *ctx),
		  void *ctx);

/* "sl" + 12 hex digits of FNV-1a 64 over containerid, a 0 byte and ifname. */
void veth_host_name(const char *cid, const char *ifname, char out[16]);
bool veth_name_ours(const char *name);

#endif
