/* eval.c — `deepc eval MODEL.safetensors [--data SPEC]`: the loss and metrics of
 * a trained model on a test set, one "name: value" line each. */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const VERB = "eval";

static void help(FILE *f) {
    fprintf(f,
            "usage: deepc eval MODEL.safetensors [--data SPEC] [--batch-size N] [--threads N]\n"
            "\n"
            "Prints 'loss: X' and a line per metric ('accuracy: Y') on the test split.\n"
            "SPEC: fashion-mnist | IMAGES,LABELS (IDX files) | FILE.csv[,LABEL_COLUMN] | DIR\n"
            "(an image folder); default: the test data the model was trained with.\n");
}

int cli_eval(int argc, char **argv) {
    const char *spec = NULL;
    cli_run_args ra = {.batch = 256};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            help(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--data")) {
            if (!(spec = cli_value(VERB, argc, argv, &i))) return CLI_USAGE;
        } else if (!cli_run_arg(VERB, argc, argv, &i, &ra)) {
            return CLI_USAGE;
        }
    }
    const char *file = ra.file;
    const long long batch = ra.batch;
    if (!file) return cli_usage(VERB, "no model file (deepc eval MODEL.safetensors)");
    if (ra.threads > 0) dc_set_num_threads((int)ra.threads);
    cli_model cm;
    if (!cli_model_load(VERB, file, &cm)) return CLI_FAIL;
    dc_dataset *ds = cli_test_data(VERB, &cm, spec);
    if (!ds) {
        cli_model_free(&cm);
        return CLI_FAIL;
    }
    float loss = NAN, metrics[DC_MAX_METRICS];
    for (int i = 0; i < DC_MAX_METRICS; i++) metrics[i] = NAN;
    int rc = CLI_OK;
    if (dc_model_evaluate(cm.model, ds, batch, &loss, metrics) != DC_OK) {
        rc = cli_fail(VERB);
    } else {
        printf("loss: %.6f\n", (double)loss);
        /* the metrics the model file compiled, in compile order: also for
         * files saved through the C API, which have no deepc_metrics key */
        dc_metric_kind kinds[DC_MAX_METRICS];
        int n_m = dc_model_metrics(cm.model, kinds, DC_MAX_METRICS);
        for (int k = 0; k < n_m && k < DC_MAX_METRICS; k++)
            printf("%s: %.6f\n", dc_metric_name(kinds[k]), (double)metrics[k]);
        printf("samples: %lld\n", (long long)dc_dataset_count(ds));
    }
    dc_dataset_free(ds);
    cli_model_free(&cm);
    return rc;
}
