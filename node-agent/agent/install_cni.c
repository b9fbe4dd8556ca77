// SPDX-License-Identifier: Apache-2.0
/* `sluice-agent install-cni`: puts the plugin, its IPAM and loopback into the
 * node's CNI bin dir, as a DaemonSet's init container does. */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmd.h"
#include "config.h"
#include "fd_io.h"
#include "install_cni.h"

#define INSTALL_PLUGINS_DIR "/usr/lib/cni" /* Debian's containernetworking-plugins */
#define INSTALL_IPAM	    "host-local"
#define INSTALL_MAX_BINS    4

/* Unlinks a temp file left by a failed install (NULL or "" once renamed). */
static void tmp_unlinkp(char **path)
{
	if (*path && **path)
		unlink(*path);
}

#define _cleanup_tmp_ __attribute__((cleanup(tmp_unlinkp)))

static int bin_path(const struct cni_bin *b, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "%s/%s", b->dir, b->name) < len ? 0 : -ENAMETOOLONG;
}

int cni_bin_check(const struct cni_bin *b)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	r = bin_path(b, path, sizeof(path));
	if (r < 0)
		return r;
	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return access(path, X_OK) < 0 ? -errno : 0;
}

static int fd_copy(int in, int out)
{
	char buf[64 * 1024];

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		r = fd_write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

int cni_bin_install(const struct cni_bin *b, const char *to_dir)
{
	char src[PATH_MAX], dst[PATH_MAX], tmp_buf[PATH_MAX];
	_cleanup_tmp_ char *tmp = NULL;
	_cleanup_close_ int in = -1, out = -1;
	int r;

	r = cni_bin_check(b);
	if (r < 0)
		return r;
	if (bin_path(b, src, sizeof(src)) < 0 ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s", to_dir, b->name) >= sizeof(dst) ||
	    (size_t)snprintf(tmp_buf, sizeof(tmp_buf), "%s/.%s.XXXXXX", to_dir, b->name) >=
		sizeof(tmp_buf))
		return -ENAMETOOLONG;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = mkostemp(tmp_buf, O_CLOEXEC);
	if (out < 0)
		return -errno;
	tmp = tmp_buf;
	r = fd_copy(in, out);
	if (r < 0)
		return r;
	if (fchmod(out, 0755) < 0 || fsync(out) < 0)
		return -errno;
	if (close(out) < 0) {
		out = -1;
		return -errno;
	}
	out = -1;
	if (rename(tmp, dst) < 0)
		return -errno;
	tmp = NULL;
	return 0;
}

/* The destination dir, created (one level) when missing. */
static int dir_ensure(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (stat(dir, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* The directory this agent binary lives in: in an image, the plugin sits beside it. */
static int self_dir(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return -errno;
	exe[n] = '\0';
	return (size_t)snprintf(buf, len, "%s", dirname(exe)) < len ? 0 : -ENAMETOOLONG;
}

static void install_usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-agent install-cni [--from DIR] [--plugins-from DIR] [--to DIR]\n"
		"                                [--ipam NAME] [--portmap]\n\n"
		"Copies into the CNI bin dir (--to, default %s) what a node needs:\n"
		"  sluice            from --from (default: this binary's directory)\n"
		"  loopback, IPAM    from --plugins-from (default %s); the IPAM plugin is\n"
		"                    --ipam (default %s; 'sluice' means built in: none copied)\n"
		"  portmap           with --portmap, from --plugins-from\n"
		"Each file is replaced atomically (temp file, mode 0755, rename); nothing is\n"
		"copied unless every source is present.\n",
		CONFIG_DEFAULT_CNI_BIN_DIR, INSTALL_PLUGINS_DIR, INSTALL_IPAM);
}

struct install_opts {
	const char *from, *plugins_from, *to, *ipam;
	bool portmap;
	char self[PATH_MAX];
};

/* Parses the flags; returns -1 to go on, else the exit code. */
static int install_opts_parse(int argc, char **argv, struct install_opts *o)
{
	static const struct option longopts[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"plugins-from", required_argument, NULL, 'P'},
	    {"to", required_argument, NULL, 't'},
	    {"ipam", required_argument, NULL, 'i'},
	    {"portmap", no_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			o->from = optarg;
			break;
		case 'P':
			o->plugins_from = optarg;
			break;
		case 't':
			o->to = optarg;
			break;
		case 'i':
			o->ipam = optarg;
			break;
		case 'm':
			o->portmap = true;
			break;
		case 'h':
			install_usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "sluice-agent install-cni: flag '%s' needs a value\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "sluice-agent install-cni: unknown flag '%s'\n",
				argv[optind - 1]);
			install_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-agent install-cni: unexpected argument '%s'\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (!o->ipam[0] || strchr(o->ipam, '/')) {
		fprintf(stderr, "sluice-agent install-cni: --ipam '%s' is not a plugin name\n",
			o->ipam);
		return EXIT_USAGE;
	}
	return -1;
}

/* The binaries to install, in order; returns their count. */
static size_t install_list(const struct install_opts *o, struct cni_bin *bins)
{
	size_t n = 0;

	bins[n++] = (struct cni_bin){"sluice", o->from};
	bins[n++] = (struct cni_bin){"loopback", o->plugins_from};
	if (strcmp(o->ipam, "sluice"))
		bins[n++] = (struct cni_bin){o->ipam, o->plugins_from};
	if (o->portmap)
		bins[n++] = (struct cni_bin){"portmap", o->plugins_from};
	return n;
}

int agent_cmd_install_cni(int argc, char **argv)
{
	struct install_opts o = {.plugins_from = INSTALL_PLUGINS_DIR,
				 .to = CONFIG_DEFAULT_CNI_BIN_DIR,
				 .ipam = INSTALL_IPAM};
	struct cni_bin bins[INSTALL_MAX_BINS];
	size_t n;
	int r;

	r = install_opts_parse(argc, argv, &o);
	if (r >= 0)
		return r;
	if (!o.from) {
		r = self_dir(o.self, sizeof(o.self));
		if (r < 0) {
			fprintf(stderr,
				"sluice-agent install-cni: Failed to find own directory: %s\n",
				strerror(-r));
			return 1;
		}
		o.from = o.self;
	}
	n = install_list(&o, bins);
	/* Every source first: a missing one must not leave a half-installed node. */
	for (size_t i = 0; i < n; i++) {
		r = cni_bin_check(&bins[i]);
		if (r < 0) {
			fprintf(stderr,
				"sluice-agent install-cni: Failed to find CNI plugin '%s/%s': %s\n",
				bins[i].dir, bins[i].name, strerror(-r));
			return 1;
		}
	}
	r = dir_ensure(o.to);
	if (r < 0) {
		fprintf(stderr, "sluice-agent install-cni: Failed to create CNI bin dir '%s': %s\n",
			o.to, strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		r = cni_bin_install(&bins[i], o.to);
		if (r < 0) {
			fprintf(
			    stderr,
			    "sluice-agent install-cni: Failed to install '%s/%s' into '%s': %s\n",
			    bins[i].dir, bins[i].name, o.to, strerror(-r));
			return 1;
		}
		printf("installed %s/%s\n", o.to, bins[i].name);
	}
	return 0;
}
