/* test_segment_data.c — segmentation datasets: the fashion-canvas generator
 * (determinism, labels agree with pixels) and images/ + masks/ folders with their bad input. */
#include "test.h"
#include <png.h>
#include <sys/stat.h>

static bool have_fashion(void) {
    dc_dataset *d = dc_dataset_load_named("fashion-mnist", "test");
    dc_dataset_free(d);
    return d != NULL;
}

static void sample(const dc_dataset *ds, int64_t i, float *x, float *y) {
    CHECK_OK(dc_dataset_get(ds, i, x, y));
}

TEST(fashion_canvas_is_deterministic_and_labels_agree) {
    if (!have_fashion()) SKIP("fashion-mnist not installed");
    dc_fashion_canvas_options o = {.size = 40, .count = 12, .seed = 5};
    dc_dataset *a = dc_dataset_fashion_canvas("test", &o), *b = dc_dataset_fashion_canvas("test", &o);
    o.seed = 6;
    dc_dataset *c = dc_dataset_fashion_canvas("test", &o);
    CHECK(a && b && c);
    if (!a || !b || !c) goto out;
    int64_t xs[4], ys[4];
    CHECK(dc_dataset_x_shape(a, xs) == 3 && xs[0] == 40 && xs[1] == 40 && xs[2] == 1);
    CHECK(dc_dataset_y_shape(a, ys) == 2 && ys[0] == 40 && ys[1] == 40);
    CHECK(dc_dataset_count(a) == 12 && dc_dataset_num_classes(a) == 11);
    CHECK(!strcmp(dc_dataset_class_name(a, 0), "background"));
    CHECK(!strcmp(dc_dataset_class_name(a, 10), "Ankle boot"));
    static float xa[1600], ya[1600], xb[1600], yb[1600];
    bool same = true, differs = false;
    for (int64_t i = 0; i < 12; i++) {
        sample(a, i, xa, ya);
        sample(b, i, xb, yb);
        same = same && !memcmp(xa, xb, sizeof xa) && !memcmp(ya, yb, sizeof ya);
        sample(c, i, xb, yb);
        differs = differs || memcmp(ya, yb, sizeof ya);
        int garment_pixels = 0;
        for (int p = 0; p < 1600; p++) {
            CHECK(ya[p] >= 0 && ya[p] <= 10 && ya[p] == (float)(int)ya[p]);
            /* a labelled pixel is a garment's bright pixel; background is dark */
            if (ya[p] > 0) CHECK(xa[p] > 0.2f);
            if (ya[p] == 0) CHECK(xa[p] == 0.0f);
            garment_pixels += ya[p] > 0;
        }
        CHECK(garment_pixels > 20);
    }
    CHECK(same);
    CHECK(differs);
    o.size = 20;
    CHECK(dc_dataset_fashion_canvas("test", &o) == NULL);
    CHECK_MSG("size 20 must be in [28, 4096]");
    CHECK(dc_dataset_fashion_canvas("valid", NULL) == NULL);
    CHECK_MSG("unknown split");
out:
    dc_dataset_free(a);
    dc_dataset_free(b);
    dc_dataset_free(c);
}

