/* text_csv.c — a text collection from a CSV or TSV file with a text column and
 * a label column, parsed as Python's csv module does (quoted fields may hold
 * delimiters, newlines and "" for a quote). Errors name the file and line. */
#include "text.h"
#include "dataset.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define TEXT_CSV_MAX_BYTES (((uint64_t)1 << 31) - 1)

typedef struct {
    char *p, *end;  /* what is left of the buffer */
    int line;       /* the line the next record starts on */
} csv_reader;

/* The next record's fields, unescaped in place; returns the field count (0 at
 * the end), -1 for a quote left open (with *line its start). Fields beyond cap
 * are counted, not kept. Blank lines give records of one empty field. */
static int next_record(csv_reader *r, char delim, char **fields, int cap, int *line) {
    if (r->p >= r->end) return 0;
    *line = r->line;
    int n = 0;
    for (;;) {
        char *w = r->p, *start = r->p;
        bool quoted = false;
        if (*r->p == '"') {
            quoted = true;
            r->p++;
        }
        for (;;) {
            if (r->p >= r->end) {
                if (quoted) return -1;
                break;
            }
            char c = *r->p;
            if (quoted) {
                if (c == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        *w++ = '"';
                        r->p += 2;
                        continue;
                    }
                    quoted = false; /* what follows up to the delimiter is kept, as Python */
                    r->p++;
                    continue;
                }
                if (c == '\n') r->line++;
                *w++ = c;
                r->p++;
                continue;
            }
            if (c == delim || c == '\n' || c == '\r') break;
            *w++ = c;
            r->p++;
        }
        char stop = r->p < r->end ? *r->p : '\n';
        if (n < cap) fields[n] = start;
        n++;
        if (r->p < r->end) r->p++;
        *w = '\0'; /* w <= the byte just consumed */
        if (stop == delim) continue;
        if (stop == '\r' && r->p < r->end && *r->p == '\n') r->p++;
        r->line++;
        return n;
    }
}

static bool parse_class_id(const char *s, int32_t *out) {
    if (!*s) return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < 0 || v >= 1000) return false;
    *out = (int32_t)v;
    return true;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Class ids for the labels: whole numbers in [0, 1000) are ids, other labels
 * become classes in sorted order. Returns the class count, -1 on no memory. */
static int label_classes(char **labels, int64_t n, int32_t *ids, char ***names_out) {
    bool numeric = true;
    int32_t max = -1;
    for (int64_t i = 0; i < n && numeric; i++) {
        numeric = parse_class_id(labels[i], &ids[i]);
        if (numeric) max = DC_MAX(max, ids[i]);
    }
    if (numeric) {
        char **names = dc_calloc((size_t)max + 1, sizeof(char *));
        for (int32_t c = 0; names && c <= max; c++) {
            char num[16];
            snprintf(num, sizeof num, "%d", c);
            if (!(names[c] = dc_ds_strdup(num))) {
                for (int32_t k = 0; k < c; k++) dc_free(names[k]);
                dc_free(names);
                names = NULL;
            }
        }
        *names_out = names;
        return names ? max + 1 : -1;
    }
    char **sorted = dc_malloc((size_t)n * sizeof(char *));
    if (!sorted) return -1;
    memcpy(sorted, labels, (size_t)n * sizeof(char *));
    qsort(sorted, (size_t)n, sizeof(char *), cmp_str);
    int64_t nu = 0;
    for (int64_t i = 0; i < n; i++)
        if (!nu || strcmp(sorted[i], sorted[nu - 1])) sorted[nu++] = sorted[i];
    if (nu > 100000) { /* not classes */
        dc_free(sorted);
        return -2;
    }
    char **names = dc_calloc((size_t)nu, sizeof(char *));
    for (int64_t c = 0; names && c < nu; c++)
        if (!(names[c] = dc_ds_strdup(sorted[c]))) {
            for (int64_t k = 0; k < c; k++) dc_free(names[k]);
            dc_free(names);
            names = NULL;
        }
    for (int64_t i = 0; names && i < n; i++) {
        char **hit = bsearch(&labels[i], names, (size_t)nu, sizeof(char *), cmp_str);
        ids[i] = (int32_t)(hit - names);
    }
    dc_free(sorted);
    *names_out = names;
    return names ? (int)nu : -1;
}

