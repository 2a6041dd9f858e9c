/* out.c — what the data commands print: tables for people or for scripts, JSON, sizes and
 * times (see cli.h; their failures are fail.c's). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/alloc.h"

int kvs_cli_stdout_tty(void)
{
    return isatty(STDOUT_FILENO);
}

/* ---- tables -------------------------------------------------------------------------------- */

void kvs_cli_table_init(struct kvs_cli_table *t, size_t ncols, const char *const *head,
                        unsigned right)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->head = head;
    t->right = right;
}

/* Print S for a tab-separated line: tabs and line ends would break the line, so they become
 * spaces. */
static void put_plain(const char *s)
{
    for (; *s; s++)
        putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

/* Print the cells ROW of T as one tab-separated line. */
static void put_line(const struct kvs_cli_table *t, const char *const *row)
{
    for (size_t i = 0; i < t->ncols; i++) {
        if (i > 0)
            putchar('\t');
        put_plain(row[i] ? row[i] : "-");
    }
    putchar('\n');
}

void kvs_cli_table_add(struct kvs_cli_table *t, const char *const *row)
{
    if (!kvs_cli_stdout_tty()) { /* no alignment to wait for: stream it */
        put_line(t, row);
        return;
    }
    if ((t->nrows + 1) * t->ncols > t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16 * t->ncols;
        t->cells = kvs_xrealloc(t->cells, t->cap * sizeof *t->cells);
    }
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = kvs_xstrdup(row[i] ? row[i] : "-");
    t->nrows++;
}

/* The width of S on a terminal: its UTF-8 characters (keys and names are mostly ASCII). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void put_padded(const char *s, size_t w, int right, int last)
{
    size_t pad = w - width(s);
    if (right)
        printf("%*s", (int)pad, "");
    fputs(s, stdout);
    if (!right && !last)
        printf("%*s", (int)pad, "");
}

void kvs_cli_table_print(struct kvs_cli_table *t)
{
    if (!kvs_cli_stdout_tty())
        return; /* the rows went out as they came */
    size_t *w = kvs_xcalloc(t->ncols, sizeof *w);
    for (size_t i = 0; i < t->ncols; i++) {
        w[i] = width(t->head[i]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = width(t->cells[r * t->ncols + i]);
            if (cw > w[i])
                w[i] = cw;
        }
    }
    for (size_t r = 0; r <= t->nrows; r++) { /* row 0 is the header */
        for (size_t i = 0; i < t->ncols; i++) {
            const char *cell = r == 0 ? t->head[i] : t->cells[(r - 1) * t->ncols + i];
            if (i > 0)
                fputs("  ", stdout);
            put_padded(cell, w[i], (t->right >> i) & 1, i + 1 == t->ncols);
        }
        putchar('\n');
    }
    free(w);
}

void kvs_cli_table_free(struct kvs_cli_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* ---- values -------------------------------------------------------------------------------- */

int kvs_cli_print_json(const char *text)
{
    json_t *doc = json_loads(text, JSON_DECODE_ANY, NULL);
    if (doc == NULL)
        return kvs_cli_fail("the server's answer is not JSON");
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
    putchar('\n');
    json_decref(doc);
    return 0;
}

const char *kvs_cli_bytes(int64_t n, char buf[32])
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 0) {
        snprintf(buf, 32, "-");
    } else if (n < 1024) {
        snprintf(buf, 32, "%lld B", (long long)n);
    } else {
        double v = (double)n / 1024;
        size_t u = 0;
        while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
            v /= 1024;
            u++;
        }
        snprintf(buf, 32, "%.1f %s", v, units[u]);
    }
    return buf;
}

const char *kvs_cli_time(const char *iso, char buf[32])
{
    /* "YYYY-MM-DDTHH:MM:SS..." → "YYYY-MM-DD HH:MM:SS" (UTC, as the API gives it) */
    if (iso == NULL || strlen(iso) < 19 || iso[10] != 'T') {
        snprintf(buf, 32, "%s", iso ? iso : "-");
        return buf;
    }
    snprintf(buf, 32, "%.10s %.8s", iso, iso + 11);
    return buf;
}
