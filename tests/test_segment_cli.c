/* test_segment_cli.c — segmentation end to end: a small fully convolutional
 * model trained by deepc train on tiny canvases (history with mean_io_u),
 * predict's mask and overlay, visualize's grid; fit's steps allocate nothing
 * and give the same weights with 1 and 2 threads; model-file bad input. */
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static bool have_fashion(void) {
    dc_dataset *d = dc_dataset_load_named("fashion-mnist", "test");
    dc_dataset_free(d);
    dc_clear_error();
    return d != NULL;
}

static const char *seg_tmp(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/segcli/%s", test_tmpdir(), name);
    return buf[k];
}

static const char *const fcn_layers =
    "[Conv2D]\nfilters = 8\nkernel_size = 3\npadding = same\nactivation = relu\n\n"
    "[MaxPooling2D]\npool_size = 2\n\n"
    "[Conv2DTranspose]\nfilters = 8\nkernel_size = 2\nstrides = 2\nactivation = relu\n\n"
    "[Conv2D]\nfilters = 11\nkernel_size = 1\n";

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

TEST(segment_cli_train_predict_visualize) {
    if (!test_deepc_path()) SKIP("build/deepc not built");
    if (!have_fashion()) SKIP("fashion-mnist not installed");
    char dir[512], text[4096], args[4096], out[8192];
    snprintf(dir, sizeof dir, "%s/segcli", test_tmpdir());
    mkdir(dir, 0700);
    snprintf(text, sizeof text,
             "[model]\nname = seg\n\n[data]\ndataset = fashion-canvas\ncanvas_size = 28\n"
             "train_canvases = 64\ntest_canvases = 16\nmax_garments = 1\nvalidation = test\n\n"
             "[train]\nloss = sparse_categorical_crossentropy\nmetrics = accuracy, mean_iou\n"
             "learning_rate = 0.01\nbatch_size = 16\nepochs = 2\nseed = 3\n"
             "class_weights = 0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1\n\n%s",
             fcn_layers);
    write_file(seg_tmp("seg.ini"), text);
    snprintf(args, sizeof args, "train %s --out %s --threads 1 --quiet", seg_tmp("seg.ini"),
             seg_tmp("run"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(strstr(out, "test mean_io_u: ") != NULL);
    FILE *h = fopen(seg_tmp("run/history.csv"), "r");
    char head[512] = {0};
    if (h) {
        CHECK(fgets(head, sizeof head, h) != NULL);
        fclose(h);
    }
    CHECK(strstr(head, ",mean_io_u,val_mean_io_u") != NULL);

    /* eval on the canvases the model file names */
    snprintf(args, sizeof args, "eval %s", seg_tmp("run/model.safetensors"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    const char *m = strstr(out, "mean_io_u: ");
    CHECK(m && strstr(out, "samples: 16"));
    if (m) CHECK(strtof(m + 11, NULL) > 0 && strtof(m + 11, NULL) <= 1);

    /* predict: a mask and an overlay the size of the image */
    float img[40 * 30 * 3];
    for (int i = 0; i < 40 * 30 * 3; i++) img[i] = (float)((i / 3) % 40 > 20);
    CHECK_OK(dc_image_save_png(seg_tmp("photo.png"), img, 30, 40, 3));
    snprintf(args, sizeof args, "predict %s %s --out %s", seg_tmp("run/model.safetensors"),
             seg_tmp("photo.png"), seg_tmp("mask.png"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(strstr(out, "mask_overlay.png") != NULL);
    dc_tensor *mask = dc_image_load(seg_tmp("mask.png"), 0);
    dc_tensor *over = dc_image_load(seg_tmp("mask_overlay.png"), 0);
    CHECK(mask && over);
    if (mask && over) {
        CHECK(mask->shape[0] == 30 && mask->shape[1] == 40 && mask->shape[2] == 3);
        CHECK(dc_tensor_same_shape(mask, over));
    }
    dc_tensor_free(mask);
    dc_tensor_free(over);
    snprintf(args, sizeof args, "predict %s --index 1 --out %s", seg_tmp("run/model.safetensors"),
             seg_tmp("m2.png"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(file_exists(seg_tmp("m2.png")) && file_exists(seg_tmp("m2_overlay.png")));

    /* visualize: the grid */
    snprintf(args, sizeof args, "visualize %s --segmentation --count 3 --out %s",
             seg_tmp("run/model.safetensors"), seg_tmp("vis"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    dc_tensor *grid = dc_image_load(seg_tmp("vis/segmentation.png"), 0);
    CHECK(grid && grid->shape[0] > 3 * 56 && grid->shape[1] >= 3 * 56);
    dc_tensor_free(grid);
    snprintf(args, sizeof args, "visualize %s --segmentation --index 2",
             seg_tmp("run/model.safetensors"));
    CHECK(test_run_deepc(args, out, sizeof out) == 2);
    CHECK(strstr(out, "--segmentation draws test samples") != NULL);
}

TEST(segment_model_file_bad_input) {
    if (!test_deepc_path()) SKIP("build/deepc not built");
    char dir[512], text[4096], args[4096], out[8192];
    snprintf(dir, sizeof dir, "%s/segcli", test_tmpdir());
    mkdir(dir, 0700);
    snprintf(text, sizeof text,
             "[model]\nname = bad\n\n[data]\ndataset = fashion-mnist\ncanvas_size = 32\n\n[train]\nloss = dice\n\n%s",
             fcn_layers);
    write_file(seg_tmp("bad1.ini"), text);
    snprintf(args, sizeof args, "train %s --out %s", seg_tmp("bad1.ini"), seg_tmp("bad"));
    CHECK(test_run_deepc(args, out, sizeof out) != 0);
    CHECK(strstr(out, "apply to dataset = fashion-canvas") != NULL);
    /* a mask folder with an image that lacks its mask: the file is named */
    char root[600], p[700];
    snprintf(root, sizeof root, "%s/segcli/data", test_tmpdir());
    mkdir(root, 0700);
    snprintf(p, sizeof p, "%s/images", root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/masks", root);
    mkdir(p, 0700);
    float px[16] = {0};
    snprintf(p, sizeof p, "%s/images/only.png", root);
    CHECK_OK(dc_image_save_png(p, px, 4, 4, 1));
    snprintf(text, sizeof text,
             "[model]\nname = bad\n\n[data]\ntrain_seg_dir = data\nnum_classes = 11\n\n[train]\nloss = dice\n\n%s",
             fcn_layers);
    write_file(seg_tmp("bad2.ini"), text);
    snprintf(args, sizeof args, "train %s --out %s", seg_tmp("bad2.ini"), seg_tmp("bad"));
    CHECK(test_run_deepc(args, out, sizeof out) != 0);
    CHECK(strstr(out, "images/only.png has no mask in") != NULL);
    snprintf(text, sizeof text, "[model]\nname = bad\n\n[data]\ntrain_seg_dir = data\n\n[train]\nloss = dice\n\n%s", fcn_layers);
    write_file(seg_tmp("bad3.ini"), text);
    snprintf(args, sizeof args, "train %s --out %s", seg_tmp("bad3.ini"), seg_tmp("bad"));
    CHECK(test_run_deepc(args, out, sizeof out) != 0);
    CHECK(strstr(out, "mask folders need train_seg_dir and num_classes") != NULL);
    /* predict --out on a model that is not a segmentation model */
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_flatten());
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    CHECK_OK(dc_model_build(m, 3, (int64_t[]){4, 4, 1}, 1));
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                        .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f}}));
    CHECK_OK(dc_model_save(m, seg_tmp("dense.safetensors")));
    dc_model_free(m);
    snprintf(args, sizeof args, "predict %s %s --out %s", seg_tmp("dense.safetensors"), p,
             seg_tmp("x.png"));
    CHECK(test_run_deepc(args, out, sizeof out) == 2);
    CHECK(strstr(out, "--out is for segmentation models") != NULL);
}

/* A fully convolutional model on tiny canvases: the weights after 3 steps of
 * Dice + MeanIoU training, and the allocations of steps after the first. */
static float *train_fcn(const dc_dataset *ds, int threads, dc_loss_kind loss, test_alloc_probe *pr,
                        int64_t *n_weights) {
    dc_set_num_threads(threads);
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = 6, .kernel_size = {3, 3}, .padding = DC_PAD_SAME, .activation = "relu"}));
    dc_model_add(m, dc_layer_max_pooling2d(NULL));
    dc_model_add(m, dc_layer_up_sampling2d(NULL));
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = 11, .kernel_size = {1, 1}, .activation = "softmax"}));
    dc_compile_options co = {.loss = loss, .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f},
                             .metrics = {DC_METRIC_ACCURACY, DC_METRIC_MEAN_IOU}};
    CHECK_OK(dc_model_compile(m, &co));
    dc_callback cb = {.kind = DC_CB_LAMBDA, .on_batch_end = test_count_allocs, .user = pr};
    dc_history *h = NULL;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 1, .batch_size = 8, .seed = 4,
                                                   .callbacks = &cb, .n_callbacks = 1}, &h));
    const float *iou = h ? dc_history_get(h, "mean_io_u") : NULL;
    CHECK(iou && iou[0] > 0 && iou[0] <= 1);
    dc_history_free(h);
    float *all = NULL;
    size_t n = 0;
    CHECK_OK(dc_model_all_weights(m, &all, &n));
    float *w = malloc((n ? n : 1) * sizeof *w);
    if (all) memcpy(w, all, n * sizeof *w);
    *n_weights = (int64_t)n;
    dc_model_free(m);
    return w;
}

