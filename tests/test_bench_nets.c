/* test_bench_nets.c — the nets `make bench` times (bench/nets.h) and the FLOPs it
 * counts for them from the layer shapes, against counts made by hand. */
#include "test.h"
#include "../bench/nets.h"

TEST(bench_nets_cnn_flops) {
    dc_model *m = bench_make_net(true, true);
    CHECK(m != NULL);
    if (!m) return;
    /* multiply-adds per image: conv1 28*28*24*9, conv2 14*14*36*216, dense
     * 1764*128 and 128*10; conv1 has no input gradient (2 products), the others 3 */
    double conv1 = 28.0 * 28 * 24 * 9, conv2 = 14.0 * 14 * 36 * 216, d1 = 1764.0 * 128, d2 = 1280;
    CHECK_NEAR(bench_train_flops_per_sample(m), 2 * (2 * conv1 + 3 * (conv2 + d1 + d2)), 0.5);
    CHECK_NEAR(bench_layer_macs(dc_model_layer(m, 1)), 0, 0); /* pooling: none counted */
    int64_t shape[4];
    CHECK(dc_layer_output_shape(dc_model_layer(m, dc_model_num_layers(m) - 1), shape) == 1);
    CHECK(shape[0] == 10);
    dc_model_free(m);
}

TEST(bench_nets_mlp_flops) {
    dc_model *m = bench_make_net(false, false);
    CHECK(m != NULL);
    if (!m) return;
    CHECK_NEAR(bench_train_flops_per_sample(m), 2 * (2 * 784.0 * 128 + 3 * 1280.0), 0.5);
    dc_model_free(m);
}
