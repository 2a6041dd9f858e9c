/* decoder.h — one content-coded stream (gzip, deflate, br) decoded step by step, in memory
 * whose size is known before the first byte.
 *
 * A record stored compressed is sent decoded to a client that refuses its coding, and an
 * upload is decoded once to prove it is well formed. Decoding a whole value into memory would
 * let a small request take gigabytes (a bomb), so every decoder here works in steps: the caller
 * hands it some input and a window to write into, and gets back as much output as fits. What a
 * decoder holds between steps is its library's fixed-size state and window, never the output:
 *
 *   gzip, deflate  zlib's inflate state and its 32 KiB window
 *   br             Brotli's state, its Huffman tables and a ring buffer as large as the window
 *                  the stream's first byte names (1 KiB to 16 MiB, RFC 7932 §9.1), allocated
 *                  whole at once (the decoder's "canny" ring buffer growth, which would hold
 *                  the old and the new ring at once, is turned off)
 *
 * kvs_decoder_mem_max() says, from the first bytes of a stream, the most its decoder will ever
 * allocate; the decoder is made with that figure and refuses any allocation past it, so the
 * bound holds even if the analysis behind it were wrong (decoding then fails with KVS_ENOMEM
 * instead of taking more). Callers charge the figure to a budget before they start
 * (server/budget.h). See test_decoder.c for the measured peaks. */
#ifndef KVS_COMMON_DECODER_H
#define KVS_COMMON_DECODER_H

#include <stddef.h>

#include "common/encoding.h"
#include "common/slice.h"

/* The most memory any decoder takes, whatever its stream (Brotli's largest window and its
 * tables). */
#define KVS_DECODER_MEM_LIMIT ((size_t)19 * 1024 * 1024 + 512 * 1024)

/* How many first bytes of a stream kvs_decoder_mem_max() looks at. */
#define KVS_DECODER_HEAD 1

struct kvs_decoder; /* one stream being decoded; kvs_decoder_new() makes it */

/* The most a decoder of ENC will allocate for the stream that starts with HEAD (at least
 * its first KVS_DECODER_HEAD bytes, or all of it when shorter): a fixed figure for gzip and
 * deflate, the window named in the first byte plus the tables for br. At most
 * KVS_DECODER_MEM_LIMIT; 0 for identity. */
size_t kvs_decoder_mem_max(enum kvs_encoding enc, kvs_slice head);

/* A decoder for a stream coded with ENC (gzip, deflate or br) that allocates at most MEM_MAX
 * bytes (from kvs_decoder_mem_max(); more is refused). Release with kvs_decoder_free().
 * Returns 0, or KVS_EENCODING for identity or an unknown coding. Aborts on out-of-memory. */
__attribute__((warn_unused_result)) int kvs_decoder_new(enum kvs_encoding enc, size_t mem_max,
                                                        struct kvs_decoder **out);

/* One step: decode from *IN into OUT[0..*OUT_N), advancing *IN past what was used and setting
 * *OUT_N to the bytes written. LAST says that *IN holds the rest of the stream (no more input
 * will come). Stops when OUT is full, when the input runs out, or at the end of the stream.
 *
 * Returns 1 when, with LAST, the stream has ended, all its output was given and nothing
 * follows it; 0 when more is to come (call again with more room, or, when *IN was used up
 * and LAST is not set, with more input: without LAST even a stream that has ended waits, as
 * bytes after it would be garbage); KVS_EBADBODY when the input is not valid data of the
 * coding (corrupt, truncated when LAST is set, or followed by other bytes); KVS_ENOMEM when
 * the decoder would pass its MEM_MAX. After an error, only kvs_decoder_free() may follow. */
__attribute__((warn_unused_result)) int kvs_decoder_step(struct kvs_decoder *d, kvs_slice *in,
                                                         int last, char *out, size_t *out_n);

/* The most the decoder has held allocated at once so far (bytes asked of the allocator). */
size_t kvs_decoder_peak(const struct kvs_decoder *d);

/* Release D and everything it holds. Accepts NULL. */
void kvs_decoder_free(struct kvs_decoder *d);

#endif
