/* mediatype.c — the Content-Type grammar of mediatype.h, one pass over the bytes. */
#include "common/mediatype.h"

#include <string.h>

/* RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 * "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Skip the token at S[*I..); 1 when there was at least one tchar. */
static int token(kvs_slice s, size_t *i)
{
    size_t start = *i;
    while (*i < s.n && is_tchar((unsigned char)s.p[*i]))
        (*i)++;
    return *i > start;
}

/* Skip OWS = *( SP / HTAB ) at S[*I..). */
static void ows(kvs_slice s, size_t *i)
{
    while (*i < s.n && (s.p[*i] == ' ' || s.p[*i] == '\t'))
        (*i)++;
}

/* Skip the quoted-string at S[*I..), which starts with its DQUOTE; 1 when it is whole.
 *   qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E      (obs-text refused)
 *   quoted-pair = "\" ( HTAB / SP / VCHAR ) */
static int quoted(kvs_slice s, size_t *i)
{
    for ((*i)++; *i < s.n; (*i)++) {
        unsigned char c = (unsigned char)s.p[*i];
        if (c == '"') {
            (*i)++;
            return 1;
        }
        if (c == '\\') {
            if (++*i == s.n)
                return 0;
            c = (unsigned char)s.p[*i];
        }
        if (c != '\t' && (c < 0x20 || c > 0x7e))
            return 0;
    }
    return 0; /* no closing quote */
}

int kvs_media_type_valid(kvs_slice s)
{
    size_t i = 0;
    if (!token(s, &i) || i == s.n || s.p[i++] != '/' || !token(s, &i))
        return 0;
    while (i < s.n) {
        ows(s, &i);
        if (i == s.n || s.p[i++] != ';')
            return 0;
        ows(s, &i);
        if (i == s.n || s.p[i] == ';') /* an empty parameter: allowed by the grammar */
            continue;
        if (!token(s, &i) || i == s.n || s.p[i++] != '=')
            return 0;
        if (i < s.n && s.p[i] == '"' ? !quoted(s, &i) : !token(s, &i))
            return 0;
    }
    return 1;
}
