/* segmentation.c — models/fashion_unet.ini written in C with the functional API:
 * a U-Net (3x3 relu Conv2D + BatchNormalization blocks, 8 and 32 filters at
 * 64x64 and 32x32, two of 64, 128 and 256 at 16x16, 8x8 and 4x4, MaxPooling2D
 * down, Conv2DTranspose up, Concatenate skips, a 1x1 Conv2D to 11 classes)
 * trained on fashion-canvas with Adam under a cosine decay (batches of 16, shirt
 * pixels weighted 1.5 in the crossentropy), its test mean IoU,
 * and segmentation.png: rows of test image | true mask | predicted mask.
 * usage: segmentation [epochs (default 6)] [train canvases (default 28000)] [out.png] */
#include <deepc.h>
#include <stdio.h>
#include <stdlib.h>

enum { SIZE = 64, CLASSES = 11, SHOWN = 6, BATCH = 16 };

/* A 3x3 relu convolution of f filters, then BatchNormalization. */
static dc_symbol *block(dc_symbol *x, int f) {
    x = dc_call(dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = f, .kernel_size = {3},
                                                           .padding = DC_PAD_SAME,
                                                           .activation = "relu"}), x);
    return dc_call(dc_layer_batch_normalization(NULL), x);
}

/* Halves the size, then `convs` blocks of f. */
static dc_symbol *down(dc_symbol *x, int f, int convs) {
    x = dc_call(dc_layer_max_pooling2d(NULL), x);
    for (int i = 0; i < convs; i++) x = block(x, f);
    return x;
}

/* Doubles the size to f_up channels, joins skip (the level of that size), then a block of f. */
static dc_symbol *up(dc_symbol *x, dc_symbol *skip, int f_up, int f) {
    x = dc_call(dc_layer_conv2d_transpose(&(dc_conv2d_layer_options){
                    .filters = f_up, .kernel_size = {2}, .strides = {2}}), x);
    return block(dc_call_n(dc_layer_concatenate(-1), (dc_symbol *[]){x, skip}, 2), f);
}

static dc_model *unet(void) {
    dc_graph *g = dc_graph_new();
    dc_symbol *in = dc_input(g, 3, (int64_t[]){SIZE, SIZE, 1}, "image");
    dc_symbol *n1 = block(in, 8), *n2 = down(n1, 32, 1), *n3 = down(n2, 64, 2);
    dc_symbol *n4 = down(n3, 128, 2);
    dc_symbol *bottom = down(n4, 256, 2); /* 4x4: a pixel here sees the whole canvas */
    dc_symbol *d1 = up(up(up(up(bottom, n4, 64, 96), n3, 32, 48), n2, 16, 24), n1, 8, 16);
    dc_symbol *out = dc_call(dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = CLASSES,
                                                                        .kernel_size = {1}}), d1);
    return dc_model_functional("fashion_unet", g, &in, 1, &out, 1);
}

/* Class k's colour: background black, the garments apart in hue. */
static void colour(int k, float rgb[3]) {
    static const unsigned char c[CLASSES][3] = {
        {0, 0, 0},      {230, 25, 75},  {60, 180, 75},  {255, 225, 25}, {0, 130, 200}, {245, 130, 48},
        {145, 30, 180}, {70, 240, 240}, {240, 50, 230}, {210, 245, 60}, {250, 190, 212}};
    for (int i = 0; i < 3; i++) rgb[i] = c[k][i] / 255.0f;
}

static int argmax(const float *s) {
    int b = 0;
    for (int c = 1; c < CLASSES; c++)
        if (s[c] > s[b]) b = c;
    return b;
}

