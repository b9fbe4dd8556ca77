// SPDX-License-Identifier: Apache-2.0
/* The flags every inspection subcommand shares, and their filters, parsed once. */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/abi.h"

#include "cmd.h"

enum { OPT_PIN = 'p', OPT_JSON = 'j', OPT_STATE_DIR = 'd', OPT_STATE_FILE = 'f', OPT_HELP = 'h' };

/* Filters: val is the CLI_F_* bit. */
static const struct option longopts[] = {
    {"pin-dir", required_argument, NULL, OPT_PIN},
    {"json", no_argument, NULL, OPT_JSON},
    {"cni-state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"state-file", required_argument, NULL, OPT_STATE_FILE},
    {"help", no_argument, NULL, OPT_HELP},
    {"src", required_argument, NULL, 0x100 | CLI_F_SRC},
    {"dst", required_argument, NULL, 0x100 | CLI_F_DST},
    {"ip", required_argument, NULL, 0x100 | CLI_F_IP},
    {"port", required_argument, NULL, 0x100 | CLI_F_PORT},
    {"proto", required_argument, NULL, 0x100 | CLI_F_PROTO},
    {"pod", required_argument, NULL, 0x100 | CLI_F_POD},
    {"service", required_argument, NULL, 0x100 | CLI_F_SERVICE},
    {"type", required_argument, NULL, 0x100 | CLI_F_TYPE},
    {},
};

static const struct {
	const char *name;
	__u32 bits;
} event_types[] = {
    {"drop", SL_EV_F(SL_EV_DROP)},
    {"flow", SL_EV_F(SL_EV_FLOW)},
    {"policy", SL_EV_F(SL_EV_POLICY)},
};

/* "tcp", "udp", "sctp" (any case) -> IPPROTO_*; 0 when none of them. */
static __u8 proto_parse(const char *s)
{
	if (!strcasecmp(s, "tcp"))
		return IPPROTO_TCP;
	if (!strcasecmp(s, "udp"))
		return IPPROTO_UDP;
	if (!strcasecmp(s, "sctp"))
		return IPPROTO_SCTP;
	return 0;
}

static int types_parse(const char *s, __u32 *bits)
{
	char buf[64], *save = NULL, *tok;
	size_t i;

	snprintf(buf, sizeof(buf), "%s", s);
	*bits = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
			if (!strcmp(tok, event_types[i].name))
				break;
		if (i == sizeof(event_types) / sizeof(event_types[0]))
			return -1;
		*bits |= event_types[i].bits;
	}
	return *bits ? 0 : -1;
}

/* One filter's value into f; -1 when it is not valid. */
static int filter_set(struct status_flags *f, unsigned int bit, const char *v)
{
	__be32 *ips[] = {[CLI_F_SRC] = &f->src, [CLI_F_DST] = &f->dst, [CLI_F_IP] = &f->ip};
	char *end;
	long n;

	switch (bit) {
	case CLI_F_SRC:
	case CLI_F_DST:
	case CLI_F_IP:
		return inet_pton(AF_INET, v, ips[bit]) == 1 ? 0 : -1;
	case CLI_F_PORT:
		n = strtol(v, &end, 10);
		f->port = (__u16)n;
		return *v && !*end && n > 0 && n < 65536 ? 0 : -1;
	case CLI_F_PROTO:
		f->proto = proto_parse(v);
		return f->proto ? 0 : -1;
	case CLI_F_POD:
		f->pod = v;
		return strchr(v, '/') ? 0 : -1;
	case CLI_F_SERVICE:
		f->service = v;
		return strchr(v, '/') ? 0 : -1;
	case CLI_F_TYPE:
		return types_parse(v, &f->types);
	}
	return -1;
}

static const char *flag_name(int val)
{
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

int status_flags_parse(const char *cmd, void (*usage)(FILE *f), int argc, char **argv,
		       struct status_flags *f)
{
	const char **value_of[] = {[OPT_PIN] = &f->pin_dir,
				   [OPT_STATE_DIR] = &f->state_dir,
				   [OPT_STATE_FILE] = &f->state_file};
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt & 0x100) {
			unsigned int bit = opt & 0xff;

			if (!(f->accept & bit)) {
				fprintf(stderr, "sluice-agent %s: unknown flag '--%s'\n", cmd,
					flag_name(opt));
				usage(stderr);
				return EXIT_USAGE;
			}
			if (filter_set(f, bit, optarg) < 0) {
				fprintf(stderr, "sluice-agent %s: invalid value '%s' for '--%s'\n",
					cmd, optarg, flag_name(opt));
				return EXIT_USAGE;
			}
			f->set |= bit;
			continue;
		}
		switch (opt) {
		case OPT_PIN:
		case OPT_STATE_DIR:
		case OPT_STATE_FILE:
			*value_of[opt] = optarg;
			break;
		case OPT_JSON:
			f->json = true;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "sluice-agent %s: flag '%s' needs a value\n", cmd,
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "sluice-agent %s: unknown flag '%s'\n", cmd,
				argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	f->args = argv + optind;
	f->n_args = argc - optind;
	if (f->n_args > f->max_args) {
		fprintf(stderr, "sluice-agent %s: unexpected argument '%s'\n", cmd,
			argv[optind + f->max_args]);
		return EXIT_USAGE;
	}
	return -1;
}

const char *status_flags_file(const struct status_flags *f, const char *file, char *buf, size_t len)
{
	if (f->state_file)
		return f->state_file;
	snprintf(buf, len, "%s/%s", f->state_dir, file);
	return buf;
}