TEST(segment_fit_allocates_nothing_and_is_thread_independent) {
    if (!have_fashion()) SKIP("fashion-mnist not installed");
    dc_dataset *ds = dc_dataset_fashion_canvas("test", &(dc_fashion_canvas_options){.size = 28, .count = 32, .seed = 2});
    CHECK(ds != NULL);
    if (!ds) return;
    dc_loss_kind losses[2] = {DC_LOSS_DICE, DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY};
    for (int k = 0; k < 2; k++) {
        test_alloc_probe p1 = {0}, p2 = {0};
        int64_t n1 = 0, n2 = 0;
        float *w1 = train_fcn(ds, 1, losses[k], &p1, &n1), *w2 = train_fcn(ds, 2, losses[k], &p2, &n2);
        CHECK(p1.batches == 4 && p1.last == p1.after_first);
        CHECK(n1 == n2 && n1 > 0 && !memcmp(w1, w2, (size_t)n1 * sizeof(float)));
        free(w1);
        free(w2);
    }
    dc_set_num_threads(0);
    dc_dataset_free(ds);
}

static bool stop_mid_second_epoch(dc_model *m, int epoch, int64_t batch, float loss, void *user) {
    (void)loss;
    if (*(const bool *)user && epoch == 1 && batch == 1) dc_model_request_stop(m);
    return false;
}

