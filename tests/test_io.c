/* test_io.c — files: safetensors (round trip, an independent Python reader,
 * every truncation, hostile headers), PNG and JPEG images, resizing, image
 * folders and plots. */
#include "test.h"
#include "io/config.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tmp_path(const char *name) {
    static _Thread_local char buf[8][512];
    static _Thread_local int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", test_tmpdir(), name);
    return buf[k];
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)len + 1);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        test_fail(__FILE__, __LINE__, "cannot write %s", path);
        return;
    }
    fwrite(p, 1, n, f);
    fclose(f);
}

/* A safetensors file from a header string and n_data bytes of data. */
static void write_st(const char *path, const char *json, const void *data, size_t n_data) {
    FILE *f = fopen(path, "wb");
    uint64_t n = strlen(json);
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(json, 1, n, f);
    if (n_data) fwrite(data, 1, n_data, f);
    fclose(f);
}

static bool file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

TEST(safetensors_round_trip) {
    dc_tensor *a = dc_tensor_zeros(DC_DIMS(2, 3));
    dc_tensor *b = dc_tensor_zeros(DC_DIMS(4));
    dc_tensor *c = dc_tensor_full(0, NULL, 7.5f);
    for (int i = 0; i < 6; i++) a->data[i] = (float)i * 0.5f - 1;
    for (int i = 0; i < 4; i++) b->data[i] = (float)(100 + i);
    dc_tensor_set_name(a, "dense/kernel");
    dc_tensor_set_name(b, "dense/bias");
    dc_tensor_set_name(c, "scalar");
    dc_tensor *ts[3] = {a, b, c};
    const char *keys[2] = {"format", "epoch"}, *vals[2] = {"deepc", "12"};
    const char *p = tmp_path("rt.safetensors");
    CHECK_OK(dc_safetensors_save(p, ts, 3, keys, vals, 2));
    CHECK(!file_exists(tmp_path("rt.safetensors.tmp")));
    size_t n;
    unsigned char *raw = read_file(p, &n);
    CHECK(raw && n > 8);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)raw[i] << (8 * i);
    CHECK(hl % 8 == 0 && n == 8 + hl + 4 * (6 + 4 + 1));
    free(raw);
    dc_safetensors *st = dc_safetensors_load(p);
    CHECK(st != NULL);
    if (!st) return;
    CHECK(dc_safetensors_count(st) == 3);
    CHECK(strcmp(dc_safetensors_name(st, 0), "dense/kernel") == 0);
    CHECK(dc_safetensors_name(st, 3) == NULL);
    const dc_tensor *ra = dc_safetensors_get(st, "dense/kernel");
    const dc_tensor *rb = dc_safetensors_get(st, "dense/bias");
    const dc_tensor *rc = dc_safetensors_get(st, "scalar");
    CHECK(ra && ra->ndim == 2 && ra->shape[0] == 2 && ra->shape[1] == 3);
    CHECK(rb && rb->ndim == 1 && rb->shape[0] == 4);
    CHECK(rc && rc->ndim == 0 && rc->size == 1 && rc->data[0] == 7.5f);
    if (ra) CHECK(memcmp(ra->data, a->data, 6 * sizeof(float)) == 0);
    if (rb) CHECK(memcmp(rb->data, b->data, 4 * sizeof(float)) == 0);
    CHECK(dc_safetensors_get(st, "nope") == NULL);
    CHECK(strcmp(dc_safetensors_metadata(st, "epoch"), "12") == 0);
    CHECK(dc_safetensors_metadata(st, "nope") == NULL);
    dc_safetensors_free(st);

    /* Saving over an existing file replaces it. */
    CHECK_OK(dc_safetensors_save(p, ts + 1, 1, NULL, NULL, 0));
    st = dc_safetensors_load(p);
    CHECK(st && dc_safetensors_count(st) == 1 && dc_safetensors_metadata(st, "epoch") == NULL);
    dc_safetensors_free(st);

    /* Bad arguments. */
    dc_tensor_set_name(b, "dense/kernel");
    CHECK_ERR(dc_safetensors_save(p, ts, 2, NULL, NULL, 0), DC_ERR_ARG,
              "tensors 0 and 1 are both named \"dense/kernel\"");
    dc_tensor_set_name(b, "");
    CHECK_ERR(dc_safetensors_save(p, ts, 2, NULL, NULL, 0), DC_ERR_ARG, "tensor 1 has no name");
    CHECK_ERR(dc_safetensors_save(NULL, ts, 2, NULL, NULL, 0), DC_ERR_ARG, "path");
    CHECK_ERR(dc_safetensors_save(tmp_path("no/such/dir/x.st"), ts, 1, NULL, NULL, 0), DC_ERR_IO,
              "/no/such/dir' does not exist");
    CHECK(dc_safetensors_load(tmp_path("missing.safetensors")) == NULL);
    CHECK(dc_last_status() == DC_ERR_IO);
    dc_tensor_free(a);
    dc_tensor_free(b);
    dc_tensor_free(c);
}

