// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: a watch stream cut into chunks, framed into events and applied to a store. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* The framing (slot_body) is static in kube_sync.c: take it from there. */
#include "../node-agent/kube/kube_sync.c"

static void change_ignore(void *ctx, enum kube_op op, const struct kube_obj *old,
			  const struct kube_obj *cur)
{
}

static void note_ignore(void *ctx, const struct kube_reflector *r, enum log_level level,
			const char *msg)
{
}

/* The input: a byte choosing the kind, a byte the chunk size, then the body
 * of a 200 watch response as it arrives. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_sync_slot s = {};
	size_t chunk, off;
	int code;
	char msg[KUBE_WHY_MAX];

	if (size < 2)
		return 0;
	kube_reflector_init(&s.ref, &kube_resources[data[0] % KUBE_KIND_MAX], "node1", 1,
			    change_ignore, NULL, note_ignore, NULL);
	chunk = (size_t)data[1] + 1;
	data += 2;
	size -= 2;
	kube_status_parse((const char *)data, size, &code, msg, sizeof(msg));
	s.ref.phase = KUBE_PHASE_WATCH;
	slot_status(&s, 200, 0);
	for (off = 0; off < size; off += chunk)
		if (slot_body(&s, (const char *)data + off,
			      size - off < chunk ? size - off : chunk) < 0)
			break;
	kube_reflector_fini(&s.ref);
	free(s.buf);
	return 0;
}
