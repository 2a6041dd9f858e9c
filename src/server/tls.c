/* tls.c — the HTTPS certificate: loading, checks, swapping on reload (see tls.h). */
#include "server/tls.h"

#include <errno.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/alloc.h"
#include "kvs.h"

/* TLS 1.2 and 1.3 only; ECDHE key exchange (forward secrecy); AEAD ciphers only (no CBC, no
 * RC4, no 3DES); signatures and groups from GnuTLS's SECURE128 level; the server's order wins.
 * TLS 1.3 suites are all AEAD and its key exchange is always ephemeral. */
const char KVS_TLS_PRIORITIES[] =
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE";

/* PEM files larger than this are not a certificate chain or a key. */
#define PEM_MAX (1024 * 1024)

/* One loaded certificate chain and its key. Immutable once made. */
struct creds {
    gnutls_pcert_st *pcerts; /* the chain, the server's own certificate first */
    unsigned n_pcerts;
    gnutls_privkey_t key;
    time_t not_after; /* of the server's certificate, for the log */
    char subject[256];
    struct creds *older; /* credentials current before these (kept, see tls.h) */
};

struct kvs_tls {
    char *cert_file, *key_file;
    struct creds *current; /* atomic: read by handshakes on the worker threads */
};

static struct kvs_tls *active; /* atomic; see kvs_tls_activate() */

static int fail(char *err, size_t err_max, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_max, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_max, fmt, ap);
    va_end(ap);
    return KVS_EINVAL;
}

/* Read the whole file PATH (WHAT names it in messages) into OUT (gnutls_free() it). */
static int read_pem(const char *path, const char *what, gnutls_datum_t *out, char *err,
                    size_t err_max)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(err, err_max, "cannot read the %s file %s: %s", what, path, strerror(errno));
    struct stat st;
    const char *why = NULL;
    if (fstat(fileno(f), &st) != 0)
        why = strerror(errno);
    else if (S_ISDIR(st.st_mode))
        why = strerror(EISDIR);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    if (why) {
        fclose(f);
        return fail(err, err_max, "cannot read the %s file %s: %s", what, path, why);
    }
    if (st.st_size > PEM_MAX) {
        fclose(f);
        return fail(err, err_max, "the %s file %s is larger than %d bytes", what, path, PEM_MAX);
    }
    out->data = gnutls_malloc((size_t)st.st_size + 1);
    if (out->data == NULL) {
        fclose(f);
        return fail(err, err_max, "out of memory reading %s", path);
    }
    size_t n = fread(out->data, 1, (size_t)st.st_size, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        gnutls_free(out->data);
        out->data = NULL;
        return fail(err, err_max, "cannot read the %s file %s: %s", what, path, strerror(EIO));
    }
    out->data[n] = '\0';
    out->size = (unsigned)n;
    return 0;
}

static void fmt_time(time_t t, char *out, size_t out_max)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, out_max, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Check that every certificate of CRTS is valid now. */
static int check_dates(gnutls_x509_crt_t *crts, unsigned n, const char *path, char *err,
                       size_t err_max)
{
    time_t now = time(NULL);
    for (unsigned i = 0; i < n; i++) {
        const char *which = i == 0 ? "the certificate" : "a certificate of the chain";
        char when[64];
        time_t after = gnutls_x509_crt_get_expiration_time(crts[i]);
        time_t before = gnutls_x509_crt_get_activation_time(crts[i]);
        if (after == (time_t)-1 || before == (time_t)-1)
            return fail(err, err_max, "%s in %s has no readable validity dates", which, path);
        if (now > after) {
            fmt_time(after, when, sizeof when);
            return fail(err, err_max, "%s in %s expired on %s", which, path, when);
        }
        if (now < before) {
            fmt_time(before, when, sizeof when);
            return fail(err, err_max, "%s in %s is not valid before %s", which, path, when);
        }
    }
    return 0;
}

/* Whether KEY is the private key of CRT's public key (their public parts compared). */
static int key_matches(gnutls_x509_crt_t crt, gnutls_privkey_t key)
{
    gnutls_pubkey_t a = NULL, b = NULL;
    gnutls_datum_t da = {NULL, 0}, db = {NULL, 0};
    int same = gnutls_pubkey_init(&a) == 0 && gnutls_pubkey_init(&b) == 0 &&
               gnutls_pubkey_import_x509(a, crt, 0) == 0 &&
               gnutls_pubkey_import_privkey(b, key, 0, 0) == 0 &&
               gnutls_pubkey_export2(a, GNUTLS_X509_FMT_DER, &da) == 0 &&
               gnutls_pubkey_export2(b, GNUTLS_X509_FMT_DER, &db) == 0 && da.size == db.size &&
               memcmp(da.data, db.data, da.size) == 0;
    gnutls_free(da.data);
    gnutls_free(db.data);
    gnutls_pubkey_deinit(a);
    gnutls_pubkey_deinit(b);
    return same;
}

