/* SPDX-License-Identifier: Apache-2.0 */
/* Rebuilding the endpoint and hostPort maps from the CNI plugin's state files after they were
 * replaced. */
#ifndef SLUICE_AGENT_EP_RESTORE_H
#define SLUICE_AGENT_EP_RESTORE_H

struct ep_restore_stats {
	int restored;	    /* addresses written back into sl_ep4 */
	int stale;	    /* state files whose veth is gone or runs no sluice program */
	int failed;	    /* writes refused (map full) */
	int slots;	    /* sl_epsrc4 slots written or emptied to agree with sl_ep4 */
	int hport_restored; /* hostPort entries written back into sl_hport4 */
	int hport_failed;   /* recorded mappings unreadable or refused (map full) */
};

/* For every attachment the plugin recorded under state_dir whose host veth
 * (same ifindex and name, in the caller's netns) still runs sl_from_pod,
 * writes the sl_ep4 entries of the addresses the map lacks: after a pinned
 * sl_ep4 was replaced (ABI change) or removed, running pods get their
 * entries back. Entries already present are left alone. The same for the
 * hostPorts recorded there (sl_hport4, keyed by the pod's first address, as
 * ADD claimed them), each port's sl_hpgate bit set again. It runs at the
 * agent's start without the plugin's hostport.lock: an entry a concurrent
 * ADD writes first wins (neither overwrites the other), and one a
 * concurrent DEL leaves behind points at no endpoint, which the next ADD
 * that wants the port takes over. Then the sl_epsrc4 slots are made to
 * agree with sl_ep4 (dp_ep_slots_sync): a new sl_epsrc4 gets the running
 * pods' slots, a kept one loses those no entry backs. */
int endpoints_restore(const char *pin_dir, const char *state_dir, struct ep_restore_stats *st);

#endif
