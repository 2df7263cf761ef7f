/* import.c — `deepc import MODEL.keras OUT.safetensors`: a Keras 3 archive as a deepc
 * model file (weights, compile settings) that every other verb reads. */
#include "cli.h"
#include <string.h>

static const char *const VERB = "import";

static void help(FILE *f) {
    fprintf(f,
            "usage: deepc import MODEL.keras OUT.safetensors\n"
            "\n"
            "Reads a Keras 3 .keras archive of a Sequential or Functional model and writes it\n"
            "as a deepc model file with its weights and compile settings. A layer, option,\n"
            "loss or optimizer deepc lacks is refused by name.\n");
}

int cli_import(int argc, char **argv) {
    const char *files[2] = {NULL, NULL};
    int rc = cli_in_out_args(VERB, argc, argv, help, "MODEL.keras OUT.safetensors", files);
    if (rc != CLI_PARSED) return rc;
    dc_model *m = dc_model_import_keras(files[0]);
    if (!m) return cli_fail(VERB);
    rc = dc_model_save(m, files[1]) == DC_OK ? CLI_OK : cli_fail(VERB);
    if (rc == CLI_OK) {
        printf("wrote %s (%d layers, %lld weights)\n", files[1], dc_model_num_layers(m),
               (long long)dc_model_count_params(m));
    }
    dc_model_free(m);
    return rc;
}
