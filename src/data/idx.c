/* idx.c — IDX files (MNIST, Fashion-MNIST), plain or gzipped, and the named
 * datasets found on disk. Every size in a header is checked against the bytes
 * actually present before anything large is allocated. */
#include "dataset.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* The most a deflate stream can expand (about 1032:1), so a gzip file of c
 * bytes can never hold more than this many: a hostile header claiming more is
 * rejected before allocating. */
static uint64_t gz_max_expansion(uint64_t compressed) { return compressed * 1040u + 4096u; }

typedef struct {
    int ndim;
    uint32_t dims[4];
    uint8_t *bytes;   /* dc_malloc'd data, product(dims) bytes */
    uint64_t n_bytes;
} idx_file;

/* Reads len bytes; returns the count actually read (less at EOF) or -1 on a
 * decompression error. */
static int64_t gz_read_all(gzFile gz, void *buf, uint64_t len) {
    uint64_t got = 0;
    while (got < len) {
        uint64_t chunk = DC_MIN(len - got, (uint64_t)1 << 30);
        int r = gzread(gz, (char *)buf + got, (unsigned)chunk);
        if (r < 0) return -1;
        if (r == 0) break;
        got += (uint64_t)r;
    }
    return (int64_t)got;
}

static dc_status gz_fail(const char *fn, const char *path, gzFile gz, const char *what) {
    int zerr = 0;
    const char *msg = gzerror(gz, &zerr);
    return dc_set_error(DC_ERR_FORMAT, "%s: %s: corrupt gzip data while reading %s: %s", fn, path,
                        what, msg ? msg : "unknown error");
}

