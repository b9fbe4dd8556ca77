/* SPDX-License-Identifier: Apache-2.0 */
/* libnl-route-3 glue shared by the two netlink files (cni/node/netlink.c and
 * node-agent/node/routes.c): scope-bound cleanup of libnl objects and the one
 * conversion of -NLE_* codes to -errno. Include nowhere else. */
#ifndef SLUICE_NL_UTIL_H
#define SLUICE_NL_UTIL_H

#include <errno.h>
#include <stddef.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

static inline void sock_freep(struct nl_sock **sk)
{
	if (*sk)
		nl_socket_free(*sk);
}
static inline void cache_freep(struct nl_cache **c)
{
	if (*c)
		nl_cache_free(*c);
}
static inline void link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}
static inline void addr_putp(struct nl_addr **a)
{
	if (*a)
		nl_addr_put(*a);
}
static inline void rtaddr_putp(struct rtnl_addr **a)
{
	if (*a)
		rtnl_addr_put(*a);
}
static inline void route_putp(struct rtnl_route **r)
{
	if (*r)
		rtnl_route_put(*r);
}
static inline void neigh_putp(struct rtnl_neigh **n)
{
	if (*n)
		rtnl_neigh_put(*n);
}
#define _cleanup_sock_	 __attribute__((cleanup(sock_freep)))
#define _cleanup_cache_	 __attribute__((cleanup(cache_freep)))
#define _cleanup_link_	 __attribute__((cleanup(link_putp)))
#define _cleanup_addr_	 __attribute__((cleanup(addr_putp)))
#define _cleanup_rtaddr_ __attribute__((cleanup(rtaddr_putp)))
#define _cleanup_route_	 __attribute__((cleanup(route_putp)))
#define _cleanup_neigh_	 __attribute__((cleanup(neigh_putp)))

/* libnl's -NLE_* to -errno, once, here. */
static inline int nl_errno(int nlerr)
{
	static const struct {
		int nle, err;
	} map[] = {
	    {NLE_EXIST, EEXIST},
	    {NLE_OBJ_NOTFOUND, ENOENT},
	    {NLE_NODEV, ENODEV},
	    {NLE_PERM, EPERM},
	    {NLE_NOACCESS, EACCES},
	    {NLE_NOMEM, ENOMEM},
	    {NLE_INVAL, EINVAL},
	    {NLE_BUSY, EBUSY},
	    {NLE_AGAIN, EAGAIN},
	    {NLE_RANGE, ERANGE},
	    {NLE_NOADDR, EADDRNOTAVAIL},
	    {NLE_OPNOTSUPP, EOPNOTSUPP},
	    {NLE_AF_NOSUPPORT, EAFNOSUPPORT},
	    {NLE_MSGSIZE, EMSGSIZE},
	    {NLE_INTR, EINTR},
	};

	if (nlerr >= 0)
		return nlerr;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].nle == -nlerr)
			return -map[i].err;
	return -EIO;
}

#endif
