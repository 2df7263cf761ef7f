/* image.c — PNG (libpng) and JPEG (libjpeg) decoding into float (H,W,C) tensors,
 * PNG writing and bilinear resizing. Library errors are caught with setjmp and
 * longjmp, so a corrupt or truncated file returns an error and never prints. */
#include "io.h"
#include "../tensor/tensor.h"
#include <errno.h>
#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/* Images larger than this many samples are refused before allocating. */
#define IMG_MAX_SAMPLES ((int64_t)1 << 28)

void dc_pixel_convert(const float *src, int src_c, float *dst, int dst_c) {
    if (dst_c == src_c) {
        for (int k = 0; k < src_c; k++) dst[k] = src[k];
    } else if (dst_c == 1) {
        /* ITU-R 601 luma, as PIL's convert("L"); alpha is dropped. */
        dst[0] = src_c >= 3 ? 0.299f * src[0] + 0.587f * src[1] + 0.114f * src[2] : src[0];
    } else if (dst_c == 3) {
        if (src_c >= 3) {
            dst[0] = src[0], dst[1] = src[1], dst[2] = src[2];
        } else {
            dst[0] = dst[1] = dst[2] = src[0];
        }
    }
}

/* A new (h, w, out_c) tensor from 8- or 16-bit (big-endian) samples. */
static dc_tensor *pixels_to_tensor(const char *fn, const uint8_t *pix, int h, int w, int c,
                                   int depth16, int out_c) {
    if (out_c == 0) out_c = c;
    int64_t shape[3] = {h, w, out_c};
    dc_tensor *t = dc_tensor_zeros(3, shape);
    if (!t) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory for a %dx%d image", fn, w, h);
        return NULL;
    }
    int64_t n = (int64_t)h * w;
    for (int64_t i = 0; i < n; i++) {
        float in[4];
        for (int k = 0; k < c; k++) {
            if (depth16) {
                const uint8_t *p = pix + 2 * (i * c + k);
                in[k] = (float)((unsigned)p[0] << 8 | p[1]) / 65535.0f;
            } else {
                in[k] = (float)pix[i * c + k] / 255.0f;
            }
        }
        dc_pixel_convert(in, c, t->data + i * out_c, out_c);
    }
    return t;
}

/* ---- PNG ---- */

typedef struct {
    jmp_buf jmp;
    char msg[200];
    png_bytep pix;
    png_bytepp rows;
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jmp, 1);
}
static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* the library never prints */
}

static dc_tensor *load_png(const char *fn, const char *path, FILE *f, int channels) {
    png_ctx *ctx = dc_calloc(1, sizeof *ctx);
    if (!ctx) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, png_on_error,
                                             png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    dc_tensor *volatile result = NULL;
    if (!png || !info) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    if (setjmp(ctx->jmp)) {
        dc_tensor_free(result);
        result = NULL;
        dc_set_error(DC_ERR_FORMAT, "%s: %s: corrupt PNG: %s", fn, path, ctx->msg);
        goto done;
    }
    png_set_user_limits(png, 1u << 16, 1u << 16);
    png_init_io(png, f);
    png_read_info(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    png_set_expand(png); /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int c = png_get_channels(png, info);
    int depth16 = png_get_bit_depth(png, info) == 16;
    (void)bit_depth;
    if ((int64_t)w * h * c > IMG_MAX_SAMPLES) {
        dc_set_error(DC_ERR_UNSUPPORTED, "%s: %s: a %ux%u image is too large", fn, path, w, h);
        goto done;
    }
    size_t rowbytes = png_get_rowbytes(png, info);
    ctx->pix = dc_malloc(rowbytes * h + 1);
    ctx->rows = dc_malloc(sizeof(png_bytep) * h + 1);
    if (!ctx->pix || !ctx->rows) {
        dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory for a %ux%u image", fn, path, w, h);
        goto done;
    }
    for (png_uint_32 y = 0; y < h; y++) ctx->rows[y] = ctx->pix + y * rowbytes;
    png_read_image(png, ctx->rows);
    png_read_end(png, NULL);
    result = pixels_to_tensor(fn, ctx->pix, (int)h, (int)w, c, depth16, channels);
done:
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    dc_free(ctx->pix);
    dc_free(ctx->rows);
    dc_free(ctx);
    return result;
}

/* A PNG's stored sample values, unscaled: the palette indices of a palette
 * image or the levels of a gray one (1 to 8 bits), h*w bytes (dc_free). Any
 * other kind (RGB, alpha, 16 bits) is refused: it holds no class indices. */
uint8_t *dc_png_read_indices(const char *fn, const char *path, int *height, int *width) {
    FILE *f = dc_fopen_read(fn, path);
    if (!f) return NULL;
    png_ctx *ctx = dc_calloc(1, sizeof *ctx);
    png_structp png = ctx ? png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, png_on_error,
                                                   png_on_warning) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile result = NULL;
    if (!png || !info) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    if (setjmp(ctx->jmp)) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: not a readable PNG: %s", fn, path, ctx->msg);
        goto done;
    }
    png_set_user_limits(png, 1u << 16, 1u << 16);
    png_init_io(png, f);
    png_read_info(png, info);
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if ((type != PNG_COLOR_TYPE_PALETTE && type != PNG_COLOR_TYPE_GRAY) || depth > 8) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s: a mask must be an 8-bit palette or gray PNG of class "
                     "indices (this one is %s, %d bits)", fn, path,
                     type == PNG_COLOR_TYPE_RGB ? "RGB" : type == PNG_COLOR_TYPE_RGB_ALPHA ? "RGBA"
                     : type == PNG_COLOR_TYPE_GRAY_ALPHA ? "gray+alpha" : "gray", depth);
        goto done;
    }
    png_set_packing(png); /* 1, 2 and 4 bits: one byte per pixel, values kept */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((int64_t)w * h > IMG_MAX_SAMPLES) {
        dc_set_error(DC_ERR_UNSUPPORTED, "%s: %s: a %ux%u mask is too large", fn, path, w, h);
        goto done;
    }
    ctx->pix = dc_malloc((size_t)w * h + 1);
    ctx->rows = dc_malloc(sizeof(png_bytep) * h + 1);
    if (!ctx->pix || !ctx->rows) {
        dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory for a %ux%u mask", fn, path, w, h);
        goto done;
    }
    for (png_uint_32 y = 0; y < h; y++) ctx->rows[y] = ctx->pix + (size_t)y * w;
    png_read_image(png, ctx->rows);
    png_read_end(png, NULL);
    *height = (int)h;
    *width = (int)w;
    result = ctx->pix;
    ctx->pix = NULL;