/* Loads one IDX file of unsigned bytes with `want_ndim` dims. */
static dc_status idx_read(const char *fn, const char *path, int want_ndim, idx_file *out) {
    memset(out, 0, sizeof *out);
    if (!path) return dc_set_error(DC_ERR_ARG, "%s: path is NULL", fn);
    struct stat st;
    if (stat(path, &st) != 0)
        return dc_set_error(DC_ERR_IO, "%s: cannot open %s: %s", fn, path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return dc_set_error(DC_ERR_IO, "%s: %s is a directory, not a file", fn, path);
    FILE *f = fopen(path, "rb");
    if (!f) return dc_set_error(DC_ERR_IO, "%s: cannot open %s: %s", fn, path, strerror(errno));
    unsigned char sig[2] = {0, 0};
    size_t nsig = fread(sig, 1, 2, f);
    fclose(f);
    bool is_gz = nsig == 2 && sig[0] == 0x1f && sig[1] == 0x8b;
    uint64_t fsize = (uint64_t)st.st_size;
    uint64_t max_bytes = is_gz ? gz_max_expansion(fsize) : fsize;

    /* gzread passes plain files through unchanged, so one reader serves both. */
    gzFile gz = gzopen(path, "rb");
    if (!gz) return dc_set_error(DC_ERR_IO, "%s: cannot open %s: %s", fn, path, strerror(errno));
    gzbuffer(gz, fsize < (1u << 18) ? 8192u : 1u << 18); /* small files: no 768 KB of buffers */
    dc_status s = DC_OK;
    unsigned char head[4 + 4 * 4];
    int64_t r = gz_read_all(gz, head, 4);
    if (r < 0) {
        s = gz_fail(fn, path, gz, "the header");
        goto done;
    }
    if (r < 4) {
        s = dc_set_error(DC_ERR_FORMAT, "%s: %s: truncated: %lld of 4 magic bytes", fn, path,
                         (long long)r);
        goto done;
    }
    uint32_t magic = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    uint32_t want = 0x800u | (uint32_t)want_ndim;
    if (magic != want) {
        s = dc_set_error(DC_ERR_FORMAT,
                         "%s: %s: bad magic 0x%08x at byte offset 0 (expected 0x%08x, unsigned "
                         "bytes with %d dims)",
                         fn, path, magic, want, want_ndim);
        goto done;
    }
    r = gz_read_all(gz, head + 4, 4u * (unsigned)want_ndim);
    if (r < 0) {
        s = gz_fail(fn, path, gz, "the header");
        goto done;
    }
    if (r < 4 * want_ndim) {
        s = dc_set_error(DC_ERR_FORMAT, "%s: %s: truncated header: %lld of %d dimension bytes", fn,
                         path, (long long)r, 4 * want_ndim);
        goto done;
    }
    uint64_t total = 1;
    bool overflow = false;
    out->ndim = want_ndim;
    for (int i = 0; i < want_ndim; i++) {
        const unsigned char *p = head + 4 + 4 * i;
        out->dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (out->dims[i] != 0 && total > UINT64_MAX / out->dims[i]) overflow = true;
        else total *= out->dims[i];
    }
    if (overflow || total > (uint64_t)INT64_MAX / sizeof(float)) {
        s = dc_set_error(DC_ERR_FORMAT, "%s: %s: dimensions overflow (%u x %u x %u)", fn, path,
                         out->dims[0], want_ndim > 1 ? out->dims[1] : 1u,
                         want_ndim > 2 ? out->dims[2] : 1u);
        goto done;
    }
    if (want_ndim == 3 && (out->dims[1] == 0 || out->dims[2] == 0)) {
        s = dc_set_error(DC_ERR_FORMAT, "%s: %s: images of %ux%u pixels", fn, path, out->dims[1],
                         out->dims[2]);
        goto done;
    }
    uint64_t header = 4 + 4 * (uint64_t)want_ndim;
    if (total > max_bytes || (!is_gz && total + header > fsize)) {
        s = dc_set_error(DC_ERR_FORMAT,
                         "%s: %s: truncated: the header promises %llu data bytes after byte "
                         "offset %llu but the file (%llu bytes%s) cannot hold them",
                         fn, path, (unsigned long long)total, (unsigned long long)header,
                         (unsigned long long)fsize, is_gz ? ", gzipped" : "");
        goto done;
    }
    out->bytes = dc_malloc(total ? total : 1);
    if (!out->bytes) {
        s = dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory for %llu bytes", fn, path,
                         (unsigned long long)total);
        goto done;
    }
    out->n_bytes = total;
    r = gz_read_all(gz, out->bytes, total);
    if (r < 0) {
        s = gz_fail(fn, path, gz, "the data");
        goto done;
    }
    if ((uint64_t)r < total) {
        s = dc_set_error(DC_ERR_FORMAT,
                         "%s: %s: truncated: %llu of %llu data bytes present (ends at byte "
                         "offset %llu)",
                         fn, path, (unsigned long long)r, (unsigned long long)total,
                         (unsigned long long)(header + (uint64_t)r));
        goto done;
    }
    /* Reading past the end also makes zlib verify the gzip CRC and length. */
    unsigned char extra;
    r = gz_read_all(gz, &extra, 1);
    if (r < 0) {
        s = gz_fail(fn, path, gz, "the end of the stream");
        goto done;
    }
    int zerr = Z_OK;
    gzerror(gz, &zerr);
    if (r == 0 && zerr != Z_OK) /* zlib reports a cut-off trailer only as a soft error */
        s = dc_set_error(DC_ERR_FORMAT, "%s: %s: corrupt gzip data: the stream is truncated "
                         "after the %llu data bytes", fn, path, (unsigned long long)total);
    else if (r > 0)
        s = dc_set_error(DC_ERR_FORMAT, "%s: %s: trailing bytes after the %llu data bytes (byte "
                         "offset %llu)", fn, path, (unsigned long long)total,
                         (unsigned long long)(header + total));
done:
    gzclose(gz);
    if (s != DC_OK) {
        dc_free(out->bytes);
        out->bytes = NULL;
    }
    return s;
}

