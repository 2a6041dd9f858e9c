/* pg_codec.c — the PostgreSQL back-end's errors and rows: SQLSTATEs and lost connections as
 * KVS_E... codes, fields of binary results, users and stores as the statements select them,
 * and the checks and bounds of text parameters. */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "storage/pg_internal.h"

/* ==== errors ================================================================================= */

int kvs_pg_broken(const struct kvs_pg_conn *c)
{
    return c == NULL || PQstatus(c->pg) == CONNECTION_BAD;
}

/* SQLSTATEs that mean "the server cannot serve us now", not "this statement is wrong". */
static int unavailable_state(const char *state)
{
    return strncmp(state, "08", 2) == 0 || /* connection exception */
           strcmp(state, "57P01") == 0 ||  /* admin_shutdown */
           strcmp(state, "57P02") == 0 ||  /* crash_shutdown */
           strcmp(state, "57P03") == 0 ||  /* cannot_connect_now (starting, recovering) */
           strcmp(state, "53300") == 0 ||  /* too_many_connections */
           strcmp(state, "25006") == 0;    /* read_only_sql_transaction (a standby) */
}

int kvs_pg_err(const PGresult *r, const struct kvs_pg_conn *c, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (msg == NULL && c != NULL)
        msg = PQerrorMessage(c->pg);
    if (msg == NULL || *msg == '\0')
        msg = "no result";
    if (kvs_pg_broken(c) || state == NULL || unavailable_state(state)) {
        kvs_log_debug("postgres: %s: %s", what, msg);
        return KVS_EUNAVAIL;
    }
    if (strcmp(state, "53100") == 0) { /* disk_full */
        kvs_log_warn("postgres: %s: %s", what, msg);
        return KVS_ENOSPACE;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        /* serialization failure, deadlock: rolled back, so the writer may retry */
        kvs_log_warn("postgres: %s: %s (SQLSTATE %s)", what, msg, state);
        return KVS_EIO;
    }
    kvs_log_error("postgres: %s: %s (SQLSTATE %s)", what, msg, state);
    return KVS_EIO;
}

/* ==== fields ================================================================================= */

int kvs_pg_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col);
}

int64_t kvs_pg_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const char *p = PQgetvalue(r, row, col);
    switch (PQgetlength(r, row, col)) {
    case 1: /* bool */
        return (unsigned char)p[0];
    case 2: {
        uint16_t x;
        memcpy(&x, p, 2);
        return (int16_t)be16toh(x);
    }
    case 4: {
        uint32_t x;
        memcpy(&x, p, 4);
        return (int32_t)be32toh(x);
    }
    case 8: {
        uint64_t x;
        memcpy(&x, p, 8);
        return (int64_t)be64toh(x);
    }
    }
    return 0;
}

kvs_slice kvs_pg_bytes(const PGresult *r, int row, int col)
{
    return (kvs_slice){PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col)};
}

int kvs_pg_str(const PGresult *r, int row, int col, char *out, size_t cap)
{
    kvs_slice s = kvs_pg_bytes(r, row, col);
    if (s.n >= cap) {
        kvs_log_error("postgres: a stored %s is %zu bytes, more than %zu", PQfname(r, col), s.n,
                      cap - 1);
        out[0] = '\0';
        return KVS_EIO;
    }
    memcpy(out, s.p, s.n);
    out[s.n] = '\0';
    return 0;
}

/* ==== rows =================================================================================== */

int kvs_pg_user_row(const PGresult *r, int row, int col, struct kvs_user *out)
{
    memset(out, 0, sizeof *out);
    int rc = kvs_pg_str(r, row, col, out->id, sizeof out->id);
    if (rc == 0)
        rc = kvs_pg_str(r, row, col + 1, out->username, sizeof out->username);
    out->is_admin = kvs_pg_int(r, row, col + 2) != 0;
    out->default_access = (uint8_t)kvs_pg_int(r, row, col + 3);
    out->created_ms = kvs_pg_int(r, row, col + 4);
    return rc;
}

int kvs_pg_store_row(const PGresult *r, int row, int col, struct kvs_store *out)
{
    memset(out, 0, sizeof *out);
    int rc = kvs_pg_str(r, row, col, out->id, sizeof out->id);
    if (rc == 0)
        rc = kvs_pg_str(r, row, col + 1, out->user_id, sizeof out->user_id);
    if (rc == 0)
        rc = kvs_pg_str(r, row, col + 2, out->name, sizeof out->name);
    if (rc == 0)
        rc = kvs_pg_str(r, row, col + 3, out->title, sizeof out->title);
    if (rc == 0)
        rc = kvs_pg_str(r, row, col + 4, out->secret, sizeof out->secret);
    out->general_access = (uint8_t)kvs_pg_int(r, row, col + 5);
    if (rc == 0 && !kvs_pg_null(r, row, col + 6)) {
        kvs_slice schema = kvs_pg_bytes(r, row, col + 6);
        out->schema = kvs_xstrndup(schema.p, schema.n);
    }
    out->created_ms = kvs_pg_int(r, row, col + 7);
    out->modified_ms = kvs_pg_int(r, row, col + 8);
    out->accessed_ms = kvs_pg_int(r, row, col + 9);
    out->stats.read_count = (uint64_t)kvs_pg_int(r, row, col + 10);
    out->stats.write_count = (uint64_t)kvs_pg_int(r, row, col + 11);
    out->stats.delete_count = (uint64_t)kvs_pg_int(r, row, col + 12);
    out->stats.list_count = (uint64_t)kvs_pg_int(r, row, col + 13);
    out->stats.record_count = (uint64_t)kvs_pg_int(r, row, col + 14);
    out->stats.storage_bytes = (uint64_t)kvs_pg_int(r, row, col + 15);
    if (rc == 0)
        rc = kvs_pg_str(r, row, col + 16, out->username, sizeof out->username);
    return rc;
}

/* ==== text parameters ======================================================================== */

int kvs_pg_text_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len;
        uint32_t cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

int kvs_pg_id_ok(const char *id, size_t cap)
{
    if (strnlen(id, cap) != KVS_ID_LEN)
        return 0;
    for (size_t i = 0; i < KVS_ID_LEN; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* Encode code point CP as UTF-8 into OUT; returns the length. */
static size_t utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* UTF-8 orders strings as their code points do, and no encoding is a prefix of another, so
 * the strings that start with P are exactly those from P up to (not including) P with its last
 * character C replaced by C + 1: a range scan, where LIKE 'P%' could not use the index on a
 * generic plan. */
size_t kvs_pg_prefix_end(const char *p, size_t n, char *out)
{
    const unsigned char *u = (const unsigned char *)p;
    while (n > 0) {
        size_t start = n - 1;
        while (start > 0 && (u[start] & 0xc0) == 0x80)
            start--; /* back to the first byte of the last character */
        uint32_t cp = u[start];
        size_t len = n - start;
        if (len > 1) {
            cp &= 0xff >> (len + 1);
            for (size_t k = start + 1; k < n; k++)
                cp = cp << 6 | (u[k] & 0x3f);
        }
        if (cp < 0x10ffff) {
            cp = cp == 0xd7ff ? 0xe000 : cp + 1; /* surrogates are no characters */
            memcpy(out, p, start);
            return start + utf8_put(cp, out + start);
        }
        n = start; /* U+10FFFF has no successor: the one before it goes up instead */
    }
    return 0;
}
