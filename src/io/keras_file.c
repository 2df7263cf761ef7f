/* keras_file.c — the containers of a Keras 3 .keras archive: the zip (libzip), read
 * from memory with every entry's name and size checked, and the HDF5 weights file, read
 * by h5_read.c (never libhdf5: the bytes are untrusted) and written by libhdf5 in memory. */
#include "keras.h"
#include "h5_read.h"
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define CONFIG_NAME "config.json"
#define METADATA_NAME "metadata.json"
#define WEIGHTS_NAME "model.weights.h5"
#define MAX_ENTRIES 4096
#define MAX_JSON_BYTES (64u << 20)           /* config.json, metadata.json */
#define MAX_WEIGHTS_BYTES ((uint64_t)8 << 30) /* model.weights.h5 */
/* A part that inflates more than this many times its compressed size, beyond
 * the first MiB, is taken for a zip bomb (float weights compress 1.1 to 10 times). */
#define MAX_RATIO 200u

/* ---- zip: reading ---- */

/* A name that would land outside a folder it was unpacked into. */
static bool hostile_name(const char *s) {
    if (s[0] == '/' || s[0] == '\\' || (s[0] && s[1] == ':')) return true;
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.') return true;
        p += n;
        if (*p) p++;
    }
    return false;
}

/* Reads entry i (size bytes as its header says, at most limit) into a new
 * buffer with a NUL after it; stops at size+1 bytes, so a lying header cannot
 * make it read on. */
static dc_status read_entry(const char *fn, const char *name, zip_t *za, zip_uint64_t i,
                            const zip_stat_t *st, uint64_t limit, uint8_t **out, size_t *len) {
    if (!(st->valid & ZIP_STAT_SIZE) || !(st->valid & ZIP_STAT_COMP_SIZE))
        return dc_set_error(DC_ERR_FORMAT, "%s: '%s': %s: its size is not recorded", fn, name,
                            st->name);
    if (st->size > limit)
        return dc_set_error(DC_ERR_FORMAT, "%s: '%s': %s: %llu bytes is more than the %llu allowed",
                            fn, name, st->name, (unsigned long long)st->size,
                            (unsigned long long)limit);
    if (st->size > (1u << 20) && st->size / MAX_RATIO > st->comp_size)
        return dc_set_error(DC_ERR_FORMAT,
                            "%s: '%s': %s: %llu bytes from %llu compressed (a zip bomb?)", fn,
                            name, st->name, (unsigned long long)st->size,
                            (unsigned long long)st->comp_size);
    uint8_t *buf = dc_malloc((size_t)st->size + 1);
    if (!buf) return dc_set_error(DC_ERR_NOMEM, "%s: '%s': %s: out of memory", fn, name, st->name);
    zip_file_t *zf = zip_fopen_index(za, i, 0);
    zip_int64_t got = zf ? zip_fread(zf, buf, st->size) : -1;
    char extra;
    zip_int64_t more = got == (zip_int64_t)st->size ? zip_fread(zf, &extra, 1) : 0;
    const char *why = zf ? zip_file_strerror(zf) : zip_strerror(za);
    dc_status s = DC_OK;
    if (got != (zip_int64_t)st->size || more != 0)
        s = dc_set_error(DC_ERR_FORMAT, "%s: '%s': %s: cannot read its %llu bytes (%s)", fn, name,
                         st->name, (unsigned long long)st->size,
                         got < 0 || more < 0 ? why : "the data disagrees with its size");
    if (zf) zip_fclose(zf);
    if (s != DC_OK) {
        dc_free(buf);
        return s;
    }
    buf[st->size] = 0;
    *out = buf;
    *len = (size_t)st->size;
    return DC_OK;
}

