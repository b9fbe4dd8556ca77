/* SPDX-License-Identifier: Apache-2.0 */
/* CNI result, error and VERSION JSON: parse and format, shaped per version. */
#ifndef SLUICE_CNI_RESULT_H
#define SLUICE_CNI_RESULT_H

#include "cni.h"

/* Parses a full or abbreviated (IPAM) result of any supported version. */
int result_parse(const char *json, struct cni_result *r, struct cni_err *e);
void result_free(struct cni_result *r);
/* The result as the given spec version shapes it; caller frees. */
char *result_format(const struct cni_result *r, const char *version);

char *cni_err_format(const struct cni_err *e, const char *version);
/* An error JSON printed by a delegated plugin; -EINVAL if it is not one. */
int cni_err_parse(const char *json, struct cni_err *e);

char *version_format(const char *version);
/* A VERSION answer: *has tells whether supportedVersions lists want; highest
 * (may be NULL) gets the highest listed version that we support too and that
 * is not above want ("" if none). */
int versions_parse(const char *json, const char *want, bool *has, char *highest, size_t size);

/* Prints s and a newline on stdout, then frees it; -EIO on failure. */
int json_print_free(char *s);

#endif
