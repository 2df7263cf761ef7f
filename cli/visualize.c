/* visualize.c — `deepc visualize MODEL (--index N | FILE.png)`: pictures of what
 * a model learned: filters.png (a convolution's kernels, one tile per output
 * filter) and feature_maps.png (the input, then one small image per filter of
 * each convolution's output), each section labelled. */
#include "cli.h"
#include "font.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const VERB = "visualize";

static void help(FILE *f) {
    fprintf(f,
            "usage: deepc visualize MODEL.safetensors (--index N | FILE.png) [--layer NAME]\n"
            "                       [--out DIR] [--data SPEC]\n"
            "\n"
            "Writes into DIR (default: the model file's folder):\n"
            "  filters.png               the first convolution's filters (or --layer's), all\n"
            "                            on one scale: blue < 0 < red with a colour bar of\n"
            "                            the range, the mean over channels; RGB (gray = 0)\n"
            "                            when the layer sees 3 channels\n"
            "  feature_maps.png          the input image, then each convolution's output for\n"
            "                            it, one small image per filter\n"
            "  feature_maps_<layer>.png  the same, one file per convolution\n"
            "The image is test sample N (of --data SPEC, default the model's test data) or\n"
            "an image file (PNG or JPEG), converted and resized to the model's input.\n"
            "A model without convolutions shows its first Dense layer's weights as images.\n"
            "\n"
            "       deepc visualize MODEL.safetensors --segmentation [--count N] [--out DIR]\n"
            "                       [--data SPEC]\n"
            "A segmentation model (outputs (H, W, classes)): DIR/segmentation.png, the first\n"
            "N (default 8) test images beside their true and predicted masks, with the\n"
            "mean IoU over them and a legend of the classes' names and colours.\n");
}

/* One labelled grid of tiles (th, tw, ch) in the picture. Signed weights
 * (diverging) share one scale, -vmax blue .. 0 white .. +vmax red, drawn
 * with a colour bar, so sign and size read the same in every tile. */
typedef struct {
    char label[160];
    int n, th, tw, ch, cols, scale;
    bool normalize, diverging;
    float vmax;   /* diverging: the largest |weight| of all tiles */
    float *tiles; /* n * th * tw * ch, owned */
} section;

enum { MARGIN = 10, BORDER = 2, LABEL_SCALE = 2, GAP = 14, BAR_W = 300, BAR_H = 16, BAR_X = 60 };
#define BAR_NOTE "weights: blue < 0 < red"

/* The colour bar with its three values below it. */
static int bar_height(const section *s) {
    return s->diverging ? 8 + BAR_H + 8 + FONT_H * LABEL_SCALE + 4 + FONT_H * LABEL_SCALE : 0;
}

static int section_width(const section *s) {
    int cols = s->cols < s->n ? s->cols : s->n;
    int g = cols * (s->tw * s->scale + BORDER) + BORDER;
    int l = font_text_width(s->label, LABEL_SCALE);
    if (s->diverging && g < BAR_X + BAR_W + 60) g = BAR_X + BAR_W + 60;
    return g > l ? g : l;
}
static int section_height(const section *s) {
    int cols = s->cols < s->n ? s->cols : s->n;
    int rows = (s->n + cols - 1) / cols;
    return FONT_H * LABEL_SCALE + 6 + rows * (s->th * s->scale + BORDER) + BORDER + bar_height(s);
}

/* Blue (-1) through white (0) to red (+1): a diverging map for signed weights. */
static void diverging_rgb(float t, float rgb[3]) {
    static const float neg[3] = {0.17f, 0.35f, 0.75f}, mid[3] = {0.97f, 0.97f, 0.97f},
                       pos[3] = {0.75f, 0.10f, 0.13f};
    if (!(t == t)) t = 0;
    t = t < -1 ? -1 : t > 1 ? 1 : t;
    const float *end = t < 0 ? neg : pos;
    float a = fabsf(t);
    for (int k = 0; k < 3; k++) rgb[k] = mid[k] + (end[k] - mid[k]) * a;
}

/* The bar (-vmax .. +vmax) at (x, y) and its labels: "-v", "0", "+v", and
 * what the colours mean. */
