/* segment.c — the pictures of a segmentation model (outputs (H, W, classes)):
 * predict's colour mask and overlay, and visualize's grid of images, true and predicted masks. */
#include "cli.h"
#include "font.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SEG_MARGIN = 10, SEG_GAP = 8, SEG_LABEL = 2, SWATCH = 14 };

void cli_class_rgb(int k, float rgb[3]) {
    /* class 0 (background) black, then colours far apart in hue */
    static const unsigned char table[][3] = {
        {0, 0, 0},       {230, 25, 75},   {60, 180, 75},  {255, 225, 25}, {0, 130, 200},
        {245, 130, 48},  {145, 30, 180},  {70, 240, 240}, {240, 50, 230}, {210, 245, 60},
        {250, 190, 212}, {0, 128, 128},   {220, 190, 255}, {170, 110, 40}, {255, 250, 200},
        {128, 0, 0},     {170, 255, 195}, {128, 128, 0},  {255, 215, 180}, {0, 0, 128}};
    const int n = (int)(sizeof table / sizeof *table);
    if (k >= 0 && k < n) {
        for (int c = 0; c < 3; c++) rgb[c] = table[k][c] / 255.0f;
        return;
    }
    uint32_t h = (uint32_t)k * 2654435761u; /* beyond the table: a hashed colour */
    for (int c = 0; c < 3; c++) rgb[c] = (float)(64 + ((h >> (8 * c)) & 0xbf)) / 255.0f;
}

/* Per pixel, the most likely class: scores (n, C) -> cls (n). */
static void argmax_rows(const float *scores, int64_t n, int64_t C, int *cls) {
    for (int64_t i = 0; i < n; i++) {
        const float *s = scores + i * C;
        int b = 0;
        for (int64_t c = 1; c < C; c++)
            if (s[c] > s[b]) b = (int)c;
        cls[i] = b;
    }
}

/* "mask.png" -> "mask_overlay.png" */
static void overlay_path(const char *out, char *buf, size_t n) {
    const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (!dot || (slash && dot < slash)) dot = out + strlen(out);
    snprintf(buf, n, "%.*s_overlay%s", (int)(dot - out), out, *dot ? dot : ".png");
}

static const char *class_name(const cli_model *cm, int k, char *buf, size_t n) {
    if (k < cm->n_names) return cm->names[k];
    snprintf(buf, n, "class %d", k);
    return buf;
}

int cli_predict_segmentation(const char *verb, const cli_model *cm, const dc_tensor *x,
                             const dc_tensor *y, const char *image, const char *out) {
    int64_t H = y->shape[1], W = y->shape[2], C = y->shape[3];
    int *cls = malloc((size_t)(H * W) * sizeof *cls);
    int64_t *count = calloc((size_t)C, sizeof *count);
    dc_tensor *orig = image ? dc_image_load(image, 3) : NULL;
    int oh = (int)(orig ? orig->shape[0] : x->shape[1]), ow = (int)(orig ? orig->shape[1] : x->shape[2]);
    float *mask = malloc((size_t)oh * ow * 3 * sizeof *mask), *over = malloc((size_t)oh * ow * 3 * sizeof *over);
    int rc = CLI_FAIL;
    if (!cls || !count || !mask || !over || (image && !orig)) {
        if (image && !orig) cli_fail(verb);
        else fprintf(stderr, "deepc %s: out of memory\n", verb);
        goto done;
    }
    argmax_rows(y->data, H * W, C, cls);
    for (int64_t i = 0; i < H * W; i++) count[cls[i]]++;
    int64_t xc = x->shape[3], xw = x->shape[2];
    for (int r = 0; r < oh; r++) /* the mask at the picture's size, nearest pixel */
        for (int c = 0; c < ow; c++) {
            int64_t sr = (int64_t)r * H / oh, sc = (int64_t)c * W / ow;
            float rgb[3], px[3];
            cli_class_rgb(cls[sr * W + sc], rgb);
            for (int k = 0; k < 3; k++)
                px[k] = orig ? orig->data[((size_t)r * ow + c) * 3 + k]
                             : x->data[((int64_t)r * xw + c) * xc + (xc == 3 ? k : 0)];
            bool fg = cls[sr * W + sc] != 0; /* class 0 (background) leaves the picture as is */
            for (int k = 0; k < 3; k++) {
                mask[((size_t)r * ow + c) * 3 + k] = rgb[k];
                over[((size_t)r * ow + c) * 3 + k] = fg ? 0.45f * px[k] + 0.55f * rgb[k] : px[k];
            }
        }
    char op[4200];
    overlay_path(out, op, sizeof op);
    if (dc_image_save_png(out, mask, oh, ow, 3) != DC_OK ||
        dc_image_save_png(op, over, oh, ow, 3) != DC_OK) {
        cli_fail(verb);
        goto done;
    }
    printf("%s: %lldx%lld pixels, %lld classes\n", image ? image : "test sample", (long long)W,
           (long long)H, (long long)C);
    for (int k = 0; k < C; k++) {
        if (!count[k]) continue;
        char nb[32];
        printf("  %-16s %3d  %5.1f%%\n", class_name(cm, k, nb, sizeof nb), k,
               100.0 * (double)count[k] / (double)(H * W));
    }
    printf("Wrote %s (the classes' colours)\n      %s (over the image)\n", out, op);
    rc = CLI_OK;
done:
    free(cls);
    free(count);
    free(mask);
    free(over);
    dc_tensor_free(orig);
    return rc;
}