/* SHOWN rows of image | true | predicted, 2 pixels between tiles. */
static dc_status write_grid(const char *path, dc_model *m, const dc_dataset *test) {
    const int W = 3 * SIZE + 4, H = SHOWN * (SIZE + 2) - 2;
    float *img = malloc((size_t)W * H * 3 * sizeof *img), y[SIZE * SIZE];
    for (size_t i = 0; i < (size_t)W * H * 3; i++) img[i] = 1.0f; /* white between tiles */
    dc_tensor *x = dc_tensor_zeros(4, (int64_t[]){SHOWN, SIZE, SIZE, 1});
    float *truth = malloc(sizeof(float) * SHOWN * SIZE * SIZE);
    for (int i = 0; i < SHOWN; i++) {
        dc_dataset_get(test, i, x->data + i * SIZE * SIZE, y);
        for (int p = 0; p < SIZE * SIZE; p++) truth[i * SIZE * SIZE + p] = y[p];
    }
    dc_tensor *pred = dc_model_predict(m, x, SHOWN);
    for (int i = 0; pred && i < SHOWN; i++)
        for (int r = 0; r < SIZE; r++)
            for (int c = 0; c < SIZE; c++) {
                int p = (i * SIZE + r) * SIZE + c;
                float tiles[3][3];
                for (int k = 0; k < 3; k++) tiles[0][k] = x->data[p];
                colour((int)truth[p], tiles[1]);
                colour(argmax(pred->data + (size_t)p * CLASSES), tiles[2]);
                for (int t = 0; t < 3; t++)
                    for (int k = 0; k < 3; k++)
                        img[((size_t)(i * (SIZE + 2) + r) * W + t * (SIZE + 2) + c) * 3 + k] = tiles[t][k];
            }
    dc_status s = pred ? dc_image_save_png(path, img, H, W, 3) : dc_last_status();
    dc_tensor_free(pred);
    dc_tensor_free(x);
    free(truth);
    free(img);
    return s;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 6;
    int64_t n_train = argc > 2 ? atoll(argv[2]) : 28000;
    const char *out = argc > 3 ? argv[3] : "segmentation.png";
    dc_fashion_canvas_options co = {.size = SIZE, .count = n_train};
    dc_dataset *train = dc_dataset_fashion_canvas("train", &co);
    co.count = 500;
    dc_dataset *test = dc_dataset_fashion_canvas("test", &co);
    dc_model *m = unet();
    if (!train || !test || !m || epochs < 1 || dc_model_build(m, 0, NULL, 1) != DC_OK) {
        fprintf(stderr, "segmentation: %s\n", epochs < 1 ? "epochs must be >= 1" : dc_last_error());
        return 1;
    }
    dc_model_summary(m, stdout);
    /* cosine decay of the rate over the whole run, as fashion_unet.ini */
    int64_t steps = (n_train + BATCH - 1) / BATCH * epochs;
    dc_lr_schedule cosine = {.kind = DC_LR_COSINE, .initial_learning_rate = 0.002f, .decay_steps = steps};
    dc_model_compile(m, &(dc_compile_options){
                            .loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                            .optimizer = {.kind = DC_OPT_ADAM, .schedule = &cosine},
                            .metrics = {DC_METRIC_ACCURACY, DC_METRIC_MEAN_IOU},
                            /* shirt (class 7): the class of the lowest IoU */
                            .n_class_weights = CLASSES,
                            .class_weights = {1, 1, 1, 1, 1, 1, 1, 1.5f, 1, 1, 1}});
    dc_status s = dc_model_fit(m, train,
                               &(dc_fit_options){.epochs = epochs, .batch_size = BATCH,
                                                 .validation_data = test, .verbose = 2,
                                                 .progress = stdout, .seed = 1},
                               NULL);
    float loss, met[2];
    if (s != DC_OK || dc_model_evaluate(m, test, 32, &loss, met) != DC_OK ||
        write_grid(out, m, test) != DC_OK) {
        fprintf(stderr, "segmentation: %s\n", dc_last_error());
        return 1;
    }
    printf("test: loss %.4f, pixel accuracy %.4f, mean IoU %.4f\nWrote %s:", loss, met[0], met[1], out);
    for (int k = 0; k < CLASSES; k++) {
        float rgb[3];
        colour(k, rgb);
        printf("%s %s #%02x%02x%02x", k ? "," : "", dc_dataset_class_name(test, k),
               (int)(rgb[0] * 255), (int)(rgb[1] * 255), (int)(rgb[2] * 255));
    }
    printf("\n");
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    return 0;
}