static void draw_bar(float *img, int H, int W, int x, int y, float vmax) {
    static const float ink[3] = {0.1f, 0.1f, 0.1f};
    for (int px = 0; px < BAR_W; px++) {
        float rgb[3];
        diverging_rgb(2.0f * (float)px / (BAR_W - 1) - 1.0f, rgb);
        for (int py = 0; py < BAR_H; py++)
            for (int k = 0; k < 3; k++) img[((size_t)(y + py) * W + x + px) * 3 + k] = rgb[k];
    }
    for (int px = -1; px <= BAR_W; px++) /* ticks at both ends and at zero */
        if (px == -1 || px == BAR_W || px == BAR_W / 2)
            for (int py = 0; py < BAR_H + 4; py++)
                for (int k = 0; k < 3; k++) img[((size_t)(y + py) * W + x + px) * 3 + k] = ink[k];
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "-%.3g", (double)vmax);
    snprintf(hi, sizeof hi, "+%.3g", (double)vmax);
    int ty = y + BAR_H + 8;
    font_draw(img, H, W, 3, x - font_text_width(lo, LABEL_SCALE) / 2, ty, lo, LABEL_SCALE, ink);
    font_draw(img, H, W, 3, x + BAR_W / 2 - font_text_width("0", LABEL_SCALE) / 2, ty, "0",
              LABEL_SCALE, ink);
    font_draw(img, H, W, 3, x + BAR_W - font_text_width(hi, LABEL_SCALE) / 2, ty, hi,
              LABEL_SCALE, ink);
    font_draw(img, H, W, 3, x, ty + FONT_H * LABEL_SCALE + 4,
              BAR_NOTE, LABEL_SCALE, ink);
}

/* Stacks the sections top to bottom on white, each tile on a gray frame. */
static dc_status render(const char *path, const section *secs, int n) {
    int W = 0, H = MARGIN;
    for (int i = 0; i < n; i++) {
        int w = section_width(&secs[i]);
        if (w > W) W = w;
        H += section_height(&secs[i]) + (i + 1 < n ? GAP : 0);
    }
    W += 2 * MARGIN;
    H += MARGIN;
    float *img = malloc((size_t)W * H * 3 * sizeof *img);
    if (!img) {
        fprintf(stderr, "deepc %s: out of memory for a %dx%d picture\n", VERB, W, H);
        return DC_ERR_NOMEM;
    }
    for (size_t i = 0; i < (size_t)W * H * 3; i++) img[i] = 1.0f;
    static const float ink[3] = {0.1f, 0.1f, 0.1f};
    int y = MARGIN;
    for (int si = 0; si < n; si++) {
        const section *s = &secs[si];
        font_draw(img, H, W, 3, MARGIN, y, s->label, LABEL_SCALE, ink);
        y += FONT_H * LABEL_SCALE + 6;
        int cols = s->cols < s->n ? s->cols : s->n;
        int rows = (s->n + cols - 1) / cols;
        int gw = cols * (s->tw * s->scale + BORDER) + BORDER;
        int gh = rows * (s->th * s->scale + BORDER) + BORDER;
        for (int yy = 0; yy < gh; yy++) /* the frame behind the tiles */
            for (int xx = 0; xx < gw; xx++)
                for (int k = 0; k < 3; k++) img[((size_t)(y + yy) * W + MARGIN + xx) * 3 + k] = 0.55f;
        size_t tsize = (size_t)s->th * s->tw * s->ch;
        for (int t = 0; t < s->n; t++) {
            const float *src = s->tiles + t * tsize;
            float lo = 0, hi = 1;
            if (s->normalize) {
                lo = INFINITY, hi = -INFINITY;
                for (size_t i = 0; i < tsize; i++)
                    if (isfinite(src[i])) lo = fminf(lo, src[i]), hi = fmaxf(hi, src[i]);
                if (!(hi >= lo)) lo = 0, hi = 1;
            }
            float inv = hi > lo ? 1.0f / (hi - lo) : 0.0f;
            int ox = MARGIN + BORDER + (t % cols) * (s->tw * s->scale + BORDER);
            int oy = y + BORDER + (t / cols) * (s->th * s->scale + BORDER);
            for (int py = 0; py < s->th * s->scale; py++)
                for (int px = 0; px < s->tw * s->scale; px++) {
                    const float *v = src + ((size_t)(py / s->scale) * s->tw + px / s->scale) * s->ch;
                    if (s->diverging) {
                        float rgb[3];
                        diverging_rgb(s->vmax > 0 ? v[0] / s->vmax : 0, rgb);
                        for (int k = 0; k < 3; k++)
                            img[((size_t)(oy + py) * W + ox + px) * 3 + k] = rgb[k];
                        continue;
                    }
                    for (int k = 0; k < 3; k++) {
                        float a = (v[s->ch == 3 ? k : 0] - lo) * inv;
                        if (!(a > 0)) a = 0;
                        if (a > 1) a = 1;
                        img[((size_t)(oy + py) * W + ox + px) * 3 + k] = a;
                    }
                }
        }
        if (s->diverging) draw_bar(img, H, W, MARGIN + BAR_X, y + gh + 8, s->vmax);
        y += gh + bar_height(s) + GAP;
    }
    dc_status st = dc_image_save_png(path, img, H, W, 3);
    free(img);
    return st;
}

