// SPDX-License-Identifier: Apache-2.0
/* The pod CIDR sluice-agent published for this node (jansson), and membership. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "podcidr.h"

static int cidr4_parse(const char *s, struct podcidr *pc)
{
	char buf[64], *slash, *end;
	long prefix;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EBADMSG;
	slash = strchr(buf, '/');
	if (!slash)
		return -EBADMSG;
	*slash = '\0';
	prefix = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || prefix < 0 || prefix > 32 ||
	    inet_pton(AF_INET, buf, &pc->net) != 1)
		return -EBADMSG;
	pc->prefix = (int)prefix;
	snprintf(pc->text, sizeof(pc->text), "%s", s);
	return 0;
}

int podcidr_read(const char *state_dir, struct podcidr *pc)
{
	json_auto_t *root = NULL;
	char path[PATH_MAX];
	json_t *v;

	memset(pc, 0, sizeof(*pc));
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, PODCIDR_AGENT_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	root = json_load_file(path, 0, NULL);
	if (!root)
		return access(path, F_OK) < 0 ? -ENOENT : -EBADMSG;
	v = json_object_get(root, "podCIDR");
	if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
		return -ENOENT;
	if (!json_is_string(v))
		return -EBADMSG;
	return cidr4_parse(json_string_value(v), pc);
}

bool podcidr_contains(const struct podcidr *pc, struct in_addr addr)
{
	uint32_t mask = pc->prefix ? htonl(~0U << (32 - pc->prefix)) : 0;

	return (addr.s_addr & mask) == (pc->net.s_addr & mask);
}
