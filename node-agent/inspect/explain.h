/* SPDX-License-Identifier: Apache-2.0 */
/* `explain`: the lookups sl_from_pod / sl_to_pod would do for one packet,
 * done from user space on the maps' current contents, without a packet. */
#ifndef SLUICE_INSPECT_EXPLAIN_H
#define SLUICE_INSPECT_EXPLAIN_H

#include <stdbool.h>

#include <linux/types.h>

#include "inspect.h"

struct names;

/* The packet: src[:sport] -> dst:dport/proto. sport 0: a new connection
 * (SYN) from any port, so conntrack is not consulted. */
struct explain_q {
	__be32 src, dst;
	__be16 sport, dport;
	__u8 proto;
};

/* How the packet ends, one per backend it may go to. */
enum explain_fate {
	EXPLAIN_LOCAL,	  /* redirected into a local pod (peer of its host veth) */
	EXPLAIN_FIB,	  /* forwarded by the node's FIB (another node, outside) */
	EXPLAIN_STACK,	  /* passed to the node's stack (its own address, no route) */
	EXPLAIN_REJECT,	  /* answered with ICMP unreachable */
	EXPLAIN_DROP,	  /* dropped: ret is the -SL_DROP_* reason */
	EXPLAIN_NOT_HERE, /* no sluice program on this node sees the packet */
};

#define EXPLAIN_MAX_OUT	  64 /* backends followed one by one */
#define EXPLAIN_MAX_STEPS 48
#define EXPLAIN_STEP_LEN  240

struct explain_out {
	__u32 backend_id; /* 0: not load-balanced */
	__be32 dst;	  /* after DNAT */
	__be16 dport;
	int ret;		    /* what the program returns: SL_PATH_* or -SL_DROP_* */
	int fate;		    /* enum explain_fate */
	char why[EXPLAIN_STEP_LEN]; /* policy verdict and forwarding, in words */
};

struct explain {
	bool src_local;	    /* SRC is an endpoint of this node */
	__u32 svc_id;	    /* 0: DST is no service port */
	bool deterministic; /* one possible outcome (one backend, affinity, no service) */
	int n_out;	    /* outcomes, one per possible backend (capped) */
	int n_slots;	    /* the service's backend slots */
	struct explain_out out[EXPLAIN_MAX_OUT];
	int n_steps;
	char steps[EXPLAIN_MAX_STEPS][EXPLAIN_STEP_LEN];
};

/* Walks q through the maps m (names optional, for the words); 0 or -errno
 * when a map could not be read. */
int explain_run(const struct inspect_maps *m, const struct names *names, const struct explain_q *q,
		struct explain *x);

const char *explain_fate_name(int fate);

#endif
