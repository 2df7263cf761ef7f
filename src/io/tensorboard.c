/* tensorboard.c — TensorBoard event files: Event and Summary protobufs from a
 * small protobuf encoder, each framed as a TFRecord with masked CRC32C. */
#include "io.h"
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- CRC32C (Castagnoli, reflected polynomial 0x82F63B78) ----
 * Four bits at a time from a constant table: no table to build at run time,
 * so writers in several threads share nothing. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x105EC76Fu, 0x20BD8EDEu, 0x30E349B1u, 0x417B1DBCu, 0x5125DAD3u,
    0x61C69362u, 0x7198540Du, 0x82F63B78u, 0x92A8FC17u, 0xA24BB5A6u, 0xB21572C9u,
    0xC38D26C4u, 0xD3D3E1ABu, 0xE330A81Au, 0xF36E6F75u};

uint32_t dc_crc32c(const void *data, size_t n) {
    const uint8_t *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        c = crc_nibble[c & 0xF] ^ (c >> 4);
        c = crc_nibble[c & 0xF] ^ (c >> 4);
    }
    return c ^ 0xFFFFFFFFu;
}

/* TFRecord's mask: a CRC of data holding CRCs must not look like one. */
uint32_t dc_crc32c_masked(const void *data, size_t n) {
    uint32_t c = dc_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

/* ---- protobuf encoding into a growable buffer ---- */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} pb_buf;

static bool pb_room(pb_buf *b, size_t more) {
    if (b->oom) return false;
    if (b->n + more <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more) cap *= 2;
    uint8_t *p = dc_realloc(b->p, cap);
    if (!p) return !(b->oom = true);
    b->p = p;
    b->cap = cap;
    return true;
}

static void pb_bytes(pb_buf *b, const void *p, size_t n) {
    if (pb_room(b, n)) {
        if (n) memcpy(b->p + b->n, p, n);
        b->n += n;
    }
}

static size_t varint_to(uint8_t *out, uint64_t v) {
    size_t k = 0;
    do {
        out[k++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return k;
}

static void pb_varint(pb_buf *b, uint64_t v) {
    uint8_t t[10];
    pb_bytes(b, t, varint_to(t, v));
}

/* wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
static void pb_key(pb_buf *b, int field, int wire) { pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire); }

static void pb_le(pb_buf *b, uint64_t v, int nbytes) {
    uint8_t t[8];
    for (int i = 0; i < nbytes; i++) t[i] = (uint8_t)(v >> (8 * i));
    pb_bytes(b, t, (size_t)nbytes);
}

static void pb_double(pb_buf *b, int field, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    pb_key(b, field, 1);
    pb_le(b, u, 8);
}

static void pb_float(pb_buf *b, int field, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    pb_key(b, field, 5);
    pb_le(b, u, 4);
}

static void pb_string(pb_buf *b, int field, const void *s, size_t n) {
    pb_key(b, field, 2);
    pb_varint(b, n);
    pb_bytes(b, s, n);
}

/* A nested message: its key, then 5 bytes kept for the length, which
 * pb_end fills and closes up (a length of a message here fits 5 bytes). */
static size_t pb_begin(pb_buf *b, int field) {
    pb_key(b, field, 2);
    size_t at = b->n;
    pb_le(b, 0, 5);
    return at;
}

static void pb_end(pb_buf *b, size_t at) {
    if (b->oom) return;
    size_t body = b->n - at - 5;
    uint8_t t[10];
    size_t k = varint_to(t, body);
    memmove(b->p + at + k, b->p + at + 5, body);
    memcpy(b->p + at, t, k);
    b->n = at + k + body;
}

/* ---- the writer ---- */
#define TB_HEAD 12 /* TFRecord: uint64 length, masked CRC of the length */

struct dc_tb_writer {
    FILE *f;
    char *path;
    pb_buf buf; /* reused for every event: no allocation once it is large enough */
};

/* Event header fields: wall_time (1), step (2). */
static void event_begin(pb_buf *b, double wall_time, int64_t step) {
    static const uint8_t zeros[TB_HEAD];
    b->n = 0;
    pb_bytes(b, zeros, TB_HEAD); /* room for the frame's header */
    pb_double(b, 1, wall_time);
    pb_key(b, 2, 0);
    pb_varint(b, (uint64_t)step);
}

/* Frames the event in b (after TB_HEAD bytes) as a TFRecord in place. */
static void record_frame(pb_buf *b) {
    if (!pb_room(b, 4)) return;
    uint64_t len = b->n - TB_HEAD;
    for (int i = 0; i < 8; i++) b->p[i] = (uint8_t)(len >> (8 * i));
    uint32_t hc = dc_crc32c_masked(b->p, 8);
    for (int i = 0; i < 4; i++) b->p[8 + i] = (uint8_t)(hc >> (8 * i));
    uint32_t dc = dc_crc32c_masked(b->p + TB_HEAD, (size_t)len);
    pb_le(b, dc, 4);
}

size_t dc_tb_scalar_record(void **buf, size_t *cap, double wall_time, int64_t step,
                           const char *tag, float value) {
    pb_buf b = {*buf, 0, *cap, false};
    event_begin(&b, wall_time, step);
    size_t summary = pb_begin(&b, 5), val = pb_begin(&b, 1);
    pb_string(&b, 1, tag, strlen(tag));
    pb_float(&b, 2, value);
    pb_end(&b, val);
    pb_end(&b, summary);
    record_frame(&b);
    *buf = b.p;
    *cap = b.cap;
    return b.oom ? 0 : b.n;
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static dc_status write_record(dc_tb_writer *w, const char *fn) {
    record_frame(&w->buf);
    if (w->buf.oom)
        return dc_set_error(DC_ERR_NOMEM, "%s: out of memory for an event of '%s'", fn, w->path);
    if (fwrite(w->buf.p, 1, w->buf.n, w->f) != w->buf.n)
        return dc_set_error(DC_ERR_IO, "%s: cannot write '%s': %s", fn, w->path, strerror(errno));
    return DC_OK;
}

/* mkdir -p: every missing folder of dir. */
static dc_status make_dirs(const char *fn, const char *dir) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return dc_set_error(DC_ERR_ARG, "dc_tb_writer_open: log_dir of %zu bytes is too long", strlen(dir));
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c) continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return dc_set_error(DC_ERR_IO, "%s: cannot create folder '%s': %s", fn, p, strerror(errno));
        *s = c;
        if (!c) break;
    }
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
        return dc_set_error(DC_ERR_IO, "%s: '%s' is not a folder", fn, dir);
    return DC_OK;
}

