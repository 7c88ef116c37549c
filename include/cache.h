/* cache.h: a small cache of read responses (/messages, /stats).
 *
 * Results change only when a commit creates rows, so an entry is tagged with
 * the store generation (store_generation) its job was submitted under and is
 * valid only while that generation is current. The writer bumps the
 * generation before it acknowledges a batch, so a client that got 200 for a
 * webhook never reads a response cached before it. Direct-mapped, bounded:
 * CACHE_SLOTS entries of at most CACHE_MAX_BODY bytes. Loop thread only. */
#ifndef HOOKD_CACHE_H
#define HOOKD_CACHE_H

#include <stdint.h>

#include "buf.h"
#include "defs.h"

#define CACHE_SLOTS 32
#define CACHE_MAX_BODY (64 * 1024)

/* The cached body for (route, key) under generation gen, or NULL. */
const buf *cache_get(int route, str key, uint64_t gen);
/* Stores a copy of body (ignored when larger than CACHE_MAX_BODY). */
void cache_put(int route, str key, uint64_t gen, const buf *body);
void cache_free(void);

#endif
