/*
 * runtime/predicate.h - Glue's push_down_predicate: a condition in a subset of
 * Spark SQL over a table's partition keys, parsed once per job and evaluated
 * per partition, so partitions are pruned before any object is read. Where the
 * partitions come from is catalog.h; this module sees only key names, their
 * types and one partition's values.
 *
 * Grammar (keywords case-insensitive; precedence NOT > AND > OR):
 *   pred    := pred OR pred | pred AND pred | NOT pred | '(' pred ')'
 *            | operand cmp operand            cmp: = == <> != < <= > >=
 *            | operand [NOT] IN '(' operand {',' operand} ')'
 *            | operand [NOT] BETWEEN operand AND operand
 *            | operand IS [NOT] NULL
 *            | operand [NOT] LIKE 'pattern'   % any run, _ one character,
 *                                              \ escapes % _ and \ (Spark's default)
 *            | operand                        TRUE, FALSE, NULL or a boolean key
 *   operand := key | `key` | 'string' | "string" | [+-]number | TRUE | FALSE | NULL
 * Keys match case-insensitively (Glue lowercases them); a key named like a
 * keyword needs backticks. Strings double their quote to contain it ('it''s');
 * a backslash is an ordinary character in them. Numbers: 12, -3, 1.5, .5, 2e3.
 * There are no functions, arithmetic or casts.
 *
 * Semantics: SQL three-valued logic. A comparison with NULL is unknown, NOT
 * unknown is unknown, and an unknown result at the top counts as false. A value
 * that is NULL or "__HIVE_DEFAULT_PARTITION__" is NULL. Each comparison (and
 * each IN or BETWEEN as a whole) is typed by its operands:
 * - numeric when one is a key of a numeric type (tinyint, smallint, int,
 *   integer, bigint, long, float, double, real, decimal(p,s), numeric) or an
 *   unquoted number: both sides compare as exact decimal numbers ("10" > "9",
 *   "1.50" = "1.5"); a side that is not a number makes it unknown;
 * - else boolean when one is a boolean key or TRUE/FALSE: "true"/"false" in any
 *   case (false < true); anything else is unknown;
 * - else string: byte-wise, which orders ISO dates and timestamps correctly,
 *   so date, timestamp, string, varchar(n), ... keys (and unknown types)
 *   compare as text.
 * LIKE matches the value's text as stored. An IN list is true when one element
 * equals, else unknown when some comparison was unknown, else false.
 *
 * Limits: SL_PRED_MAX_TEXT bytes of text, SL_PRED_MAX_DEPTH levels of nested
 * parentheses and NOTs; both parse and evaluation stay within a bounded stack.
 */
#ifndef SL_PREDICATE_H
#define SL_PREDICATE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define SL_PRED_MAX_TEXT 65536 /* bytes; a predicate is a line of a job, not data */
#define SL_PRED_MAX_DEPTH 100  /* nested '(' and NOT; bounds the parser's and eval's recursion */

struct sl_pred; /* opaque; immutable after parse, so any number of threads may evaluate it */

/* Parses text (NULL, empty or all spaces = always true) against n_keys
 * partition keys: keys[i] is a name, types[i] its catalog type ("string",
 * "int", "bigint", "date", "decimal(10,2)", "boolean", ...; types NULL or
 * types[i] NULL = string). *out is owned (sl_pred_free) and keeps no pointer to
 * text, keys or types. A bad predicate is SL_EPARSE with a message naming the
 * 1-based character position, e.g.
 *   push_down_predicate: col 12: unknown column "dtt" (partition keys: dt, hour)
 *   push_down_predicate: col 5: expected a value after '='
 * SL_ENOMEM when memory runs out. */
int sl_pred_parse(const char *text, const char *const *keys, const char *const *types,
                  size_t n_keys, struct sl_pred **out, struct sl_err *err);

void sl_pred_free(struct sl_pred *p);

/* Is the predicate true for one partition? values[i] is the value of keys[i]
 * (NULL or "__HIVE_DEFAULT_PARTITION__" = SQL NULL; values itself may be NULL
 * when there are no keys). Unknown counts as false. Allocates nothing. */
bool sl_pred_eval(const struct sl_pred *p, const char *const *values);

#endif
