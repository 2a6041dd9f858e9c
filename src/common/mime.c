/* mime.c — the extension ↔ content type table (see mime.h). */
#include "common/mime.h"

#include <strings.h>

static const struct {
    const char *ext;
    const char *type; /* as mime-types' contentType(ext) gives it */
} table[] = {
    /* The first extension listed for a type is the one kvs_mime_ext_of_type() gives, as in
     * mime-types (whose order comes from mime-db): jpeg before jpg, html before htm. */
    {"json", "application/json; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"tsv", "text/tab-separated-values; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"yaml", "text/yaml; charset=utf-8"},
    {"yml", "text/yaml; charset=utf-8"},
    {"js", "application/javascript; charset=utf-8"},
    {"mjs", "application/javascript; charset=utf-8"},
    {"xml", "application/xml"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"wasm", "application/wasm"},
    {"bin", "application/octet-stream"},
    {"png", "image/png"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"svg", "image/svg+xml"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"tiff", "image/tiff"},
    {"ico", "image/vnd.microsoft.icon"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"wav", "audio/wave"},
    {"woff2", "font/woff2"},
};

#define TABLE_N (sizeof table / sizeof table[0])

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

const char *kvs_mime_type_of_ext(kvs_slice ext)
{
    for (size_t i = 0; i < TABLE_N; i++) {
        if (ext.n == strlen(table[i].ext) && strncasecmp(ext.p, table[i].ext, ext.n) == 0)
            return table[i].type;
    }
    return NULL;
}

const char *kvs_mime_ext_of_type(kvs_slice type)
{
    /* the media type alone: up to the first ';', without blanks around it */
    size_t start = 0, end = 0;
    while (end < type.n && type.p[end] != ';')
        end++;
    while (start < end && is_blank(type.p[start]))
        start++;
    while (end > start && is_blank(type.p[end - 1]))
        end--;
    size_t n = end - start;
    if (n == 0)
        return NULL;
    for (size_t i = 0; i < TABLE_N; i++) {
        const char *t = table[i].type;
        size_t tn = strcspn(t, ";");
        if (n == tn && strncasecmp(type.p + start, t, n) == 0)
            return table[i].ext;
    }
    return NULL;
}
