/* keras_file.c — the containers of a Keras 3 .keras archive: the zip (libzip), read
 * from memory with every entry's name and size checked, and the HDF5 weights file
 * (libhdf5), opened and created in memory so nothing is written beside the output. */
#include "keras.h"
#include <hdf5.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
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

struct dc_h5 {
    hid_t file;
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

/* An empty handle named for messages, HDF5's own printing silenced. */
static dc_h5 *h5_new(const char *fn, const char *name) {
    h5_quiet();
    dc_h5 *h = dc_calloc(1, sizeof *h);
    if (!h) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    h->fn = fn;
    snprintf(h->name, sizeof h->name, "%s", name);
    return h;
}

/* ---- vetting an untrusted image in a child process ----
 * libhdf5 1.10 reads past a file image on some corrupt lengths (SIGSEGV in
 * H5F__accum_read; tests/fuzz/README.md). A child opens the image and walks
 * every object, reading every dataset, as the import will; when the child dies
 * the parent refuses the file and never hands those bytes to libhdf5. */
#define VET_SECONDS 30
#define VET_DONE 77 /* the child's exit status when it walked the whole image */

static hid_t open_image(const void *data, size_t len) {
    char uname[300];
    h5_unique_name(uname, sizeof uname, "deepc-read");
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 &&
        H5Pset_file_image(fapl, (void *)(uintptr_t)data, len) >= 0)
        file = H5Fopen(uname, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    return file;
}

/* Reads each dataset of at most *cap bytes (compressed data may inflate). */
static herr_t vet_object(hid_t obj, const char *name, const H5O_info_t *info, void *cap) {
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t ds = H5Dopen2(obj, name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (n > 0 && (size_t)n <= *(size_t *)cap / sizeof(double)) {
        double *buf = malloc((size_t)n * sizeof *buf);
        if (buf) H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        free(buf);
    }
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return 0;
}

static void vet_child(const void *data, size_t len) {
    /* the host's handlers must not turn a fault into a clean exit */
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof faults / sizeof *faults; i++) signal(faults[i], SIG_DFL);
    h5_quiet();
    hid_t file = open_image(data, len);
    size_t cap = len * 64 + (1u << 20);
    if (file >= 0) {
        H5Ovisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, vet_object, &cap);
        H5Fclose(file);
    }
    _exit(VET_DONE);
}

/* DC_OK when the child walked the image and exited, else an error naming it. */
static dc_status vet_image(const char *fn, const char *name, const void *data, size_t len) {
    pid_t pid = fork();
    if (pid < 0) return DC_OK; /* no process to spare: read it here, as before */
    if (pid == 0) vet_child(data, len);
    int status = 0;
    struct timespec tick = {0, 2000000};
    pid_t got = 0;
    for (long waited = 0; (got = waitpid(pid, &status, WNOHANG)) == 0; waited++) {
        if (waited > VET_SECONDS * 500L) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return dc_set_error(DC_ERR_FORMAT, "%s: %s: libhdf5 spent over %d s walking it "
                                "(corrupt or hostile; refused)", fn, name, VET_SECONDS);
        }
        nanosleep(&tick, NULL);
    }
    if (got == pid && WIFEXITED(status) && WEXITSTATUS(status) == VET_DONE) return DC_OK;
    if (got == pid && WIFSIGNALED(status))
        return dc_set_error(DC_ERR_FORMAT, "%s: %s: libhdf5 crashed reading it (signal %d in a "
                            "vetting process): corrupt or hostile, refused", fn, name,
                            WTERMSIG(status));
    return dc_set_error(DC_ERR_FORMAT, "%s: %s: the process vetting it ended early (status %d): "
                        "corrupt or hostile, refused", fn, name, status);
}

dc_h5 *dc_h5_open_image(const char *fn, const char *name, const void *data, size_t len) {
    dc_h5 *h = h5_new(fn, name);
    if (!h) return NULL;
    /* the signature first: HDF5 would search the whole image for it */
    static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (len < 64 || memcmp(data, sig, sizeof sig)) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s is not an HDF5 file (no signature at its start)", fn,
                     name);
        dc_free(h);
        return NULL;
    }
    if (vet_image(fn, name, data, len) != DC_OK) {
        dc_free(h);
        return NULL;
    }
    h->file = open_image(data, len);
    if (h->file < 0) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: HDF5 cannot open it (truncated or corrupt)", fn, name);
        dc_free(h);
        return NULL;
    }
    return h;
}