done:
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    if (ctx) {
        dc_free(ctx->pix);
        dc_free(ctx->rows);
    }
    dc_free(ctx);
    fclose(f);
    return result;
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
} jpeg_ctx;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    cinfo->err->format_message(cinfo, c->msg);
    longjmp(c->jmp, 1);
}
/* Warnings mean corrupt or truncated data (libjpeg would fill the rest with
 * gray): treat them as errors. Trace messages are ignored; nothing is printed. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_on_error(cinfo);
}
static void jpeg_on_output(j_common_ptr cinfo) { (void)cinfo; }

static dc_tensor *load_jpeg(const char *fn, const char *path, FILE *f, int channels) {
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx *err = dc_calloc(1, sizeof *err);
    uint8_t *volatile pix = NULL;
    dc_tensor *volatile result = NULL;
    if (!err) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    cinfo.err = jpeg_std_error(&err->pub);
    err->pub.error_exit = jpeg_on_error;
    err->pub.emit_message = jpeg_on_message;
    err->pub.output_message = jpeg_on_output;
    if (setjmp(err->jmp)) {
        dc_tensor_free(result);
        result = NULL;
        dc_set_error(DC_ERR_FORMAT, "%s: %s: corrupt JPEG: %s", fn, path, err->msg);
        goto done;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    /* Refuse hostile sizes before libjpeg allocates whole-image buffers. */
    if ((int64_t)cinfo.image_width * cinfo.image_height * cinfo.num_components > IMG_MAX_SAMPLES) {
        dc_set_error(DC_ERR_UNSUPPORTED, "%s: %s: a %ux%u image is too large", fn, path,
                     (unsigned)cinfo.image_width, (unsigned)cinfo.image_height);
        goto done;
    }
    if (cinfo.jpeg_color_space == JCS_GRAYSCALE) cinfo.out_color_space = JCS_GRAYSCALE;
    else cinfo.out_color_space = JCS_RGB; /* YCbCr, CMYK etc. become RGB where libjpeg can */
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, c = cinfo.output_components;
    if ((int64_t)w * h * c > IMG_MAX_SAMPLES) {
        dc_set_error(DC_ERR_UNSUPPORTED, "%s: %s: a %dx%d image is too large", fn, path, w, h);
        goto done;
    }
    pix = dc_malloc((size_t)w * h * c + 1);
    if (!pix) {
        dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory for a %dx%d image", fn, path, w, h);
        goto done;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pix + (size_t)cinfo.output_scanline * w * c;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    result = pixels_to_tensor(fn, pix, h, w, c, 0, channels);
done:
    jpeg_destroy_decompress(&cinfo);
    dc_free(pix);
    dc_free(err);
    return result;
}

dc_tensor *dc_image_load(const char *path, int channels) {
    const char *fn = "dc_image_load";
    if (!path) {
        dc_set_error(DC_ERR_ARG, "%s: path is NULL", fn);
        return NULL;
    }
    if (channels != 0 && channels != 1 && channels != 3) {
        dc_set_error(DC_ERR_ARG, "%s: channels %d must be 0 (as stored), 1 or 3", fn, channels);
        return NULL;
    }
    FILE *f = dc_fopen_read(fn, path);
    if (!f) return NULL;
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, 8, f);
    rewind(f);
    dc_tensor *t = NULL;
    if (n == 8 && png_sig_cmp(sig, 0, 8) == 0) t = load_png(fn, path, f, channels);
    else if (n >= 3 && sig[0] == 0xff && sig[1] == 0xd8 && sig[2] == 0xff)
        t = load_jpeg(fn, path, f, channels);
    else
        dc_set_error(DC_ERR_FORMAT, "%s: %s is neither a PNG nor a JPEG file (%zu bytes read)", fn,
                     path, n);
    fclose(f);
    return t;
}

