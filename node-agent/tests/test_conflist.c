// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the CNI conflist the agent writes (conflist.c). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "conflist.h"
#include "unit.h"

static void config_base(struct config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->node_name, "n1");
	strcpy(c->pod_cidr, "10.244.1.0/24");
	strcpy(c->pin_dir, "/sys/fs/bpf/sluice");
	strcpy(c->cni_conf_dir, "/etc/cni/net.d");
	strcpy(c->cni_bin_dir, "/opt/cni/bin");
	strcpy(c->cni_state_dir, "/var/lib/sluice");
}

static const char *str_at(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The parts every conflist has; returns the sluice plugin object. */
static json_t *check_common_ipam(json_t *root, size_t n_plugins, const char *ipam_type)
{
	json_t *plugins = json_object_get(root, "plugins"), *p, *ipam, *ranges, *range;

	CHECK_STR(str_at(root, "cniVersion"), "1.0.0");
	CHECK_STR(str_at(root, "name"), "sluice");
	CHECK_INT(json_object_size(root), 3);
	CHECK(json_is_array(plugins));
	CHECK_INT(json_array_size(plugins), n_plugins);
	p = json_array_get(plugins, 0);
	CHECK_STR(str_at(p, "type"), "sluice");
	CHECK_STR(str_at(p, "pinDir"), "/sys/fs/bpf/sluice");
	CHECK_STR(str_at(p, "stateDir"), "/var/lib/sluice");

	ipam = json_object_get(p, "ipam");
	CHECK(json_is_object(ipam));
	CHECK_STR(str_at(ipam, "type"), ipam_type);
	ranges = json_object_get(ipam, "ranges");
	CHECK(json_is_array(ranges) && json_array_size(ranges) == 1);
	range = json_array_get(ranges, 0);
	CHECK(json_is_array(range) && json_array_size(range) == 1);
	CHECK_STR(str_at(json_array_get(range, 0), "subnet"), "10.244.1.0/24");
	CHECK_INT(json_object_size(json_array_get(range, 0)), 1);
	CHECK(json_is_array(json_object_get(ipam, "routes")));
	CHECK_INT(json_array_size(json_object_get(ipam, "routes")), 0);
	return p;
}

/* The agent's default: the plugin's in-process IPAM. */
static json_t *check_common(json_t *root, size_t n_plugins)
{
	return check_common_ipam(root, n_plugins, "sluice");
}

static void test_minimal(void)
{
	struct config c;
	json_t *root, *p, *ipam;

	UNIT_CASE("minimal: no portmap, mtu, logFile or dataDir");
	config_base(&c);
	root = conflist_build(&c);
	CHECK(root != NULL);
	if (!root)
		return;
	p = check_common(root, 1);
	CHECK(!json_object_get(p, "mtu"));
	CHECK(!json_object_get(p, "logFile"));
	CHECK_INT(json_object_size(p), 5); /* type, pinDir, stateDir, ipam, capabilities */
	CHECK(json_is_true(json_object_get(json_object_get(p, "capabilities"), "portMappings")));
	CHECK_INT(json_object_size(json_object_get(p, "capabilities")), 1);
	ipam = json_object_get(p, "ipam");
	CHECK(!json_object_get(ipam, "dataDir"));
	CHECK_INT(json_object_size(ipam), 3);
	json_decref(root);
}

static void test_full(void)
{
	struct config c;
	json_t *root, *p, *pm, *caps;

	UNIT_CASE("full: portmap, mtu, logFile and dataDir");
	config_base(&c);
	c.mtu = 1450;
	c.portmap = true;
	strcpy(c.cni_log_file, "/var/log/sluice-cni.log");
	strcpy(c.ipam_data_dir, "/run/sluice/ipam");
	root = conflist_build(&c);
	CHECK(root != NULL);
	if (!root)
		return;
	p = check_common(root, 2);
	CHECK(json_is_integer(json_object_get(p, "mtu")));
	CHECK_INT(json_integer_value(json_object_get(p, "mtu")), 1450);
	CHECK_STR(str_at(p, "logFile"), "/var/log/sluice-cni.log");
	CHECK_STR(str_at(json_object_get(p, "ipam"), "dataDir"), "/run/sluice/ipam");

	/* --portmap: the portmap plugin serves hostPorts, the datapath does not */
	CHECK(!json_object_get(p, "capabilities"));
	pm = json_array_get(json_object_get(root, "plugins"), 1);
	CHECK_STR(str_at(pm, "type"), "portmap");
	CHECK(json_is_true(json_object_get(pm, "snat")));
	caps = json_object_get(pm, "capabilities");
	CHECK(json_is_object(caps));
	CHECK(json_is_true(json_object_get(caps, "portMappings")));
	CHECK_INT(json_object_size(caps), 1);
	CHECK_INT(json_object_size(pm), 3);
	json_decref(root);
}

static void test_each_option_alone(void)
{
	struct config c;
	json_t *root, *p;

	UNIT_CASE("mtu alone");
	config_base(&c);
	c.mtu = 9000;
	root = conflist_build(&c);
	p = check_common(root, 1);
	CHECK_INT(json_integer_value(json_object_get(p, "mtu")), 9000);
	CHECK(!json_object_get(json_object_get(p, "ipam"), "dataDir"));
	json_decref(root);

	UNIT_CASE("portmap alone");
	config_base(&c);
	c.portmap = true;
	root = conflist_build(&c);
	p = check_common(root, 2);
	CHECK(!json_object_get(p, "mtu"));
	CHECK_STR(str_at(json_array_get(json_object_get(root, "plugins"), 1), "type"), "portmap");
	json_decref(root);

	UNIT_CASE("--ipam host-local alone: delegated, same ranges and dataDir");
	config_base(&c);
	strcpy(c.ipam, "host-local");
	strcpy(c.ipam_data_dir, "/d");
	root = conflist_build(&c);
	p = check_common_ipam(root, 1, "host-local");
	CHECK_STR(str_at(json_object_get(p, "ipam"), "dataDir"), "/d");
	json_decref(root);

	UNIT_CASE("--ipam sluice alone");
	config_base(&c);
	strcpy(c.ipam, "sluice");
	root = conflist_build(&c);
	check_common_ipam(root, 1, "sluice");
	json_decref(root);

	UNIT_CASE("dataDir alone");
	config_base(&c);
	strcpy(c.ipam_data_dir, "/d");
	root = conflist_build(&c);
	p = check_common(root, 1);
	CHECK_STR(str_at(json_object_get(p, "ipam"), "dataDir"), "/d");
	CHECK(!json_object_get(p, "mtu"));
	json_decref(root);
}

static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_write(void)
{
	char tmp[] = "/tmp/sluice-conflist-test-XXXXXX", file[512], blocker[512];
	json_t *want, *got;
	json_error_t jerr;
	struct config c;
	struct stat st;

	if (!mkdtemp(tmp)) {
		UNIT_CASE("mkdtemp");
		CHECK(0);
		return;
	}
	config_base(&c);
	c.portmap = true;
	snprintf(c.cni_conf_dir, sizeof(c.cni_conf_dir), "%s/etc/cni/net.d", tmp);
	snprintf(file, sizeof(file), "%s/10-sluice.conflist", c.cni_conf_dir);

	UNIT_CASE("write creates the conf dir and the file, no temp file left");
	CHECK_INT(conflist_write(&c), 0);
	CHECK_INT(stat(file, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	CHECK_INT(dir_entries(c.cni_conf_dir), 1);
	got = json_load_file(file, 0, &jerr);
	want = conflist_build(&c);
	CHECK(got && want && json_equal(got, want));
	json_decref(got);

	UNIT_CASE("rewrite replaces the file with the new content");
	c.portmap = false;
	c.mtu = 1400;
	CHECK_INT(conflist_write(&c), 0);
	got = json_load_file(file, 0, &jerr);
	CHECK(got && !json_equal(got, want));
	json_decref(want);
	want = conflist_build(&c);
	CHECK(got && json_equal(got, want));
	json_decref(got);
	json_decref(want);
	CHECK_INT(dir_entries(c.cni_conf_dir), 1);
	unlink(file);

	UNIT_CASE("conf dir that is a file fails and leaves nothing");
	snprintf(blocker, sizeof(blocker), "%s/blocker", tmp);
	fclose(fopen(blocker, "w"));
	snprintf(c.cni_conf_dir, sizeof(c.cni_conf_dir), "%s/blocker/net.d", tmp);
	CHECK_INT(conflist_write(&c), -ENOTDIR);
	unlink(blocker);

	snprintf(file, sizeof(file), "%s/etc/cni/net.d", tmp);
	rmdir(file);
	snprintf(file, sizeof(file), "%s/etc/cni", tmp);
	rmdir(file);
	snprintf(file, sizeof(file), "%s/etc", tmp);
	rmdir(file);
	CHECK_INT(dir_entries(tmp), 0);
	rmdir(tmp);
}

int main(void)
{
	test_minimal();
	test_full();
	test_each_option_alone();
	test_write();
	return unit_done();
}
