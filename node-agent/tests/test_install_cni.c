// SPDX-License-Identifier: Apache-2.0
/* Unit tests for installing CNI binaries into the bin dir (install_cni.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "install_cni.h"
#include "unit.h"

static char root[64];

static void path_of(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", root, rel);
}

static void file_write(const char *rel, const char *text, mode_t mode)
{
	char p[256];
	FILE *f;

	path_of(p, sizeof(p), rel);
	f = fopen(p, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
}

static const char *file_read(const char *rel)
{
	static char buf[256];
	char p[256];
	size_t n;
	FILE *f;

	path_of(p, sizeof(p), rel);
	f = fopen(p, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int file_mode(const char *rel)
{
	char p[256];
	struct stat st;

	path_of(p, sizeof(p), rel);
	return stat(p, &st) < 0 ? -errno : (int)(st.st_mode & 07777);
}

/* Entries of a directory, "." and ".." excluded: temp files would show here. */
static int dir_count(const char *rel)
{
	char p[256];
	struct dirent *e;
	int n = 0;
	DIR *d;

	path_of(p, sizeof(p), rel);
	d = opendir(p);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_copy_atomic_mode(void)
{
	char src[256], to[256];
	struct cni_bin b = {"sluice", src};

	UNIT_CASE("a binary is copied with mode 0755 and no temp file is left");
	path_of(src, sizeof(src), "src");
	path_of(to, sizeof(to), "bin");
	file_write("src/sluice", "#!/bin/sh\necho v1\n", 0700);
	CHECK_INT(cni_bin_install(&b, to), 0);
	CHECK_STR(file_read("bin/sluice"), "#!/bin/sh\necho v1\n");
	CHECK_INT(file_mode("bin/sluice"), 0755);
	CHECK_INT(dir_count("bin"), 1);

	UNIT_CASE("a second install replaces the old binary in place");
	file_write("src/sluice", "#!/bin/sh\necho v2 longer\n", 0755);
	CHECK_INT(cni_bin_install(&b, to), 0);
	CHECK_STR(file_read("bin/sluice"), "#!/bin/sh\necho v2 longer\n");
	CHECK_INT(dir_count("bin"), 1);
}

static void test_bad_sources(void)
{
	char src[256], to[256];
	struct cni_bin missing = {"loopback", src}, plain = {"plain", src}, dir = {"adir", src};

	path_of(src, sizeof(src), "src");
	path_of(to, sizeof(to), "bin");
	file_write("bin/loopback", "old", 0755);

	UNIT_CASE("a missing source fails with ENOENT and keeps the installed binary");
	CHECK_INT(cni_bin_check(&missing), -ENOENT);
	CHECK_INT(cni_bin_install(&missing, to), -ENOENT);
	CHECK_STR(file_read("bin/loopback"), "old");

	UNIT_CASE("a source that is not executable is refused");
	file_write("src/plain", "data", 0644);
	CHECK_INT(cni_bin_check(&plain), -EACCES); /* no x bit: refused even for root */
	CHECK_INT(cni_bin_install(&plain, to), -EACCES);
	CHECK_INT(file_mode("bin/plain"), -ENOENT);

	UNIT_CASE("a directory is not a plugin");
	path_of(src, sizeof(src), "src/adir");
	mkdir(src, 0755);
	path_of(src, sizeof(src), "src");
	CHECK_INT(cni_bin_check(&dir), -EISDIR);
	CHECK_INT(cni_bin_install(&dir, to), -EISDIR);
}

static void test_dest_missing(void)
{
	char src[256], to[256];
	struct cni_bin b = {"sluice", src};

	UNIT_CASE("a destination that does not exist fails cleanly");
	path_of(src, sizeof(src), "src");
	path_of(to, sizeof(to), "nope/bin");
	CHECK_INT(cni_bin_install(&b, to), -ENOENT);
}

/* The command: all sources checked before anything is copied. */
static void test_cmd_all_or_nothing(void)
{
	char from[256], plugins[256], to[256];
	char *argv[] = {"install-cni", "--from", from, "--plugins-from", plugins, "--to", to, NULL};
	int argc = 7;

	path_of(from, sizeof(from), "src");
	path_of(plugins, sizeof(plugins), "plugins");
	path_of(to, sizeof(to), "node/bin");
	mkdir(plugins, 0755);
	path_of(to, sizeof(to), "node");
	mkdir(to, 0755);
	path_of(to, sizeof(to), "node/bin");
	file_write("plugins/loopback", "lo", 0755);

	UNIT_CASE("install-cni installs nothing while the IPAM plugin is missing");
	CHECK_INT(agent_cmd_install_cni(argc, argv), 1);
	CHECK_INT(dir_count("node/bin"), -ENOENT);

	UNIT_CASE("install-cni installs sluice, loopback and host-local");
	file_write("plugins/host-local", "hl", 0755);
	CHECK_INT(agent_cmd_install_cni(argc, argv), 0);
	CHECK_INT(dir_count("node/bin"), 3);
	CHECK_STR(file_read("node/bin/loopback"), "lo");
	CHECK_STR(file_read("node/bin/host-local"), "hl");
	CHECK_INT(file_mode("node/bin/sluice"), 0755);

	UNIT_CASE("install-cni --ipam sluice copies no IPAM binary");
	char *argv2[] = {"install-cni", "--from", from,	    "--plugins-from", plugins,
			 "--to",	to,	  "--ipam", "sluice",	      NULL};
	path_of(to, sizeof(to), "node/bin2");
	CHECK_INT(agent_cmd_install_cni(9, argv2), 0);
	CHECK_INT(dir_count("node/bin2"), 2);

	UNIT_CASE("install-cni refuses an IPAM name with a slash");
	char *argv3[] = {"install-cni", "--to", to, "--ipam", "../x", NULL};
	CHECK_INT(agent_cmd_install_cni(5, argv3), EXIT_USAGE);
	CHECK_INT(dir_count("node/bin2"), 2);
}

int main(void)
{
	char cmd[128];
	char src[256];

	snprintf(root, sizeof(root), "/tmp/sl-install-cni.XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	path_of(src, sizeof(src), "src");
	mkdir(src, 0755);
	path_of(src, sizeof(src), "bin");
	mkdir(src, 0755);
	test_copy_atomic_mode();
	test_bad_sources();
	test_dest_missing();
	test_cmd_all_or_nothing();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return unit_done();
}
