// SPDX-License-Identifier: Apache-2.0
/* Rebuilds missing sl_ep4 and sl_hport4 entries from the CNI plugin's state files (jansson). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
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

/* The maps written back; hport and gate -1 when not pinned. */
struct restore_maps {
	struct dp_ep_maps eps;
	int hport, gate;
};

static void restore_maps_close(struct restore_maps *m)
{
	dp_ep_maps_close(&m->eps);
	if (m->hport >= 0)
		close(m->hport);
	if (m->gate >= 0)
		close(m->gate);
}

/* One recorded mapping as sl_hport4 holds it, read in the shape the plugin
 * writes (hostPort, containerPort, protocol "tcp"/"udp"/"sctp", hostIP "" or
 * an address), for the pod at pod_ip. */
static int hport_entry(json_t *m, __be32 pod_ip, struct sl_hport_key *key, struct sl_hport_val *val)
{
	static const struct {
		const char *name;
		__u8 proto;
	} protos[] = {{"tcp", IPPROTO_TCP}, {"udp", IPPROTO_UDP}, {"sctp", IPPROTO_SCTP}};
	json_int_t hp = json_integer_value(json_object_get(m, "hostPort"));
	json_int_t cp = json_integer_value(json_object_get(m, "containerPort"));
	const char *proto = json_string_value(json_object_get(m, "protocol"));
	const char *ip = json_string_value(json_object_get(m, "hostIP"));
	struct in_addr a = {0};

	memset(key, 0, sizeof(*key));
	memset(val, 0, sizeof(*val));
	if (hp < 1 || hp > 65535 || cp < 1 || cp > 65535 || !proto || !ip ||
	    (*ip && inet_pton(AF_INET, ip, &a) != 1))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcmp(proto, protos[i].name))
			key->proto = protos[i].proto;
	if (!key->proto)
		return -EINVAL;
	key->ip = a.s_addr;
	key->port = htons((__u16)hp);
	val->pod_ip = pod_ip;
	val->pod_port = htons((__u16)cp);
	return 0;
}

/* Writes the hostPort entries of a live attachment's state file that
 * sl_hport4 lacks (an entry there, the pod's or another's, is left alone)
 * and sets each port's gate bit by what sl_hport4 then holds. */
static void hports_restore(const struct restore_maps *m, json_t *root, __be32 pod_ip,
			   struct ep_restore_stats *st)
{
	json_t *list = json_object_get(root, "portMappings"), *pm;
	struct sl_hport_key key;
	struct sl_hport_val val;
	size_t i;
	int r;

	if (m->hport < 0 || m->gate < 0 || !json_is_array(list))
		return;
	json_array_foreach(list, i, pm) {
		if (hport_entry(pm, pod_ip, &key, &val) < 0) {
			st->hport_failed++;
			continue;
		}
		r = dp_hport_insert(m->hport, &key, &val);
		if (r == 0)
			st->hport_restored++;
		else if (r != -EEXIST)
			st->hport_failed++;
		if (dp_hpgate_sync(m->hport, m->gate, key.port, key.proto) < 0 && r == 0)
			st->hport_failed++;
	}
}

/* Writes the entries of one state file whose addresses sl_ep4 lacks, and its
 * hostPorts. */
static void state_restore(const struct restore_maps *m, const char *file,
			  struct ep_restore_stats *st)
{
	json_auto_t *root = json_load_file(file, 0, NULL);
	json_t *ips = json_object_get(root, "ips"), *ip;
	struct sl_ep_val val, have;
	__be32 first = 0;
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
		if (!first)
			first = a.s_addr; /* the address ADD gave the pod's hostPorts */
		if (dp_ep_lookup(m->eps.ep, a.s_addr, &have) == 0)
			continue;
		if (dp_ep_update(&m->eps, a.s_addr, &val) < 0)
			st->failed++;
		else
			st->restored++;
	}
	if (first)
		hports_restore(m, root, first, st);
}

/* Each <state_dir>/<network>/<containerid>-<ifname>.json. */
static void network_restore(const struct restore_maps *m, const char *dir,
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
static int networks_restore(const struct restore_maps *m, const char *state_dir,
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
	__attribute__((cleanup(restore_maps_close))) struct restore_maps m = {DP_EP_MAPS_NONE, -1,
									      -1};
	const char *pin;
	int r;

	memset(st, 0, sizeof(*st));
	r = dp_ep_maps_open(pin_dir, &m.eps, &pin);
	if (r < 0)
		return r;
	m.hport = dp_pin_open(pin_dir, SL_PIN_HPORT4);
	m.gate = dp_pin_open(pin_dir, SL_PIN_HPGATE);
	r = networks_restore(&m, state_dir, st);
	if (r < 0)
		return r;
	r = dp_ep_slots_sync(&m.eps);
	if (r < 0)
		return r;
	st->slots = r;
	return 0;
}