static bool is_conv(const dc_layer *l) {
    const char *t = dc_layer_type(l);
    dc_tensor *k = dc_layer_num_params(l) > 0 ? dc_layer_param(l, 0) : NULL;
    return t && strstr(t, "Conv") && k && k->ndim == 4;
}

/* Columns that fill the rows: 24 and 36 in rows of 12, 32 and 64 in rows of 16. */
static int grid_cols(int n) {
    if (n <= 8) return n;
    if (n % 12 == 0 && n <= 48) return 12;
    if (n % 16 == 0) return 16;
    return n <= 36 ? 12 : 16;
}

/* Scale that makes a tile about `target` pixels across. */
static int scale_for(int64_t h, int64_t w, int target) {
    int64_t m = h > w ? h : w;
    int s = (int)(target / (m > 0 ? m : 1));
    return s < 1 ? 1 : s > 64 ? 64 : s;
}

/* Weights on one shared scale: gray tiles take the diverging colours; RGB
 * tiles become 0.5 + w / (2 vmax) per channel (gray is 0), as a diverging
 * map cannot colour three values at once. */
static void signed_scale(section *s) {
    size_t n = (size_t)s->n * s->th * s->tw * s->ch;
    float vmax = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(s->tiles[i])) vmax = fmaxf(vmax, fabsf(s->tiles[i]));
    s->vmax = vmax;
    s->normalize = false;
    s->diverging = s->ch == 1;
    if (s->ch == 3)
        for (size_t i = 0; i < n; i++)
            s->tiles[i] = vmax > 0 ? 0.5f + s->tiles[i] / (2 * vmax) : 0.5f;
}

/* Kernel (KH,KW,C,F) -> F tiles (KH,KW,3) if C == 3, else (KH,KW,1) channel means. */
static bool filter_section(const dc_layer *l, section *s) {
    const dc_tensor *k = dc_layer_param(l, 0);
    int KH = (int)k->shape[0], KW = (int)k->shape[1], C = (int)k->shape[2], F = (int)k->shape[3];
    int ch = C == 3 ? 3 : 1;
    s->n = F, s->th = KH, s->tw = KW, s->ch = ch;
    s->cols = grid_cols(F);
    s->scale = scale_for(KH, KW, 72);
    s->tiles = calloc((size_t)F * KH * KW * ch, sizeof(float));
    if (!s->tiles) return false;
    for (int f = 0; f < F; f++)
        for (int i = 0; i < KH * KW; i++) {
            const float *w = k->data + (size_t)i * C * F + f; /* w[i, c, f] at c*F */
            float *dst = s->tiles + ((size_t)f * KH * KW + i) * ch;
            if (ch == 3) {
                for (int c = 0; c < 3; c++) dst[c] = w[(size_t)c * F];
            } else {
                double sum = 0;
                for (int c = 0; c < C; c++) sum += w[(size_t)c * F];
                dst[0] = (float)(sum / C);
            }
        }
    signed_scale(s);
    char range[64] = "";
    if (C == 3) snprintf(range, sizeof range, " (rgb, gray = 0, -+%.3g)", (double)s->vmax);
    snprintf(s->label, sizeof s->label, "%s: %d filters %dx%d%s", dc_layer_name(l), F, KH, KW,
             C == 3 ? range : C > 1 ? " (mean over channels)" : "");
    return true;
}

/* A Dense kernel (in, units) whose inputs are the model's image pixels: each
 * unit's weights as an image. */
static bool dense_section(const dc_layer *l, const cli_model *cm, section *s) {
    const dc_tensor *k = dc_layer_param(l, 0);
    if (cm->in_ndim != 3 || k->ndim != 2) return false;
    int H = (int)cm->in_shape[0], W = (int)cm->in_shape[1], C = (int)cm->in_shape[2];
    if (k->shape[0] != (int64_t)H * W * C) return false;
    int U = (int)k->shape[1], n = U < 64 ? U : 64, ch = C == 3 ? 3 : 1;
    s->n = n, s->th = H, s->tw = W, s->ch = ch, s->cols = 16;
    s->scale = scale_for(H, W, 84);
    s->tiles = calloc((size_t)n * H * W * ch, sizeof(float));
    if (!s->tiles) return false;
    for (int u = 0; u < n; u++)
        for (int p = 0; p < H * W; p++) {
            float *dst = s->tiles + ((size_t)u * H * W + p) * ch;
            double sum = 0;
            for (int c = 0; c < C; c++) {
                float v = k->data[((size_t)p * C + c) * U + u];
                if (ch == 3) dst[c] = v;
                sum += v;
            }
            if (ch == 1) dst[0] = (float)(sum / C);
        }
    signed_scale(s);
    snprintf(s->label, sizeof s->label, "%s: weights of the first %d of %d units%s",
             dc_layer_name(l), n, U, C == 3 ? " (rgb, gray = 0)" : "");
    return true;
}

