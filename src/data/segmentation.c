/* segmentation.c — datasets whose labels are masks, one class index per pixel: the
 * fashion-canvas generator (Fashion-MNIST garments on a canvas) and images/ + masks/ folders. */
#include "dataset.h"
#include "../io/io.h"
#include "../tensor/tensor.h"
#include <string.h>
#include <sys/stat.h>

#define GARMENT 28 /* Fashion-MNIST's side */

static const char *const canvas_names[] = {"background", "T-shirt/top", "Trouser", "Pullover",
                                           "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                           "Ankle boot"};

/* Storage for n samples of (h, w, c) pixels and (h, w) mask bytes. */
static dc_ds_storage *mask_storage(const char *fn, int64_t n, int64_t h, int64_t w, int64_t c) {
    dc_ds_storage *s = dc_calloc(1, sizeof *s);
    if (s) {
        s->owns = true;
        s->x_bytes = dc_malloc_aligned((size_t)(n * h * w * c) + 1);
        s->y_bytes = dc_malloc_aligned((size_t)(n * h * w) + 1);
    }
    if (!s || !s->x_bytes || !s->y_bytes) {
        dc_ds_storage_free(s);
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %lld masks of %lldx%lld", fn,
                     (long long)n, (long long)w, (long long)h);
        return NULL;
    }
    return s;
}

static dc_dataset *mask_dataset(const char *fn, dc_ds_storage *s, int64_t n, int64_t h, int64_t w,
                                int64_t c) {
    int64_t xs[3] = {h, w, c}, ys[2] = {h, w};
    return dc_dataset_from_storage(fn, s, n, 3, xs, 2, ys);
}

/* Pastes garment g (28x28 bytes, class k) at (r0, c0): its pixels brighter
 * than thr cover the canvas and are labelled k + 1. */
static void paste(uint8_t *img, uint8_t *mask, int size, const uint8_t *g, int k, int r0, int c0,
                  int thr) {
    for (int r = 0; r < GARMENT; r++)
        for (int c = 0; c < GARMENT; c++) {
            uint8_t v = g[r * GARMENT + c];
            if (v <= thr) continue;
            int64_t at = (int64_t)(r0 + r) * size + (c0 + c);
            img[at] = v;
            mask[at] = (uint8_t)(k + 1);
        }
}

dc_dataset *dc_dataset_fashion_canvas(const char *split, const dc_fashion_canvas_options *opt) {
    const char *fn = "dc_dataset_fashion_canvas";
    static const dc_fashion_canvas_options defaults = {0};
    if (!opt) opt = &defaults;
    int size = opt->size ? opt->size : 64, most = opt->max_garments ? opt->max_garments : 4;
    int64_t n = opt->count ? opt->count : 1000;
    float thr = opt->threshold > 0 ? opt->threshold : 0.2f;
    if (size < GARMENT || size > 4096 || most < 1 || most > 64 || n < 0 || n > (1 << 24) ||
        !(thr < 1)) {
        dc_set_error(DC_ERR_ARG, "%s: size %d must be in [28, 4096], max_garments %d in [1, 64], "
                     "count %lld in [0, 2^24], threshold %g below 1", fn, size, most,
                     (long long)n, (double)thr);
        return NULL;
    }
    dc_dataset *src = dc_dataset_load_named("fashion-mnist", split ? split : "");
    if (!src) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_set_error(dc_last_status(), "%s: %s", fn, msg);
        return NULL;
    }
    int64_t n_src = dc_dataset_count(src), area = (int64_t)size * size;
    dc_ds_storage *s = n_src > 0 ? mask_storage(fn, n, size, size, 1) : NULL;
    if (n_src <= 0 && !s) dc_set_error(DC_ERR_FORMAT, "%s: the %s split is empty", fn, split);
    uint8_t garment[GARMENT * GARMENT];
    float gx[GARMENT * GARMENT], gy;
    dc_rng rng;
    /* the test split draws from another stream than the train split */
    dc_rng_seed(&rng, opt->seed ^ (strcmp(split, "test") ? 0 : 0x9e3779b97f4a7c15ull));
    for (int64_t i = 0; s && i < n; i++) {
        uint8_t *img = s->x_bytes + i * area, *mask = s->y_bytes + i * area;
        memset(img, 0, (size_t)area);
        memset(mask, 0, (size_t)area);
        int count = 1 + (int)dc_rng_below(&rng, (uint32_t)most);
        for (int g = 0; g < count; g++) {
            int64_t pick = (int64_t)dc_rng_below(&rng, (uint32_t)n_src);
            int r0 = (int)dc_rng_below(&rng, (uint32_t)(size - GARMENT + 1));
            int c0 = (int)dc_rng_below(&rng, (uint32_t)(size - GARMENT + 1));
            dc_dataset_get(src, pick, gx, &gy);
            for (int j = 0; j < GARMENT * GARMENT; j++) garment[j] = (uint8_t)(gx[j] * 255.0f + 0.5f);
            paste(img, mask, size, garment, (int)gy, r0, c0, (int)(thr * 255.0f));
        }
    }
    dc_dataset_free(src);
    if (!s) return NULL;
    s->num_classes = 11;
    s->class_names = (char **)canvas_names; /* static: not owned */
    return mask_dataset(fn, s, n, size, size, 1);
}

