/* SPDX-License-Identifier: Apache-2.0 */
/* A tc program that only returns a verdict: what the benches subtract as the harness. */
#ifndef SL_TESTS_NOOP_PROG_H
#define SL_TESTS_NOOP_PROG_H

#include <linux/bpf.h>
#include <bpf/bpf.h>

/* A loaded BPF_PROG_TYPE_SCHED_CLS program returning verdict: its fd, or -errno. */
static inline int noop_prog_load(int verdict)
{
	const struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = verdict},
	    {.code = BPF_JMP | BPF_EXIT},
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "sl_bench_noop", "GPL", insns, 2, NULL);
}

#endif
