/* safetensors.c — the safetensors checkpoint format: writing (atomically, via a
 * fsynced temporary file and rename, core/atomic.c) and reading with every header field
 * checked against the bytes present. Assumes a little-endian host (x86, ARM). */
#include "../core/core.h"
#include "../tensor/tensor.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u * 1024u * 1024u)

struct dc_safetensors {
    int n;
    char **names;          /* file order */
    dc_tensor **tensors;
    int n_meta;
    char **meta_keys, **meta_values;
};

static char *st_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = dc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- writing ---- */

dc_status dc_safetensors_save(const char *path, dc_tensor *const *tensors, int n,
                              const char *const *meta_keys, const char *const *meta_values,
                              int n_meta) {
    const char *fn = "dc_safetensors_save";
    if (!path || !path[0]) return dc_set_error(DC_ERR_ARG, "%s: path is NULL or empty", fn);
    if (n < 0 || (n > 0 && !tensors))
        return dc_set_error(DC_ERR_ARG, "%s: %d tensors from %p", fn, n, (const void *)tensors);
    if (n_meta < 0 || (n_meta > 0 && (!meta_keys || !meta_values)))
        return dc_set_error(DC_ERR_ARG, "%s: metadata keys or values are NULL", fn);
    for (int i = 0; i < n; i++) {
        if (!tensors[i] || !tensors[i]->data)
            return dc_set_error(DC_ERR_ARG, "%s: tensor %d is NULL", fn, i);
        if (!tensors[i]->name[0])
            return dc_set_error(DC_ERR_ARG, "%s: tensor %d has no name (dc_tensor_set_name)", fn, i);
        if (strcmp(tensors[i]->name, "__metadata__") == 0)
            return dc_set_error(DC_ERR_ARG, "%s: tensor %d: the name __metadata__ is reserved", fn, i);
        for (int j = 0; j < i; j++)
            if (strcmp(tensors[i]->name, tensors[j]->name) == 0)
                return dc_set_error(DC_ERR_ARG, "%s: tensors %d and %d are both named \"%s\"", fn,
                                    j, i, tensors[i]->name);
    }
    for (int i = 0; i < n_meta; i++)
        if (!meta_keys[i] || !meta_values[i])
            return dc_set_error(DC_ERR_ARG, "%s: metadata entry %d is NULL", fn, i);

    cJSON *root = cJSON_CreateObject();
    if (!root) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    bool ok = true;
    if (n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (int i = 0; ok && i < n_meta; i++)
            ok = cJSON_AddStringToObject(meta, meta_keys[i], meta_values[i]) != NULL;
    }
    uint64_t offset = 0;
    for (int i = 0; ok && i < n; i++) {
        const dc_tensor *t = tensors[i];
        cJSON *o = cJSON_AddObjectToObject(root, t->name);
        cJSON *shape = o ? cJSON_AddArrayToObject(o, "shape") : NULL;
        cJSON *offs = o ? cJSON_AddArrayToObject(o, "data_offsets") : NULL;
        ok = o && shape && offs && cJSON_AddStringToObject(o, "dtype", "F32");
        for (int d = 0; ok && d < t->ndim; d++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        uint64_t end = offset + (uint64_t)t->size * sizeof(float);
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)end));
        offset = end;
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory building the header", fn);
    size_t jlen = strlen(json);
    size_t hlen = (jlen + 7) & ~(size_t)7; /* the data starts 8-byte aligned */

    dc_atomic_file af;
    dc_status s = dc_atomic_open(&af, fn, path);
    if (s != DC_OK) goto out;
    unsigned char lenbytes[8];
    for (int i = 0; i < 8; i++) lenbytes[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    static const char blanks[8] = "        ";
    s = dc_atomic_write(&af, lenbytes, 8);
    if (s == DC_OK) s = dc_atomic_write(&af, json, jlen);
    if (s == DC_OK && hlen > jlen) s = dc_atomic_write(&af, blanks, hlen - jlen);
    for (int i = 0; s == DC_OK && i < n; i++)
        s = dc_atomic_write(&af, tensors[i]->data, (size_t)tensors[i]->size * sizeof(float));
    s = dc_atomic_commit(&af); /* after a failed write: removes the tmp, keeps the error */
out:
    cJSON_free(json);
    return s;
}

/* ---- reading ---- */

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64 } st_dtype;

typedef struct {
    const char *name;   /* points into the cJSON tree */
    st_dtype dtype;
    int ndim;
    int64_t shape[DC_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end;
} st_entry;

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}
static int cmp_begin(const void *a, const void *b) {
    uint64_t x = ((const st_entry *)a)->begin, y = ((const st_entry *)b)->begin;
    return x < y ? -1 : x > y;
}

