/* test_tensorboard.c — TensorBoard event files: CRC32C vectors, a scalar record
 * byte for byte as TensorBoard's own protobufs frame it, the committed sample's
 * framing and reader verdict, the writer API, the callback and bad paths. */
#include "test.h"
#include "io/io.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    *n = p ? fread(p, 1, (size_t)len, f) : 0;
    fclose(f);
    return p;
}

/* Walks the TFRecords of buf: the count, or -1 if a length or CRC is wrong.
 * first_at/first_len: where record `want` lies. */
static int walk_records(const uint8_t *buf, size_t n, int want, size_t *at, size_t *len) {
    size_t pos = 0;
    int count = 0;
    while (pos < n) {
        if (n - pos < 16) return -1;
        uint64_t l = 0;
        for (int i = 0; i < 8; i++) l |= (uint64_t)buf[pos + i] << (8 * i);
        if (le32(buf + pos + 8) != dc_crc32c_masked(buf + pos, 8) || l > n - pos - 16) return -1;
        if (le32(buf + pos + 12 + l) != dc_crc32c_masked(buf + pos + 12, (size_t)l)) return -1;
        if (count == want && at) {
            *at = pos + 12;
            *len = (size_t)l;
        }
        pos += 16 + (size_t)l;
        count++;
    }
    return count;
}

static bool contains(const uint8_t *p, size_t n, const void *s, size_t k) {
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(p + i, s, k)) return true;
    return false;
}

/* The one events file in dir (its path into out), or false. */
static bool events_file(const char *dir, char *out, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return false;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "events.out.tfevents.", 20)) {
            snprintf(out, cap, "%s/%s", dir, e->d_name);
            found++;
        }
    closedir(d);
    return found == 1;
}

static int count_file_records(const char *dir) {
    char path[1024];
    if (!events_file(dir, path, sizeof path)) return -2;
    size_t n;
    uint8_t *b = slurp(path, &n);
    int c = b ? walk_records(b, n, -1, NULL, NULL) : -3;
    free(b);
    return c;
}

TEST(tensorboard_crc32c_vectors) {
    /* RFC 3720's CRC32C check values */
    CHECK(dc_crc32c("123456789", 9) == 0xE3069283u);
    uint8_t z[32] = {0}, ff[32];
    memset(ff, 0xFF, sizeof ff);
    CHECK(dc_crc32c(z, 32) == 0x8A9136AAu);
    CHECK(dc_crc32c(ff, 32) == 0x62A8AB43u);
    CHECK(dc_crc32c("", 0) == 0);
    uint32_t c = dc_crc32c("123456789", 9);
    CHECK(dc_crc32c_masked("123456789", 9) == ((c >> 15) | (c << 17)) + 0xA282EAD8u);
}

/* The record ref_tensorboard.py built with TensorBoard's Event protobuf and
 * its masked_crc32c. */
TEST(tensorboard_scalar_record_matches_tensorboard) {
    size_t n;
    uint8_t *ref = slurp(test_path("ref/data/tensorboard.txt"), &n);
    CHECK(ref != NULL);
    if (!ref) return;
    ref[n] = '\0';
    CHECK(strstr((char *)ref, "\nfailures 0\n") != NULL); /* the reader found every value */
    const char *key = "scalar_record_wall1.5_step3_loss_0.25 ";
    const char *hex = strstr((char *)ref, key);
    CHECK(hex != NULL);
    void *buf = NULL;
    size_t cap = 0;
    size_t len = dc_tb_scalar_record(&buf, &cap, 1.5, 3, "loss", 0.25f);
    CHECK(len == 42);
    if (hex && len) {
        hex += strlen(key);
        for (size_t i = 0; i < len; i++) {
            unsigned v = 0;
            CHECK(sscanf(hex + 2 * i, "%2x", &v) == 1 && v == ((uint8_t *)buf)[i]);
        }
        CHECK(hex[2 * len] == '\n');
    }
    /* the buffer is reused: a second record of the same size does not grow it */
    void *before = buf;
    size_t cap_before = cap;
    CHECK(dc_tb_scalar_record(&buf, &cap, 2.5, 4, "loss", 0.5f) == len);
    CHECK(buf == before && cap == cap_before);
    dc_free(buf);
    free(ref);
}

