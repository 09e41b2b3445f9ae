/*
 * crawler/glob.h - the listing filters of spec/crawler.md §3: exclude globs
 * (matched against a key relative to its include path) and the skip rules
 * that keep folder markers, hidden, archived and empty objects out of
 * grouping. Listing itself lives in crawl.c; readers reuse the same globs
 * through the table parameter sluice.exclusions.
 *
 * Glob syntax (§3): `*` any run inside one segment; `**` (two or more stars)
 * any run including `/`; `?` one character except `/`; `[abc]`, `[a-z]`,
 * `[!a-c]` one character (never `/`) in / not in a set, where `* ? \` are
 * literal inside the brackets, `-` is literal first or last and `]` is literal
 * first; `{a,b}` alternatives (not nestable; each may hold any other syntax);
 * `\c` the literal c; a leading `.` is ordinary; `,` and `}` outside braces are
 * literal. The pattern must match the whole key. Matching is a set-of-states
 * (NFA) walk: O(len(key) * len(pattern)) whatever the pattern, so hostile
 * patterns cannot make it backtrack exponentially.
 *
 * Thread safety: a compiled sl_glob is immutable; any number of threads may
 * match against it at once.
 */
#ifndef SL_GLOB_H
#define SL_GLOB_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/err.h"

struct sl_glob;

/* Compiles pattern. Returns owned (sl_glob_free) or NULL with err set:
 * SL_ECONFIG for a malformed pattern ("exclude glob \"[a\": unclosed '['":
 * unclosed `[` or `{`, nested `{`, trailing `\`, reversed range `[z-a]`, `/`
 * inside brackets), SL_ENOMEM. */
struct sl_glob *sl_glob_new(const char *pattern, struct sl_err *err);
void sl_glob_free(struct sl_glob *g);
/* True when the whole key matches. */
bool sl_glob_matches(const struct sl_glob *g, const char *key);
/* True when every key under folder_prefix (with or without its trailing '/')
 * matches, so a walk by delimiter need not descend into it. Sure answers only:
 * true when the walk over the prefix reaches a `**` that ends the pattern
 * ("dept/" + "**", "2015/0[2-9]/" + "**", "{a,b}/" + "**", "**"); false
 * otherwise. */
bool sl_glob_covers_folder(const struct sl_glob *g, const char *folder_prefix);

/* One-shot forms of the above: compile, match, free. A malformed pattern (or
 * an allocation failure) matches nothing: validate patterns once with
 * sl_glob_check() at configuration time, and compile with sl_glob_new() when
 * matching many keys. */
bool sl_glob_match(const char *pattern, const char *key);
bool sl_glob_excludes_folder(const char *pattern, const char *folder_prefix);
/* SL_OK, or SL_ECONFIG (malformed, message names the pattern and the problem)
 * or SL_ENOMEM. */
int sl_glob_check(const char *pattern, struct sl_err *err);

/* Skip rules of §3 for one listed object (key relative to its include path;
 * n_bytes = stored size; storage_class may be NULL). Returns NULL when the
 * object is to be crawled, else its manifest status (static string), checked
 * in this order:
 *   "skipped_marker"   key ends in '/' or "_$folder$" (folder markers; skipped
 *                      whatever ignore_hidden says)
 *   "skipped_hidden"   ignore_hidden and some path segment starts with '_' or
 *                      '.' (`_SUCCESS`, `.hidden/y.csv`, `_temporary/...`)
 *   "skipped_archived" storage class GLACIER or DEEP_ARCHIVE (case-insensitive;
 *                      GLACIER_IR is readable and is crawled)
 *   "skipped_empty"    n_bytes == 0
 * So a 0-byte `_SUCCESS` is skipped_hidden. Exclusions ("excluded") are the
 * caller's check with the globs above and come first. */
const char *sl_crawl_skip_status(const char *key, int64_t n_bytes, const char *storage_class,
                                 bool ignore_hidden);

#endif
