// SPDX-License-Identifier: Apache-2.0
/* Tables as aligned columns or JSON, for every inspection command. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "table.h"

#define CELL_MAX 256

static void cell_text(json_t *v, char *buf, size_t len)
{
	json_t *e;
	size_t i, n = 0;

	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.1f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	else if (json_is_array(v) && json_array_size(v)) {
		buf[0] = '\0';
		json_array_foreach(v, i, e) {
			char one[CELL_MAX];

			cell_text(e, one, sizeof(one));
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", i ? "," : "", one);
		}
	} else
		snprintf(buf, len, "-");
}

int table_print(const struct table_col *cols, size_t n_cols, json_t *rows, bool json)
{
	_cleanup_free_ size_t *w = calloc(n_cols, sizeof(*w));
	char cell[CELL_MAX];
	json_t *row;
	size_t i;

	if (!w)
		return -ENOMEM;
	if (json) {
		_cleanup_free_ char *text = json_dumps(rows, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (!text)
			return -ENOMEM;
		printf("%s\n", text);
		return 0;
	}
	for (size_t c = 0; c < n_cols; c++)
		w[c] = strlen(cols[c].title);
	json_array_foreach(rows, i, row)
		for (size_t c = 0; c < n_cols; c++) {
			cell_text(json_object_get(row, cols[c].key), cell, sizeof(cell));
			if (strlen(cell) > w[c])
				w[c] = strlen(cell);
		}
	for (size_t c = 0; c < n_cols; c++)
		printf("%-*s%s", c + 1 < n_cols ? (int)w[c] : 0, cols[c].title,
		       c + 1 < n_cols ? "  " : "\n");
	json_array_foreach(rows, i, row)
		for (size_t c = 0; c < n_cols; c++) {
			cell_text(json_object_get(row, cols[c].key), cell, sizeof(cell));
			printf("%-*s%s", c + 1 < n_cols ? (int)w[c] : 0, cell,
			       c + 1 < n_cols ? "  " : "\n");
		}
	return 0;
}
