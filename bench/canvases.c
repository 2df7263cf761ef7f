/* canvases.c — writes deepc's fashion-canvas data as NumPy .npy files, so that a
 * reference framework trains on exactly the canvases deepc trains on.
 * usage: canvases OUT_DIR [SIZE TRAIN_COUNT TEST_COUNT SEED MAX_GARMENTS] -> OUT_DIR/{train,test}_{x,y}.npy
 * (x uint8 (N,S,S,1) pixels 0..255, y uint8 (N,S,S) class indices). */
#include "deepc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NumPy's format 1.0: magic, header length, a dict padded to 64 bytes, raw data. */
static int write_npy(const char *path, const unsigned char *data, const long long *shape, int nd) {
    char dims[128] = "", head[256];
    for (int i = 0; i < nd; i++)
        snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%lld,%s", shape[i],
                 i + 1 < nd ? " " : "");
    int n = snprintf(head, sizeof head, "{'descr': '|u1', 'fortran_order': False, 'shape': (%s), }", dims);
    int total = ((10 + n + 1 + 63) / 64) * 64;
    memset(head + n, ' ', (size_t)(total - 10 - n - 1));
    head[total - 10 - 1] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    unsigned short hl = (unsigned short)(total - 10);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hl & 0xff, f);
    fputc(hl >> 8, f);
    fwrite(head, 1, (size_t)(total - 10), f);
    long long count = 1;
    for (int i = 0; i < nd; i++) count *= shape[i];
    fwrite(data, 1, (size_t)count, f);
    return fclose(f) != 0;
}

static int dump(const char *dir, const char *split, const dc_fashion_canvas_options *o) {
    dc_dataset *ds = dc_dataset_fashion_canvas(split, o);
    if (!ds) {
        fprintf(stderr, "canvases: %s\n", dc_last_error());
        return 1;
    }
    long long n = dc_dataset_count(ds), s = o->size;
    unsigned char *x = malloc((size_t)(n * s * s)), *y = malloc((size_t)(n * s * s));
    float *fx = malloc((size_t)(s * s) * sizeof *fx), *fy = malloc((size_t)(s * s) * sizeof *fy);
    for (long long i = 0; x && y && fx && fy && i < n; i++) {
        dc_dataset_get(ds, i, fx, fy);
        for (long long p = 0; p < s * s; p++) {
            x[i * s * s + p] = (unsigned char)(fx[p] * 255.0f + 0.5f);
            y[i * s * s + p] = (unsigned char)fy[p];
        }
    }
    char px[4096], py[4096];
    snprintf(px, sizeof px, "%s/%s_x.npy", dir, split);
    snprintf(py, sizeof py, "%s/%s_y.npy", dir, split);
    long long xs[4] = {n, s, s, 1};
    int rc = !x || !y || !fx || !fy || write_npy(px, x, xs, 4) || write_npy(py, y, xs, 3);
    if (rc) fprintf(stderr, "canvases: cannot write %s\n", px);
    free(x), free(y), free(fx), free(fy);
    dc_dataset_free(ds);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: canvases OUT_DIR [SIZE TRAIN TEST SEED MAX_GARMENTS]\n");
        return 2;
    }
    dc_fashion_canvas_options o = {.size = 64, .count = 4000, .max_garments = 4};
    long long test = 500;
    if (argc > 2) o.size = atoi(argv[2]);
    if (argc > 3) o.count = atoll(argv[3]);
    if (argc > 4) test = atoll(argv[4]);
    if (argc > 5) o.seed = strtoull(argv[5], NULL, 10);
    if (argc > 6) o.max_garments = atoi(argv[6]);
    if (dump(argv[1], "train", &o)) return 1;
    o.count = test;
    return dump(argv[1], "test", &o);
}
