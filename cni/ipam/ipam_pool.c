// SPDX-License-Identifier: Apache-2.0
/* Address pool of the in-process IPAM: claims leases with O_EXCL in host-local's layout. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ipam_pool.h"
#include "state.h"

static int addr_parse(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

static void addr_format(uint32_t a, char out[INET_ADDRSTRLEN])
{
	struct in_addr in = {htonl(a)};

	inet_ntop(AF_INET, &in, out, INET_ADDRSTRLEN);
}

static bool range_has(const struct pool_range *r, uint32_t a)
{
	return a >= r->start && a <= r->end;
}

static int subnet_parse(struct pool_range *r, const char *subnet, char *why, size_t len)
{
	char buf[64], *slash, *end;
	uint32_t a, mask;
	long prefix;

	if (!subnet || snprintf(buf, sizeof(buf), "%s", subnet) >= (int)sizeof(buf) ||
	    !(slash = strchr(buf, '/')))
		goto out_bad;
	*slash = '\0';
	prefix = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || addr_parse(buf, &a) < 0)
		goto out_bad;
	if (prefix < 1 || prefix > 30) {
		snprintf(why, len, "subnet \"%s\": prefix must be 1..30 to hold addresses", subnet);
		return -EINVAL;
	}
	mask = ~0u << (32 - prefix);
	r->prefix = (int)prefix;
	r->net = a & mask;
	r->broadcast = r->net | ~mask;
	return 0;
out_bad:
	snprintf(why, len, "subnet \"%s\" is not an IPv4 CIDR (sluice IPAM is IPv4 only)",
		 subnet ? subnet : "");
	return -EINVAL;
}

/* An optional address key: absent keeps *out, else it must lie in the subnet. */
static int key_parse(const struct pool_range *r, const char *key, const char *val, uint32_t *out,
		     char *why, size_t len)
{
	uint32_t a;

	if (!val || !*val)
		return 0;
	if (addr_parse(val, &a) < 0 || a < r->net || a > r->broadcast) {
		snprintf(why, len, "%s \"%s\" is not an IPv4 address inside the subnet", key, val);
		return -EINVAL;
	}
	*out = a;
	return 0;
}

int pool_range_parse(struct pool_range *r, const char *subnet, const char *start, const char *end,
		     const char *gw, char *why, size_t len)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = subnet_parse(r, subnet, why, len);
	if (err < 0)
		return err;
	r->start = r->net + 1;
	r->end = r->broadcast - 1;
	r->gw = r->net + 1;
	if ((err = key_parse(r, "rangeStart", start, &r->start, why, len)) < 0 ||
	    (err = key_parse(r, "rangeEnd", end, &r->end, why, len)) < 0 ||
	    (err = key_parse(r, "gateway", gw, &r->gw, why, len)) < 0)
		return err;
	/* The network and broadcast addresses are never handed out. */
	if (r->start == r->net)
		r->start++;
	if (r->end == r->broadcast)
		r->end--;
	if (r->start > r->end) {
		snprintf(why, len, "subnet \"%s\": rangeStart is after rangeEnd", subnet);
		return -EINVAL;
	}
	return 0;
}

void pool_range_format(const struct pool_range *r, char *out, size_t len)
{
	char a[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN], e[INET_ADDRSTRLEN];

	addr_format(r->net, a);
	addr_format(r->start, s);
	addr_format(r->end, e);
	if (r->start == r->net + 1 && r->end == r->broadcast - 1)
		snprintf(out, len, "%s/%d", a, r->prefix);
	else
		snprintf(out, len, "%s/%d %s-%s", a, r->prefix, s, e);
}

int pool_set_find(const struct pool *p, struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	for (int s = 0; s < p->n_sets; s++)
		for (int i = 0; i < p->sets[s].n; i++)
			if (range_has(&p->sets[s].ranges[i], h))
				return s;
	return -1;
}

/* --- lease files ---------------------------------------------------------------- */

/* O_EXCL is the claim: of many processes trying one address, one wins. The
 * lease is on disk before the address is used: one fsync of the new file,
 * which on Linux's filesystems also makes its directory entry durable (ext4
 * with a journal commits the creation with it, without one it syncs the
 * parent of a new inode; XFS forces the log past the creation; btrfs logs the
 * new name). A second fsync of the directory would only add a device flush
 * per ADD. On tmpfs (/run) both are no-ops anyway. */
static int lease_claim(int dfd, uint32_t a, const char *cid, const char *ifname)
{
	char name[INET_ADDRSTRLEN], body[POOL_LEASE_MAX];
	int fd, n, err = 0;

	addr_format(a, name);
	n = snprintf(body, sizeof(body), "%s" POOL_LEASE_NEWLINE "%s", cid, ifname);
	if (n >= (int)sizeof(body))
		return -ENAMETOOLONG;
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, body, (size_t)n) != n || fsync(fd) < 0)
		err = errno ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err)
		unlinkat(dfd, name, 0);
	return err;
}

