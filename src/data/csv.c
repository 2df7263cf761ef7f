/* csv.c — datasets from CSV files: a header row, numeric feature columns and
 * one label column (numeric, or text mapped to sorted class names). Errors
 * name the file, the line and the column. */
#include "dataset.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CSV_MAX_BYTES (((uint64_t)1 << 31) - 1) /* keeps field counts within int */

/* Splits the line at *p (NUL-terminated in place) into fields: commas separate,
 * double quotes may enclose a field ("" inside is a quote), spaces around a
 * field are dropped. Returns the field count, or -1 for an unclosed quote. */
static int split_fields(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        char *start = p, *out = p;
        if (*p == '"') {
            start = out = ++p;
            for (;;) {
                if (!*p) return -1;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *out++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *out++ = *p++;
            }
            while (*p && *p != ',') p++;
        } else {
            while (*p && *p != ',') p++;
            out = p;
            while (out > start && (out[-1] == ' ' || out[-1] == '\t')) out--;
        }
        char sep = *p;
        *out = '\0';
        if (n < max) fields[n] = start;
        n++;
        if (!sep) break;
        p++;
    }
    return n;
}

static bool parse_number(const char *s, double *v) {
    if (!*s) return false;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end == '\0' && errno != ERANGE && isfinite(*v);
}

/* Ends line at its '\n' (and drops a '\r' before it); *next is the line after,
 * or NULL at the end of the buffer. Returns the line's length. */