/* ---- images/ and masks/ folders ---- */

/* The length of name without its extension. */
static size_t stem_len(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : strlen(name);
}

static int cmp_stems(const char *a, const char *b) {
    size_t la = stem_len(a), lb = stem_len(b);
    int c = strncmp(a, b, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

/* Checks that the sorted lists pair up by stem, naming the first file without a partner. */
static dc_status pair_files(const char *fn, const char *dir, const dc_str_list *im,
                            const dc_str_list *mk) {
    int i = 0, j = 0;
    while (i < im->n || j < mk->n) {
        int c = i == im->n ? 1 : j == mk->n ? -1 : cmp_stems(im->items[i], mk->items[j]);
        if (c < 0)
            return dc_set_error(DC_ERR_FORMAT, "%s: %s/images/%s has no mask in %s/masks/ (a PNG "
                                "with the same name)", fn, dir, im->items[i], dir);
        if (c > 0)
            return dc_set_error(DC_ERR_FORMAT, "%s: %s/masks/%s has no image in %s/images/", fn,
                                dir, mk->items[j], dir);
        i++, j++;
    }
    if (im->n == 0)
        return dc_set_error(DC_ERR_FORMAT, "%s: no .png or .jpg images in %s/images/", fn, dir);
    return DC_OK;
}

/* Reads mask j into dst (h*w bytes), checking its size and classes. */
static dc_status read_mask(const char *fn, const char *path, const char *image, int64_t h,
                           int64_t w, int num_classes, uint8_t *dst) {
    int mh = 0, mw = 0;
    uint8_t *m = dc_png_read_indices(fn, path, &mh, &mw);
    if (!m) return dc_last_status();
    dc_status st = DC_OK;
    if (mh != h || mw != w) {
        st = dc_set_error(DC_ERR_FORMAT, "%s: %s is %dx%d but its image %s is %lldx%lld", fn, path,
                          mw, mh, image, (long long)w, (long long)h);
    } else {
        for (int64_t p = 0; p < h * w && st == DC_OK; p++)
            if (m[p] >= num_classes)
                st = dc_set_error(DC_ERR_FORMAT, "%s: %s: pixel (row %lld, column %lld) has class "
                                  "%d, but there are %d classes (0 to %d)", fn, path,
                                  (long long)(p / w), (long long)(p % w), m[p], num_classes,
                                  num_classes - 1);
        memcpy(dst, m, (size_t)(h * w));
    }
    dc_free(m);
    return st;
}

dc_dataset *dc_dataset_load_segmentation_folder(const char *dir, int num_classes, int channels) {
    const char *fn = "dc_dataset_load_segmentation_folder";
    if (!dir || num_classes < 2 || num_classes > 256 ||
        (channels != 0 && channels != 1 && channels != 3)) {
        dc_set_error(DC_ERR_ARG, "%s: %s, num_classes %d (2 to 256), channels %d (0 keeps, 1 or 3)",
                     fn, dir ? dir : "dir is NULL", num_classes, channels);
        return NULL;
    }
    char ip[4096], mp[4096], a[8192], b[8192], first[8192];
    snprintf(ip, sizeof ip, "%s/images", dir);
    snprintf(mp, sizeof mp, "%s/masks", dir);
    dc_str_list im = {0}, mk = {0};
    dc_ds_storage *s = NULL;
    dc_dataset *ds = NULL;
    dc_tensor *img = NULL;
    if (!dc_ds_list_dir(fn, ip, false, &im) || !dc_ds_list_dir(fn, mp, false, &mk) ||
        pair_files(fn, dir, &im, &mk) != DC_OK)
        goto done;
    int64_t h = 0, w = 0, c = 0, n = im.n;
    for (int64_t i = 0; i < n; i++) {
        snprintf(a, sizeof a, "%s/%s", ip, im.items[i]);
        snprintf(b, sizeof b, "%s/%s", mp, mk.items[i]);
        if (!(img = dc_image_load(a, channels))) goto done;
        if (i == 0) {
            h = img->shape[0], w = img->shape[1], c = img->shape[2];
            snprintf(first, sizeof first, "%s", a);
            if (!(s = mask_storage(fn, n, h, w, c))) goto done;
        } else if (img->shape[0] != h || img->shape[1] != w || img->shape[2] != c) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s is %lldx%lld with %lld channels but %s is "
                         "%lldx%lld with %lld (images must share one size; pass channels 1 or 3 "
                         "to convert)", fn, a, (long long)img->shape[1], (long long)img->shape[0],
                         (long long)img->shape[2], first, (long long)w, (long long)h, (long long)c);
            goto done;
        }
        uint8_t *px = s->x_bytes + i * h * w * c;
        for (int64_t k = 0; k < h * w * c; k++) px[k] = (uint8_t)(img->data[k] * 255.0f + 0.5f);
        dc_tensor_free(img);
        img = NULL;
        if (read_mask(fn, b, a, h, w, num_classes, s->y_bytes + i * h * w) != DC_OK) goto done;
    }
    s->num_classes = num_classes;
    ds = mask_dataset(fn, s, n, h, w, c);
    s = NULL;
done:
    dc_tensor_free(img);
    dc_ds_storage_free(s);
    dc_ds_list_free(&im);
    dc_ds_list_free(&mk);
    return ds;
}
