/* SPDX-License-Identifier: Apache-2.0 */
/*
 * quote.h - file names for a reviewer's terminal (issue 15 item 7).
 *
 * `fencefs diff`, its --patch headers, `commit` and `explain` print names
 * that a sandbox chose.  A name holding a bidi override (U+202E) or a C1
 * control (U+009B is CSI) would reorder or recolour what the reviewer
 * reads, so such names are C-quoted as git does (quote_c_style() with
 * core.quotePath): in double quotes, with \" \\ \a \b \t \n \v \f \r and
 * three-digit octal escapes.  Octal-escaped are: control bytes, bytes that
 * are not part of valid UTF-8, and every byte of the code points that
 * steer a terminal's rendering:
 *   - C1 controls U+0080-U+009F;
 *   - the bidi controls (Unicode's Bidi_Control property): U+061C,
 *     U+200E, U+200F, U+202A-U+202E, U+2066-U+2069;
 *   - the line and paragraph separators U+2028, U+2029.
 * Printable UTF-8 (accents, CJK, emoji) stays as it is, as with
 * core.quotePath=false.  `git apply` and `patch -p1` decode the octal
 * escapes back to the exact bytes.  --json output keeps exact names
 * instead (buf_add_json_str()).
 */
#ifndef FENCE_QUOTE_H
#define FENCE_QUOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct buf;

/* Must PATH be quoted (does it hold a byte or code point listed above, '"' or '\\')? */
bool quote_path_needed(const char *path);

/*
 * Appends PREFIX, PATH and SUFFIX to B; when PATH needs quoting, the whole
 * C-quoted in double quotes (the prefix inside, as git writes "a/...", and
 * the suffix too: "/x\n"/ would read as two names).  PREFIX and SUFFIX
 * are trusted ("a/", "b/", "/" for a directory, "").
 */
void quote_path_buf(struct buf *b, const char *prefix, const char *path, const char *suffix);

/* The same written to F. */
void quote_path_fputs(FILE *f, const char *prefix, const char *path, const char *suffix);

/* The same as a malloc'd string, or NULL when out of memory.  The caller frees it. */
char *quote_path(const char *prefix, const char *path, const char *suffix);

/*
 * MSG (a message that may hold names, e.g. a commit conflict's reason, or
 * a name inside 'single quotes' of an error message) with only the bytes
 * listed above octal-escaped and no quotes added: it reads as before
 * unless it would steer the terminal.  malloc'd, or NULL when out of
 * memory; the caller frees it.
 */
char *quote_message(const char *msg);

/* The same written to F. */
void quote_message_fputs(FILE *f, const char *msg);

#endif
