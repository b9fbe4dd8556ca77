/* SPDX-License-Identifier: Apache-2.0 */
/* Entering a container's network namespace and coming back. */
#ifndef SLUICE_CNI_NETNS_H
#define SLUICE_CNI_NETNS_H

/* fd of the network namespace at path: -ENOENT if the path does not exist,
 * -EINVAL if it is not a network namespace. */
int netns_open(const char *path);
/* Runs fn(ctx) inside the namespace ns_fd and returns its value; the caller's
 * namespace is restored before returning (the process aborts if it cannot be). */
int netns_run(int ns_fd, int (*fn)(void *ctx), void *ctx);

#endif
