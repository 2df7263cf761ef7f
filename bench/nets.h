/* nets.h (bench) — the two Fashion-MNIST nets every benchmark program trains or runs
 * (the MLP, and models/fashion_cnn.ini's CNN), and their FLOPs counted from the layer shapes. */
#ifndef DEEPC_BENCH_NETS_H
#define DEEPC_BENCH_NETS_H
#include <deepc.h>
#include <string.h>

typedef struct {
    const char *type;
    const char *keys[4], *values[4];
    int n;
} layer_spec;

static const layer_spec MLP[] = {
    {"Flatten", {0}, {0}, 0},
    {"Dense", {"units", "activation"}, {"128", "relu"}, 2},
    {"Dense", {"units"}, {"10"}, 1},
};
static const layer_spec CNN[] = {
    {"Conv2D", {"filters", "kernel_size", "padding", "activation"}, {"24", "3", "same", "relu"}, 4},
    {"MaxPooling2D", {"pool_size"}, {"2"}, 1},
    {"Conv2D", {"filters", "kernel_size", "padding", "activation"}, {"36", "3", "same", "relu"}, 4},
    {"MaxPooling2D", {"pool_size"}, {"2"}, 1},
    {"Flatten", {0}, {0}, 0},
    {"Dense", {"units", "activation"}, {"128", "relu"}, 2},
    {"Dense", {"units"}, {"10"}, 1},
};

/* The net built for 28x28x1 images; compiled (Adam 1e-3, sparse cross-entropy)
 * when compile is set. NULL with dc_last_error() on failure. */
static inline dc_model *bench_make_net(bool cnn, bool compile) {
    const layer_spec *spec = cnn ? CNN : MLP;
    int n = cnn ? (int)(sizeof CNN / sizeof *CNN) : (int)(sizeof MLP / sizeof *MLP);
    dc_model *m = dc_sequential_new(cnn ? "cnn" : "mlp");
    for (int i = 0; i < n && m; i++) {
        dc_layer *l = dc_layer_from_config(spec[i].type, spec[i].keys, spec[i].values, spec[i].n);
        if (!l || dc_model_add(m, l) != DC_OK) {
            dc_model_free(m);
            return NULL;
        }
    }
    if (!m || dc_model_build(m, DC_DIMS(28, 28, 1), 0) != DC_OK) {
        dc_model_free(m);
        return NULL;
    }
    dc_compile_options c = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                            .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 1e-3f}};
    if (compile && dc_model_compile(m, &c) != DC_OK) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* Multiply-adds of one sample's forward pass through a Dense or Conv2D layer:
 * every output element takes kernel / filters of them; 0 for other layers. */
static inline double bench_layer_macs(const dc_layer *l) {
    const char *type = dc_layer_type(l);
    if (strcmp(type, "Dense") && strcmp(type, "Conv2D")) return 0;
    int64_t shape[8];
    int nd = dc_layer_output_shape(l, shape);
    const dc_tensor *kernel = dc_layer_param(l, 0);
    if (nd < 1 || !kernel) return 0;
    double out = 1;
    for (int i = 0; i < nd; i++) out *= (double)shape[i];
    return out * (double)kernel->size / (double)shape[nd - 1];
}

/* FLOPs (2 per multiply-add) of training on one sample: the forward product,
 * the kernel gradient, and the input gradient for every layer but the first
 * (nothing needs the gradient of the images). Bias, activations, pooling, loss
 * and Adam are left out: they are a few percent of the CNN's. */
static inline double bench_train_flops_per_sample(const dc_model *m) {
    double flops = 0;
    bool first = true;
    for (int i = 0; i < dc_model_num_layers(m); i++) {
        double macs = bench_layer_macs(dc_model_layer(m, i));
        if (macs == 0) continue;
        flops += 2 * macs * (first ? 2 : 3);
        first = false;
    }
    return flops;
}
#endif
