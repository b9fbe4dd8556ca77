/* SPDX-License-Identifier: Apache-2.0 */
/* agent-names.json: the Kubernetes names behind the maps' ids and addresses.
 * The agent writes it beside agent-status.json whenever it publishes its
 * status; the CLI reads it (no API needed, and it outlives the agent). */
#ifndef SLUICE_INSPECT_NAMES_H
#define SLUICE_INSPECT_NAMES_H

#include <stddef.h>

#include <linux/types.h>

#define NAMES_FILE    "agent-names.json" /* in the CNI state dir */
#define NAMES_VERSION 1

struct svc_pub;
struct kube_store;
struct names;

/* Writes the names of svc's published service ports (port names from svcs),
 * of every pod with an IPv4 address and of every node; NULL parts are left
 * empty. Atomic (temp file + rename). */
int names_publish(const char *path, const struct svc_pub *svc, const struct kube_store *svcs,
		  const struct kube_store *pods, const struct kube_store *nodes);

/* Reads the file; -ENOENT when absent, -EINVAL when it is not ours. */
int names_load(const char *path, struct names **out);
void names_free(struct names *n);
void names_freep(struct names **n);
#define _cleanup_names_ __attribute__((cleanup(names_freep)))

/* "ns/name:port" (":port" left out when unnamed) of a svc_id, NULL unknown. */
const char *names_svc(const struct names *n, __u32 svc_id);
/* "ns/name" of the pod with IPv4 ip, NULL unknown. */
const char *names_pod(const struct names *n, __be32 ip);
/* The IPv4 address of pod "ns/name"; -ENOENT unknown. */
int names_pod_ip(const struct names *n, const char *ns_name, __be32 *ip);
/* The node whose pod CIDR holds ip, or whose address ip is; NULL unknown. */
const char *names_node(const struct names *n, __be32 ip);

#endif