/* last_reserved_ip.<set>: where the next search starts. Only a hint, so it
 * is rewritten in place as host-local does: a reader that sees it half
 * written starts elsewhere, and O_EXCL still decides who gets an address.
 * Overwritten, then cut to its length, never truncated to empty first: that
 * would free its block, which on a filesystem mounted with discard waits for
 * the device. */
static void last_write(int dfd, int set, uint32_t a)
{
	char name[64], ip[INET_ADDRSTRLEN];
	size_t n;
	int fd;

	addr_format(a, ip);
	n = strlen(ip);
	snprintf(name, sizeof(name), POOL_LAST_PREFIX "%d", set);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (pwrite(fd, ip, n, 0) != (ssize_t)n || ftruncate(fd, (off_t)n) < 0)
		ftruncate(fd, 0); /* an empty hint restarts at the range's start */
	close(fd);
}

static int last_read(int dfd, int set, uint32_t *a)
{
	char name[64], buf[64];
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name), POOL_LAST_PREFIX "%d", set);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	buf[n] = '\0';
	buf[strcspn(buf, " \r\n")] = '\0';
	return addr_parse(buf, a);
}

/* The address after a in the set's ranges, wrapping from the last range to
 * the first; *ri tracks the range a belongs to. */
static uint32_t set_next(const struct pool_set *s, int *ri, uint32_t a)
{
	if (a < s->ranges[*ri].end)
		return a + 1;
	*ri = (*ri + 1) % s->n;
	return s->ranges[*ri].start;
}

static long set_capacity(const struct pool_set *s)
{
	long n = 0;

	for (int i = 0; i < s->n; i++) {
		const struct pool_range *r = &s->ranges[i];

		n += (long)(r->end - r->start) + 1 - range_has(r, r->gw);
	}
	return n;
}