static void creds_free(struct creds *c)
{
    while (c) {
        struct creds *older = c->older;
        for (unsigned i = 0; i < c->n_pcerts; i++)
            gnutls_pcert_deinit(&c->pcerts[i]);
        free(c->pcerts);
        gnutls_privkey_deinit(c->key);
        free(c);
        c = older;
    }
}

/* Load and check CERT_FILE and KEY_FILE into new credentials *OUT. */
static int load(const char *cert_file, const char *key_file, struct creds **out, char *err,
                size_t err_max)
{
    gnutls_datum_t cert_pem = {NULL, 0}, key_pem = {NULL, 0};
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0;
    struct creds *c = kvs_xcalloc(1, sizeof *c);
    int rc = read_pem(cert_file, "certificate", &cert_pem, err, err_max);
    if (rc == 0)
        rc = read_pem(key_file, "key", &key_pem, err, err_max);
    if (rc != 0)
        goto out;

    int g = gnutls_x509_crt_list_import2(&crts, &n, &cert_pem, GNUTLS_X509_FMT_PEM, 0);
    if (g < 0 || n == 0) {
        rc = fail(err, err_max, "%s holds no PEM certificate (%s)", cert_file,
                  g < 0 ? gnutls_strerror(g) : "none found");
        goto out;
    }
    rc = check_dates(crts, n, cert_file, err, err_max);
    if (rc != 0)
        goto out;

    if (gnutls_privkey_init(&c->key) != 0) {
        rc = fail(err, err_max, "out of memory");
        goto out;
    }
    g = gnutls_privkey_import_x509_raw(c->key, &key_pem, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (g < 0) {
        rc = fail(err, err_max,
                  "%s holds no usable PEM private key (%s; encrypted keys are not supported)",
                  key_file, gnutls_strerror(g));
        goto out;
    }
    if (!key_matches(crts[0], c->key)) {
        rc = fail(err, err_max, "the key in %s does not belong to the certificate in %s", key_file,
                  cert_file);
        goto out;
    }

    c->pcerts = kvs_xcalloc(n, sizeof *c->pcerts);
    unsigned n_pcerts = n;
    g = gnutls_pcert_import_x509_list(c->pcerts, crts, &n_pcerts, 0);
    if (g < 0) {
        rc = fail(err, err_max, "cannot use the certificates in %s: %s", cert_file,
                  gnutls_strerror(g));
        goto out;
    }
    c->n_pcerts = n_pcerts;
    c->not_after = gnutls_x509_crt_get_expiration_time(crts[0]);
    size_t sn = sizeof c->subject;
    if (gnutls_x509_crt_get_dn(crts[0], c->subject, &sn) != 0)
        snprintf(c->subject, sizeof c->subject, "(subject not readable)");
    *out = c;
    c = NULL;
out:
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    gnutls_free(cert_pem.data);
    if (key_pem.data) { /* the key's bytes are secret: wipe them before freeing */
        gnutls_memset(key_pem.data, 0, key_pem.size);
        gnutls_free(key_pem.data);
    }
    creds_free(c);
    return rc;
}

int kvs_tls_open(const char *cert_file, const char *key_file, struct kvs_tls **out, char *err,
                 size_t err_max)
{
    struct creds *c = NULL;
    int rc = load(cert_file, key_file, &c, err, err_max);
    if (rc != 0)
        return rc;
    struct kvs_tls *t = kvs_xcalloc(1, sizeof *t);
    t->cert_file = kvs_xstrdup(cert_file);
    t->key_file = kvs_xstrdup(key_file);
    t->current = c;
    *out = t;
    return 0;
}

int kvs_tls_reload(struct kvs_tls *t, char *err, size_t err_max)
{
    struct creds *c = NULL;
    int rc = load(t->cert_file, t->key_file, &c, err, err_max);
    if (rc != 0)
        return rc;
    /* Reloads come from the one signal-handling thread; handshakes only read t->current. */
    c->older = __atomic_load_n(&t->current, __ATOMIC_RELAXED);
    __atomic_store_n(&t->current, c, __ATOMIC_RELEASE);
    return 0;
}

void kvs_tls_describe(struct kvs_tls *t, char *out, size_t out_max)
{
    const struct creds *c = __atomic_load_n(&t->current, __ATOMIC_ACQUIRE);
    char when[64];
    fmt_time(c->not_after, when, sizeof when);
    snprintf(out, out_max, "%s, valid until %s", c->subject, when);
}

void kvs_tls_activate(struct kvs_tls *t)
{
    __atomic_store_n(&active, t, __ATOMIC_RELEASE);
}

int kvs_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                     const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                     gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    struct kvs_tls *t = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (t == NULL)
        return -1; /* the handshake fails */
    struct creds *c = __atomic_load_n(&t->current, __ATOMIC_ACQUIRE);
    *pcert = c->pcerts;
    *pcert_length = c->n_pcerts;
    *privkey = c->key;
    return 0;
}

void kvs_tls_free(struct kvs_tls *t)
{
    if (t == NULL)
        return;
    if (__atomic_load_n(&active, __ATOMIC_RELAXED) == t)
        kvs_tls_activate(NULL);
    creds_free(t->current);
    free(t->cert_file);
    free(t->key_file);
    free(t);
}
