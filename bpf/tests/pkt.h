/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the BPF tests: addresses, checksums, the private network
 * namespace, the start of main, and running a program once on a packet with
 * its metric checked. */
#ifndef SLUICE_TESTS_PKT_H
#define SLUICE_TESTS_PKT_H

#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "log.h"
#include "unit.h"

#define IP(a, b, c, d) htonl(((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

/* The Internet checksum of len bytes, folded, in network order. */
static inline __u32 csum_add(__u32 sum, const void *data, size_t len)
{
	const __u8 *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

static inline __u16 csum_fold16(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

static inline __u16 csum(const void *data, size_t len)
{
	return csum_fold16(csum_add(0, data, len));
}

/* TCP/UDP checksum over the IPv4 pseudo header and len bytes of segment;
 * 0 when the checksum field inside is right. */
static inline __u16 csum_l4(__be32 saddr, __be32 daddr, __u8 proto, const void *seg, size_t len)
{
	__u32 sum = 0;

	sum = csum_add(sum, &saddr, 4);
	sum = csum_add(sum, &daddr, 4);
	sum += proto + len;
	return csum_fold16(csum_add(sum, seg, len));
}

/* Enters a new network namespace and runs the setup commands there. */
static inline int netns_private(const char *const *setup, size_t n)
{
	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (system(setup[i]) != 0) {
			fprintf(stderr, "netns setup failed: %s\n", setup[i]);
			return -1;
		}
	}
	return 0;
}

/* The start of every BPF test's main: root, libbpf's messages through log.h
 * (warnings only: some are expected), a private namespace set up by setup. */
static inline int bpf_test_enter(const char *ident, const char *const *setup, size_t n)
{
	if (geteuid() != 0) {
		fprintf(stderr, "%s needs root\n", ident);
		return -1;
	}
	log_open(ident, NULL, LOG_LVL_WARN);
	dp_libbpf_log_setup();
	return netns_private(setup, n);
}

/* Runs the program once on pkt as if it arrived on ifindex (at tc ingress
 * when ingress is set, else leaving by it); checks the verdict and that
 * exactly one packet of len bytes was counted at metric (none when metric is
 * 0). With out, the output packet is copied there, *out_len its size. */
static inline void expect_at(int prog_fd, int metrics_fd, const void *pkt, __u32 len, int ifindex,
			     bool ingress, int verdict, unsigned int metric, void *out,
			     __u32 *out_len)
{
	struct sl_metric_val before[SL_METRICS_MAX], after[SL_METRICS_MAX];
	struct __sk_buff ctx = {.ifindex = ifindex, .ingress_ifindex = ingress ? ifindex : 0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = len, .data_out = out,
		    .data_size_out = out_len ? *out_len : 0, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	__u64 total = 0;
	int err;

	CHECK_INT(dp_metrics_read(metrics_fd, before), 0);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	CHECK_INT(err, 0);
	CHECK_INT(opts.retval, verdict);
	CHECK_INT(dp_metrics_read(metrics_fd, after), 0);
	if (metric) {
		CHECK_INT(after[metric].packets - before[metric].packets, 1);
		CHECK_INT(after[metric].bytes - before[metric].bytes, len);
	}
	for (int i = 0; i < SL_METRICS_MAX; i++)
		total += after[i].packets - before[i].packets;
	CHECK_INT(total, metric ? 1 : 0);
	if (out_len)
		*out_len = opts.data_size_out;
}

/* tc ingress of ifindex, and the output (if any) as long as the input. */
static inline void expect(int prog_fd, int metrics_fd, const void *pkt, __u32 len, int ifindex,
			  int verdict, unsigned int metric, void *out, __u32 *out_len)
{
	expect_at(prog_fd, metrics_fd, pkt, len, ifindex, true, verdict, metric, out, out_len);
	if (out_len)
		CHECK_INT(*out_len, len);
}

#endif