TEST(safetensors_read_by_independent_python_reader) {
    if (system("python3 -c 'import json, struct' >/dev/null 2>&1") != 0) SKIP("python3 missing");
    dc_tensor *w = dc_tensor_zeros(DC_DIMS(2, 2));
    dc_tensor *v = dc_tensor_zeros(DC_DIMS(3));
    float wv[4] = {1.5f, -2, 0.25f, 3}, vv[3] = {-0.5f, 8, 1e-3f};
    memcpy(w->data, wv, sizeof wv);
    memcpy(v->data, vv, sizeof vv);
    dc_tensor_set_name(w, "w");
    dc_tensor_set_name(v, "v");
    dc_tensor *ts[2] = {w, v};
    const char *k[1] = {"note"}, *val[1] = {"hello \"world\""};
    const char *p = tmp_path("py.safetensors");
    CHECK_OK(dc_safetensors_save(p, ts, 2, k, val, 1));
    char cmd[1024], out[4096] = {0};
    snprintf(cmd, sizeof cmd, "python3 %s %s 2>&1", test_path("st_read.py"), p);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    if (!f) return;
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    CHECK(pclose(f) == 0);
    const char *want = "meta note=hello \"world\"\n"
                       "tensor v F32 3 -0.5 8 0.001\n"
                       "tensor w F32 2x2 1.5 -2 0.25 3\n"
                       "header_len_mod8 0\n";
    if (strcmp(out, want) != 0) test_fail(__FILE__, __LINE__, "python printed:\n%s", out);
    dc_tensor_free(w);
    dc_tensor_free(v);
}

TEST(safetensors_every_truncation_fails_cleanly) {
    dc_tensor *a = dc_tensor_full(DC_DIMS(3, 2), 1.25f);
    dc_tensor_set_name(a, "a");
    dc_tensor *ts[1] = {a};
    const char *k[1] = {"m"}, *v[1] = {"x"};
    const char *p = tmp_path("full.safetensors"), *q = tmp_path("cut.safetensors");
    CHECK_OK(dc_safetensors_save(p, ts, 1, k, v, 1));
    size_t n;
    unsigned char *raw = read_file(p, &n);
    CHECK(raw != NULL);
    if (!raw) return;
    for (size_t len = 0; len < n; len++) {
        write_file(q, raw, len);
        dc_safetensors *st = dc_safetensors_load(q);
        if (st) test_fail(__FILE__, __LINE__, "a %zu-byte prefix of %zu loaded", len, n);
        dc_safetensors_free(st);
        CHECK(dc_last_status() == DC_ERR_FORMAT);
        CHECK_MSG("cut.safetensors");
    }
    write_file(q, raw, 5);
    dc_safetensors_load(q);
    CHECK_MSG("shorter than the 8-byte header length");
    write_file(q, raw, 20);
    dc_safetensors_load(q);
    CHECK_MSG("truncated: header length");
    write_file(q, raw, n - 1);
    dc_safetensors_load(q);
    CHECK_MSG("outside the data buffer of 23 bytes");
    free(raw);
    dc_tensor_free(a);
}