/* An output (1,HO,WO,F) -> F gray tiles (HO,WO). */
static bool map_section(const dc_layer *l, const dc_tensor *y, section *s) {
    int HO = (int)y->shape[1], WO = (int)y->shape[2], F = (int)y->shape[3];
    s->n = F, s->th = HO, s->tw = WO, s->ch = 1;
    s->cols = grid_cols(F);
    s->scale = scale_for(HO, WO, 64);
    s->normalize = true;
    s->tiles = malloc((size_t)F * HO * WO * sizeof(float));
    if (!s->tiles) return false;
    for (int f = 0; f < F; f++)
        for (int p = 0; p < HO * WO; p++) s->tiles[(size_t)f * HO * WO + p] = y->data[(size_t)p * F + f];
    snprintf(s->label, sizeof s->label, "%s: %d feature maps %dx%d", dc_layer_name(l), F, HO, WO);
    return true;
}

/* DIR: --out, else the model file's folder; made if need be. */
static bool out_dir(const char *model, const char *out, char *dir, size_t n) {
    const char *slash = strrchr(model, '/');
    if (out) snprintf(dir, n, "%s", out);
    else if (slash) snprintf(dir, n, "%.*s", (int)(slash - model), model);
    else snprintf(dir, n, ".");
    return cli_mkdirs(VERB, dir);
}

