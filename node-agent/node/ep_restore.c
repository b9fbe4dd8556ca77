// SPDX-License-Identifier: Apache-2.0
/* Rebuilds missing sl_ep4 entries from the CNI plugin's state files (jansson). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/ether.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <jansson.h>

#include "cleanup.h"
#include "dp.h"
#include "ep_restore.h"

/* The host veth's MAC, asked of the caller's network namespace. */
static int host_mac_get(int ifindex, const char *name, __u8 mac[6])
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {.ifr_ifindex = ifindex};

	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFNAME, &ifr) < 0)
		return -errno;
	if (strcmp(ifr.ifr_name, name))
		return -ENODEV; /* the index was reused by another interface */
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* The entry a state file describes, if its veth still runs our program. */
static int state_entry(json_t *root, struct sl_ep_val *val)
{
	const char *veth = json_string_value(json_object_get(root, "hostVeth"));
	const char *pod_mac = json_string_value(json_object_get(root, "podMac"));
	json_int_t ifindex = json_integer_value(json_object_get(root, "hostIfindex"));
	struct ether_addr *mac;
	enum dp_attach_mode mode;
	char prog[16] = "";
	__u32 id;

	if (!veth || !pod_mac || ifindex <= 0 || !(mac = ether_aton(pod_mac)))
		return -EINVAL;
	memset(val, 0, sizeof(*val));
	val->ifindex = val->ep_id = (__u32)ifindex;
	val->flags = SL_EP_F_NONE;
	memcpy(val->pod_mac, mac->ether_addr_octet, 6);
	if (host_mac_get((int)ifindex, veth, val->host_mac) < 0)
		return -ENODEV;
	if (dp_tc_query((int)ifindex, &id, prog, &mode) < 0 || strcmp(prog, SL_PIN_FROM_POD))
		return -ENODEV;
	return 0;
}

/* Writes the entries of one state file whose addresses sl_ep4 lacks. */
static void state_restore(const struct dp_ep_maps *m, const char *file, struct ep_restore_stats *st)
{
	json_auto_t *root = json_load_file(file, 0, NULL);
	json_t *ips = json_object_get(root, "ips"), *ip;
	struct sl_ep_val val, have;
	size_t i;

	if (!json_is_array(ips) || !json_object_get(root, "hostVeth"))
		return; /* not an attachment's state file */
	if (state_entry(root, &val) < 0) {
		st->stale++;
		return;
	}
	json_array_foreach(ips, i, ip) {
		struct in_addr a;

		if (!json_is_string(ip) || inet_pton(AF_INET, json_string_value(ip), &a) != 1)
			continue;
		if (dp_ep_lookup(m->ep, a.s_addr, &have) == 0)
			continue;
		if (dp_ep_update(m, a.s_addr, &val) < 0)
			st->failed++;
		else
			st->restored++;
	}
}

/* Each <state_dir>/<network>/<containerid>-<ifname>.json. */
static void network_restore(const struct dp_ep_maps *m, const char *dir,
			    struct ep_restore_stats *st)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char file[4096];
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.' || n < 6 || strcmp(e->d_name + n - 5, ".json"))
			continue;
		if (snprintf(file, sizeof(file), "%s/%s", dir, e->d_name) < (int)sizeof(file))
			state_restore(m, file, st);
	}
	closedir(d);
}

/* Each network directory under state_dir. */
static int networks_restore(const struct dp_ep_maps *m, const char *state_dir,
			    struct ep_restore_stats *st)
{
	DIR *d = opendir(state_dir);
	struct dirent *e;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char dir[4096];

		if (e->d_name[0] == '.' || e->d_type != DT_DIR)
			continue;
		if (snprintf(dir, sizeof(dir), "%s/%s", state_dir, e->d_name) < (int)sizeof(dir))
			network_restore(m, dir, st);
	}
	closedir(d);
	return 0;
}

int endpoints_restore(const char *pin_dir, const char *state_dir, struct ep_restore_stats *st)
{
	_cleanup_ep_maps_ struct dp_ep_maps maps = DP_EP_MAPS_NONE;
	const char *pin;
	int r;

	memset(st, 0, sizeof(*st));
	r = dp_ep_maps_open(pin_dir, &maps, &pin);
	if (r < 0)
		return r;
	r = networks_restore(&maps, state_dir, st);
	if (r < 0)
		return r;
	r = dp_ep_slots_sync(&maps);
	if (r < 0)
		return r;
	st->slots = r;
	return 0;
}