TEST(safetensors_hostile_headers) {
    const char *p = tmp_path("bad.safetensors");
    float d[4] = {1, 2, 3, 4};
    struct {
        const char *json;
        size_t n_data;
        dc_status st;
        const char *msg;
    } cases[] = {
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", 8, DC_ERR_FORMAT,
         "invalid JSON header near byte offset"},
        {"[1, 2]", 0, DC_ERR_FORMAT, "not a JSON object"},
        {"{\"a\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8,
         DC_ERR_UNSUPPORTED, "unsupported dtype \"I32\""},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 16,
         DC_ERR_FORMAT, "span 8 bytes but F32 of 3 elements needs 12"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}", 8,
         DC_ERR_FORMAT, "data_offsets [8, 16] outside the data buffer of 8 bytes"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8,
         DC_ERR_FORMAT, "outside the data buffer"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
         "\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 16,
         DC_ERR_FORMAT, "overlap"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
         "\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}", 16,
         DC_ERR_FORMAT, "tensor \"a\" appears twice"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296], "
         "\"data_offsets\": [0, 8]}}", 8, DC_ERR_FORMAT, "count overflows"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8,
         DC_ERR_FORMAT, "shape[0] is not a whole number"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 8]}}", 8,
         DC_ERR_FORMAT, "shape[0] is not a whole number"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}}", 8, DC_ERR_FORMAT,
         "data_offsets is not two whole numbers"},
        {"{\"a\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", 8, DC_ERR_FORMAT,
         "lacks a string dtype"},
        {"{\"a\": 3}", 0, DC_ERR_FORMAT, "is not a JSON object"},
        {"{\"__metadata__\": {\"k\": 3}}", 0, DC_ERR_FORMAT, "metadata \"k\" is not a string"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", 4,
         DC_ERR_UNSUPPORTED, "7 dims"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_st(p, cases[i].json, d, cases[i].n_data);
        dc_safetensors *st = dc_safetensors_load(p);
        if (st || dc_last_status() != cases[i].st || !strstr(dc_last_error(), cases[i].msg))
            test_fail(__FILE__, __LINE__, "case %zu: got %s \"%s\", wanted \"%s\"", i,
                      st ? "a file" : dc_status_string(dc_last_status()), dc_last_error(),
                      cases[i].msg);
        dc_safetensors_free(st);
    }
    /* A huge header length must be refused before allocating. */
    unsigned char huge[16] = {0, 0, 0, 0, 0, 0, 0, 0x7f, '{', '}'};
    write_file(p, huge, sizeof huge);
    CHECK(dc_safetensors_load(p) == NULL);
    CHECK_MSG("is absurd");
    /* Other float dtypes are converted. */
    uint16_t h[3] = {0x3c00, 0xc000, 0x3555}; /* F16 1, -2, ~0.333 */
    write_st(p, "{\"h\": {\"dtype\": \"F16\", \"shape\": [3], \"data_offsets\": [0, 6]}}", h, 6);
    dc_safetensors *st = dc_safetensors_load(p);
    const dc_tensor *t = st ? dc_safetensors_get(st, "h") : NULL;
    CHECK(t && t->data[0] == 1.0f && t->data[1] == -2.0f);
    if (t) CHECK_NEAR(t->data[2], 1.0 / 3, 1e-3);
    dc_safetensors_free(st);
    uint16_t bf[2] = {0x3f80, 0xc040}; /* BF16 1, -3 */
    write_st(p, "{\"b\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [0, 4]}}", bf, 4);
    st = dc_safetensors_load(p);
    t = st ? dc_safetensors_get(st, "b") : NULL;
    CHECK(t && t->data[0] == 1.0f && t->data[1] == -3.0f);
    dc_safetensors_free(st);
    double dd[2] = {0.5, -1e10};
    write_st(p, "{\"d\": {\"dtype\": \"F64\", \"shape\": [1, 2], \"data_offsets\": [0, 16]}}", dd, 16);
    st = dc_safetensors_load(p);
    t = st ? dc_safetensors_get(st, "d") : NULL;
    CHECK(t && t->ndim == 2 && t->data[0] == 0.5f && t->data[1] == -1e10f);
    dc_safetensors_free(st);
}

/* ---- images ---- */
#include <jpeglib.h>
#include <png.h>

/* A PNG written with libpng directly: color_type and bit depth as given; the
 * samples come from pix (big-endian for 16-bit). Palette: 4 fixed colours. */
static void write_png_raw(const char *path, int w, int h, int color_type, int depth,
                          const unsigned char *pix, size_t rowbytes) {
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        test_fail(__FILE__, __LINE__, "libpng failed writing %s", path);
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
        png_set_PLTE(png, info, pal, 4);
    }
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_bytep)(uintptr_t)(pix + (size_t)y * rowbytes));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void write_jpeg(const char *path, int w, int h, int c, const unsigned char *pix) {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 98, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(uintptr_t)(pix + (size_t)cinfo.next_scanline * w * c);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    fclose(f);
}

/* A smooth test image (h, w, 3) in [0, 1]. */
static void gradient(float *p, int h, int w) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *o = p + (y * w + x) * 3;
            o[0] = (float)x / (float)(w - 1);
            o[1] = (float)y / (float)(h - 1);
            o[2] = 0.5f;
        }
}

