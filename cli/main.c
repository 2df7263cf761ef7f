/* main.c — the `deepc` command: parses the verb and hands over to its file.
 * Only cli/ turns a dc_status into an exit code: 0 done, 1 failed, 2 usage. */
#include "cli.h"
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: deepc [--help] [--version] <command> [args]\n"
            "\n"
            "commands:\n"
            "  train FILE.ini      train the model a model file describes\n"
            "  eval MODEL          loss and accuracy of a trained model on test data\n"
            "  predict MODEL IMG   the classes a trained model sees in an image\n"
            "  summary FILE        the layers of a model file or a trained model\n"
            "  visualize MODEL     pictures of its filters and feature maps\n"
            "  generate MODEL      text sampled from a language model\n"
            "  export MODEL OUT    the inference graph as ONNX (OUT.onnx) or Keras (OUT.keras)\n"
            "  import IN.keras OUT a Keras 3 model as a deepc model file\n"
            "\n"
            "'deepc <command> --help' tells more; docs/model-files.md describes model files.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("deepc %s (%s kernels)\n", DC_VERSION, dc_cpu_isa_name());
        return CLI_OK;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } verbs[] = {{"train", cli_train},
                 {"eval", cli_eval},
                 {"predict", cli_predict},
                 {"summary", cli_summary},
                 {"visualize", cli_visualize},
                 {"generate", cli_generate},
                 {"export", cli_export},
                 {"import", cli_import}};
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        if (!strcmp(argv[1], verbs[i].name)) return verbs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "deepc: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