dc_text_set *dc_text_set_load_csv(const char *path, const char *text_column,
                                  const char *label_column, char delimiter) {
    const char *fn = "dc_text_set_load_csv";
    if (!text_column) {
        dc_set_error(DC_ERR_ARG, "%s: text_column is NULL", fn);
        return NULL;
    }
    FILE *f = dc_fopen_read(fn, path);
    if (!f) return NULL;
    if (!delimiter) {
        size_t pl = strlen(path);
        delimiter = pl >= 4 && !strcasecmp(path + pl - 4, ".tsv") ? '\t' : ',';
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size > TEXT_CSV_MAX_BYTES) {
        fclose(f);
        dc_set_error(DC_ERR_IO, "%s: %s: cannot size the file, or it exceeds 2 GiB", fn, path);
        return NULL;
    }
    size_t raw_len = (size_t)sb.st_size, len;
    char *raw = dc_malloc(raw_len + 1);
    bool read_ok = raw && fread(raw, 1, raw_len, f) == raw_len;
    fclose(f);
    const char *nul = read_ok ? memchr(raw, '\0', raw_len) : NULL;
    if (nul) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: a NUL byte at offset %lld: not a text file", fn, path,
                     (long long)(nul - raw));
        dc_free(raw);
        return NULL;
    }
    char *buf = read_ok ? dc_utf8_repair(raw, raw_len, &len) : NULL;
    dc_free(raw);
    if (!buf) {
        dc_set_error(read_ok || !raw ? DC_ERR_NOMEM : DC_ERR_IO, "%s: cannot read %s", fn, path);
        return NULL;
    }
    dc_text_set *set = NULL;
    char **fields = NULL, **texts = NULL, **labels = NULL, **names = NULL;
    int32_t *ids = NULL;
    int64_t n = 0;
    int nc = 0;
    csv_reader r = {buf, buf + len, 1};
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) r.p += 3;
    /* every record has at most as many fields as the file has delimiters + 1,
     * and at least one byte, which bounds the arrays by the bytes present */
    size_t max_fields = 1;
    for (size_t i = 0; i < len; i++) max_fields += buf[i] == delimiter;
    int cap = (int)DC_MIN(max_fields, (size_t)1 << 20);
    fields = dc_malloc((size_t)cap * sizeof(char *));
    texts = dc_malloc((len / 2 + 2) * sizeof(char *));
    labels = dc_malloc((len / 2 + 2) * sizeof(char *));
    if (!fields || !texts || !labels) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %s", fn, path);
        goto done;
    }
    int line = 1, nf;
    do nf = next_record(&r, delimiter, fields, cap, &line);
    while (nf == 1 && !fields[0][0]);
    if (nf <= 0) {
        dc_set_error(DC_ERR_FORMAT, nf ? "%s: %s:%d: a quote is never closed"
                                       : "%s: %s: the file is empty (a header row is needed)",
                     fn, path, line);
        goto done;
    }
    int tc = -1, lc = -1, ncols = DC_MIN(nf, cap);
    for (int i = 0; i < ncols; i++) {
        if (!strcmp(fields[i], text_column)) tc = i;
        if (label_column && !strcmp(fields[i], label_column)) lc = i;
    }
    if (tc < 0 || (label_column && lc < 0)) {
        char known[300] = "";
        for (int i = 0; i < ncols && strlen(known) < 250; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s\"%.40s\"",
                     i ? ", " : "", fields[i]);
        dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: no column named \"%s\" in the header (columns: %s)",
                     fn, path, line, tc < 0 ? text_column : label_column, known);
        goto done;
    }
    int need = DC_MAX(tc, lc) + 1;
    for (;;) {
        nf = next_record(&r, delimiter, fields, cap, &line);
        if (nf == 0) break;
        if (nf < 0) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: a quote is never closed", fn, path, line);
            goto done;
        }
        if (nf == 1 && !fields[0][0]) continue; /* a blank line */
        if (nf < need) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: %d fields, but column \"%s\" is field %d", fn,
                         path, line, nf, need - 1 == tc ? text_column : label_column, need);
            goto done;
        }
        texts[n] = fields[tc];
        labels[n++] = lc >= 0 ? fields[lc] : NULL;
    }
    if (n == 0) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: no rows after the header", fn, path);
        goto done;
    }
    if (lc >= 0) {
        ids = dc_malloc((size_t)n * sizeof(int32_t));
        nc = ids ? label_classes(labels, n, ids, &names) : -1;
        if (nc == -2) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s: column \"%s\" has more than 100000 distinct labels",
                         fn, path, label_column);
            goto done;
        }
        if (nc < 0) {
            dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
            goto done;
        }
    }
    set = dc_text_set_new((const char *const *)texts, ids, n, nc, (const char *const *)names);
done:
    for (int i = 0; names && i < nc; i++) dc_free(names[i]);
    dc_free(names);
    dc_free(ids);
    dc_free(fields);
    dc_free(texts);
    dc_free(labels);
    dc_free(buf);
    return set;
}