TEST(image_png_round_trip_and_conversions) {
    enum { H = 5, W = 7 };
    float img[H * W * 3];
    gradient(img, H, W);
    img[0] = -3;  /* clamped to 0 */
    img[1] = 9;   /* clamped to 1 */
    const char *p = tmp_path("rt.png");
    CHECK_OK(dc_image_save_png(p, img, H, W, 3));
    dc_tensor *t = dc_image_load(p, 0);
    CHECK(t && t->ndim == 3 && t->shape[0] == H && t->shape[1] == W && t->shape[2] == 3);
    if (!t) return;
    CHECK(t->data[0] == 0.0f && t->data[1] == 1.0f);
    img[0] = 0;
    img[1] = 1;
    CHECK_ALLCLOSE(t->data, img, H * W * 3, 0.5 / 255 + 1e-6, 0);
    dc_tensor *g = dc_image_load(p, 1);
    CHECK(g && g->shape[2] == 1);
    if (g) CHECK_NEAR(g->data[W + 3], 0.299 * t->data[(W + 3) * 3] + 0.587 * t->data[(W + 3) * 3 + 1] + 0.114 * 0.5, 3e-3);
    /* Gray written, loaded as RGB: three equal channels. */
    CHECK_OK(dc_image_save_png(p, g->data, H, W, 1));
    dc_tensor *rgb = dc_image_load(p, 3);
    CHECK(rgb && rgb->shape[2] == 3);
    if (rgb && g) {
        CHECK_NEAR(rgb->data[3 * 9], g->data[9], 0.5 / 255 + 1e-6);
        CHECK(rgb->data[3 * 9] == rgb->data[3 * 9 + 2]);
    }
    dc_tensor_free(t);
    dc_tensor_free(g);
    dc_tensor_free(rgb);
    CHECK_ERR(dc_image_save_png(p, img, H, W, 2), DC_ERR_ARG, "1 or 3 channels");
    CHECK(dc_image_load(p, 2) == NULL);
    CHECK_MSG("channels 2 must be");
    CHECK(dc_image_load(tmp_path("nope.png"), 0) == NULL && dc_last_status() == DC_ERR_IO);
    write_file(p, "hello world, not an image", 25);
    CHECK(dc_image_load(p, 0) == NULL);
    CHECK_MSG("neither a PNG nor a JPEG");
}

TEST(image_png_palette_16bit_and_alpha) {
    const char *p = tmp_path("kinds.png");
    unsigned char pal[2 * 2] = {0, 1, 2, 3};
    write_png_raw(p, 2, 2, PNG_COLOR_TYPE_PALETTE, 8, pal, 2);
    dc_tensor *t = dc_image_load(p, 0);
    CHECK(t && t->shape[2] == 3);
    if (t) {
        float want[12] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1};
        CHECK_ALLCLOSE(t->data, want, 12, 1e-6, 0);
    }
    dc_tensor_free(t);
    unsigned char g16[2 * 3 * 2]; /* 16-bit gray, 3x2: 0, 1/65535, 0x8000, 65535 ... */
    uint16_t vals[6] = {0, 1, 0x8000, 0xffff, 300, 65000};
    for (int i = 0; i < 6; i++) g16[2 * i] = (unsigned char)(vals[i] >> 8), g16[2 * i + 1] = (unsigned char)vals[i];
    write_png_raw(p, 3, 2, PNG_COLOR_TYPE_GRAY, 16, g16, 6);
    t = dc_image_load(p, 0);
    CHECK(t && t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 1);
    if (t)
        for (int i = 0; i < 6; i++) CHECK_NEAR(t->data[i], vals[i] / 65535.0, 1e-7);
    dc_tensor_free(t);
    unsigned char rgba[2 * 4] = {255, 0, 0, 128, 0, 0, 255, 0};
    write_png_raw(p, 2, 1, PNG_COLOR_TYPE_RGBA, 8, rgba, 8);
    t = dc_image_load(p, 0);
    CHECK(t && t->shape[2] == 4);
    if (t) CHECK_NEAR(t->data[3], 128 / 255.0, 1e-6);
    dc_tensor_free(t);
    t = dc_image_load(p, 3);
    CHECK(t && t->shape[2] == 3 && t->data[0] == 1 && t->data[5] == 1);
    dc_tensor_free(t);
    unsigned char gray1[1] = {0xa0}; /* 1-bit gray: 1 0 1 */
    write_png_raw(p, 3, 1, PNG_COLOR_TYPE_GRAY, 1, gray1, 1);
    t = dc_image_load(p, 0);
    CHECK(t && t->shape[2] == 1 && t->data[0] == 1 && t->data[1] == 0 && t->data[2] == 1);
    dc_tensor_free(t);
}

