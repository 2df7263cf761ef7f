/* export.c — `deepc export MODEL.safetensors OUT.onnx|OUT.keras`: a trained model's
 * inference graph as ONNX, or the model as a Keras 3 archive (same NHWC input). */
#include "cli.h"
#include <string.h>

static const char *const VERB = "export";

static void help(FILE *f) {
    fprintf(f,
            "usage: deepc export MODEL.safetensors OUT.onnx|OUT.keras\n"
            "\n"
            "OUT.onnx: the model's inference graph as ONNX (opset 13). The ONNX model takes\n"
            "the same NHWC input as deepc; a layer with no ONNX mapping is refused by name.\n"
            "OUT.keras: a Keras 3 archive (weights and compile settings) that\n"
            "keras.saving.load_model reads.\n");
}

int cli_export(int argc, char **argv) {
    const char *files[2] = {NULL, NULL};
    int rc = cli_in_out_args(VERB, argc, argv, help, "MODEL.safetensors OUT.onnx|OUT.keras", files);
    if (rc != CLI_PARSED) return rc;
    bool keras = cli_ends_with(files[1], ".keras");
    if (!keras && !cli_ends_with(files[1], ".onnx"))
        return cli_usage(VERB, "'%s': only .onnx and .keras output is written", files[1]);
    dc_model *m = dc_model_load(files[0]);
    if (!m) return cli_fail(VERB);
    dc_status s = keras ? dc_model_export_keras(m, files[1]) : dc_model_export_onnx(m, files[1]);
    rc = s == DC_OK ? CLI_OK : cli_fail(VERB);
    dc_model_free(m);
    if (rc == CLI_OK) printf("wrote %s\n", files[1]);
    return rc;
}