static size_t cut_line(char *line, char **next) {
    *next = strchr(line, '\n');
    if (*next) *(*next)++ = '\0';
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[--len] = '\0';
    return len;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

dc_dataset *dc_dataset_load_csv(const char *path, const char *label_column) {
    const char *fn = "dc_dataset_load_csv";
    FILE *f = dc_fopen_read(fn, path);
    if (!f) return NULL;
    struct stat sb;
    char *buf = NULL, **fields = NULL, **labels = NULL, **uniq = NULL;
    dc_ds_storage *s = NULL;
    dc_dataset *ds = NULL;
    if (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size > CSV_MAX_BYTES) {
        dc_set_error(DC_ERR_IO, "%s: %s: cannot size the file or it exceeds 2 GiB", fn, path);
        fclose(f);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    buf = dc_malloc(size + 1);
    if (!buf || fread(buf, 1, size, f) != size) {
        dc_set_error(buf ? DC_ERR_IO : DC_ERR_NOMEM, "%s: cannot read %s", fn, path);
        fclose(f);
        dc_free(buf);
        return NULL;
    }
    fclose(f);
    buf[size] = '\0';
    if (memchr(buf, '\0', size)) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: a NUL byte: not a text file", fn, path);
        goto done;
    }
    /* Lines: count them for an upper bound on rows, then cut in place. */
    size_t n_lines = 1;
    for (size_t i = 0; i < size; i++) n_lines += buf[i] == '\n';
    char *line = buf, *next;
    if (size >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) line += 3; /* UTF-8 byte order mark */
    int lineno = 0;
    int ncols = 0, label = -1;
    /* The header: the first non-empty line. */
    for (;;) {
        if (!line) break;
        size_t len = cut_line(line, &next);
        lineno++;
        if (len) break;
        line = next;
    }
    if (!line || !line[0]) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: the file is empty (a header row is needed)", fn, path);
        goto done;
    }
    /* Commas bound the field count (quoted commas only make it smaller). */
    size_t max_cols = 1;
    for (const char *c = line; *c; c++) max_cols += *c == ',';
    fields = dc_malloc(max_cols * 2 * sizeof(char *));
    if (!fields) goto nomem;
    char **header = fields + max_cols;
    ncols = split_fields(line, header, (int)max_cols);
    if (ncols < 0) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: an unclosed quote in the header", fn, path, lineno);
        goto done;
    }
    if (ncols < 2) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: %d column; need features and a label", fn, path,
                     lineno, ncols);
        goto done;
    }
    if (label_column) {
        for (int c = 0; c < ncols; c++)
            if (strcmp(header[c], label_column) == 0) label = c;
        if (label < 0) {
            dc_set_error(DC_ERR_ARG, "%s: %s:%d: no column named \"%s\" in the header", fn, path,
                         lineno, label_column);
            goto done;
        }
    } else {
        label = ncols - 1;
    }
    int nf = ncols - 1;
    /* A data row takes at least 2 * ncols - 1 bytes, which bounds the rows (and
     * the allocation) by the bytes present, whatever the line count. */
    size_t rest = next ? size - (size_t)(next - buf) : 0;
    size_t max_rows = rest / (2 * (size_t)ncols - 1) + 1;
    if (max_rows < n_lines) n_lines = max_rows;
    s = dc_calloc(1, sizeof *s);
    labels = dc_malloc(n_lines * sizeof(char *));
    if (!s || !labels) goto nomem;
    s->owns = true;
    s->x = dc_malloc_aligned(n_lines * (size_t)nf * sizeof(float));
    s->y = dc_malloc_aligned(n_lines * sizeof(float));
    if (!s->x || !s->y) goto nomem;
    int64_t rows = 0;
    bool numeric_labels = true;
    for (line = next; line; line = next) {
        size_t len = cut_line(line, &next);
        lineno++;
        if (!len) continue;
        int n = split_fields(line, fields, ncols);
        if (n < 0) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: an unclosed quote", fn, path, lineno);
            goto done;
        }
        if (n != ncols) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: %d fields but the header has %d columns", fn,
                         path, lineno, n, ncols);
            goto done;
        }
        if ((size_t)rows >= n_lines) { /* cannot happen given the bound; checked anyway */
            dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: more rows than the file can hold", fn, path,
                         lineno);
            goto done;
        }
        float *xr = s->x + rows * nf;
        for (int c = 0, k = 0; c < ncols; c++) {
            if (c == label) continue;
            double v;
            if (!parse_number(fields[c], &v) || !isfinite((float)v)) {
                dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: column %d (\"%s\"): \"%s\" is not a "
                             "finite number (sample %lld)", fn, path, lineno, c + 1, header[c],
                             fields[c], (long long)rows);
                goto done;
            }
            xr[k++] = (float)v;
        }
        labels[rows] = fields[label];
        double v;
        char *end;
        v = strtod(fields[label], &end);
        if (fields[label][0] && !*end && !isfinite((float)v)) { /* "nan", "inf", 1e300 */
            dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: column %d (\"%s\"): the label \"%s\" is "
                         "not a finite number (sample %lld)", fn, path, lineno, label + 1,
                         header[label], fields[label], (long long)rows);
            goto done;
        }
        if (numeric_labels && parse_number(fields[label], &v)) s->y[rows] = (float)v;
        else numeric_labels = false;
        if (!fields[label][0]) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s:%d: column %d (\"%s\"): the label is empty", fn,
                         path, lineno, label + 1, header[label]);
            goto done;
        }
        rows++;
    }
    if (rows == 0) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: a header but no data rows", fn, path);
        goto done;
    }
    if (numeric_labels) {
        /* Whole numbers in [0, 1000) are taken as class indices. */
        int max = -1;
        for (int64_t i = 0; i < rows; i++) {
            float v = s->y[i];
            if (!(v >= 0 && v < 1000 && v == floorf(v))) {
                max = -1;
                break;
            }
            if ((int)v > max) max = (int)v;
        }
        s->num_classes = max + 1;
    } else {
        /* Text labels: classes are the distinct strings, sorted. */
        uniq = dc_malloc((size_t)rows * sizeof(char *));
        if (!uniq) goto nomem;
        memcpy(uniq, labels, (size_t)rows * sizeof(char *));
        qsort(uniq, (size_t)rows, sizeof(char *), cmp_str);
        int nu = 0;
        for (int64_t i = 0; i < rows; i++)
            if (nu == 0 || strcmp(uniq[nu - 1], uniq[i]) != 0) uniq[nu++] = uniq[i];
        s->class_names = dc_calloc((size_t)nu, sizeof(char *));
        if (!s->class_names) goto nomem;
        s->owns_names = true;
        s->num_classes = nu;
        for (int i = 0; i < nu; i++)
            if (!(s->class_names[i] = dc_ds_strdup(uniq[i]))) goto nomem;
        for (int64_t i = 0; i < rows; i++) {
            const char *key = labels[i];
            char **hit = bsearch(&key, uniq, (size_t)nu, sizeof(char *), cmp_str);
            s->y[i] = (float)(hit - uniq);
        }
    }
    int64_t xs[1] = {nf};
    ds = dc_dataset_from_storage(fn, s, rows, 1, xs, 0, NULL);
    s = NULL;
    goto done;
nomem:
    dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory", fn, path);
done:
    dc_ds_storage_free(s);
    dc_free(uniq);
    dc_free(labels);
    dc_free(fields);
    dc_free(buf);
    return ds;
}