TEST(image_truncated_and_corrupt_png_fail_cleanly) {
    enum { H = 9, W = 11 };
    float img[H * W * 3];
    gradient(img, H, W);
    const char *p = tmp_path("full.png"), *q = tmp_path("cut.png");
    CHECK_OK(dc_image_save_png(p, img, H, W, 3));
    size_t n;
    unsigned char *raw = read_file(p, &n);
    CHECK(raw && n > 60);
    if (!raw) return;
    for (size_t len = 0; len < n; len++) {
        write_file(q, raw, len);
        dc_tensor *t = dc_image_load(q, 0);
        if (t) test_fail(__FILE__, __LINE__, "a %zu-byte prefix of %zu loaded", len, n);
        dc_tensor_free(t);
        CHECK(dc_last_status() == DC_ERR_FORMAT);
    }
    write_file(q, raw, n / 2);
    dc_image_load(q, 0);
    CHECK_MSG("corrupt PNG");
    for (size_t at = 8; at < n; at += 3) {
        raw[at] ^= 0x5a;
        write_file(q, raw, n);
        dc_tensor *t = dc_image_load(q, 0); /* CRCs catch nearly all; none may crash */
        dc_tensor_free(t);
        raw[at] ^= 0x5a;
    }
    /* A header claiming a gigantic image. */
    raw[16] = 0x7f;
    write_file(q, raw, n);
    CHECK(dc_image_load(q, 0) == NULL);
    free(raw);
}

TEST(image_jpeg_load_and_truncation) {
    enum { H = 16, W = 24 };
    unsigned char pix[H * W * 3], gpix[H * W];
    float ref[H * W * 3];
    gradient(ref, H, W);
    for (int i = 0; i < H * W * 3; i++) pix[i] = (unsigned char)lrintf(ref[i] * 255);
    for (int i = 0; i < H * W; i++) gpix[i] = (unsigned char)(i * 5 % 256 / 2 + 60);
    const char *p = tmp_path("img.jpg"), *pg = tmp_path("gray.jpg"), *q = tmp_path("cut.jpg");
    write_jpeg(p, W, H, 3, pix);
    write_jpeg(pg, W, H, 1, gpix);
    dc_tensor *t = dc_image_load(p, 0);
    CHECK(t && t->shape[0] == H && t->shape[1] == W && t->shape[2] == 3);
    if (t) CHECK_ALLCLOSE(t->data, ref, H * W * 3, 0.06, 0);
    dc_tensor_free(t);
    t = dc_image_load(pg, 0);
    CHECK(t && t->shape[2] == 1);
    if (t) CHECK_NEAR(t->data[0], gpix[0] / 255.0, 0.05);
    dc_tensor_free(t);
    t = dc_image_load(pg, 3);
    CHECK(t && t->shape[2] == 3 && t->data[0] == t->data[1]);
    dc_tensor_free(t);
    size_t n;
    unsigned char *raw = read_file(p, &n);
    CHECK(raw && n > 100);
    if (!raw) return;
    for (size_t len = 0; len < n - 2; len++) { /* without the EOI marker it still decodes */
        write_file(q, raw, len);
        dc_tensor *tt = dc_image_load(q, 0);
        if (tt) test_fail(__FILE__, __LINE__, "a %zu-byte prefix of %zu loaded", len, n);
        dc_tensor_free(tt);
    }
    write_file(q, raw, n / 2);
    dc_image_load(q, 0);
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    CHECK_MSG("corrupt JPEG");
    CHECK_MSG("cut.jpg");
    for (size_t at = 2; at < n; at += 2) {
        raw[at] ^= 0x33;
        write_file(q, raw, n);
        dc_tensor_free(dc_image_load(q, 0)); /* error or garbage, never a crash */
        raw[at] ^= 0x33;
    }
    free(raw);
}

TEST(image_resize_bilinear) {
    /* 2x2 -> 4x4 with half-pixel centres (PyTorch align_corners=False). */
    float src[4] = {0, 1, 2, 3}, dst[16];
    CHECK_OK(dc_image_resize(src, 2, 2, 1, dst, 4, 4));
    float want[16] = {0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f,
                      1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3};
    CHECK_ALLCLOSE(dst, want, 16, 1e-6, 0);
    /* Same size is the identity; downscale by 2 averages pairs. */
    float s4[8] = {0, 2, 4, 6, 10, 12, 14, 16}, d4[8], d2[2];
    CHECK_OK(dc_image_resize(s4, 2, 4, 1, d4, 2, 4));
    CHECK_ALLCLOSE(d4, s4, 8, 0, 0);
    CHECK_OK(dc_image_resize(s4, 1, 4, 2, d2, 1, 1));
    CHECK_NEAR(d2[0], 7, 1e-6);
    CHECK_NEAR(d2[1], 9, 1e-6);
    CHECK_ERR(dc_image_resize(src, 2, 2, 1, dst, 0, 4), DC_ERR_ARG, "sizes must be positive");
    CHECK_ERR(dc_image_resize(NULL, 2, 2, 1, dst, 4, 4), DC_ERR_ARG, "src is NULL");
}