dc_tb_writer *dc_tb_writer_open(const char *log_dir) {
    const char *fn = "dc_tb_writer_open";
    if (!log_dir || !*log_dir) {
        dc_set_error(DC_ERR_ARG, "%s: no log_dir", fn);
        return NULL;
    }
    if (make_dirs(fn, log_dir) != DC_OK) return NULL;
    dc_tb_writer *w = dc_calloc(1, sizeof *w);
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    size_t n = strlen(log_dir) + strlen(host) + 96;
    if (!w || !(w->path = dc_malloc(n))) {
        dc_free(w);
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    /* TensorFlow's name, with the process and a count so that two writers
     * opened in the same second never share a file */
    static int opened;
    snprintf(w->path, n, "%s/events.out.tfevents.%010lld.%s.%ld.%d", log_dir, (long long)time(NULL),
             host, (long)getpid(), opened++);
    w->f = fopen(w->path, "wbx");
    if (!w->f) {
        dc_set_error(DC_ERR_IO, "%s: cannot create '%s': %s", fn, w->path, strerror(errno));
        dc_tb_writer_close(w);
        return NULL;
    }
    /* the first event names the format: file_version (3) */
    event_begin(&w->buf, wall_now(), 0);
    pb_string(&w->buf, 3, "brain.Event:2", 13);
    if (write_record(w, fn) != DC_OK || fflush(w->f) != 0) {
        if (dc_last_status() == DC_OK) dc_set_error(DC_ERR_IO, "%s: cannot write '%s'", fn, w->path);
        dc_tb_writer_close(w);
        return NULL;
    }
    return w;
}

const char *dc_tb_writer_path(const dc_tb_writer *w) { return w ? w->path : NULL; }

static dc_status check_writer(const char *fn, const dc_tb_writer *w, const char *tag) {
    if (!w || !w->f) return dc_set_error(DC_ERR_ARG, "%s: no writer", fn);
    if (!tag || !*tag) return dc_set_error(DC_ERR_ARG, "%s: no tag ('%s')", fn, w->path);
    return DC_OK;
}

dc_status dc_tb_add_scalar(dc_tb_writer *w, const char *tag, float value, int64_t step) {
    const char *fn = "dc_tb_add_scalar";
    dc_status s = check_writer(fn, w, tag);
    if (s != DC_OK) return s;
    void *p = w->buf.p;
    size_t cap = w->buf.cap;
    size_t n = dc_tb_scalar_record(&p, &cap, wall_now(), step, tag, value);
    w->buf.p = p;
    w->buf.cap = cap;
    if (!n) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory for an event of '%s'", fn, w->path);
    if (fwrite(w->buf.p, 1, n, w->f) != n)
        return dc_set_error(DC_ERR_IO, "%s: cannot write '%s': %s", fn, w->path, strerror(errno));
    return DC_OK;
}

#define TB_BUCKETS 30 /* as TensorFlow's histogram summaries */

dc_status dc_tb_add_histogram(dc_tb_writer *w, const char *tag, const float *x, int64_t n,
                              int64_t step) {
    const char *fn = "dc_tb_add_histogram";
    dc_status s = check_writer(fn, w, tag);
    if (s != DC_OK) return s;
    if (n < 0 || (n > 0 && !x)) return dc_set_error(DC_ERR_ARG, "%s: %lld values at NULL ('%s')", fn, (long long)n, tag);
    double lo = INFINITY, hi = -INFINITY, sum = 0, sq = 0, counts[TB_BUCKETS] = {0};
    int64_t finite = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) continue; /* a NaN has no bucket */
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
        sq += v * v;
        finite++;
    }
    if (!finite) lo = hi = 0;
    double width = (hi - lo) / TB_BUCKETS;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) continue;
        int k = width > 0 ? (int)((v - lo) / width) : 0;
        counts[k < TB_BUCKETS ? k : TB_BUCKETS - 1] += 1;
    }
    int nb = width > 0 ? TB_BUCKETS : 1; /* all values equal: one bucket */
    if (nb == 1) counts[0] = (double)finite;
    pb_buf *b = &w->buf;
    event_begin(b, wall_now(), step);
    size_t summary = pb_begin(b, 5), val = pb_begin(b, 1);
    pb_string(b, 1, tag, strlen(tag));
    size_t histo = pb_begin(b, 5);
    pb_double(b, 1, lo);
    pb_double(b, 2, hi);
    pb_double(b, 3, (double)finite);
    pb_double(b, 4, sum);
    pb_double(b, 5, sq);
    /* bucket_limit (6) and bucket (7): packed doubles; a bucket holds the
     * values up to its limit */
    pb_key(b, 6, 2);
    pb_varint(b, (uint64_t)nb * 8);
    for (int k = 0; k < nb; k++) {
        double lim = k == nb - 1 ? hi : lo + width * (k + 1);
        uint64_t u;
        memcpy(&u, &lim, 8);
        pb_le(b, u, 8);
    }
    pb_key(b, 7, 2);
    pb_varint(b, (uint64_t)nb * 8);
    for (int k = 0; k < nb; k++) {
        uint64_t u;
        memcpy(&u, &counts[k], 8);
        pb_le(b, u, 8);
    }
    pb_end(b, histo);
    pb_end(b, val);
    pb_end(b, summary);
    return write_record(w, fn);
}