TEST(tensorboard_committed_sample_frames) {
    CHECK(count_file_records(test_path("ref/data/tb_sample/custom")) == 1 + 10 + 1 + 1);
    /* 1 header, 9 batch losses, 3 epochs x (loss, accuracy, lr), 2 x 4 histograms */
    CHECK(count_file_records(test_path("ref/data/tb_sample/fit/train")) == 1 + 9 + 9 + 8);
    CHECK(count_file_records(test_path("ref/data/tb_sample/fit/validation")) == 1 + 6);
}

TEST(tensorboard_writer_api) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tb/a/b", test_tmpdir()); /* parents are made */
    dc_tb_writer *w = dc_tb_writer_open(dir);
    CHECK(w != NULL);
    if (!w) return;
    CHECK(strstr(dc_tb_writer_path(w), "/events.out.tfevents.") != NULL);
    CHECK_OK(dc_tb_add_scalar(w, "loss", 0.75f, 5));
    float x[7] = {1, 2, 2, 3, NAN, -4, 0.5f};
    CHECK_OK(dc_tb_add_histogram(w, "h", x, 7, 1));
    float same[3] = {2, 2, 2};
    CHECK_OK(dc_tb_add_histogram(w, "flat", same, 3, 1));
    static const uint8_t png[12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 1, 2, 3, 4};
    CHECK_OK(dc_tb_add_image_png(w, "img", png, sizeof png, 2, 3, 1, 9));
    CHECK_ERR(dc_tb_add_image_png(w, "img", "GIF89a....", 10, 2, 3, 1, 9), DC_ERR_ARG, "not PNG");
    CHECK_ERR(dc_tb_add_image_png(w, "img", png, sizeof png, 2, 3, 2, 9), DC_ERR_ARG, "channels");
    CHECK_ERR(dc_tb_add_scalar(w, "", 1.0f, 0), DC_ERR_ARG, "no tag");
    CHECK_OK(dc_tb_flush(w));
    char path[1024];
    snprintf(path, sizeof path, "%s", dc_tb_writer_path(w));
    CHECK_OK(dc_tb_writer_close(w));
    size_t n, at = 0, len = 0;
    uint8_t *b = slurp(path, &n);
    CHECK(b && walk_records(b, n, 0, &at, &len) == 5);
    CHECK(b && contains(b + at, len, "\x1a\x0d" "brain.Event:2", 15)); /* file_version (3) */
    /* the scalar: step (2) = 5, then summary (5) > value (1) > tag "loss", simple_value 0.75 */
    CHECK(b && walk_records(b, n, 1, &at, &len) == 5 && len == 26);
    CHECK(b && !memcmp(b + at + 9, "\x10\x05\x2a\x0d\x0a\x0b\x0a\x04loss\x15\x00\x00\x40\x3f", 17));
    /* the histogram: min -4 (1), max 3 (2), num 6 (3); NaN left out */
    double want[3] = {-4, 3, 6};
    CHECK(b && walk_records(b, n, 2, &at, &len) == 5);
    for (int k = 0; b && k < 3; k++) {
        uint8_t field[9];
        field[0] = (uint8_t)(((k + 1) << 3) | 1);
        memcpy(field + 1, &want[k], 8);
        CHECK(contains(b + at, len, field, 9));
    }
    /* the image: height (1) 2, width (2) 3, colorspace (3) 1, then the PNG (4) */
    CHECK(b && walk_records(b, n, 4, &at, &len) == 5);
    CHECK(b && contains(b + at, len, "\x08\x02\x10\x03\x18\x01\x22\x0c\x89PNG", 12));
    free(b);
    CHECK_OK(dc_tb_writer_close(NULL));
}

TEST(tensorboard_bad_paths_name_the_path) {
    char file[512], dir[600];
    snprintf(file, sizeof file, "%s/tb_plain_file", test_tmpdir());
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    snprintf(dir, sizeof dir, "%s/sub", file);
    CHECK(dc_tb_writer_open(dir) == NULL);
    CHECK_MSG(file);
    CHECK(dc_tb_writer_open(file) == NULL);
    CHECK_MSG(file);
    CHECK(dc_tb_writer_open("") == NULL);
    CHECK_MSG("no log_dir");
    CHECK_ERR(dc_tb_add_scalar(NULL, "x", 1, 0), DC_ERR_ARG, "no writer");
}