/* ---- image folders ---- */

static void make_dir(const char *p) { mkdir(p, 0700); }

static void save_solid(const char *path, int h, int w, int c, float v) {
    float buf[64 * 64 * 3];
    for (int i = 0; i < h * w * c; i++) buf[i] = v;
    CHECK_OK(dc_image_save_png(path, buf, h, w, c));
}

TEST(image_folder_dataset) {
    char root[512], p[768];
    snprintf(root, sizeof root, "%s/folder", test_tmpdir());
    make_dir(root);
    snprintf(p, sizeof p, "%s/zebra", root);
    make_dir(p);
    snprintf(p, sizeof p, "%s/ant", root);
    make_dir(p);
    snprintf(p, sizeof p, "%s/ant/b.png", root);
    save_solid(p, 4, 6, 3, 0.2f);
    snprintf(p, sizeof p, "%s/ant/a.png", root);
    save_solid(p, 4, 6, 3, 0.4f);
    snprintf(p, sizeof p, "%s/zebra/x.png", root);
    save_solid(p, 4, 6, 3, 1.0f);
    snprintf(p, sizeof p, "%s/zebra/notes.txt", root);
    write_file(p, "ignored", 7);
    dc_dataset *ds = dc_dataset_load_image_folder(root, 0, 0, 0);
    CHECK(ds != NULL);
    if (!ds) {
        printf("    %s\n", dc_last_error());
        return;
    }
    int64_t xs[DC_MAX_DIMS];
    CHECK(dc_dataset_count(ds) == 3 && dc_dataset_num_classes(ds) == 2);
    CHECK(dc_dataset_x_shape(ds, xs) == 3 && xs[0] == 4 && xs[1] == 6 && xs[2] == 3);
    CHECK(strcmp(dc_dataset_class_name(ds, 0), "ant") == 0);
    CHECK(strcmp(dc_dataset_class_name(ds, 1), "zebra") == 0);
    float x[4 * 6 * 3], y;
    CHECK_OK(dc_dataset_get(ds, 0, x, &y)); /* ant/a.png sorts first */
    CHECK(y == 0);
    CHECK_NEAR(x[5], 102 / 255.0, 1e-6);
    CHECK_OK(dc_dataset_get(ds, 2, x, &y));
    CHECK(y == 1 && x[0] == 1.0f);
    dc_dataset_free(ds);
    /* Resized and converted to gray. */
    ds = dc_dataset_load_image_folder(root, 3, 2, 1);
    CHECK(ds && dc_dataset_x_shape(ds, xs) == 3 && xs[0] == 3 && xs[1] == 2 && xs[2] == 1);
    if (ds) {
        CHECK_OK(dc_dataset_get(ds, 1, x, &y));
        CHECK_NEAR(x[0], 51 / 255.0, 1e-5);
    }
    dc_dataset_free(ds);
    /* Mixed sizes: an error naming both files, unless resizing. */
    snprintf(p, sizeof p, "%s/zebra/y.png", root);
    save_solid(p, 5, 6, 3, 0.5f);
    CHECK(dc_dataset_load_image_folder(root, 0, 0, 0) == NULL);
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    CHECK_MSG("zebra/y.png is 6x5 but");
    CHECK_MSG("ant/a.png is 6x4");
    ds = dc_dataset_load_image_folder(root, 8, 8, 0);
    CHECK(ds && dc_dataset_count(ds) == 4);
    dc_dataset_free(ds);
    /* Mixed channels. */
    save_solid(p, 4, 6, 1, 0.5f);
    CHECK(dc_dataset_load_image_folder(root, 0, 0, 0) == NULL);
    CHECK_MSG("y.png has 1 channels but");
    ds = dc_dataset_load_image_folder(root, 0, 0, 3);
    CHECK(ds && dc_dataset_count(ds) == 4);
    dc_dataset_free(ds);
    /* A corrupt image names the file. */
    write_file(p, "\x89PNG\r\n\x1a\n....", 12);
    CHECK(dc_dataset_load_image_folder(root, 0, 0, 3) == NULL);
    CHECK_MSG("y.png");
    CHECK(dc_dataset_load_image_folder(tmp_path("no-such-dir"), 0, 0, 0) == NULL);
    CHECK_MSG("cannot open directory");
    CHECK(dc_dataset_load_image_folder(root, 4, 0, 0) == NULL);
    CHECK_MSG("height 4, width 0");
    CHECK(dc_dataset_load_image_folder(root, 0, 0, 2) == NULL);
}

/* ---- plots ---- */

static bool is_png_file(const char *path, size_t min_bytes) {
    size_t n = 0;
    unsigned char *p = read_file(path, &n);
    bool ok = p && n >= min_bytes && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0;
    free(p);
    return ok;
}

