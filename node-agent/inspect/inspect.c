// SPDX-License-Identifier: Apache-2.0
/* The pinned maps the inspection commands read, and how they write addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "sluice/abi.h"

#include "dp.h"
#include "inspect.h"

int inspect_maps_open(const char *pin_dir, struct inspect_maps *m)
{
	static const struct {
		const char *name;
		size_t off;
	} pins[] = {
#define PIN(field, name) {name, offsetof(struct inspect_maps, field)}
	    PIN(ep, SL_PIN_EP4),	PIN(svc, SL_PIN_SVC4),	    PIN(be, SL_PIN_BE4),
	    PIN(ct, SL_PIN_CT4),	PIN(aff, SL_PIN_AFF4),	    PIN(ipc, SL_PIN_IPCACHE4),
	    PIN(pol, SL_PIN_POL),	PIN(cidr, SL_PIN_POLCIDR4), PIN(cfg, SL_PIN_POLCFG),
	    PIN(events, SL_PIN_EVENTS), PIN(evcfg, SL_PIN_EVCFG),   PIN(hport, SL_PIN_HPORT4),
	    PIN(hpgate, SL_PIN_HPGATE),
#undef PIN
	};
	int opened = 0;

	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		int *fd = (int *)((char *)m + pins[i].off);

		*fd = dp_pin_open(pin_dir, pins[i].name);
		opened += *fd >= 0;
	}
	if (opened)
		return 0;
	inspect_maps_close(m);
	return -ENOENT;
}

void inspect_maps_close(struct inspect_maps *m)
{
	int *fds = (int *)m;

	for (size_t i = 0; i < sizeof(*m) / sizeof(int); i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -EBADF;
	}
}

const char *inspect_proto_name(__u8 proto, char buf[8])
{
	switch (proto) {
	case IPPROTO_TCP:
		return "TCP";
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_SCTP:
		return "SCTP";
	}
	snprintf(buf, 8, "%u", proto);
	return buf;
}

const char *inspect_addr(__be32 ip, __be16 port, char buf[INSPECT_ADDR_MAX])
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, a, sizeof(a));
	if (port)
		snprintf(buf, INSPECT_ADDR_MAX, "%s:%u", a, ntohs(port));
	else
		snprintf(buf, INSPECT_ADDR_MAX, "%s", a);
	return buf;
}

__u64 inspect_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}
