/* SPDX-License-Identifier: MIT */
/*
 * trace.h - the pieces of trace.c that tests check on their own
 *
 * The trace file is JSON: its numbers must not depend on the C library's
 * locale, and its strings must be valid UTF-8 even where a name was cut
 * to fit or was not UTF-8 to begin with.  These functions do that; the
 * rest of trace.c (recording, the atexit writer) is tested end to end.
 */
#ifndef FUT_TRACE_H
#define FUT_TRACE_H

#include "internal.h"

#include <stdio.h>

/* Writes ns nanoseconds as microseconds with three decimals ("1234.567"),
 * with a '.' whatever the locale, into out (len >= FUT__US_LEN), and
 * returns out. */
#define FUT__US_LEN 32
FUT_HIDDEN char *fut__trace_format_us(uint64_t ns, char *out, size_t len);

/* Shortens the string s, if it ends in the middle of a UTF-8 character
 * (a name cut to fit a buffer), to the last whole character.  Bytes
 * before that are left as they are.  Returns the new length. */
FUT_HIDDEN size_t fut__utf8_trim(char *s);

/* Writes s as the body of a JSON string: '"', '\' and control characters
 * escaped, valid UTF-8 copied, and every byte that is not part of a valid
 * UTF-8 sequence written as U+FFFD, so that the output is always valid. */
FUT_HIDDEN void fut__trace_json_str(FILE *o, const char *s);

#endif /* FUT_TRACE_H */