TEST(plot_lines_and_history_write_pngs) {
    float x[50], a[50], b[50];
    for (int i = 0; i < 50; i++) {
        x[i] = (float)i * 0.2f;
        a[i] = sinf(x[i]);
        b[i] = cosf(x[i]) * 0.5f;
    }
    b[20] = NAN; /* a gap, not a failure */
    dc_plot_series s[3] = {{"sin", x, a, 50}, {"cos / 2", x, b, 50}, {"", NULL, a, 10}};
    const char *p = tmp_path("lines.png");
    CHECK_OK(dc_plot_lines(p, "Waves", "x", "y", s, 3));
    CHECK(is_png_file(p, 2000));
    float loss[6] = {2.3f, 1.1f, 0.7f, 0.55f, 0.5f, 0.46f}, vl[6] = {2.0f, 1.2f, 0.8f, 0.7f, 0.72f, 0.75f};
    float acc[6] = {0.2f, 0.6f, 0.75f, 0.8f, 0.82f, 0.84f}, va[6] = {0.3f, 0.58f, 0.7f, 0.74f, 0.74f, 0.73f};
    p = tmp_path("history.png");
    CHECK_OK(dc_plot_history(p, NULL, loss, vl, acc, va, 6));
    CHECK(is_png_file(p, 2000));
    p = tmp_path("history1.png");
    CHECK_OK(dc_plot_history(p, NULL, loss, NULL, NULL, NULL, 1));
    CHECK(is_png_file(p, 1000));
    CHECK_ERR(dc_plot_lines(p, "t", "x", "y", s, 0), DC_ERR_ARG, "need at least one");
    dc_plot_series bad = {"bad", NULL, NULL, 5};
    CHECK_ERR(dc_plot_lines(p, "t", "x", "y", &bad, 1), DC_ERR_ARG, "series 0 has n 5");
    CHECK_ERR(dc_plot_lines(tmp_path("no/dir/x.png"), "t", "x", "y", s, 1), DC_ERR_IO,
              "cannot create");
    CHECK_ERR(dc_plot_history(p, NULL, NULL, NULL, NULL, NULL, 3), DC_ERR_ARG, "loss is NULL");
    /* Plotting again after an error still works (the PLplot state is clean). */
    CHECK_OK(dc_plot_lines(p, NULL, NULL, NULL, s, 1));
    CHECK(is_png_file(p, 1000));
}

TEST(plot_image_grid_png) {
    /* 8 3x3 "filters", the first one a diagonal. */
    float tiles[8 * 3 * 3];
    for (int t = 0; t < 8; t++)
        for (int i = 0; i < 9; i++) tiles[t * 9 + i] = (float)((t + 1) * (i % 4 == 0 ? 5 : -1));
    const char *p = tmp_path("grid.png");
    CHECK_OK(dc_plot_image_grid_png(p, tiles, 8, 3, 3, 1, 4, 8, true));
    CHECK(is_png_file(p, 60));
    dc_tensor *img = dc_image_load(p, 0);
    /* 4 columns of 24 px with 2 px borders: 4*24 + 5*2 = 106 wide, 2*24 + 3*2 = 54 high. */
    CHECK(img && img->shape[0] == 54 && img->shape[1] == 106 && img->shape[2] == 1);
    if (img) {
        CHECK(img->data[0] == 1.0f);                 /* border */
        CHECK(img->data[2 * 106 + 2] == 1.0f);       /* tile 0 (0,0): max of the tile */
        CHECK(img->data[2 * 106 + 2 + 8] == 0.0f);   /* tile 0 (0,1): min */
        CHECK(img->data[(2 + 8) * 106 + 2 + 8] == 1.0f); /* tile 0 (1,1): diagonal */
    }
    dc_tensor_free(img);
    float rgb[2 * 2 * 2 * 3];
    for (int i = 0; i < 24; i++) rgb[i] = (float)i / 23.0f;
    CHECK_OK(dc_plot_image_grid_png(p, rgb, 2, 2, 2, 3, 2, 1, false));
    img = dc_image_load(p, 0);
    CHECK(img && img->shape[0] == 4 && img->shape[1] == 7 && img->shape[2] == 3);
    if (img) CHECK_NEAR(img->data[(1 * 7 + 1) * 3], 0.0, 1e-6);
    dc_tensor_free(img);
    CHECK_ERR(dc_plot_image_grid_png(p, rgb, 2, 2, 2, 2, 2, 1, false), DC_ERR_ARG, "1 or 3 channels");
    CHECK_ERR(dc_plot_image_grid_png(p, rgb, 2, 2, 2, 3, 0, 1, false), DC_ERR_ARG, "0 columns");
}