/* Images (N,H,W) and labels (N) into a dataset of (H,W,1) samples scaled to [0,1]. */
static dc_dataset *idx_dataset(const char *fn, const char *images_path, const char *labels_path,
                               const char *const *class_names, int n_names) {
    idx_file im, lb;
    if (idx_read(fn, images_path, 3, &im) != DC_OK) return NULL;
    if (idx_read(fn, labels_path, 1, &lb) != DC_OK) {
        dc_free(im.bytes);
        return NULL;
    }
    dc_dataset *ds = NULL;
    dc_ds_storage *s = NULL;
    if (im.dims[0] != lb.dims[0]) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s holds %u images but %s holds %u labels", fn,
                     images_path, im.dims[0], labels_path, lb.dims[0]);
        goto done;
    }
    int64_t n = im.dims[0];
    s = dc_calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->owns = true;
    s->x_bytes = dc_malloc_aligned(im.n_bytes + 1);
    s->y = dc_malloc_aligned((size_t)n * sizeof(float) + 1);
    if (!s->x_bytes || !s->y) goto nomem;
    memcpy(s->x_bytes, im.bytes, im.n_bytes);
    int max_label = -1;
    for (int64_t i = 0; i < n; i++) {
        s->y[i] = (float)lb.bytes[i];
        if (lb.bytes[i] > max_label) max_label = lb.bytes[i];
    }
    if (class_names) {
        if (max_label >= n_names) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s: label %d outside [0, %d)", fn, labels_path,
                         max_label, n_names);
            goto done;
        }
        s->num_classes = n_names;
        s->class_names = (char **)(uintptr_t)class_names; /* static strings, not freed */
        s->owns_names = false;
    } else {
        s->num_classes = max_label + 1;
    }
    int64_t xs[3] = {im.dims[1], im.dims[2], 1};
    ds = dc_dataset_from_storage(fn, s, n, 3, xs, 0, NULL);
    s = NULL;
    goto done;
nomem:
    dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %u images", fn, im.dims[0]);
done:
    dc_ds_storage_free(s);
    dc_free(im.bytes);
    dc_free(lb.bytes);
    return ds;
}

dc_dataset *dc_dataset_load_idx(const char *images_path, const char *labels_path) {
    return idx_dataset("dc_dataset_load_idx", images_path, labels_path, NULL, 0);
}

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};

/* $DEEPC_DATA_DIR/<name> if that directory exists, else /usr/share/datasets/<name>. */
static void dataset_dir(const char *name, char *buf, size_t n) {
    const char *env = getenv("DEEPC_DATA_DIR");
    if (env && env[0]) {
        snprintf(buf, n, "%s/%s", env, name);
        struct stat st;
        if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode)) return;
    }
    snprintf(buf, n, "/usr/share/datasets/%s", name);
}

dc_dataset *dc_dataset_load_named(const char *name, const char *split) {
    const char *fn = "dc_dataset_load_named";
    if (!name || !split) {
        dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, name ? "split" : "name");
        return NULL;
    }
    if (strcmp(name, "fashion-mnist") != 0 && strcmp(name, "fashion_mnist") != 0) {
        dc_set_error(DC_ERR_ARG, "%s: unknown dataset \"%s\" (known: fashion-mnist)", fn, name);
        return NULL;
    }
    const char *prefix;
    if (strcmp(split, "train") == 0) prefix = "train";
    else if (strcmp(split, "test") == 0) prefix = "t10k";
    else {
        dc_set_error(DC_ERR_ARG, "%s: unknown split \"%s\" of %s (use \"train\" or \"test\")", fn,
                     split, name);
        return NULL;
    }
    char dir[3072], im[4096], lb[4096];
    dataset_dir("fashion-mnist", dir, sizeof dir);
    snprintf(im, sizeof im, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lb, sizeof lb, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    struct stat st;
    if (stat(im, &st) != 0 || stat(lb, &st) != 0) {
        dc_set_error(DC_ERR_IO, "%s: %s: %s-*-ubyte.gz not found in %s (install the Debian "
                     "package dataset-fashion-mnist, or set DEEPC_DATA_DIR to a directory "
                     "holding fashion-mnist/)", fn, name, prefix, dir);
        return NULL;
    }
    return idx_dataset(fn, im, lb, fashion_names, 10);
}
