/* SPDX-License-Identifier: Apache-2.0 */
/* Installing the CNI binaries a node needs into its CNI bin dir, atomically. */
#ifndef SLUICE_AGENT_INSTALL_CNI_H
#define SLUICE_AGENT_INSTALL_CNI_H

/* One binary to install: <dir>/<name> becomes <to>/<name>. */
struct cni_bin {
	const char *name;
	const char *dir;
};

/* Checks that <dir>/<name> is an executable regular file: 0 or -errno
 * (-ENOENT missing, -EISDIR/-EINVAL not a regular file, -EACCES not executable). */
int cni_bin_check(const struct cni_bin *b);

/* Copies <dir>/<name> to <to_dir>/<name>: a temp file in to_dir, mode 0755,
 * fsync'd, then renamed over the old one, so a runtime exec'ing the plugin at
 * any moment sees the old binary or the new one, never a partial file. On
 * failure the old binary is untouched and no temp file is left. 0 or -errno. */
int cni_bin_install(const struct cni_bin *b, const char *to_dir);

#endif