dc_h5 *dc_h5_create(const char *fn, const char *name) {
    dc_h5 *h = h5_new(fn, name);
    if (!h) return NULL;
    char uname[300];
    h5_unique_name(uname, sizeof uname, "deepc-write");
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    h->file = -1;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0)
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
    H5Fclose(h->file);
    dc_free(h);
}

/* Whether every prefix of path names a link (H5Lexists needs its parents). */
static bool h5_exists(hid_t file, const char *path) {
    char buf[512];
    size_t n = strlen(path);
    if (n >= sizeof buf) return false;
    memcpy(buf, path, n + 1);
    for (size_t i = 0; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        htri_t e = H5Lexists(file, buf, H5P_DEFAULT);
        buf[i] = c;
        if (e <= 0) return false;
    }
    return true;
}

int dc_h5_count(dc_h5 *h, const char *path) {
    if (!h5_exists(h->file, path)) return 0;
    H5O_info_t info;
    if (H5Oget_info_by_name(h->file, path, &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_GROUP) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: %s is not a group", h->fn, h->name, path);
        return -1;
    }
    hid_t g = H5Gopen2(h->file, path, H5P_DEFAULT);
    H5G_info_t gi;
    herr_t e = g >= 0 ? H5Gget_info(g, &gi) : -1;
    if (g >= 0) H5Gclose(g);
    if (e < 0 || gi.nlinks > 1024) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: group %s cannot be read", h->fn, h->name, path);
        return -1;
    }
    return (int)gi.nlinks;
}

dc_status dc_h5_read(dc_h5 *h, const char *path, const char *what, dc_tensor *t) {
    if (!h5_exists(h->file, path))
        return dc_set_error(DC_ERR_FORMAT, "%s: %s has no dataset %s (for %s)", h->fn, h->name,
                            path, what);
    hid_t ds = H5Dopen2(h->file, path, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hid_t ty = ds >= 0 ? H5Dget_type(ds) : -1;
    dc_status s = DC_OK;
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[DC_MAX_DIMS] = {0};
    if (ds < 0 || sp < 0 || ty < 0 || nd < 0)
        s = dc_set_error(DC_ERR_FORMAT, "%s: %s: %s is not a readable dataset", h->fn, h->name, path);
    else if (H5Tget_class(ty) != H5T_FLOAT)
        s = dc_set_error(DC_ERR_FORMAT, "%s: %s: %s does not hold floats", h->fn, h->name, path);
    else if (nd > DC_MAX_DIMS || H5Sget_simple_extent_dims(sp, dims, NULL) != nd)
        s = dc_set_error(DC_ERR_SHAPE, "%s: %s: %s has %d dims, %s has %d", h->fn, h->name, path,
                         nd, what, t->ndim);
    bool same = s == DC_OK && nd == t->ndim;
    for (int d = 0; same && d < nd; d++) same = dims[d] == (hsize_t)t->shape[d];
    if (s == DC_OK && !same) {
        char a[128] = "(", b[128];
        for (int d = 0; d < nd; d++)
            snprintf(a + strlen(a), sizeof a - strlen(a), "%s%llu", d ? "," : "",
                     (unsigned long long)dims[d]);
        strncat(a, ")", sizeof a - strlen(a) - 1);
        s = dc_set_error(DC_ERR_SHAPE, "%s: %s: %s is %s, but %s is %s in the config", h->fn,
                         h->name, path, a, what, dc_shape_string(t->ndim, t->shape, b, sizeof b));
    }
    if (s == DC_OK && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0)
        s = dc_set_error(DC_ERR_FORMAT, "%s: %s: the data of %s cannot be read (truncated or corrupt)",
                         h->fn, h->name, path);
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return s;
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
    if (!h5_exists(h->file, path))
        return dc_set_error(DC_ERR_FORMAT, "%s: %s has no dataset %s", h->fn, h->name, path);
    hid_t ds = H5Dopen2(h->file, path, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hid_t ty = ds >= 0 ? H5Dget_type(ds) : -1;
    H5T_class_t cls = ty >= 0 ? H5Tget_class(ty) : H5T_NO_CLASS;
    dc_status s = DC_OK;
    if (sp < 0 || H5Sget_simple_extent_type(sp) != H5S_SCALAR ||
        (cls != H5T_INTEGER && cls != H5T_FLOAT) ||
        H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        s = dc_set_error(DC_ERR_FORMAT, "%s: %s: %s is not a readable number", h->fn, h->name, path);
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    return s;
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