/* ---- visualize --segmentation ---- */

typedef struct {
    float *img;
    int H, W;
} canvas;

static void put(canvas *cv, int x, int y, const float rgb[3]) {
    if (x < 0 || y < 0 || x >= cv->W || y >= cv->H) return;
    for (int k = 0; k < 3; k++) cv->img[((size_t)y * cv->W + x) * 3 + k] = rgb[k];
}

/* A (h, w) tile at (x0, y0), scaled: pixels (ch 1 or 3) when cls is NULL, else class colours. */
static void draw_tile(canvas *cv, int x0, int y0, int h, int w, int scale, const float *px,
                      int ch, const int *cls) {
    for (int r = 0; r < h * scale; r++)
        for (int c = 0; c < w * scale; c++) {
            int64_t i = (int64_t)(r / scale) * w + c / scale;
            float rgb[3];
            if (cls) cli_class_rgb(cls[i], rgb);
            else
                for (int k = 0; k < 3; k++) rgb[k] = px[i * ch + (ch == 3 ? k : 0)];
            put(cv, x0 + c, y0 + r, rgb);
        }
}

/* Keras' MeanIoU over the shown samples: classes present in truth or prediction. */
static double shown_mean_iou(const int *truth, const int *pred, int64_t n, int C) {
    double *tp = calloc((size_t)C * 3, sizeof *tp), *np = tp ? tp + C : NULL, *nt = tp ? tp + 2 * C : NULL;
    if (!tp) return NAN;
    for (int64_t i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= C) continue;
        np[pred[i]]++, nt[truth[i]]++, tp[truth[i]] += pred[i] == truth[i];
    }
    double s = 0;
    int valid = 0;
    for (int c = 0; c < C; c++)
        if (np[c] + nt[c] - tp[c] > 0) s += tp[c] / (np[c] + nt[c] - tp[c]), valid++;
    free(tp);
    return valid ? s / valid : NAN;
}

