/* tls.h — HTTPS for `kvs serve`: the certificate and key, checked at start, swapped on SIGHUP.
 *
 * libmicrohttpd 0.9.75 speaks TLS through GnuTLS, but a running daemon's certificate cannot be
 * changed: MHD reads MHD_OPTION_HTTPS_MEM_CERT/KEY once, when the daemon starts. What it does
 * offer is MHD_OPTION_HTTPS_CERT_CALLBACK, GnuTLS's "retrieve" function, which picks the
 * certificate anew for every handshake. So the credentials live here: each handshake takes the
 * ones that are current, and kvs_tls_reload() loads the files again, checks them, and makes the
 * new ones current. Open connections keep their session and are not dropped; new handshakes
 * get the new certificate. Credentials that were current once are kept until kvs_tls_free()
 * (a handshake that began before a reload may still be using them; GnuTLS does not say when
 * it is done with them), a few KiB per reload.
 *
 * Checks, at start and at every reload, each with its own message: the files exist and can be
 * read; the certificate file holds PEM certificates (the server's first, then its chain); the
 * key file holds one unencrypted PEM private key; the key belongs to the first certificate;
 * no certificate of the chain has expired or is not valid yet.
 *
 * TLS versions and ciphers: KVS_TLS_PRIORITIES, TLS 1.2 and 1.3 only, forward-secret key
 * exchanges (ECDHE) and AEAD ciphers (AES-GCM, ChaCha20-Poly1305) only.
 */
#ifndef KVS_SERVER_TLS_H
#define KVS_SERVER_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stddef.h>

/* The GnuTLS priority string of every HTTPS connection. */
extern const char KVS_TLS_PRIORITIES[];

struct kvs_tls;

/* Load and check CERT_FILE and KEY_FILE (paths are copied). Release with kvs_tls_free().
 * Returns 0, or KVS_EINVAL with the reason in ERR (NUL-terminated, at most ERR_MAX bytes). */
int kvs_tls_open(const char *cert_file, const char *key_file, struct kvs_tls **out, char *err,
                 size_t err_max) __attribute__((warn_unused_result));

/* Load and check the files again and, when they pass, make them the certificate of every new
 * handshake. When they do not, nothing changes. Safe while handshakes run on other threads.
 * Returns 0, or KVS_EINVAL with the reason in ERR. */
int kvs_tls_reload(struct kvs_tls *t, char *err, size_t err_max)
    __attribute__((warn_unused_result));

/* The current certificate's subject and last day of validity, for the log ("CN=…, valid
 * until 2027-01-01 00:00:00 UTC"), into OUT. */
void kvs_tls_describe(struct kvs_tls *t, char *out, size_t out_max);

/* Make T the credentials that kvs_tls_retrieve() hands out (one TLS server per process:
 * GnuTLS's retrieve function carries no pointer of ours). NULL clears it. */
void kvs_tls_activate(struct kvs_tls *t);

/* The gnutls_certificate_retrieve_function2 given to MHD_OPTION_HTTPS_CERT_CALLBACK. */
int kvs_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                     const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                     gnutls_pcert_st **pcert, unsigned int *pcert_length,
                     gnutls_privkey_t *privkey);

/* Free T and every credential it ever held. No handshake may run (the daemon has stopped).
 * Accepts NULL. */
void kvs_tls_free(struct kvs_tls *t);

#endif
