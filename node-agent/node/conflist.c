// SPDX-License-Identifier: Apache-2.0
/* Builds the CNI conflist (jansson) and writes it atomically into the conf dir. */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cleanup.h"
#include "conflist.h"
#include "fd_io.h"

/* json_object_set_new() that reports failure (it always consumes value). */
static int obj_set(json_t *obj, const char *key, json_t *value)
{
	return json_object_set_new(obj, key, value) ? -ENOMEM : 0;
}

static json_t *ipam_build(const struct config *c)
{
	json_auto_t *ipam = json_object();
	json_t *range, *ranges;

	if (!ipam)
		return NULL;
	range = json_pack("[{s:s}]", "subnet", c->pod_cidr);
	ranges = range ? json_pack("[o]", range) : NULL;
	if (obj_set(ipam, "type", json_string(c->ipam[0] ? c->ipam : CONFIG_DEFAULT_IPAM)) ||
	    obj_set(ipam, "ranges", ranges) || obj_set(ipam, "routes", json_array()))
		return NULL;
	if (c->ipam_data_dir[0] && obj_set(ipam, "dataDir", json_string(c->ipam_data_dir)))
		return NULL;
	return json_incref(ipam);
}

static json_t *plugin_build(const struct config *c)
{
	json_auto_t *p = json_object();

	if (!p)
		return NULL;
	if (obj_set(p, "type", json_string("sluice")) ||
	    obj_set(p, "pinDir", json_string(c->pin_dir)) ||
	    obj_set(p, "stateDir", json_string(c->cni_state_dir)))
		return NULL;
	if (c->cni_log_file[0] && obj_set(p, "logFile", json_string(c->cni_log_file)))
		return NULL;
	if (c->mtu && obj_set(p, "mtu", json_integer(c->mtu)))
		return NULL;
	if (obj_set(p, "ipam", ipam_build(c)))
		return NULL;
	/* hostPorts served by the datapath; with --portmap the portmap plugin
	 * (iptables) gets them instead, and only it. */
	if (!c->portmap && obj_set(p, "capabilities", json_pack("{s:b}", "portMappings", 1)))
		return NULL;
	return json_incref(p);
}

json_t *conflist_build(const struct config *c)
{
	json_auto_t *root = json_object();
	json_t *plugins;

	if (!root || obj_set(root, "cniVersion", json_string(CONFLIST_CNI_VERSION)) ||
	    obj_set(root, "name", json_string(CONFLIST_NETWORK)) ||
	    obj_set(root, "plugins", json_array()))
		return NULL;
	plugins = json_object_get(root, "plugins");
	if (json_array_append_new(plugins, plugin_build(c)))
		return NULL;
	if (c->portmap &&
	    json_array_append_new(plugins, json_pack("{s:s, s:{s:b}, s:b}", "type", "portmap",
						     "capabilities", "portMappings", 1, "snat", 1)))
		return NULL;
	return json_incref(root);
}

/* mkdir -p with mode 0755 for each missing component. */
static int dir_create_p(const char *path)
{
	char buf[CONFIG_PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		char saved = *p;

		if (saved != '/' && saved != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = saved;
		if (!saved)
			break;
	}
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int conflist_write(const struct config *c)
{
	json_auto_t *root = conflist_build(c);
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1, dfd = -1;
	char path[CONFIG_PATH_MAX + 32], tmp[CONFIG_PATH_MAX + 32];
	int r;

	if (!root)
		return -ENOMEM;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		return -ENOMEM;
	r = dir_create_p(c->cni_conf_dir);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s", c->cni_conf_dir, CONFLIST_NAME);
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", c->cni_conf_dir, CONFLIST_NAME);

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((r = fd_write_all(fd, text, strlen(text))) < 0 || (r = fd_write_all(fd, "\n", 1)) < 0)
		goto out_unlink_tmp;
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		goto out_unlink_tmp_errno;
	if (close(fd) < 0) {
		fd = -1;
		goto out_unlink_tmp_errno;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto out_unlink_tmp_errno;

	/* Make the rename itself durable. */
	dfd = open(c->cni_conf_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return -errno;
	return 0;

out_unlink_tmp_errno:
	r = -errno;
out_unlink_tmp:
	unlink(tmp);
	return r;
}