static dc_status scan_entries(const char *fn, const char *name, zip_t *za, dc_keras_archive *out) {
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0 || n > MAX_ENTRIES)
        return dc_set_error(DC_ERR_FORMAT, "%s: '%s': %lld entries (at most %d)", fn, name,
                            (long long)n, MAX_ENTRIES);
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
            return dc_set_error(DC_ERR_FORMAT, "%s: '%s': entry %lld: %s", fn, name, (long long)i,
                                zip_strerror(za));
        if (hostile_name(st.name))
            return dc_set_error(DC_ERR_FORMAT,
                                "%s: '%s': entry '%s' has an absolute or '..' path (refused)", fn,
                                name, st.name);
        uint8_t **dst = NULL;
        uint64_t limit = MAX_JSON_BYTES;
        size_t len = 0;
        if (!strcmp(st.name, CONFIG_NAME)) dst = (uint8_t **)&out->config;
        else if (!strcmp(st.name, METADATA_NAME)) dst = (uint8_t **)&out->metadata;
        else if (!strcmp(st.name, WEIGHTS_NAME)) dst = &out->weights, limit = MAX_WEIGHTS_BYTES;
        if (!dst) continue; /* assets/ and the like: deepc has no use for them */
        if (*dst)
            return dc_set_error(DC_ERR_FORMAT, "%s: '%s': %s appears twice", fn, name, st.name);
        if (read_entry(fn, name, za, (zip_uint64_t)i, &st, limit, dst, &len) != DC_OK)
            return dc_last_status();
        if (dst == &out->weights) out->weights_len = len;
        else if (strlen((const char *)*dst) != len)
            return dc_set_error(DC_ERR_FORMAT, "%s: '%s': %s holds a NUL byte (not JSON)", fn,
                                name, st.name);
    }
    if (!out->config)
        return dc_set_error(DC_ERR_FORMAT, "%s: '%s' has no %s (not a Keras 3 .keras archive)", fn,
                            name, CONFIG_NAME);
    if (!out->weights)
        return dc_set_error(DC_ERR_FORMAT, "%s: '%s' has no %s", fn, name, WEIGHTS_NAME);
    return DC_OK;
}

dc_status dc_keras_archive_read(const char *fn, const char *name, const void *data, size_t len,
                                dc_keras_archive *out) {
    memset(out, 0, sizeof *out);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    if (!za) {
        dc_status s = dc_set_error(DC_ERR_FORMAT, "%s: '%s' is not a zip archive (.keras): %s",
                                   fn, name, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        if (src) zip_source_free(src);
        return s;
    }
    zip_error_fini(&ze);
    dc_status s = scan_entries(fn, name, za, out);
    zip_discard(za); /* frees src too */
    if (s != DC_OK) dc_keras_archive_free(out);
    return s;
}

void dc_keras_archive_free(dc_keras_archive *a) {
    if (!a) return;
    dc_free(a->config);
    dc_free(a->metadata);
    dc_free(a->weights);
    memset(a, 0, sizeof *a);
}

/* ---- zip: writing ---- */

static bool add_part(zip_t *za, const char *entry, const void *p, size_t n) {
    zip_source_t *s = zip_source_buffer(za, p, n, 0);
    if (!s) return false;
    if (zip_file_add(za, entry, s, ZIP_FL_ENC_UTF_8) < 0) {
        zip_source_free(s);
        return false;
    }
    return true;
}

dc_status dc_keras_archive_write(const char *fn, const char *path, const char *config,
                                 const char *metadata, const void *weights, size_t weights_len) {
    dc_atomic_file af; /* libzip writes the tmp; the commit puts it in place whole */
    if (dc_atomic_begin(&af, fn, path) != DC_OK) return dc_last_status();
    int err = 0;
    zip_t *za = zip_open(af.tmp, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        dc_status s = dc_set_error(DC_ERR_IO, "%s: cannot write '%s': %s", fn, path,
                                   zip_error_strerror(&ze));
        zip_error_fini(&ze);
        dc_atomic_abort(&af);
        return s;
    }
    bool ok = add_part(za, METADATA_NAME, metadata, strlen(metadata)) &&
              add_part(za, CONFIG_NAME, config, strlen(config)) &&
              add_part(za, WEIGHTS_NAME, weights, weights_len);
    if (!ok || zip_close(za) != 0) {
        dc_status s = dc_set_error(DC_ERR_IO, "%s: cannot write '%s': %s", fn, path, zip_strerror(za));
        zip_discard(za);
        dc_atomic_abort(&af);
        return s;
    }
    return dc_atomic_commit(&af);
}

/* ---- HDF5 in memory ---- */

/* A file being written (libhdf5, whose bytes deepc makes) or read (h5_read.c,
 * whose bytes are untrusted): exactly one of file and r is in use. */
struct dc_h5 {
    hid_t file;
    dc_h5r *r;
    const char *fn;
    char name[256];
};

/* HDF5 prints its error stack by default; the library never prints. */
static void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Core-driver files need distinct names within the process. */
static void h5_unique_name(char *buf, size_t n, const char *base) {
    static unsigned long counter;
#pragma omp atomic
    counter++;
    snprintf(buf, n, "%s#%lu", base, counter);
}

/* An empty handle named for messages. */
static dc_h5 *h5_new(const char *fn, const char *name) {
    dc_h5 *h = dc_calloc(1, sizeof *h);
    if (!h) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    h->fn = fn;
    snprintf(h->name, sizeof h->name, "%s", name);
    return h;
}

dc_h5 *dc_h5_open_image(const char *fn, const char *name, const void *data, size_t len) {
    dc_h5 *h = h5_new(fn, name);
    if (!h) return NULL;
    h->file = -1;
    h->r = dc_h5r_open(fn, name, data, len);
    if (!h->r) {
        dc_free(h);
        return NULL;
    }
    return h;
}

dc_h5 *dc_h5_create(const char *fn, const char *name) {
    h5_quiet();
    dc_h5 *h = h5_new(fn, name);
    if (!h) return NULL;
    char uname[300];
    h5_unique_name(uname, sizeof uname, "deepc-write");
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    h->file = -1;
    /* the earliest format (superblock 0, v1 object headers, symbol-table groups): the
     * subset h5_read.c reads back, as h5py writes by default */
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 &&
        H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18) >= 0)
        h->file = H5Fcreate(uname, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (h->file < 0) {
        dc_set_error(DC_ERR_IO, "%s: %s: HDF5 cannot create it in memory", fn, name);
        dc_free(h);
        return NULL;
    }
    return h;
}