typedef struct {
    int batches;
    uint64_t alloc_second, alloc_last;
} tb_probe;

static bool tb_count_allocs(dc_model *m, int epoch, int64_t batch, float loss, void *user) {
    (void)m, (void)epoch, (void)loss;
    tb_probe *p = user;
    if (batch == 1) p->alloc_second = dc_alloc_count();
    p->alloc_last = dc_alloc_count();
    p->batches++;
    return false;
}

static dc_dataset *tb_data(void) {
    float x[64 * 2], y[64];
    for (int i = 0; i < 64; i++) {
        x[2 * i] = (float)(i % 8) / 4.0f - 1.0f;
        x[2 * i + 1] = (float)((i * 5) % 9) / 4.0f - 1.0f;
        y[i] = (float)(x[2 * i] > x[2 * i + 1]);
    }
    return dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, 64, true);
}

static dc_model *tb_model(void) {
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 4, .activation = "relu"}));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2}));
    dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                              .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f},
                                              .metrics = {DC_METRIC_ACCURACY}});
    return m;
}

TEST(tensorboard_callback_runs_and_batches_without_allocating) {
    dc_dataset *ds = tb_data();
    dc_model *m = tb_model();
    char dir[512], sub[600];
    snprintf(dir, sizeof dir, "%s/tb_fit", test_tmpdir());
    tb_probe p = {0};
    dc_callback cbs[2] = {{.kind = DC_CB_TENSORBOARD, .log_dir = dir, .update_freq = "batch", .histogram_freq = 2},
                          {.kind = DC_CB_LAMBDA, .on_batch_end = tb_count_allocs, .user = &p}};
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 3, .batch_size = 8, .validation_split = 0.25f,
                                                   .callbacks = cbs, .n_callbacks = 2}, NULL));
    CHECK(p.batches == 18);
    CHECK(p.alloc_last == p.alloc_second); /* batch logging reuses its buffer */
    /* header, 18 batch losses, 3 x (loss, accuracy, lr), 2 histogram epochs x 4 tensors */
    snprintf(sub, sizeof sub, "%s/train", dir);
    CHECK(count_file_records(sub) == 1 + 18 + 9 + 8);
    snprintf(sub, sizeof sub, "%s/validation", dir);
    CHECK(count_file_records(sub) == 1 + 6);
    /* per epoch only, and no validation run without validation data */
    snprintf(dir, sizeof dir, "%s/tb_fit_epoch", test_tmpdir());
    cbs[0] = (dc_callback){.kind = DC_CB_TENSORBOARD, .log_dir = dir};
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 2, .batch_size = 8, .callbacks = cbs, .n_callbacks = 1}, NULL));
    snprintf(sub, sizeof sub, "%s/train", dir);
    CHECK(count_file_records(sub) == 1 + 2 * 3);
    snprintf(sub, sizeof sub, "%s/validation", dir);
    struct stat st;
    CHECK(stat(sub, &st) != 0);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(tensorboard_callback_bad_options) {
    dc_dataset *ds = tb_data();
    dc_model *m = tb_model();
    dc_callback cb = {.kind = DC_CB_TENSORBOARD, .log_dir = "unused", .update_freq = "sometimes"};
    dc_fit_options fo = {.epochs = 1, .callbacks = &cb, .n_callbacks = 1};
    CHECK_ERR(dc_model_fit(m, ds, &fo, NULL), DC_ERR_ARG, "update_freq 'sometimes'");
    cb.update_freq = NULL;
    cb.histogram_freq = -1;
    CHECK_ERR(dc_model_fit(m, ds, &fo, NULL), DC_ERR_ARG, "histogram_freq -1");
    char file[512];
    snprintf(file, sizeof file, "%s/tb_not_a_dir", test_tmpdir());
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    cb.histogram_freq = 0;
    cb.log_dir = file;
    CHECK_ERR(dc_model_fit(m, ds, &fo, NULL), DC_ERR_IO, file);
    dc_model_free(m);
    dc_dataset_free(ds);
}
