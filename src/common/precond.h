/* precond.h — entity-tags and conditional requests (RFC 9110 §8.8 and §13).
 *
 * A record's validators are its version and its modification time, both set by the storage on
 * every write (storage.h). Its entity-tag is the version in hexadecimal, strong:
 *
 *   "17f3a2b4c5d6e"            the record as stored (the bytes as uploaded, in their coding)
 *   "17f3a2b4c5d6e-identity"   the same version decoded for a client whose Accept-Encoding
 *                              refuses the stored coding: other bytes, so another strong tag
 *
 * The conditional headers of a request are parsed into a struct kvs_precond, which is plain
 * data (no pointers), so that a write can carry it to the storage and have it checked inside
 * the write's own transaction (kvs_precond_eval), and a read can check it against the record
 * it just read. Evaluation follows RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since; then
 * If-None-Match, else (GET/HEAD) If-Modified-Since.
 *
 * Comparisons: If-None-Match uses the weak comparison (W/ ignored, the tag must name the
 * representation that would be sent); If-Match and If-Range the strong one (a W/ tag never
 * matches). A write's condition is about the record, not one of its representations: either
 * tag of the current version matches. Tags that kvs did not make never match. Dates compare
 * in whole seconds (a Last-Modified has no finer resolution).
 */
#ifndef KVS_COMMON_PRECOND_H
#define KVS_COMMON_PRECOND_H

#include <stdint.h>

#include "common/slice.h"

/* The longest entity-tag kvs makes, quotes included, plus its NUL. */
#define KVS_ETAG_MAX 32

/* Write the entity-tag of record version VERSION (DECODED: of its "-identity" form) into OUT. */
void kvs_etag_format(uint64_t version, int decoded, char out[KVS_ETAG_MAX]);

/* Whether the field line VALUE of an If-None-Match header names the entity-tag whose opaque
 * part (between the quotes) is WANT, by the weak comparison: "*", or a list holding that tag
 * with or without W/. A malformed list matches only by the tags before its fault. For tags
 * other than record versions (the console's files, server/assets.c). */
int kvs_etag_list_matches(kvs_slice value, kvs_slice want);

/* The most entity-tags of kvs's own kept from one list; a longer list makes
 * kvs_precond_parse() fail. */
#define KVS_ETAG_LIST_MAX 16

/* An If-Match or If-None-Match header: "*", or a list of entity-tags. */
struct kvs_etag_list {
    uint8_t present;  /* the header was sent */
    uint8_t any;      /* "*" */
    uint8_t n;        /* tags of kvs's own in tags[]; other tags are dropped (they match nothing) */
    uint8_t too_many; /* more than KVS_ETAG_LIST_MAX of them */
    struct kvs_etag_ref {
        uint64_t version;
        uint8_t decoded; /* the "-identity" form */
        uint8_t weak;    /* sent as W/"..." */
    } tags[KVS_ETAG_LIST_MAX];
};

/* An If-Modified-Since or If-Unmodified-Since header. */
struct kvs_precond_date {
    uint8_t state; /* KVS_DATE_* */
    int64_t secs;  /* seconds since the epoch, when KVS_DATE_SET */
};
#define KVS_DATE_ABSENT 0  /* not sent */
#define KVS_DATE_SET 1     /* sent, a valid HTTP-date */
#define KVS_DATE_IGNORED 2 /* sent, but not a date, or sent twice: ignored (RFC 9110 §13.1.3-4) */

/* The preconditions of one request. A zeroed struct has none (a zeroed struct kvs_write is an
 * unconditional write). */
struct kvs_precond {
    struct kvs_etag_list if_match;
    struct kvs_etag_list if_none_match;
    struct kvs_precond_date if_modified_since;
    struct kvs_precond_date if_unmodified_since;
};

/* Whether P holds any precondition at all. */
int kvs_precond_any(const struct kvs_precond *p);

/* Header names, as kvs_precond_add() takes them. */
enum kvs_precond_header {
    KVS_H_IF_MATCH,
    KVS_H_IF_NONE_MATCH,
    KVS_H_IF_MODIFIED_SINCE,
    KVS_H_IF_UNMODIFIED_SINCE,
};

/* Add one field line VALUE of header WHICH to P (call once per line: a list may be split
 * over several lines). An entity-tag list that is malformed keeps what parsed before the
 * fault; a date that is not an HTTP-date, or a date header sent twice, is ignored, as RFC 9110
 * §13.1.3-4 says. NOW_SECS resolves two-digit years (httpdate.h). */
void kvs_precond_add(struct kvs_precond *p, enum kvs_precond_header which, kvs_slice value,
                     int64_t now_secs);

/* The outcome of evaluating preconditions. */
enum kvs_precond_result {
    KVS_PRECOND_PASS = 0,         /* go on with the request */
    KVS_PRECOND_NOT_MODIFIED = 1, /* GET/HEAD: answer 304 */
    KVS_PRECOND_FAILED = 2,       /* answer 412 precondition-failed; a write changes nothing */
};

/* The state of the record a request is about. */
struct kvs_precond_target {
    int exists;
    uint64_t version;    /* valid when EXISTS */
    int64_t modified_ms; /* valid when EXISTS */
};

/* Evaluate P against the record T (RFC 9110 §13.2.2). READ is 1 for GET and HEAD (a failed
 * If-None-Match or If-Modified-Since is then 304; If-Modified-Since is ignored otherwise), and
 * DECODED says which representation a read would send (the "-identity" one or the stored). */
enum kvs_precond_result kvs_precond_eval(const struct kvs_precond *p,
                                         const struct kvs_precond_target *t, int read, int decoded);

/* Whether If-Range value VALUE lets a Range be honoured for the representation of version
 * VERSION (DECODED as above) (RFC 9110 §13.1.5): an entity-tag must match strongly. A date
 * never matches: the record may have changed twice within the second a date can name, so
 * kvs's Last-Modified is a weak validator and only a strong one may pass. */
int kvs_if_range_matches(kvs_slice value, uint64_t version, int decoded);

#endif
