/* text_set.c — collections of texts with class labels: built from arrays, read
 * from a folder of class sub-folders (text_dataset_from_directory) or from
 * Debian's fortunes files, split at every k-th sample, joined into a corpus. */
#include "text.h"
#include "dataset.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define TEXT_FILE_MAX_BYTES ((uint64_t)1 << 30)

/* ---- growing lists ---- */

typedef struct {
    char **items;
    int32_t *labels;
    int64_t n, cap;
} text_list;

/* Appends s (taken over) with its label; false (s freed) when out of memory. */
static bool tl_push(text_list *l, char *s, int32_t label) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        char **p = dc_realloc(l->items, (size_t)cap * sizeof(char *));
        if (p) l->items = p;
        int32_t *q = p ? dc_realloc(l->labels, (size_t)cap * sizeof(int32_t)) : NULL;
        if (q) l->labels = q;
        if (!p || !q) {
            dc_free(s);
            return false;
        }
        l->cap = cap;
    }
    l->items[l->n] = s;
    l->labels[l->n++] = label;
    return true;
}

static void tl_free(text_list *l) {
    for (int64_t i = 0; i < l->n; i++) dc_free(l->items[i]);
    dc_free(l->items);
    dc_free(l->labels);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the set ---- */

void dc_text_set_free(dc_text_set *s) {
    if (!s) return;
    for (int64_t i = 0; i < s->count; i++) dc_free(s->texts[i]);
    for (int i = 0; i < s->num_classes && s->class_names; i++) dc_free(s->class_names[i]);
    dc_free(s->texts);
    dc_free(s->labels);
    dc_free(s->class_names);
    dc_free(s);
}

/* A set taking over the list's texts and labels (labelled: keep labels) and
 * class names (names[0..nc), taken over, may be NULL). */
static dc_text_set *set_from_list(const char *fn, text_list *l, bool labelled, char **names,
                                  int nc) {
    dc_text_set *s = dc_calloc(1, sizeof *s);
    if (!s) {
        tl_free(l);
        for (int i = 0; i < nc && names; i++) dc_free(names[i]);
        dc_free(names);
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    s->count = l->n;
    s->texts = l->items;
    s->labels = labelled ? l->labels : NULL;
    if (!labelled) dc_free(l->labels);
    s->num_classes = nc;
    s->class_names = names;
    if (!s->texts) s->texts = dc_calloc(1, sizeof(char *));
    if (labelled && !s->labels) s->labels = dc_calloc(1, sizeof(int32_t));
    memset(l, 0, sizeof *l);
    if (!s->texts || (labelled && !s->labels)) {
        dc_text_set_free(s);
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    return s;
}

static char **copy_names(const char *const *names, int nc) {
    char **out = dc_calloc((size_t)(nc ? nc : 1), sizeof(char *));
    for (int i = 0; out && i < nc; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        out[i] = dc_ds_strdup(names ? names[i] : num);
        if (!out[i]) {
            for (int j = 0; j < i; j++) dc_free(out[j]);
            dc_free(out);
            return NULL;
        }
    }
    return out;
}

dc_text_set *dc_text_set_new(const char *const *texts, const int32_t *labels, int64_t n,
                             int num_classes, const char *const *class_names) {
    const char *fn = "dc_text_set_new";
    if ((n > 0 && !texts) || n < 0 || num_classes < 0 || (labels && num_classes < 1)) {
        dc_set_error(DC_ERR_ARG, "%s: texts NULL, negative count, or labels without classes", fn);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        if (!texts[i]) {
            dc_set_error(DC_ERR_ARG, "%s: text %lld is NULL", fn, (long long)i);
            return NULL;
        }
        if (labels && (labels[i] < 0 || labels[i] >= num_classes)) {
            dc_set_error(DC_ERR_ARG, "%s: label %d of text %lld outside [0, %d)", fn, labels[i],
                         (long long)i, num_classes);
            return NULL;
        }
    }
    for (int i = 0; class_names && i < num_classes; i++)
        if (!class_names[i]) {
            dc_set_error(DC_ERR_ARG, "%s: class name %d is NULL", fn, i);
            return NULL;
        }
    text_list l = {0};
    for (int64_t i = 0; i < n; i++) {
        char *t = dc_utf8_repair(texts[i], strlen(texts[i]), NULL);
        if (!t || !tl_push(&l, t, labels ? labels[i] : 0)) {
            tl_free(&l);
            dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
            return NULL;
        }
    }
    char **names = NULL;
    if (num_classes && !(names = copy_names(class_names, num_classes))) {
        tl_free(&l);
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    return set_from_list(fn, &l, labels != NULL, names, num_classes);
}

dc_status dc_text_set_split(const dc_text_set *s, int64_t test_every, dc_text_set **train,
                            dc_text_set **test) {
    const char *fn = "dc_text_set_split";
    if (!s || !train || !test) return dc_set_error(DC_ERR_ARG, "%s: NULL argument", fn);
    *train = *test = NULL;
    if (test_every < 2)
        return dc_set_error(DC_ERR_ARG, "%s: test_every %lld must be at least 2", fn,
                            (long long)test_every);
    text_list parts[2] = {{0}, {0}};
    for (int64_t i = 0; i < s->count; i++) {
        char *t = dc_ds_strdup(s->texts[i]);
        if (!t || !tl_push(&parts[i % test_every == test_every - 1], t,
                           s->labels ? s->labels[i] : 0)) {
            tl_free(&parts[0]);
            tl_free(&parts[1]);
            return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        }
    }
    dc_text_set *out[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        char **names = NULL;
        if (s->num_classes && !(names = copy_names((const char *const *)s->class_names,
                                                   s->num_classes))) {
            tl_free(&parts[k]);
            continue;
        }
        out[k] = set_from_list(fn, &parts[k], s->labels != NULL, names, s->num_classes);
    }
    if (!out[0] || !out[1]) {
        tl_free(&parts[0]);
        tl_free(&parts[1]);
        dc_text_set_free(out[0]);
        dc_text_set_free(out[1]);
        return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    }
    *train = out[0];
    *test = out[1];
    return DC_OK;
}

char *dc_text_set_join(const dc_text_set *s, const char *sep, size_t *len) {
    if (!s) {
        dc_set_error(DC_ERR_ARG, "dc_text_set_join: set is NULL");
        return NULL;
    }
    if (!sep) sep = "";
    size_t sl = strlen(sep), total = 1;
    for (int64_t i = 0; i < s->count; i++) total += strlen(s->texts[i]) + (i ? sl : 0);
    char *out = dc_malloc(total);
    if (!out) {
        dc_set_error(DC_ERR_NOMEM, "dc_text_set_join: out of memory for %zu bytes", total);
        return NULL;
    }
    size_t o = 0;
    for (int64_t i = 0; i < s->count; i++) {
        if (i) {
            memcpy(out + o, sep, sl);
            o += sl;
        }
        size_t n = strlen(s->texts[i]);
        memcpy(out + o, s->texts[i], n);
        o += n;
    }
    out[o] = '\0';
    if (len) *len = o;
    return out;
}

/* ---- files ---- */

/* The whole file as UTF-8 (repaired), dc_malloc'd; NULL with an error naming it. */
static char *read_text_file(const char *fn, const char *path, size_t *len) {
    FILE *f = dc_fopen_read(fn, path);
    if (!f) return NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size > TEXT_FILE_MAX_BYTES) {
        fclose(f);
        dc_set_error(DC_ERR_IO, "%s: %s: cannot size the file, or it exceeds 1 GiB", fn, path);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    char *raw = dc_malloc(size + 1);
    size_t got = raw ? fread(raw, 1, size, f) : 0;
    bool err = raw && ferror(f);
    fclose(f);
    if (!raw || err || got != size) {
        dc_free(raw);
        dc_set_error(raw ? DC_ERR_IO : DC_ERR_NOMEM, "%s: cannot read %s%s", fn, path,
                     raw ? "" : ": out of memory");
        return NULL;
    }
    const char *nul = memchr(raw, '\0', size);
    if (nul) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: a NUL byte at offset %lld: not a text file", fn, path,
                     (long long)(nul - raw));
        dc_free(raw);
        return NULL;
    }
    char *s = dc_utf8_repair(raw, size, len);
    dc_free(raw);
    if (!s) dc_set_error(DC_ERR_NOMEM, "%s: out of memory reading %s", fn, path);
    return s;
}

typedef struct {
    char **items;
    int n, cap;
} name_list;

static void nl_free(name_list *l) {
    for (int i = 0; i < l->n; i++) dc_free(l->items[i]);
    dc_free(l->items);
    memset(l, 0, sizeof *l);
}

typedef enum { LIST_DIRS, LIST_TXT, LIST_FORTUNES } list_kind;

static bool wanted(list_kind kind, const char *name, const struct stat *st) {
    if (kind == LIST_DIRS) return S_ISDIR(st->st_mode);
    if (!S_ISREG(st->st_mode)) return false;
    if (kind == LIST_FORTUNES) return strchr(name, '.') == NULL; /* no .dat, .u8 */
    const char *dot = strrchr(name, '.');
    return dot && !strcasecmp(dot, ".txt");
}

/* Sorted names in dir of the kind asked (hidden ones skipped). */
static bool list_dir(const char *fn, const char *dir, list_kind kind, name_list *out) {
    DIR *d = opendir(dir);
    if (!d) {
        dc_set_error(DC_ERR_IO, "%s: cannot open directory %s: %s", fn, dir, strerror(errno));
        return false;
    }
    struct dirent *e;
    char path[4096];
    bool ok = true;
    while (ok && (e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !wanted(kind, e->d_name, &st)) continue;
        if (out->n == out->cap) {
            int cap = out->cap ? 2 * out->cap : 16;
            char **p = dc_realloc(out->items, (size_t)cap * sizeof(char *));
            if (!p) ok = false;
            else out->items = p, out->cap = cap;
        }
        if (ok && !(out->items[out->n] = dc_ds_strdup(e->d_name))) ok = false;
        if (ok) out->n++;
    }
    closedir(d);
    if (!ok) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory listing %s", fn, dir);
        return false;
    }
    if (out->n > 1) qsort(out->items, (size_t)out->n, sizeof(char *), cmp_str);
    return true;
}

dc_text_set *dc_text_set_load_folder(const char *dir) {
    const char *fn = "dc_text_set_load_folder";
    if (!dir) {
        dc_set_error(DC_ERR_ARG, "%s: dir is NULL", fn);
        return NULL;
    }
    name_list classes = {0};
    text_list l = {0};
    if (!list_dir(fn, dir, LIST_DIRS, &classes)) return NULL;
    if (classes.n == 0) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s has no class sub-folders (DIR/<class>/*.txt)", fn, dir);
        goto fail;
    }
    for (int c = 0; c < classes.n; c++) {
        char sub[4096], path[4096];
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, classes.items[c]) >= sizeof sub) {
            dc_set_error(DC_ERR_ARG, "%s: path too long under %s", fn, dir);
            goto fail;
        }
        name_list files = {0};
        if (!list_dir(fn, sub, LIST_TXT, &files)) goto fail;
        for (int i = 0; i < files.n; i++) {
            char *t = NULL;
            if ((size_t)snprintf(path, sizeof path, "%s/%s", sub, files.items[i]) >= sizeof path)
                dc_set_error(DC_ERR_ARG, "%s: path too long under %s", fn, sub);
            else
                t = read_text_file(fn, path, NULL);
            if (!t) {
                nl_free(&files);
                goto fail;
            }
            if (!tl_push(&l, t, c)) {
                nl_free(&files);
                dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
                goto fail;
            }
        }
        nl_free(&files);
    }
    if (l.n == 0) {
        dc_set_error(DC_ERR_FORMAT, "%s: no .txt file in the class folders of %s", fn, dir);
        goto fail;
    }
    int nc = classes.n;
    char **names = classes.items;
    classes.items = NULL;
    classes.n = 0;
    return set_from_list(fn, &l, true, names, nc);
fail:
    nl_free(&classes);
    tl_free(&l);
    return NULL;
}

/* ---- fortunes ---- */

/* Whether line [p, e) holds a single '%' (a '\r' before the newline allowed). */
static bool is_separator(const char *p, const char *e) {
    return (e - p == 1 && p[0] == '%') || (e - p == 2 && p[0] == '%' && p[1] == '\r');
}

/* Appends the fortunes of text to l with label; returns how many, -1 on no memory. */
static int64_t split_fortunes(const char *text, size_t len, int32_t label, text_list *l) {
    const char *p = text, *end = text + len, *start = text;
    int64_t n = 0;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        bool sep = is_separator(p, e);
        if (sep || !nl) {
            const char *stop = sep ? p : end;
            while (stop > start && (stop[-1] == '\n' || stop[-1] == '\r')) stop--;
            const char *q = start;
            while (q < stop && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
            if (q < stop) { /* empty fortunes are skipped */
                char *t = dc_malloc((size_t)(stop - start) + 1);
                if (!t) return -1;
                memcpy(t, start, (size_t)(stop - start));
                t[stop - start] = '\0';
                if (!tl_push(l, t, label)) return -1;
                n++;
            }
            start = nl ? nl + 1 : end;
        }
        if (!nl) break;
        p = nl + 1;
    }
    return n;
}

dc_text_set *dc_text_set_load_fortunes(const char *dir, const char *const *categories, int n,
                                       int64_t min_count) {
    const char *fn = "dc_text_set_load_fortunes";
    if (!dir) dir = getenv("DEEPC_FORTUNES_DIR");
    if (!dir || !*dir) dir = "/usr/share/games/fortunes";
    if (n < 0 || (n > 0 && !categories) || min_count < 0) {
        dc_set_error(DC_ERR_ARG, "%s: bad categories or min_count", fn);
        return NULL;
    }
    name_list cats = {0};
    text_list all = {0};
    bool named = n > 0;
    if (named) {
        for (int i = 0; i < n; i++) {
            if (!categories[i] || !*categories[i] || strchr(categories[i], '/')) {
                dc_set_error(DC_ERR_ARG, "%s: category %d is not a file name", fn, i);
                goto fail;
            }
            for (int j = 0; j < i; j++)
                if (!strcmp(categories[i], categories[j])) {
                    dc_set_error(DC_ERR_ARG, "%s: category '%s' is named twice", fn, categories[i]);
                    goto fail;
                }
        }
        cats.items = dc_calloc((size_t)n, sizeof(char *));
        if (!cats.items) goto nomem;
        cats.cap = n;
        for (int i = 0; i < n; i++) {
            if (!(cats.items[i] = dc_ds_strdup(categories[i]))) goto nomem;
            cats.n++;
        }
        qsort(cats.items, (size_t)cats.n, sizeof(char *), cmp_str);
    } else {
        if (!list_dir(fn, dir, LIST_FORTUNES, &cats)) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", dc_last_error());
            dc_set_error(DC_ERR_IO, "%s (install Debian's fortunes package)", msg);
            goto fail;
        }
    }
    int kept = 0;
    for (int c = 0; c < cats.n; c++) {
        char path[4096];
        size_t len;
        char *text = NULL;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, cats.items[c]) >= sizeof path)
            dc_set_error(DC_ERR_ARG, "%s: path too long under %s", fn, dir);
        else
            text = read_text_file(fn, path, &len);
        if (!text) goto fail;
        int64_t before = all.n;
        int64_t got = split_fortunes(text, len, kept, &all);
        dc_free(text);
        if (got < 0) goto nomem;
        if (got < DC_MAX(min_count, (int64_t)1)) {
            if (named) {
                dc_set_error(DC_ERR_FORMAT, "%s: %s holds %lld fortunes, fewer than %lld", fn, path,
                             (long long)got, (long long)DC_MAX(min_count, (int64_t)1));
                goto fail;
            }
            for (int64_t i = before; i < all.n; i++) dc_free(all.items[i]);
            all.n = before;
            dc_free(cats.items[c]);
            cats.items[c] = NULL;
            continue;
        }
        cats.items[kept++] = cats.items[c];
        if (kept - 1 != c) cats.items[c] = NULL;
    }
    if (all.n == 0 || kept == 0) {
        dc_set_error(DC_ERR_FORMAT, "%s: no category in %s holds %lld fortunes or more", fn, dir,
                     (long long)DC_MAX(min_count, (int64_t)1));
        goto fail;
    }
    for (int c = kept; c < cats.n; c++) dc_free(cats.items[c]);
    cats.n = kept;
    char **names = cats.items;
    cats.items = NULL;
    return set_from_list(fn, &all, true, names, kept);
nomem:
    dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
fail:
    for (int i = 0; i < cats.n; i++) dc_free(cats.items[i]);
    dc_free(cats.items);
    tl_free(&all);
    return NULL;
}
