/* casefold.h: simple Unicode case folding (1:1 code point mappings) for
 * case-insensitive search. Thread-safe (read-only tables). */
#ifndef HOOKD_CASEFOLD_H
#define HOOKD_CASEFOLD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

uint32_t casefold_cp(uint32_t cp);
/* Appends the folded form of s (UTF-8; invalid bytes are copied as is). */
void casefold_utf8(const char *s, size_t n, buf *out);
/* 1 if folded needle occurs in the folding of hay. */
int casefold_contains(const char *hay, size_t hlen, const char *needle, size_t nlen);

#endif