int cli_visualize(int argc, char **argv) {
    cli_image_args ia = {.index = -1};
    const char *layer = NULL, *out = NULL;
    bool seg = false;
    long long count = 8;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            help(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--layer")) {
            if (!(layer = cli_value(VERB, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--out")) {
            if (!(out = cli_value(VERB, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--segmentation")) {
            seg = true;
        } else if (!strcmp(a, "--count")) {
            const char *v = cli_value(VERB, argc, argv, &i);
            if (!v || !cli_int(VERB, a, v, 1, 1000, &count)) return CLI_USAGE;
        } else if (!cli_image_arg(VERB, argc, argv, &i, &ia)) {
            return CLI_USAGE;
        }
    }
    if (seg && (ia.image || ia.index >= 0 || layer))
        return cli_usage(VERB, "--segmentation draws test samples: no FILE, --index or --layer");
    if (seg && !ia.model) return cli_usage(VERB, "no model file (deepc visualize MODEL --segmentation)");
    if (!seg && !cli_image_args_check(VERB, &ia, "deepc visualize MODEL.safetensors --index 0"))
        return CLI_USAGE;
    const char *model = ia.model, *image = ia.image, *spec = ia.spec;
    const long long index = ia.index;
    char dir[4096];
    if (seg) {
        cli_model cm;
        if (!out_dir(model, out, dir, sizeof dir) || !cli_model_load(VERB, model, &cm)) return CLI_FAIL;
        int rc = cli_visualize_segmentation(VERB, &cm, spec, dir, count);
        cli_model_free(&cm);
        return rc;
    }
    if (!out_dir(model, out, dir, sizeof dir)) return CLI_FAIL;

    cli_model cm;
    if (!cli_model_load(VERB, model, &cm)) return CLI_FAIL;
    int rc = CLI_FAIL, label = -1, nl = dc_model_num_layers(cm.model);
    section *secs = calloc((size_t)nl + 2, sizeof *secs);
    dc_tensor **outs = calloc((size_t)nl + 1, sizeof *outs);
    dc_tape *tape = dc_tape_new(&(dc_tape_options){.no_record = true});
    dc_tensor *x = NULL;
    int ns = 0;
    if (!secs || !outs || !tape) {
        fprintf(stderr, "deepc %s: out of memory\n", VERB);
        goto done;
    }
    /* filters: --layer, else the first convolution, else the first Dense on the pixels */
    const dc_layer *fl = NULL;
    if (layer) {
        fl = dc_model_get_layer(cm.model, layer);
        if (!fl) {
            fprintf(stderr, "deepc %s: the model has no layer '%s' (its layers:", VERB, layer);
            for (int i = 0; i < nl; i++) fprintf(stderr, " %s", dc_layer_name(dc_model_layer(cm.model, i)));
            fprintf(stderr, ")\n");
            goto done;
        }
        if (!is_conv(fl) && strcmp(dc_layer_type(fl), "Dense")) {
            fprintf(stderr, "deepc %s: layer '%s' is a %s, which has no filters to draw\n", VERB,
                    layer, dc_layer_type(fl));
            goto done;
        }
    }
    for (int i = 0; !fl && i < nl; i++)
        if (is_conv(dc_model_layer(cm.model, i))) fl = dc_model_layer(cm.model, i);
    for (int i = 0; !fl && i < nl; i++)
        if (!strcmp(dc_layer_type(dc_model_layer(cm.model, i)), "Dense")) fl = dc_model_layer(cm.model, i);
    char fpath[4200], mpath[4200];
    snprintf(fpath, sizeof fpath, "%s/filters.png", dir);
    snprintf(mpath, sizeof mpath, "%s/feature_maps.png", dir);
    bool have_filters = false;
    if (fl) {
        section fs = {0};
        bool ok = is_conv(fl) ? filter_section(fl, &fs) : dense_section(fl, &cm, &fs);
        if (ok) {
            dc_status st = render(fpath, &fs, 1);
            free(fs.tiles);
            if (st != DC_OK) {
                cli_fail(VERB);
                goto done;
            }
            have_filters = true;
        } else if (layer) {
            fprintf(stderr, "deepc %s: layer '%s' does not see the image's pixels directly\n", VERB, layer);
            goto done;
        }
    }

    /* feature maps for one image */
    x = cli_input_image(VERB, &cm, image, index, spec, &label);
    if (!x) goto done;
    if (dc_model_call_collect(cm.model, tape, x, outs, nl) != DC_OK) {
        cli_fail(VERB);
        goto done;
    }
    section *in = &secs[ns++];
    if (cm.in_ndim == 3 && (cm.in_shape[2] == 1 || cm.in_shape[2] == 3)) {
        in->n = 1, in->th = (int)cm.in_shape[0], in->tw = (int)cm.in_shape[1];
        in->ch = (int)cm.in_shape[2], in->cols = 1;
        in->scale = scale_for(in->th, in->tw, 112);
        in->tiles = malloc((size_t)x->size * sizeof(float));
        if (!in->tiles) goto done;
        memcpy(in->tiles, x->data, (size_t)x->size * sizeof(float));
        if (image) snprintf(in->label, sizeof in->label, "input: %s", strrchr(image, '/') ? strrchr(image, '/') + 1 : image);
        else if (label >= 0 && label < cm.n_names)
            snprintf(in->label, sizeof in->label, "input: test sample %lld (%s)", index, cm.names[label]);
        else snprintf(in->label, sizeof in->label, "input: test sample %lld", index);
    } else {
        ns--;
    }
    int n_maps = 0;
    for (int i = 0; i < nl; i++) {
        const dc_layer *l = dc_model_layer(cm.model, i);
        bool want = is_conv(l) || (layer && !strcmp(dc_layer_name(l), layer));
        if (!want || outs[i]->ndim != 4) continue;
        if (!map_section(l, outs[i], &secs[ns])) goto done;
        char lp[4300];
        snprintf(lp, sizeof lp, "%s/feature_maps_%s.png", dir, dc_layer_name(l));
        if (render(lp, &secs[ns], 1) != DC_OK) {
            cli_fail(VERB);
            goto done;
        }
        printf("%s\n", lp);
        ns++;
        n_maps++;
    }
    if (!have_filters && n_maps == 0 && ns == 0) {
        fprintf(stderr, "deepc %s: nothing to draw: the model has no convolution and does not "
                        "take images\n", VERB);
        goto done;
    }
    if (ns > 0 && render(mpath, secs, ns) != DC_OK) {
        cli_fail(VERB);
        goto done;
    }
    if (have_filters) printf("%s (%s)\n", fpath, dc_layer_name(fl));
    if (ns > 0 && n_maps == 0)
        printf("%s (the input only: the model has no convolution layers)\n", mpath);
    else if (ns > 0)
        printf("%s (the input and %d convolution output%s)\n", mpath, n_maps, n_maps == 1 ? "" : "s");
    rc = CLI_OK;
done:
    for (int i = 0; secs && i < ns; i++) free(secs[i].tiles);
    free(secs);
    free(outs);
    dc_tensor_free(x);
    dc_tape_free(tape);
    cli_model_free(&cm);
    return rc;
}