/* MeanIoU's per-class sums go into a mid-epoch checkpoint and come back. */
static dc_history *fit_iou(const dc_dataset *ds, const char *ckpt, bool stop, bool resume) {
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = 4, .kernel_size = {3, 3}, .padding = DC_PAD_SAME, .activation = "relu"}));
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = 11, .kernel_size = {1, 1}}));
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_DICE,
                                                        .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f},
                                                        .metrics = {DC_METRIC_MEAN_IOU}}));
    dc_callback cb = {.kind = DC_CB_LAMBDA, .on_batch_end = stop_mid_second_epoch, .user = &stop};
    dc_history *h = NULL;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 3, .batch_size = 4, .seed = 9,
                                                   .callbacks = &cb, .n_callbacks = 1,
                                                   .checkpoint_path = ckpt,
                                                   .resume_from = resume ? ckpt : NULL}, &h));
    dc_model_free(m);
    return h;
}

TEST(segment_resume_keeps_mean_iou_sums) {
    if (!have_fashion()) SKIP("fashion-mnist not installed");
    dc_dataset *ds = dc_dataset_fashion_canvas("test", &(dc_fashion_canvas_options){.size = 28, .count = 16, .seed = 1});
    char ckpt[600], ref[600];
    snprintf(ckpt, sizeof ckpt, "%s/seg_resume.safetensors", test_tmpdir());
    snprintf(ref, sizeof ref, "%s/seg_resume_ref.safetensors", test_tmpdir());
    dc_history *want = fit_iou(ds, ref, false, false);
    dc_history *part = fit_iou(ds, ckpt, true, false);
    CHECK(part && dc_history_epochs(part) == 1);
    dc_history *rest = fit_iou(ds, ckpt, false, true);
    const float *a = want ? dc_history_get(want, "mean_io_u") : NULL;
    const float *b = rest ? dc_history_get(rest, "mean_io_u") : NULL;
    CHECK(a && b && dc_history_epochs(rest) == 3);
    if (a && b) CHECK(!memcmp(a, b, 3 * sizeof *a) && a[2] > 0);
    dc_history_free(want);
    dc_history_free(part);
    dc_history_free(rest);
    dc_dataset_free(ds);
}

/* models/fashion_unet.ini: a graph with Concatenate skips, (64,64,1) -> (64,64,11);
 * one training step on four canvases logs a finite loss and a mean IoU. */
TEST(fashion_unet_model_file_builds_and_trains) {
    dc_run_config *c = dc_run_config_load(test_path("../models/fashion_unet.ini"));
    dc_model *m = c ? dc_run_config_build_model(c, NULL) : NULL;
    CHECK(m != NULL);
    if (!m) {
        printf("    %s\n", dc_last_error());
        dc_run_config_free(c);
        return;
    }
    int64_t s[4];
    CHECK(dc_model_is_functional(m) && dc_model_count_params(m) == 1471195);
    CHECK(dc_model_output_shape(m, s) == 3 && s[0] == 64 && s[1] == 64 && s[2] == 11);
    CHECK(dc_model_get_layer(m, "cat1") != NULL);
    if (have_fashion()) {
        dc_dataset *ds = dc_dataset_fashion_canvas("test", &(dc_fashion_canvas_options){.count = 4});
        dc_history *h = NULL;
        CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 1, .batch_size = 4, .seed = 1}, &h));
        const float *loss = h ? dc_history_get(h, "loss") : NULL, *iou = h ? dc_history_get(h, "mean_io_u") : NULL;
        CHECK(loss && isfinite(loss[0]) && iou && iou[0] > 0 && iou[0] <= 1);
        dc_history_free(h);
        dc_dataset_free(ds);
    }
    dc_model_free(m);
    dc_run_config_free(c);
}