dc_status dc_tb_add_image_png(dc_tb_writer *w, const char *tag, const void *png, size_t len,
                              int height, int width, int channels, int64_t step) {
    const char *fn = "dc_tb_add_image_png";
    dc_status s = check_writer(fn, w, tag);
    if (s != DC_OK) return s;
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (!png || len < 8 || memcmp(png, sig, 8))
        return dc_set_error(DC_ERR_ARG, "%s: '%s' is not PNG data (%s)", fn, tag, w->path);
    if (height <= 0 || width <= 0 || !(channels == 1 || channels == 3 || channels == 4))
        return dc_set_error(DC_ERR_ARG, "%s: '%s' is %dx%d with %d channels (1, 3 or 4)", fn, tag,
                            height, width, channels);
    pb_buf *b = &w->buf;
    event_begin(b, wall_now(), step);
    size_t summary = pb_begin(b, 5), val = pb_begin(b, 1);
    pb_string(b, 1, tag, strlen(tag));
    size_t image = pb_begin(b, 4);
    pb_key(b, 1, 0);
    pb_varint(b, (uint64_t)height);
    pb_key(b, 2, 0);
    pb_varint(b, (uint64_t)width);
    pb_key(b, 3, 0); /* colorspace: 1 gray, 3 RGB, 4 RGBA */
    pb_varint(b, (uint64_t)channels);
    pb_string(b, 4, png, len);
    pb_end(b, image);
    pb_end(b, val);
    pb_end(b, summary);
    return write_record(w, fn);
}

dc_status dc_tb_flush(dc_tb_writer *w) {
    if (!w || !w->f) return dc_set_error(DC_ERR_ARG, "dc_tb_flush: no writer");
    if (fflush(w->f) != 0)
        return dc_set_error(DC_ERR_IO, "dc_tb_flush: cannot write '%s': %s", w->path, strerror(errno));
    return DC_OK;
}

dc_status dc_tb_writer_close(dc_tb_writer *w) {
    if (!w) return DC_OK;
    dc_status s = DC_OK;
    if (w->f && (ferror(w->f) | fclose(w->f)))
        s = dc_set_error(DC_ERR_IO, "dc_tb_writer_close: cannot write '%s'", w->path);
    dc_free(w->buf.p);
    dc_free(w->path);
    dc_free(w);
    return s;
}
