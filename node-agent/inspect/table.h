/* SPDX-License-Identifier: Apache-2.0 */
/* One way to print a table: aligned columns for people, a JSON array for tools. */
#ifndef SLUICE_INSPECT_TABLE_H
#define SLUICE_INSPECT_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct table_col {
	const char *title; /* column heading */
	const char *key;   /* the row object's member shown in it */
};

/* Prints rows (an array of objects) to stdout: with json the array itself,
 * else a heading line and one line per row, each column as wide as its
 * widest cell (strings as they are, numbers in decimal, true/false as
 * yes/no, arrays joined by ",", absent or null as "-"). */
int table_print(const struct table_col *cols, size_t n_cols, json_t *rows, bool json);

#endif
