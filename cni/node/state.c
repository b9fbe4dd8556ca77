// SPDX-License-Identifier: Apache-2.0
/* Per-attachment state files (jansson), the plugin's locks and host veth names. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <jansson.h>

#include "fd_io.h"
#include "state.h"

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	/* The common case, every call after a node's first: one syscall. */
	if (mkdir(buf, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int state_lock(const char *state_dir, bool shared, int timeout_ms)
{
	return state_lock_file(state_dir, "lock", shared, timeout_ms);
}

int state_lock_file(const char *state_dir, const char *file, bool shared, int timeout_ms)
{
	struct timespec nap = {0, 10 * 1000 * 1000};
	char path[PATH_MAX];
	int fd, r;

	r = mkdir_p(state_dir, 0700);
	if (r < 0)
		return r;
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (int waited = 0;; waited += 10) {
		if (!flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB))
			return fd;
		if (errno != EWOULDBLOCK || waited >= timeout_ms) {
			r = errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			close(fd);
			return r;
		}
		nanosleep(&nap, NULL);
	}
}

static int state_path(char *out, size_t size, const char *state_dir, const char *net,
		      const char *cid, const char *ifname)
{
	int n;

	if (cid)
		n = snprintf(out, size, "%s/%s/%s-%s.json", state_dir, net, cid, ifname);
	else
		n = snprintf(out, size, "%s/%s", state_dir, net);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The state file's JSON text, or NULL when out of memory. */
static char *state_format(const struct ep_state *s)
{
	json_auto_t *root = json_object();
	json_t *ips = json_array();

	json_object_set_new(root, "containerID", json_string(s->containerid));
	json_object_set_new(root, "ifname", json_string(s->ifname));
	json_object_set_new(root, "netns", json_string(s->netns));
	json_object_set_new(root, "hostVeth", json_string(s->host_veth));
	json_object_set_new(root, "hostIfindex", json_integer(s->host_ifindex));
	json_object_set_new(root, "podMac", json_string(s->pod_mac));
	for (int i = 0; i < s->n_ips; i++) {
		char buf[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &s->ips[i], buf, sizeof(buf));
		json_array_append_new(ips, json_string(buf));
	}
	json_object_set_new(root, "ips", ips);
	if (s->n_portmaps &&
	    json_object_set_new(root, "portMappings", portmaps_format(s->portmaps, s->n_portmaps)))
		return NULL;
	return json_dumps(root, JSON_INDENT(2));
}

/* Writes text to tmp, then renames it to path: a reader sees the old file or
 * the whole new one. On failure tmp is gone. */
static int file_replace(const char *path, const char *tmp, const char *text)
{
	_cleanup_close_ int fd = -1;
	int r;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = fd_write_all(fd, text, strlen(text));
	if (r < 0)
		goto out_unlink;
	/* No fsync: what the file describes (veth, routes, endpoint entry)
	 * does not outlive a power loss either, and a DEL that finds it
	 * missing or torn goes on from prevResult and releases the lease,
	 * which the IPAM put on disk, by container id. */
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out_unlink;
	}
	return 0;
out_unlink:
	unlink(tmp);
	return r;
}

int state_write(const char *state_dir, const char *net, const struct ep_state *s)
{
	_cleanup_free_ char *text = NULL;
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8];
	int r;

	r = state_path(dir, sizeof(dir), state_dir, net, NULL, NULL);
	if (r >= 0)
		r = state_path(path, sizeof(path), state_dir, net, s->containerid, s->ifname);
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	text = state_format(s);
	if (!text)
		return -ENOMEM;
	return file_replace(path, tmp, text);
}

static int state_load(const char *path, struct ep_state *s)
{
	json_auto_t *root = NULL;
	json_t *ips, *v;
	char why[256];
	size_t i;

	memset(s, 0, sizeof(*s));
	root = json_load_file(path, 0, NULL);
	if (!root)
		return access(path, F_OK) < 0 ? -ENOENT : -EBADMSG;
	if (!json_is_string(json_object_get(root, "containerID")) ||
	    !json_is_string(json_object_get(root, "ifname")) ||
	    !json_is_integer(json_object_get(root, "hostIfindex")))
		return -EBADMSG;
	s->host_ifindex = (int)json_integer_value(json_object_get(root, "hostIfindex"));
#define COPY(key, field)                                                                           \
	do {                                                                                       \
		v = json_object_get(root, key);                                                    \
		if (json_is_string(v))                                                             \
			snprintf(s->field, sizeof(s->field), "%s", json_string_value(v));          \
	} while (0)
	COPY("containerID", containerid);
	COPY("ifname", ifname);
	COPY("netns", netns);
	COPY("hostVeth", host_veth);
	COPY("podMac", pod_mac);
#undef COPY
	ips = json_object_get(root, "ips");
	json_array_foreach(ips, i, v) {
		if (s->n_ips >= CNI_MAX_IPS)
			break;
		if (!json_is_string(v) ||
		    inet_pton(AF_INET, json_string_value(v), &s->ips[s->n_ips]) != 1)
			return -EBADMSG;
		s->n_ips++;
	}
	if (portmaps_parse(json_object_get(root, "portMappings"), s->portmaps, &s->n_portmaps, why,
			   sizeof(why)) < 0)
		return -EBADMSG;
	return 0;
}

int state_read(const char *state_dir, const char *net, const char *cid, const char *ifname,
	       struct ep_state *s)
{
	char path[PATH_MAX];
	int r;

	r = state_path(path, sizeof(path), state_dir, net, cid, ifname);
	return r < 0 ? r : state_load(path, s);
}

int state_remove(const char *state_dir, const char *net, const char *cid, const char *ifname)
{
	char path[PATH_MAX];
	int r;

	r = state_path(path, sizeof(path), state_dir, net, cid, ifname);
	if (r < 0)
		return r;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

int state_foreach(const char *state_dir, const char *net,
		  int (*fn)(const struct ep_state *s, const char *file, int err, void *ctx),
		  void *ctx)
{
	__attribute__((cleanup(closedirp))) DIR *d = NULL;
	char dir[PATH_MAX], path[PATH_MAX * 2];
	struct dirent *de;
	int r;

	r = state_path(dir, sizeof(dir), state_dir, net, NULL, NULL);
	if (r < 0)
		return r;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct ep_state s;

		if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		r = state_load(path, &s);
		r = fn(r < 0 ? NULL : &s, path, r < 0 ? r : 0, ctx);
		if (r)
			return r;
	}
	return 0;
}

void veth_host_name(const char *cid, const char *ifname, char out[16])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[] = {cid, "", ifname};

	for (int p = 0; p < 3; p++) {
		/* The empty middle part contributes its terminating 0 byte. */
		const unsigned char *c = (const unsigned char *)parts[p];
		size_t n = p == 1 ? 1 : strlen(parts[p]);

		for (size_t i = 0; i < n; i++) {
			h ^= c[i];
			h *= 0x100000001b3ULL;
		}
	}
	snprintf(out, 16, "sl%012llx", (unsigned long long)(h & 0xffffffffffffULL));
}

bool veth_name_ours(const char *name)
{
	if (strlen(name) != 14 || strncmp(name, "sl", 2))
		return false;
	for (int i = 2; i < 14; i++)
		if (!isxdigit((unsigned char)name[i]) || isupper((unsigned char)name[i]))
			return false;
	return true;
}
