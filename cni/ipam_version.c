// SPDX-License-Identifier: Apache-2.0
/* Which spec version to speak to the IPAM plugin: its VERSION answer (jansson), cached per binary.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <jansson.h>

#include "ipam.h"
#include "ipam_sluice.h"
#include "ipam_version.h"
#include "result.h"

#define CACHE_DIR "ipam-versions"

struct binary {
	char path[PATH_MAX];
	char mtime[48]; /* "sec.nsec size", what says the binary changed */
};

/* <state_dir>/ipam-versions/<FNV-1a 64 of the path>.json */
static int cache_path(const char *state_dir, const struct binary *b, char *out, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *c = (const unsigned char *)b->path; *c; c++) {
		h ^= *c;
		h *= 0x100000001b3ULL;
	}
	if (snprintf(out, size, "%s/%s/%016llx.json", state_dir, CACHE_DIR,
		     (unsigned long long)h) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

/* The cached answer (caller frees) if it is for this path and mtime. */
static char *cache_read(const char *file, const struct binary *b)
{
	json_auto_t *root = json_load_file(file, 0, NULL);
	const char *path, *mtime;

	path = json_string_value(json_object_get(root, "path"));
	mtime = json_string_value(json_object_get(root, "mtime"));
	if (!path || !mtime || strcmp(path, b->path) || strcmp(mtime, b->mtime) ||
	    !json_is_object(json_object_get(root, "answer")))
		return NULL;
	return json_dumps(json_object_get(root, "answer"), JSON_COMPACT);
}

/* Written to a temp file and renamed, so a reader sees all or nothing. */
static int cache_write(const char *state_dir, const char *file, const struct binary *b,
		       const char *answer)
{
	json_auto_t *root = NULL;
	char dir[PATH_MAX], tmp[PATH_MAX + 32];

	root = json_pack("{s:s, s:s, s:o?}", "path", b->path, "mtime", b->mtime, "answer",
			 json_loads(answer, 0, NULL));
	if (!root)
		return -ENOMEM;
	snprintf(dir, sizeof(dir), "%s/%s", state_dir, CACHE_DIR);
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", file, (int)getpid());
	if (json_dump_file(root, tmp, JSON_COMPACT) < 0) {
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, file) < 0) {
		unlink(tmp);
		return -errno;
	}
	return 0;
}

static int version_ask(const char *type, const char *cni_path, const char *want, char **answer,
		       struct cni_err *e)
{
	char input[64];
	struct ipam_call c = {
	    .type = type,
	    .cni_path = cni_path,
	    .command = "VERSION",
	    .input = input,
	};

	c.input_len = (size_t)snprintf(input, sizeof(input), "{\"cniVersion\":\"%s\"}", want);
	return ipam_exec(&c, answer, e);
}

int ipam_version_pick(const char *type, const char *cni_path, const char *state_dir,
		      const char *want, char *out, size_t size, struct cni_err *e)
{
	_cleanup_free_ char *answer = NULL;
	char file[PATH_MAX];
	struct binary b;
	struct stat st;
	bool has;
	int r;

	if (ipam_sluice_is(type)) { /* in-process: speaks every version we do */
		snprintf(out, size, "%s", want);
		return 0;
	}
	r = ipam_find(cni_path, type, b.path, sizeof(b.path), e);
	if (r < 0)
		return r;
	if (stat(b.path, &st) < 0)
		return cni_err_set(e, -errno, CNI_ERR_CONFIG, "Invalid network configuration",
				   "stat IPAM plugin %s", b.path);
	snprintf(b.mtime, sizeof(b.mtime), "%lld.%09ld %lld", (long long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec, (long long)st.st_size);
	r = cache_path(state_dir, &b, file, sizeof(file));
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_INTERNAL, "Failed to run IPAM plugin",
				   "version cache of %s", b.path);
	answer = cache_read(file, &b);
	if (!answer) {
		/* A plugin that cannot answer VERSION (the spec requires it) is
		 * spoken to at the request's own version, as runtimes do. */
		if (version_ask(type, cni_path, want, &answer, e) < 0) {
			snprintf(out, size, "%s", want);
			return 0;
		}
		cache_write(state_dir, file, &b, answer); /* else the next call asks again */
	}
	r = versions_parse(answer, want, &has, out, size);
	if (r < 0)
		return cni_err_set(e, r, CNI_ERR_DECODE, "Failed to decode result",
				   "VERSION answer of IPAM plugin %s", type);
	if (!*out)
		return cni_err_set(e, 0, CNI_ERR_VERSION, "Incompatible CNI version",
				   "IPAM plugin %s supports none of sluice's versions up to %s "
				   "(its VERSION answer: %.200s)",
				   type, want, answer);
	return 0;
}