void dc_h5_close(dc_h5 *h) {
    if (!h) return;
    if (h->r) dc_h5r_close(h->r);
    else H5Fclose(h->file);
    dc_free(h);
}

/* Finds path in a file opened for reading (1, 0 absent, -1 error). */
static int h5_find(dc_h5 *h, const char *path, dc_h5r_object *o) {
    if (h->r) return dc_h5r_find(h->r, path, o);
    dc_set_error(DC_ERR_ARG, "%s: %s: created for writing, not reading", h->fn, h->name);
    return -1;
}

int dc_h5_count(dc_h5 *h, const char *path) {
    dc_h5r_object o;
    int found = h5_find(h, path, &o);
    if (found <= 0) return found;
    if (o.kind != DC_H5R_GROUP) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: %s is not a group", h->fn, h->name, path);
        return -1;
    }
    return dc_h5r_count(h->r, path, &o, 1024);
}

/* The dataset at path, or an error naming what it was wanted for. */
static dc_status find_dataset(dc_h5 *h, const char *path, const char *what, dc_h5r_dataset *d) {
    dc_h5r_object o;
    int found = h5_find(h, path, &o);
    if (found < 0) return dc_last_status();
    if (found == 0)
        return dc_set_error(DC_ERR_FORMAT, "%s: %s has no dataset %s%s%s%s", h->fn, h->name, path,
                            what ? " (for " : "", what ? what : "", what ? ")" : "");
    if (o.kind != DC_H5R_DATASET)
        return dc_set_error(DC_ERR_FORMAT, "%s: %s: %s is not a readable dataset", h->fn, h->name,
                            path);
    *d = o.ds;
    return DC_OK;
}