TEST(safetensors_random_corruption_never_crashes) {
    dc_tensor *a = dc_tensor_full(DC_DIMS(2, 3), 0.5f), *b = dc_tensor_full(DC_DIMS(5), -1.0f);
    dc_tensor_set_name(a, "layer.0.weight");
    dc_tensor_set_name(b, "layer.0.bias");
    dc_tensor *ts[2] = {a, b};
    const char *k[1] = {"epoch"}, *v[1] = {"3"};
    const char *p = tmp_path("fuzz-src.safetensors"), *q = tmp_path("fuzz.safetensors");
    CHECK_OK(dc_safetensors_save(p, ts, 2, k, v, 1));
    size_t n;
    unsigned char *raw = read_file(p, &n);
    CHECK(raw != NULL);
    if (!raw) return;
    dc_rng r;
    dc_rng_seed(&r, 77);
    int loaded = 0;
    const char *alphabet = "0123456789,[]{}\":-. eE";
    for (int it = 0; it < 400; it++) {
        unsigned char *c = malloc(n);
        memcpy(c, raw, n);
        int edits = 1 + (int)dc_rng_below(&r, 3);
        for (int e = 0; e < edits; e++) {
            size_t at = dc_rng_below(&r, (uint32_t)n);
            c[at] = dc_rng_below(&r, 2) ? (unsigned char)alphabet[dc_rng_below(&r, 22)]
                                        : (unsigned char)dc_rng_u32(&r);
        }
        write_file(q, c, n);
        dc_safetensors *st = dc_safetensors_load(q);
        if (st) {
            loaded++; /* a harmless edit (data bytes, spaces): everything must be consistent */
            for (int i = 0; i < dc_safetensors_count(st); i++) {
                const dc_tensor *t = dc_safetensors_get(st, dc_safetensors_name(st, i));
                CHECK(t != NULL && t->size >= 0);
            }
        } else {
            CHECK(dc_last_error()[0] != '\0');
        }
        dc_safetensors_free(st);
        free(c);
    }
    CHECK(loaded > 0 && loaded < 400);
    free(raw);
    dc_tensor_free(a);
    dc_tensor_free(b);
}

TEST(image_folder_reads_jpeg_and_png_together) {
    char root[512], p[768];
    snprintf(root, sizeof root, "%s/folder2", test_tmpdir());
    make_dir(root);
    snprintf(p, sizeof p, "%s/cls", root);
    make_dir(p);
    unsigned char pix[8 * 8 * 3];
    for (int i = 0; i < 8 * 8 * 3; i++) pix[i] = 200;
    snprintf(p, sizeof p, "%s/cls/a.JPEG", root);
    write_jpeg(p, 8, 8, 3, pix);
    snprintf(p, sizeof p, "%s/cls/b.png", root);
    save_solid(p, 8, 8, 3, 0.25f);
    dc_dataset *ds = dc_dataset_load_image_folder(root, 0, 0, 0);
    CHECK(ds && dc_dataset_count(ds) == 2 && dc_dataset_num_classes(ds) == 1);
    if (ds) {
        float x[8 * 8 * 3], y;
        CHECK_OK(dc_dataset_get(ds, 0, x, &y));
        CHECK_NEAR(x[0], 200 / 255.0, 0.02);
        CHECK_OK(dc_dataset_get(ds, 1, x, &y));
        CHECK_NEAR(x[0], 64 / 255.0, 1e-6);
    }
    dc_dataset_free(ds);
}

/* A directory where a file is expected: every loader says so (fopen succeeds on a directory
 * on Linux, and the first read used to fail with a vague "read error"). */
TEST(loaders_reject_a_directory_given_as_a_file) {
    const char *d = tmp_path("a-dir.bin");
    make_dir(d);
    CHECK(dc_image_load(d, 0) == NULL);
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_MSG("dc_image_load: ");
    CHECK_MSG("a-dir.bin is a directory, not a file");
    CHECK(dc_dataset_load_csv(d, NULL) == NULL);
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_MSG("dc_dataset_load_csv: ");
    CHECK_MSG("a-dir.bin is a directory, not a file");
    CHECK(dc_dataset_load_idx(d, d) == NULL);
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_MSG("dc_dataset_load_idx: ");
    CHECK_MSG("a-dir.bin is a directory, not a file");
    CHECK(dc_ini_load(d) == NULL);
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_MSG("a-dir.bin: is a directory, not a model file");
    CHECK(dc_safetensors_load(d) == NULL);
    CHECK_MSG("a-dir.bin");
}