/* ---- writing ---- */

typedef struct {
    jmp_buf jmp;
    char msg[200];
} png_wctx;

static void pngw_on_error(png_structp png, png_const_charp msg) {
    png_wctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jmp, 1);
}

dc_status dc_png_write_u8(const char *fn, const char *path, const uint8_t *pix, int h, int w,
                          int c) {
    dc_atomic_file af; /* written whole to a tmp, then renamed over path */
    if (dc_atomic_open(&af, fn, path) != DC_OK) return dc_last_status();
    FILE *f = af.f;
    png_wctx *ctx = dc_calloc(1, sizeof *ctx);
    png_structp png = ctx ? png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, pngw_on_error,
                                                    png_on_warning)
                          : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    volatile dc_status s = DC_OK;
    if (!info) {
        s = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    if (setjmp(ctx->jmp)) {
        s = dc_set_error(DC_ERR_IO, "%s: writing %s failed: %s", fn, path, ctx->msg);
        goto done;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, pix + (size_t)y * w * c);
    png_write_end(png, NULL);
done:
    if (png) png_destroy_write_struct(&png, info ? &info : NULL);
    dc_free(ctx);
    if (s == DC_OK) s = dc_atomic_commit(&af);
    else dc_atomic_abort(&af);
    return s;
}

dc_status dc_image_save_png(const char *path, const float *hwc, int height, int width,
                            int channels) {
    const char *fn = "dc_image_save_png";
    if (!path || !hwc) return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, path ? "hwc" : "path");
    if (height <= 0 || width <= 0 || (channels != 1 && channels != 3))
        return dc_set_error(DC_ERR_ARG, "%s: image (%d,%d,%d): want positive sizes and 1 or 3 "
                            "channels", fn, height, width, channels);
    if ((int64_t)height * width * channels > IMG_MAX_SAMPLES || height > (1 << 20) ||
        width > (1 << 20))
        return dc_set_error(DC_ERR_ARG, "%s: image (%d,%d,%d) is too large", fn, height, width,
                            channels);
    size_t n = (size_t)height * width * channels;
    uint8_t *pix = dc_malloc(n);
    if (!pix) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    for (size_t i = 0; i < n; i++) {
        float v = hwc[i];
        v = v > 0 ? (v < 1 ? v : 1) : 0; /* NaN becomes 0 */
        pix[i] = (uint8_t)lrintf(v * 255.0f);
    }
    dc_status s = dc_png_write_u8(fn, path, pix, height, width, channels);
    dc_free(pix);
    return s;
}

/* Output index i along an axis of n source pixels (scale n / n2): the two
 * source pixels it lies between, i0 <= i1, clamped at the edges, and the weight
 * of i1. */
static float resize_source(int i, float scale, int n, int *i0, int *i1) {
    float f = ((float)i + 0.5f) * scale - 0.5f;
    if (f < 0) f = 0;
    *i0 = (int)f;
    if (*i0 > n - 1) *i0 = n - 1;
    *i1 = *i0 + 1 < n ? *i0 + 1 : n - 1;
    return f - (float)*i0;
}

// src (H,W,C) -> dst (H2,W2,C), half-pixel centres, edges clamped
dc_status dc_image_resize(const float *src, int height, int width, int channels, float *dst,
                          int height2, int width2) {
    const char *fn = "dc_image_resize";
    if (!src || !dst) return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, src ? "dst" : "src");
    if (height <= 0 || width <= 0 || channels <= 0 || height2 <= 0 || width2 <= 0)
        return dc_set_error(DC_ERR_ARG, "%s: (%d,%d,%d) -> (%d,%d): sizes must be positive", fn,
                            height, width, channels, height2, width2);
    float sy = (float)height / (float)height2, sx = (float)width / (float)width2;
    for (int y = 0; y < height2; y++) {
        int y0, y1;
        float wy = resize_source(y, sy, height, &y0, &y1);
        for (int x = 0; x < width2; x++) {
            int x0, x1;
            float wx = resize_source(x, sx, width, &x0, &x1);
            const float *a = src + ((size_t)y0 * width + x0) * channels;
            const float *b = src + ((size_t)y0 * width + x1) * channels;
            const float *c = src + ((size_t)y1 * width + x0) * channels;
            const float *d = src + ((size_t)y1 * width + x1) * channels;
            float *o = dst + ((size_t)y * width2 + x) * channels;
            for (int k = 0; k < channels; k++) {
                float top = a[k] + (b[k] - a[k]) * wx, bot = c[k] + (d[k] - c[k]) * wx;
                o[k] = top + (bot - top) * wy;
            }
        }
    }
    return DC_OK;
}