static int pool_dir_open(const struct pool *p, bool create)
{
	int fd;

	if (create) {
		int r = mkdir_p(p->dir, 0755);

		if (r < 0)
			return r;
	}
	fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Round robin from the address after the last reservation, as host-local. */
static int reserve_next(int dfd, const struct pool_set *s, int set, const char *cid,
			const char *ifname, uint32_t *got)
{
	long total = 0;
	uint32_t a, last = 0;
	int ri = 0, r;

	for (int i = 0; i < s->n; i++)
		total += (long)(s->ranges[i].end - s->ranges[i].start) + 1;
	a = s->ranges[0].start;
	if (last_read(dfd, set, &last) == 0) {
		for (int i = 0; i < s->n; i++)
			if (range_has(&s->ranges[i], last)) {
				ri = i;
				a = set_next(s, &ri, last);
				break;
			}
	}
	for (long n = 0; n < total; n++, a = set_next(s, &ri, a)) {
		if (a == s->ranges[ri].gw)
			continue;
		r = lease_claim(dfd, a, cid, ifname);
		if (r == -EEXIST)
			continue;
		if (r < 0)
			return r;
		*got = a;
		return ri;
	}
	return -ENOSPC;
}

int pool_reserve(const struct pool *p, int set, const char *cid, const char *ifname,
		 const struct in_addr *want, struct in_addr *got, const struct pool_range **range)
{
	const struct pool_set *s = &p->sets[set];
	_cleanup_close_ int dfd = -1;
	uint32_t a = 0;
	int ri = -1, r;

	dfd = pool_dir_open(p, true);
	if (dfd < 0)
		return dfd;
	if (want) {
		a = ntohl(want->s_addr);
		for (int i = 0; i < s->n && ri < 0; i++)
			if (range_has(&s->ranges[i], a))
				ri = i;
		if (ri < 0)
			return -EADDRNOTAVAIL;
		if (a == s->ranges[ri].gw)
			return -EINVAL;
		r = lease_claim(dfd, a, cid, ifname);
		if (r < 0)
			return r == -EEXIST ? -EADDRINUSE : r;
	} else {
		ri = reserve_next(dfd, s, set, cid, ifname, &a);
		if (ri < 0)
			return ri;
	}
	last_write(dfd, set, a);
	got->s_addr = htonl(a);
	*range = &s->ranges[ri];
	return 0;
}

/* --- walking the leases ------------------------------------------------------------- */

struct lease {
	const char *name; /* the IP */
	char cid[POOL_LEASE_MAX];
	char ifname[POOL_LEASE_MAX];
	bool legacy; /* only a container id (host-local before 0.7) */
};

static bool lease_name(const char *name)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* "<cid>\r\n<ifname>", or "<cid>" alone; surrounding white space ignored. */
static int lease_read(int dfd, const char *name, struct lease *l)
{
	char buf[POOL_LEASE_MAX], *body = buf, *nl, *tail;
	ssize_t n;
	int fd;

	memset(l, 0, sizeof(*l));
	l->name = name;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	while (isspace((unsigned char)*body))
		body++;
	for (tail = body + strlen(body); tail > body && isspace((unsigned char)tail[-1]);)
		*--tail = '\0';
	nl = strstr(body, POOL_LEASE_NEWLINE);
	if (nl) {
		*nl = '\0';
		snprintf(l->ifname, sizeof(l->ifname), "%s", nl + 2);
	} else {
		l->legacy = true;
	}
	snprintf(l->cid, sizeof(l->cid), "%s", body);
	return 0;
}

/* fn(dfd, lease, arg) for each lease file; a missing dir has none. */
static int lease_foreach(const struct pool *p, int (*fn)(int dfd, const struct lease *l, void *arg),
			 void *arg)
{
	struct lease l;
	struct dirent *d;
	DIR *dir;
	int dfd, r = 0;

	dfd = pool_dir_open(p, false);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	dir = fdopendir(dfd);
	if (!dir) {
		close(dfd);
		return -errno;
	}
	while (!r && (d = readdir(dir)))
		if (lease_name(d->d_name) && lease_read(dfd, d->d_name, &l) == 0)
			r = fn(dfd, &l, arg);
	closedir(dir);
	return r < 0 ? r : 0;
}

struct owner {
	const char *cid, *ifname;
	bool legacy; /* match by container id alone */
	int n;
	bool remove;
};

static int owner_match(int dfd, const struct lease *l, void *arg)
{
	struct owner *o = arg;

	if (strcmp(l->cid, o->cid) || l->legacy != o->legacy ||
	    (!o->legacy && strcmp(l->ifname, o->ifname)))
		return 0;
	if (o->remove && unlinkat(dfd, l->name, 0) < 0 && errno != ENOENT)
		return -errno;
	o->n++;
	return 0;
}

static int owner_walk(const struct pool *p, const char *cid, const char *ifname, bool remove)
{
	struct owner o = {.cid = cid, .ifname = ifname, .remove = remove};
	int r;

	r = lease_foreach(p, owner_match, &o);
	if (r < 0 || o.n)
		return r < 0 ? r : o.n;
	o.legacy = true;
	r = lease_foreach(p, owner_match, &o);
	return r < 0 ? r : o.n;
}

int pool_release(const struct pool *p, const char *cid, const char *ifname)
{
	return owner_walk(p, cid, ifname, true);
}

int pool_release_addrs(const struct pool *p, const char *cid, const char *ifname,
		       const struct in_addr *ips, int n)
{
	struct owner o = {.cid = cid, .ifname = ifname, .remove = true};
	_cleanup_close_ int dfd = -1;
	struct lease l;
	int r;

	dfd = pool_dir_open(p, false);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	for (int i = 0; i < n; i++) {
		char name[INET_ADDRSTRLEN];

		addr_format(ntohl(ips[i].s_addr), name);
		if (lease_read(dfd, name, &l) < 0)
			continue;
		r = owner_match(dfd, &l, &o);
		if (r < 0)
			return r;
	}
	return o.n;
}

int pool_count(const struct pool *p, const char *cid, const char *ifname)
{
	return owner_walk(p, cid, ifname, false);
}

struct gc_walk {
	bool (*valid)(const char *cid, const char *ifname, void *arg);
	void *arg;
	int removed;
};

static int gc_match(int dfd, const struct lease *l, void *arg)
{
	struct gc_walk *g = arg;

	if (l->cid[0] && g->valid(l->cid, l->legacy ? NULL : l->ifname, g->arg))
		return 0;
	if (unlinkat(dfd, l->name, 0) < 0 && errno != ENOENT)
		return -errno;
	g->removed++;
	return 0;
}

int pool_gc(const struct pool *p, bool (*valid)(const char *cid, const char *ifname, void *arg),
	    void *arg, int *removed)
{
	struct gc_walk g = {.valid = valid, .arg = arg};
	int r;

	r = lease_foreach(p, gc_match, &g);
	*removed = g.removed;
	return r;
}

struct usage {
	const struct pool *p;
	int set;
	long used;
};

static int usage_count(int dfd, const struct lease *l, void *arg)
{
	struct usage *u = arg;
	struct in_addr a;

	if (inet_pton(AF_INET, l->name, &a) == 1 && pool_set_find(u->p, a) == u->set)
		u->used++;
	return 0;
}

long pool_free(const struct pool *p, int set, long *capacity)
{
	struct usage u = {.p = p, .set = set};
	int r;

	*capacity = set_capacity(&p->sets[set]);
	r = lease_foreach(p, usage_count, &u);
	if (r < 0)
		return r;
	return *capacity > u.used ? *capacity - u.used : 0;
}
