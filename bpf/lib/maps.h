/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every BPF map of the datapath, pinned by name under the agent's pin dir. */
#ifndef SL_LIB_MAPS_H
#define SL_LIB_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "sluice/abi.h"

/* Local pods by IPv4 address; written by the CNI plugin. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_EP_MAX);
	__type(key, struct sl_ep_key);
	__type(value, struct sl_ep_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_ep4 SEC(".maps");

/* Packets and bytes per drop reason (-SL_DROP_*) and per path (SL_PATH_*). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_METRICS_MAX);
	__type(key, __u32);
	__type(value, struct sl_metric_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_metrics SEC(".maps");

/* Services: masters, backend slots and VIP markers; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_SVC_MAX);
	__type(key, struct sl_svc_key);
	__type(value, struct sl_svc_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_svc4 SEC(".maps");

/* Backends by id; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_BE_MAX);
	__type(key, struct sl_be_key);
	__type(value, struct sl_be_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_be4 SEC(".maps");

/* Service port by svc_id, the source replies must show; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_REVNAT_MAX);
	__type(key, struct sl_revnat_key);
	__type(value, struct sl_revnat_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_revnat4 SEC(".maps");

/* Conntrack of load-balanced flows, both directions; written by programs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_CT_MAX);
	__type(key, struct sl_ct_key);
	__type(value, struct sl_ct_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_ct4 SEC(".maps");

/* sessionAffinity: ClientIP choices; written by programs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_AFF_MAX);
	__type(key, struct sl_aff_key);
	__type(value, struct sl_aff_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_aff4 SEC(".maps");

/* Layout version of the pinned maps; written by the agent, never by programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_info_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_info SEC(".maps");

#endif