/* A JSON number that is a whole number in [0, 2^53]. */
static bool json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || floor(d) != d) return false;
    *out = (uint64_t)d;
    return true;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0) v = ldexpf((float)man, -24);
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 0x400), (int)exp - 25);
    return sign ? -v : v;
}

void dc_safetensors_free(dc_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) {
        if (st->names) dc_free(st->names[i]);
        if (st->tensors) dc_tensor_free(st->tensors[i]);
    }
    for (int i = 0; i < st->n_meta; i++) {
        dc_free(st->meta_keys[i]);
        dc_free(st->meta_values[i]);
    }
    dc_free(st->names);
    dc_free(st->tensors);
    dc_free(st->meta_keys);
    dc_free(st->meta_values);
    dc_free(st);
}

/* Parses one tensor entry; on error sets a message and returns false. */
static bool parse_entry(const char *fn, const char *path, const cJSON *o, uint64_t buf_bytes,
                        st_entry *e) {
    const char *name = o->string;
    e->name = name;
    if (!name[0]) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: a tensor has an empty name", fn, path);
        return false;
    }
    if (!cJSON_IsObject(o)) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: tensor \"%s\" is not a JSON object", fn, path, name);
        return false;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of)) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: tensor \"%s\" lacks a string dtype, a shape array or "
                     "a data_offsets array", fn, path, name);
        return false;
    }
    size_t esize;
    const char *d = dt->valuestring;
    if (strcmp(d, "F32") == 0) e->dtype = ST_F32, esize = 4;
    else if (strcmp(d, "F16") == 0) e->dtype = ST_F16, esize = 2;
    else if (strcmp(d, "BF16") == 0) e->dtype = ST_BF16, esize = 2;
    else if (strcmp(d, "F64") == 0) e->dtype = ST_F64, esize = 8;
    else {
        dc_set_error(DC_ERR_UNSUPPORTED, "%s: %s: tensor \"%s\" has unsupported dtype \"%s\" "
                     "(F32, F16, BF16 and F64 are read)", fn, path, name, d);
        return false;
    }
    int nd = cJSON_GetArraySize(sh);
    if (nd > DC_MAX_DIMS) {
        dc_set_error(DC_ERR_UNSUPPORTED, "%s: %s: tensor \"%s\" has %d dims (at most %d)", fn,
                     path, name, nd, DC_MAX_DIMS);
        return false;
    }
    e->ndim = nd;
    uint64_t numel = 1;
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, sh) {
        uint64_t dim;
        if (!json_uint(v, &dim)) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s: tensor \"%s\": shape[%d] is not a whole number "
                         ">= 0", fn, path, name, i);
            return false;
        }
        if (dim != 0 && numel > (uint64_t)INT64_MAX / 8 / dim) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s: tensor \"%s\": the shape's element count "
                         "overflows", fn, path, name);
            return false;
        }
        numel *= dim;
        e->shape[i++] = (int64_t)dim;
    }
    e->numel = (int64_t)numel;
    if (cJSON_GetArraySize(of) != 2 || !json_uint(cJSON_GetArrayItem(of, 0), &e->begin) ||
        !json_uint(cJSON_GetArrayItem(of, 1), &e->end)) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: tensor \"%s\": data_offsets is not two whole numbers",
                     fn, path, name);
        return false;
    }
    if (e->end < e->begin || e->end > buf_bytes) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: tensor \"%s\": data_offsets [%llu, %llu] outside the "
                     "data buffer of %llu bytes", fn, path, name, (unsigned long long)e->begin,
                     (unsigned long long)e->end, (unsigned long long)buf_bytes);
        return false;
    }
    if (e->end - e->begin != numel * esize) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: tensor \"%s\": data_offsets [%llu, %llu] span %llu "
                     "bytes but %s of %llu elements needs %llu", fn, path, name,
                     (unsigned long long)e->begin, (unsigned long long)e->end,
                     (unsigned long long)(e->end - e->begin), d, (unsigned long long)numel,
                     (unsigned long long)(numel * esize));
        return false;
    }
    return true;
}

