// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: one kind of API object (FUZZ_KIND) as an object, a list page and a watch event.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube_objects.h"

/* The Makefile builds one binary per kind: -DFUZZ_KIND=fuzz_kind_<short name>. */
#define fuzz_kind_svc	 KUBE_SERVICE
#define fuzz_kind_eps	 KUBE_ENDPOINTSLICE
#define fuzz_kind_node	 KUBE_NODE
#define fuzz_kind_pod	 KUBE_POD
#define fuzz_kind_ns	 KUBE_NAMESPACE
#define fuzz_kind_netpol KUBE_NETPOL

static void item_drop(void *ctx, struct kube_obj *o)
{
	kube_obj_free(o);
}

static void bad_ignore(void *ctx, const char *ns, const char *name, const char *why)
{
}

static const struct kube_page_ops page_ops = {item_drop, bad_ignore};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char ns[KUBE_NS_MAX], name[KUBE_NAME_MAX], why[KUBE_WHY_MAX], rv[KUBE_RV_MAX];
	struct kube_event ev;
	char *cont = NULL;

	kube_obj_free(kube_obj_parse(FUZZ_KIND, buf, size, ns, name, why, sizeof(why)));
	if (kube_page_parse(FUZZ_KIND, buf, size, &page_ops, NULL, rv, &cont, why, sizeof(why)) ==
	    0)
		free(cont);
	if (kube_event_parse(FUZZ_KIND, buf, size, &ev, why, sizeof(why)) == 0)
		kube_obj_free(ev.obj);
	return 0;
}