dc_status dc_h5_read(dc_h5 *h, const char *path, const char *what, dc_tensor *t) {
    dc_h5r_dataset d;
    if (find_dataset(h, path, what, &d) != DC_OK) return dc_last_status();
    if (!d.is_float)
        return dc_set_error(DC_ERR_FORMAT, "%s: %s: %s does not hold floats", h->fn, h->name, path);
    bool same = d.rank == t->ndim;
    for (int i = 0; same && i < d.rank; i++) same = d.dims[i] == (uint64_t)t->shape[i];
    if (!same) {
        char a[160] = "(", b[128];
        for (int i = 0; i < d.rank && strlen(a) < 120; i++)
            snprintf(a + strlen(a), sizeof a - strlen(a), "%s%llu", i ? "," : "",
                     (unsigned long long)d.dims[i]);
        strncat(a, ")", sizeof a - strlen(a) - 1);
        return dc_set_error(DC_ERR_SHAPE, "%s: %s: %s is %s, but %s is %s in the config", h->fn,
                            h->name, path, a, what, dc_shape_string(t->ndim, t->shape, b, sizeof b));
    }
    dc_h5r_floats(&d, t->data);
    return DC_OK;
}

static herr_t set_name_attr(hid_t obj, const char *value) {
    hid_t ty = H5Tcopy(H5T_C_S1);
    H5Tset_size(ty, H5T_VARIABLE);
    H5Tset_cset(ty, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(obj, "name", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = at >= 0 ? H5Awrite(at, ty, &value) : -1;
    if (at >= 0) H5Aclose(at);
    H5Sclose(sp);
    H5Tclose(ty);
    return e;
}

dc_status dc_h5_group(dc_h5 *h, const char *path, const char *attr_name) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(h->file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    herr_t e = g >= 0 && attr_name ? set_name_attr(g, attr_name) : 0;
    if (g >= 0) H5Gclose(g);
    if (g < 0 || e < 0)
        return dc_set_error(DC_ERR_IO, "%s: %s: cannot create group %s", h->fn, h->name, path);
    return DC_OK;
}

dc_status dc_h5_write(dc_h5 *h, const char *path, const dc_tensor *t) {
    hsize_t dims[DC_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
    hid_t sp = t->ndim ? H5Screate_simple(t->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t ds = sp >= 0 ? H5Dcreate2(h->file, path, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT)
                       : -1;
    herr_t e = ds >= 0 ? H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) : -1;
    if (ds >= 0) H5Dclose(ds);
    if (sp >= 0) H5Sclose(sp);
    if (e < 0) return dc_set_error(DC_ERR_IO, "%s: %s: cannot write dataset %s", h->fn, h->name, path);
    return DC_OK;
}

dc_status dc_h5_write_scalar(dc_h5 *h, const char *path, double v, bool is_int) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t ty = is_int ? H5T_STD_I64LE : H5T_IEEE_F32LE;
    hid_t ds = sp >= 0 ? H5Dcreate2(h->file, path, ty, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int64_t i = (int64_t)v;
    float f = (float)v;
    herr_t e = ds >= 0 ? H5Dwrite(ds, is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT, H5S_ALL,
                                  H5S_ALL, H5P_DEFAULT, is_int ? (void *)&i : (void *)&f)
                       : -1;
    if (ds >= 0) H5Dclose(ds);
    if (sp >= 0) H5Sclose(sp);
    if (e < 0) return dc_set_error(DC_ERR_IO, "%s: %s: cannot write dataset %s", h->fn, h->name, path);
    return DC_OK;
}

dc_status dc_h5_read_scalar(dc_h5 *h, const char *path, double *v) {
    dc_h5r_dataset d;
    if (find_dataset(h, path, NULL, &d) != DC_OK) return dc_last_status();
    if (d.rank != 0)
        return dc_set_error(DC_ERR_FORMAT, "%s: %s: %s is not a readable number (not a scalar)",
                            h->fn, h->name, path);
    *v = dc_h5r_value(&d, 0);
    return DC_OK;
}

dc_status dc_h5_image(dc_h5 *h, uint8_t **data, size_t *len) {
    if (H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0)
        return dc_set_error(DC_ERR_IO, "%s: %s: cannot flush", h->fn, h->name);
    ssize_t n = H5Fget_file_image(h->file, NULL, 0);
    uint8_t *buf = n > 0 ? dc_malloc((size_t)n) : NULL;
    if (!buf || H5Fget_file_image(h->file, buf, (size_t)n) != n) {
        dc_free(buf);
        return dc_set_error(n > 0 ? DC_ERR_NOMEM : DC_ERR_IO, "%s: %s: cannot take its bytes",
                            h->fn, h->name);
    }
    *data = buf;
    *len = (size_t)n;
    return DC_OK;
}
