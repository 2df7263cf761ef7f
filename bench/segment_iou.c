/* segment_iou.c — the IoU of every class of a trained segmentation model on the test
 * data of its model file (deepc eval prints only the mean), and the pixel accuracy.
 * usage: segment_iou MODEL.ini MODEL.safetensors [--threads N] */
#include <deepc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES 256

/* Adds every pixel of logits/probabilities out (N,H,W,C) against labels y (N,H,W)
 * to the confusion matrix conf[true][predicted] (C x C). */
static void add_confusion(const dc_tensor *out, const float *y, int64_t pixels, int C,
                          int64_t *conf) {
    const float *p = out->data;
    for (int64_t i = 0; i < pixels; i++, p += C) {
        int best = 0;
        for (int k = 1; k < C; k++)
            if (p[k] > p[best]) best = k;
        conf[(int64_t)y[i] * C + best]++;
    }
}

static void print_ious(const dc_dataset *test, const int64_t *conf, int C) {
    double sum = 0, right = 0, all = 0;
    for (int k = 0; k < C; k++) {
        int64_t tp = conf[k * C + k], fp = 0, fn = 0;
        for (int j = 0; j < C; j++)
            if (j != k) fp += conf[j * C + k], fn += conf[k * C + j];
        /* a class absent from both counts as 0, as Keras' MeanIoU counts only classes seen */
        double iou = tp + fp + fn ? (double)tp / (double)(tp + fp + fn) : 0;
        sum += iou, right += (double)tp;
        for (int j = 0; j < C; j++) all += (double)conf[k * C + j];
        const char *name = dc_dataset_class_name(test, k);
        printf("%-12s %.4f\n", name ? name : "?", iou);
    }
    printf("mean_iou %.4f pixel_accuracy %.4f\n", sum / C, right / all);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: segment_iou MODEL.ini MODEL.safetensors [--threads N]\n");
        return 2;
    }
    if (argc > 4 && !strcmp(argv[3], "--threads")) dc_set_num_threads(atoi(argv[4]));
    dc_run_config *cfg = dc_run_config_load(argv[1]);
    dc_dataset *train = NULL, *test = NULL;
    dc_model *m = NULL;
    if (!cfg || dc_run_config_load_data(cfg, &train, &test) != DC_OK || !test ||
        !(m = dc_model_load(argv[2]))) {
        fprintf(stderr, "segment_iou: %s\n", dc_last_error());
        return 1;
    }
    int64_t xs[8], ys[8], n = dc_dataset_count(test);
    int xn = dc_dataset_x_shape(test, xs + 1), yn = dc_dataset_y_shape(test, ys);
    int64_t pixels = 1, in = 1;
    for (int i = 0; i < yn; i++) pixels *= ys[i];
    for (int i = 1; i <= xn; i++) in *= xs[i];
    xs[0] = n;
    int C = dc_dataset_num_classes(test);
    float *x = malloc((size_t)(n * in) * sizeof(float)), *y = malloc((size_t)(n * pixels) * sizeof(float));
    int64_t *conf = calloc((size_t)MAX_CLASSES * MAX_CLASSES, sizeof(int64_t));
    if (!x || !y || !conf || C < 1 || C > MAX_CLASSES) {
        fprintf(stderr, "segment_iou: out of memory or %d classes\n", C);
        return 1;
    }
    for (int64_t i = 0; i < n; i++) dc_dataset_get(test, i, x + i * in, y + i * pixels);
    dc_tensor *xt = dc_tensor_wrap(xn + 1, xs, x), *out = dc_model_predict(m, xt, 32);
    if (!out) {
        fprintf(stderr, "segment_iou: %s\n", dc_last_error());
        return 1;
    }
    add_confusion(out, y, n * pixels, C, conf);
    print_ious(test, conf, C);
    dc_tensor_free(out);
    dc_tensor_free(xt);
    free(x), free(y), free(conf);
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    dc_run_config_free(cfg);
    return 0;
}