int cli_visualize_segmentation(const char *verb, const cli_model *cm, const char *spec,
                               const char *dir, long long count) {
    int64_t os[DC_MAX_DIMS];
    int on = dc_model_output_shape(cm->model, os);
    if (on != 3 || cm->in_ndim != 3) {
        fprintf(stderr, "deepc %s: --segmentation needs a model from images to (H, W, classes); "
                "this one gives %d axes\n", verb, on);
        return CLI_FAIL;
    }
    dc_dataset *ds = cli_test_data(verb, cm, spec);
    if (!ds) return CLI_FAIL;
    int64_t n = dc_dataset_count(ds) < count ? dc_dataset_count(ds) : count;
    int h = (int)cm->in_shape[0], w = (int)cm->in_shape[1], ch = (int)cm->in_shape[2];
    int C = (int)os[2], rc = CLI_FAIL;
    int64_t ys[DC_MAX_DIMS], xshape[4] = {n, h, w, ch};
    int yn = dc_dataset_y_shape(ds, ys);
    dc_tensor *x = n > 0 ? dc_tensor_zeros(4, xshape) : NULL, *y = NULL;
    float *lab = malloc((size_t)(n * h * w + 1) * sizeof *lab);
    int *truth = malloc((size_t)(n * h * w + 1) * sizeof *truth), *pred = malloc((size_t)(n * h * w + 1) * sizeof *pred);
    canvas cv = {0};
    if (n < 1 || yn != 2 || ys[0] != h || ys[1] != w || ch > 3 || ch == 2) {
        fprintf(stderr, "deepc %s: --segmentation needs test masks (H, W) the size of the "
                "model's images, and some samples\n", verb);
        goto done;
    }
    if (!x || !lab || !truth || !pred) goto nomem;
    for (int64_t i = 0; i < n; i++)
        if (dc_dataset_get(ds, i, x->data + i * h * w * ch, lab + i * h * w) != DC_OK) {
            cli_fail(verb);
            goto done;
        }
    for (int64_t i = 0; i < n * h * w; i++) truth[i] = (int)lab[i];
    if (!(y = dc_model_predict(cm->model, x, 16))) {
        cli_fail(verb);
        goto done;
    }
    argmax_rows(y->data, n * h * w, C, pred);
    int scale = h * 2 <= 160 ? 2 : 1, tw = w * scale, th = h * scale;
    int head = FONT_H * SEG_LABEL + 8, legend_rows = (C + 2) / 3, col_w = 0;
    for (int k = 0; k < C; k++) {
        char nb[32];
        int lw = SWATCH + 6 + font_text_width(class_name(cm, k, nb, sizeof nb), SEG_LABEL) + 16;
        if (lw > col_w) col_w = lw;
    }
    cv.W = 2 * SEG_MARGIN + 3 * tw + 2 * SEG_GAP;
    if (cv.W < 2 * SEG_MARGIN + 3 * col_w) cv.W = 2 * SEG_MARGIN + 3 * col_w;
    if (cv.W < 2 * SEG_MARGIN + font_text_width("mean iou of these 0000: 0.000", SEG_LABEL))
        cv.W = 2 * SEG_MARGIN + font_text_width("mean iou of these 0000: 0.000", SEG_LABEL);
    cv.H = SEG_MARGIN + 2 * head + (int)n * (th + SEG_GAP) + legend_rows * (SWATCH + 6) + SEG_MARGIN;
    if (!(cv.img = malloc((size_t)cv.W * cv.H * 3 * sizeof *cv.img))) goto nomem;
    for (size_t i = 0; i < (size_t)cv.W * cv.H * 3; i++) cv.img[i] = 1.0f;
    static const float ink[3] = {0.1f, 0.1f, 0.1f};
    char title[96];
    snprintf(title, sizeof title, "mean iou of these %lld: %.3f", (long long)n,
             shown_mean_iou(truth, pred, n * h * w, C));
    font_draw(cv.img, cv.H, cv.W, 3, SEG_MARGIN, SEG_MARGIN, title, SEG_LABEL, ink);
    static const char *const cols[3] = {"image", "true", "predicted"};
    for (int k = 0; k < 3; k++)
        font_draw(cv.img, cv.H, cv.W, 3, SEG_MARGIN + k * (tw + SEG_GAP), SEG_MARGIN + head,
                  cols[k], SEG_LABEL, ink);
    int y0 = SEG_MARGIN + 2 * head;
    for (int64_t i = 0; i < n; i++, y0 += th + SEG_GAP) {
        draw_tile(&cv, SEG_MARGIN, y0, h, w, scale, x->data + i * h * w * ch, ch, NULL);
        draw_tile(&cv, SEG_MARGIN + tw + SEG_GAP, y0, h, w, scale, NULL, 0, truth + i * h * w);
        draw_tile(&cv, SEG_MARGIN + 2 * (tw + SEG_GAP), y0, h, w, scale, NULL, 0, pred + i * h * w);
    }
    for (int k = 0; k < C; k++) { /* the legend: a swatch and a name per class, three columns */
        int lx = SEG_MARGIN + (k % 3) * col_w, ly = y0 + (k / 3) * (SWATCH + 6);
        float rgb[3];
        cli_class_rgb(k, rgb);
        for (int r = 0; r < SWATCH; r++)
            for (int c = 0; c < SWATCH; c++) put(&cv, lx + c, ly + r, (r == 0 || c == 0 || r == SWATCH - 1 || c == SWATCH - 1) ? ink : rgb);
        char nb[32];
        font_draw(cv.img, cv.H, cv.W, 3, lx + SWATCH + 6, ly + (SWATCH - FONT_H * SEG_LABEL) / 2,
                  class_name(cm, k, nb, sizeof nb), SEG_LABEL, ink);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/segmentation.png", dir);
    if (dc_image_save_png(path, cv.img, cv.H, cv.W, 3) != DC_OK) {
        cli_fail(verb);
        goto done;
    }
    printf("%s\n", path);
    rc = CLI_OK;
    goto done;
nomem:
    fprintf(stderr, "deepc %s: out of memory\n", verb);
done:
    free(cv.img);
    free(lab);
    free(truth);
    free(pred);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_dataset_free(ds);
    return rc;
}
