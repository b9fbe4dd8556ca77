/* SPDX-License-Identifier: Apache-2.0 */
/* The in-process IPAM's address pool: ranges, allocation and host-local's lease files. */
#ifndef SLUICE_CNI_IPAM_POOL_H
#define SLUICE_CNI_IPAM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "cni.h"

#define POOL_MAX_RANGES	   8
#define POOL_MAX_SETS	   4
#define POOL_DEFAULT_DIR   "/var/lib/cni/networks" /* host-local's */
#define POOL_LAST_PREFIX   "last_reserved_ip."
#define POOL_LEASE_MAX	   1024 /* bytes of a lease file we read */
#define POOL_LEASE_NEWLINE "\r\n"

/* One range of a range set; addresses in host byte order. */
struct pool_range {
	uint32_t net, broadcast;
	int prefix;
	uint32_t start, end, gw;
};

/* host-local's "range set": one address per set per attachment. */
struct pool_set {
	struct pool_range ranges[POOL_MAX_RANGES];
	int n;
};

struct pool {
	char dir[4096]; /* <dataDir>/<network name>: one file per leased IP */
	struct pool_set sets[POOL_MAX_SETS];
	int n_sets;
};

/* Fills r from host-local's keys (start, end, gw may be NULL or ""); defaults:
 * start = network + 1, end = broadcast - 1, gateway = network + 1. -EINVAL
 * with the reason in why. */
int pool_range_parse(struct pool_range *r, const char *subnet, const char *start, const char *end,
		     const char *gw, char *why, size_t len);
/* "10.244.1.0/24" of a range, for messages. */
void pool_range_format(const struct pool_range *r, char *out, size_t len);

/* Claims one address of set for (cid, ifname): want (NULL: any) or the next
 * free one after the set's last reservation, round robin. The lease is on
 * disk (O_EXCL, fsync'd) before this returns. *range gets the range that
 * holds the address. -ENOSPC: set exhausted; want: -EADDRINUSE taken,
 * -EADDRNOTAVAIL outside the set's ranges, -EINVAL a gateway. */
int pool_reserve(const struct pool *p, int set, const char *cid, const char *ifname,
		 const struct in_addr *want, struct in_addr *got, const struct pool_range **range);
/* Index of the set whose ranges hold a, -1 if none. */
int pool_set_find(const struct pool *p, struct in_addr a);

/* Removes every lease of (cid, ifname); leases of host-local versions that
 * wrote only the container id are matched by it when nothing else matches.
 * Returns how many were removed; none is 0. */
int pool_release(const struct pool *p, const char *cid, const char *ifname);
/* Removes the leases of ips that (cid, ifname) holds, without reading any
 * other lease: DEL's fast path when prevResult names the addresses. Returns
 * how many were removed. */
int pool_release_addrs(const struct pool *p, const char *cid, const char *ifname,
		       const struct in_addr *ips, int n);
/* How many leases (cid, ifname) holds. */
int pool_count(const struct pool *p, const char *cid, const char *ifname);
/* Removes every lease whose owner valid() rejects, and leases without an
 * owner (a crash between claim and write). *removed counts them. */
int pool_gc(const struct pool *p, bool (*valid)(const char *cid, const char *ifname, void *arg),
	    void *arg, int *removed);
/* Free addresses of set: its capacity minus the leases inside it. */
long pool_free(const struct pool *p, int set, long *capacity);

#endif
