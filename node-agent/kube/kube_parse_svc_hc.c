// SPDX-License-Identifier: Apache-2.0
/* Parses a Service's spec.healthCheckNodePort, the port its health check server listens on. */
#include <errno.h>

#include <jansson.h>

#include "kube_objects.h"
#include "kube_parse.h"

int kube_svc_hc_parse(struct pctx *pc, json_t *spec, struct kube_service *s)
{
	long long v = 0;

	/* 0 (or absent): none allocated; the apiserver allocates it only for
	 * LoadBalancer + externalTrafficPolicy Local, which the agent checks */
	if (kp_get_int(pc, spec, "healthCheckNodePort", "spec.", 0, 65535, &v) < 0)
		return -EINVAL;
	s->hc_node_port = (__u16)v;
	return 0;
}