/* Writes an 8-bit palette PNG of indices (h x w). */
static void write_palette_png(const char *path, const uint8_t *idx, int h, int w) {
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        test_fail(__FILE__, __LINE__, "cannot write %s", path);
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_PALETTE,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_color pal[8];
    for (int i = 0; i < 8; i++) pal[i] = (png_color){(png_byte)(i * 30), (png_byte)(200 - i * 20), 7};
    png_set_PLTE(png, info, pal, 8);
    png_write_info(png, info);
    for (int r = 0; r < h; r++) png_write_row(png, (png_const_bytep)(idx + r * w));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

/* root/images/ and root/masks/ holding a.png (RGB, palette mask) and b.png (gray mask). */
static void make_folder(const char *root) {
    char p[1024];
    mkdir(root, 0755);
    snprintf(p, sizeof p, "%s/images", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/masks", root);
    mkdir(p, 0755);
    float img[4 * 5 * 3];
    for (int i = 0; i < 60; i++) img[i] = (float)(i % 7) / 6.0f;
    uint8_t mask[20];
    for (int i = 0; i < 20; i++) mask[i] = (uint8_t)(i % 3);
    const char *names[2] = {"a", "b"};
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/images/%s.png", root, names[k]);
        CHECK_OK(dc_image_save_png(p, img, 4, 5, 3));
        snprintf(p, sizeof p, "%s/masks/%s.png", root, names[k]);
        if (k == 0) write_palette_png(p, mask, 4, 5);
        else {
            float g[20];
            for (int i = 0; i < 20; i++) g[i] = (float)mask[i] / 255.0f;
            CHECK_OK(dc_image_save_png(p, g, 4, 5, 1));
        }
    }
}

TEST(segmentation_folder_loads_palette_and_gray_masks) {
    char root[512], p[1024];
    snprintf(root, sizeof root, "%s/segdir", test_tmpdir());
    make_folder(root);
    dc_dataset *ds = dc_dataset_load_segmentation_folder(root, 3, 0);
    CHECK(ds != NULL);
    if (!ds) return;
    int64_t xs[4], ys[4];
    CHECK(dc_dataset_count(ds) == 2);
    CHECK(dc_dataset_x_shape(ds, xs) == 3 && xs[0] == 4 && xs[1] == 5 && xs[2] == 3);
    CHECK(dc_dataset_y_shape(ds, ys) == 2 && ys[0] == 4 && ys[1] == 5);
    float x[60], y[20];
    for (int k = 0; k < 2; k++) {
        sample(ds, k, x, y);
        for (int i = 0; i < 20; i++) CHECK(y[i] == (float)(i % 3));
        CHECK_NEAR(x[13], (float)(13 % 7) / 6.0f, 0.003);
    }
    dc_dataset_free(ds);

    /* bad input, each named */
    CHECK(dc_dataset_load_segmentation_folder(root, 2, 0) == NULL);
    CHECK_MSG("masks/a.png: pixel (row 0, column 2) has class 2, but there are 2 classes");
    snprintf(p, sizeof p, "%s/images/c.png", root);
    float img[12] = {0};
    CHECK_OK(dc_image_save_png(p, img, 2, 2, 3));
    CHECK(dc_dataset_load_segmentation_folder(root, 3, 0) == NULL);
    CHECK_MSG("images/c.png has no mask in");
    snprintf(p, sizeof p, "%s/masks/c.png", root);
    uint8_t small[6] = {0};
    write_palette_png(p, small, 2, 3);
    CHECK(dc_dataset_load_segmentation_folder(root, 3, 0) == NULL);
    CHECK_MSG("images/c.png is 2x2 with 3 channels but"); /* c differs from a in size */
    snprintf(p, sizeof p, "%s/images/c.png", root);
    remove(p);
    CHECK(dc_dataset_load_segmentation_folder(root, 3, 0) == NULL);
    CHECK_MSG("masks/c.png has no image in");
    /* a mask whose size differs from its image */
    snprintf(p, sizeof p, "%s/images/c.png", root);
    float big[60] = {0};
    CHECK_OK(dc_image_save_png(p, big, 4, 5, 3));
    CHECK(dc_dataset_load_segmentation_folder(root, 3, 0) == NULL);
    CHECK_MSG("masks/c.png is 3x2 but its image");
    /* an RGB mask */
    snprintf(p, sizeof p, "%s/masks/c.png", root);
    CHECK_OK(dc_image_save_png(p, big, 4, 5, 3));
    CHECK(dc_dataset_load_segmentation_folder(root, 3, 0) == NULL);
    CHECK_MSG("masks/c.png: a mask must be an 8-bit palette or gray PNG");
    CHECK(dc_dataset_load_segmentation_folder(root, 1, 0) == NULL);
    CHECK_MSG("num_classes 1");
}