/* Reads entry e's bytes (at file offset base + begin) into a new float tensor. */
static dc_tensor *read_tensor(const char *fn, const char *path, FILE *f, uint64_t base,
                              const st_entry *e) {
    dc_tensor *t = dc_tensor_zeros(e->ndim, e->shape);
    if (!t) return NULL;
    dc_tensor_set_name(t, e->name);
    size_t bytes = (size_t)(e->end - e->begin);
    if (bytes == 0) return t;
    void *dst = t->data, *tmp = NULL;
    if (e->dtype != ST_F32) {
        tmp = dc_malloc(bytes);
        if (!tmp) {
            dc_tensor_free(t);
            dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory for tensor \"%s\"", fn, path, e->name);
            return NULL;
        }
        dst = tmp;
    }
    if (fseeko(f, (off_t)(base + e->begin), SEEK_SET) != 0 || fread(dst, 1, bytes, f) != bytes) {
        dc_free(tmp);
        dc_tensor_free(t);
        dc_set_error(DC_ERR_IO, "%s: %s: cannot read tensor \"%s\" at byte offset %llu", fn, path,
                     e->name, (unsigned long long)(base + e->begin));
        return NULL;
    }
    const unsigned char *p = tmp;
    for (int64_t i = 0; tmp && i < e->numel; i++) {
        if (e->dtype == ST_F16) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            t->data[i] = half_to_float(h);
        } else if (e->dtype == ST_BF16) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t u = (uint32_t)h << 16;
            memcpy(&t->data[i], &u, 4);
        } else {
            double v;
            memcpy(&v, p + 8 * i, 8);
            t->data[i] = (float)v;
        }
    }
    dc_free(tmp);
    return t;
}

/* A safetensors file starts with a small little-endian length, whose high
 * bytes are zero; 8 bytes of printable text mean some other file. */
static bool starts_with_text(const unsigned char lb[8]) {
    for (int i = 0; i < 8; i++)
        if (!(lb[i] >= 0x20 && lb[i] < 0x7f) && lb[i] != '\n' && lb[i] != '\r' && lb[i] != '\t' &&
            lb[i] < 0x80)
            return false;
    return true;
}

/* The message for a text file given as a model: an INI model description
 * (a "[section]" line among its first lines) is what `deepc train` reads. */
static void not_safetensors_text(const char *fn, const char *path, FILE *f) {
    char buf[4097];
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    bool ini = false;
    for (char *line = buf; line && *line && !ini;) {
        while (*line == ' ' || *line == '\t') line++;
        char *nl = strchr(line, '\n');
        ini = *line == '[' && memchr(line, ']', nl ? (size_t)(nl - line) : strlen(line));
        line = nl ? nl + 1 : NULL;
    }
    if (ini)
        dc_set_error(DC_ERR_FORMAT,
                     "%s: %s is not a safetensors model file: it is text that looks like a model "
                     "description (INI) for `deepc train`; train it first (deepc train %s) and "
                     "give the model.safetensors it writes",
                     fn, path, path);
    else
        dc_set_error(DC_ERR_FORMAT,
                     "%s: %s is not a safetensors model file: it starts with text, not the 8-byte "
                     "header length",
                     fn, path);
}

dc_safetensors *dc_safetensors_load(const char *path) {
    const char *fn = "dc_safetensors_load";
    FILE *f = dc_fopen_read(fn, path);
    if (!f) return NULL;
    char *header = NULL;
    cJSON *root = NULL;
    st_entry *ents = NULL;
    dc_safetensors *st = NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        dc_set_error(DC_ERR_IO, "%s: %s is not a regular file", fn, path);
        goto fail;
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    unsigned char lb[8];
    if (fsize < 8 || fread(lb, 1, 8, f) != 8) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: file of %llu bytes is shorter than the 8-byte header "
                     "length", fn, path, (unsigned long long)fsize);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)lb[i] << (8 * i);
    if (hlen > ST_MAX_HEADER && starts_with_text(lb)) {
        not_safetensors_text(fn, path, f);
        goto fail;
    }
    if (hlen > ST_MAX_HEADER) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: header length %llu at byte offset 0 is absurd "
                     "(more than 100 MB)", fn, path, (unsigned long long)hlen);
        goto fail;
    }
    if (hlen > fsize - 8) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: truncated: header length %llu at byte offset 0 but "
                     "only %llu bytes follow", fn, path, (unsigned long long)hlen,
                     (unsigned long long)(fsize - 8));
        goto fail;
    }
    header = dc_malloc(hlen + 1);
    if (!header) {
        dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory for the header", fn, path);
        goto fail;
    }
    if (fread(header, 1, hlen, f) != hlen) {
        dc_set_error(DC_ERR_IO, "%s: %s: cannot read the %llu-byte header", fn, path,
                     (unsigned long long)hlen);
        goto fail;
    }
    header[hlen] = '\0';
    root = cJSON_ParseWithLength(header, hlen);
    if (!root || !cJSON_IsObject(root)) {
        const char *ep = root ? NULL : cJSON_GetErrorPtr();
        long long at = ep && ep >= header && ep <= header + hlen ? (long long)(ep - header) + 8 : -1;
        if (at >= 0)
            dc_set_error(DC_ERR_FORMAT, "%s: %s: invalid JSON header near byte offset %lld", fn,
                         path, at);
        else
            dc_set_error(DC_ERR_FORMAT, "%s: %s: the header is not a JSON object", fn, path);
        goto fail;
    }
    uint64_t base = 8 + hlen, buf_bytes = fsize - base;
    int n_items = cJSON_GetArraySize(root);
    st = dc_calloc(1, sizeof *st);
    ents = dc_calloc((size_t)n_items + 1, sizeof *ents);
    if (!st || !ents) {
        dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory", fn, path);
        goto fail;
    }
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) {
                dc_set_error(DC_ERR_FORMAT, "%s: %s: __metadata__ is not an object", fn, path);
                goto fail;
            }
            if (st->meta_keys) {
                dc_set_error(DC_ERR_FORMAT, "%s: %s: __metadata__ appears twice", fn, path);
                goto fail;
            }
            int nm = cJSON_GetArraySize(it);
            st->meta_keys = dc_calloc((size_t)nm + 1, sizeof(char *));
            st->meta_values = dc_calloc((size_t)nm + 1, sizeof(char *));
            if (!st->meta_keys || !st->meta_values) {
                dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory", fn, path);
                goto fail;
            }
            const cJSON *m;
            cJSON_ArrayForEach(m, it) {
                if (!cJSON_IsString(m)) {
                    dc_set_error(DC_ERR_FORMAT, "%s: %s: metadata \"%s\" is not a string", fn,
                                 path, m->string);
                    goto fail;
                }
                st->meta_keys[st->n_meta] = st_strdup(m->string);
                st->meta_values[st->n_meta] = st_strdup(m->valuestring);
                st->n_meta++;
                if (!st->meta_keys[st->n_meta - 1] || !st->meta_values[st->n_meta - 1]) {
                    dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory", fn, path);
                    goto fail;
                }
            }
            continue;
        }
        if (!parse_entry(fn, path, it, buf_bytes, &ents[n])) goto fail;
        n++;
    }
    /* Duplicate names and overlapping ranges, each found by sorting a copy. */
    st_entry *sorted = dc_malloc(((size_t)n + 1) * sizeof *sorted);
    if (!sorted) {
        dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory", fn, path);
        goto fail;
    }
    memcpy(sorted, ents, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_name);
    for (int i = 1; i < n; i++)
        if (strcmp(sorted[i].name, sorted[i - 1].name) == 0) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s: tensor \"%s\" appears twice", fn, path,
                         sorted[i].name);
            dc_free(sorted);
            goto fail;
        }
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_begin);
    for (int i = 1; i < n; i++)
        if (sorted[i].begin < sorted[i - 1].end && sorted[i].begin < sorted[i].end) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s: tensors \"%s\" [%llu, %llu] and \"%s\" [%llu, "
                         "%llu] overlap in the data buffer", fn, path, sorted[i - 1].name,
                         (unsigned long long)sorted[i - 1].begin,
                         (unsigned long long)sorted[i - 1].end, sorted[i].name,
                         (unsigned long long)sorted[i].begin, (unsigned long long)sorted[i].end);
            dc_free(sorted);
            goto fail;
        }
    dc_free(sorted);
    st->names = dc_calloc((size_t)n + 1, sizeof(char *));
    st->tensors = dc_calloc((size_t)n + 1, sizeof(dc_tensor *));
    if (!st->names || !st->tensors) {
        dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory", fn, path);
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        st->n = i + 1;
        st->names[i] = st_strdup(ents[i].name);
        if (!st->names[i]) {
            dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory", fn, path);
            goto fail;
        }
        st->tensors[i] = read_tensor(fn, path, f, base, &ents[i]);
        if (!st->tensors[i]) goto fail;
    }
    dc_free(ents);
    cJSON_Delete(root);
    dc_free(header);
    fclose(f);
    return st;
fail:
    dc_safetensors_free(st);
    dc_free(ents);
    cJSON_Delete(root);
    dc_free(header);
    fclose(f);
    return NULL;
}

int dc_safetensors_count(const dc_safetensors *st) { return st ? st->n : 0; }

const char *dc_safetensors_name(const dc_safetensors *st, int i) {
    return st && i >= 0 && i < st->n ? st->names[i] : NULL;
}

const dc_tensor *dc_safetensors_get(const dc_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->names[i], name) == 0) return st->tensors[i];
    return NULL;
}

const char *dc_safetensors_metadata(const dc_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}
