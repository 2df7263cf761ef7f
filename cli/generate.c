/* generate.c — `deepc generate MODEL --prompt TEXT`: text sampled from a
 * language model trained by deepc train, through the vectorizer its model file
 * keeps; the sampling itself is the library's (dc_model_generate_text). */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const VERB = "generate";

static void help(FILE *f) {
    fprintf(f,
            "usage: deepc generate MODEL.safetensors --prompt TEXT [--length N]\n"
            "                      [--temperature T] [--seed S] [--threads N] [--stats]\n"
            "\n"
            "Feeds TEXT to a language model (Embedding -> SimpleRNN/LSTM/GRU -> Dense, as\n"
            "trained by deepc train on a character corpus) and prints TEXT followed by N\n"
            "sampled tokens, each drawn from softmax(scores / T) and fed back in.\n"
            "\n"
            "  --prompt TEXT    where the text starts; every character (word) must be in the\n"
            "                   model's vocabulary, else it is refused with its position\n"
            "  --length N       tokens to sample (default 200)\n"
            "  --temperature T  > 0 (default 1): lower is safer, near 0 always the most\n"
            "                   likely token, higher is more surprising\n"
            "  --seed S         the same seed gives the same text (default 0)\n"
            "  --threads N      threads to use (default: all cores)\n"
            "  --stats          tokens per second on stderr\n");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool parse_temperature(const char *v, float *out) {
    char *end = NULL;
    double t = v ? strtod(v, &end) : NAN;
    if (!v || end == v || *end || !(t > 0) || isinf(t) || (float)t <= 0.0f) {
        cli_usage(VERB, "--temperature '%s' must be a number > 0 (e.g. 0.5)", v ? v : "");
        return false;
    }
    *out = (float)t;
    return true;
}

int cli_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL;
    long long length = 200, seed = 0, threads = 0;
    float temperature = 1.0f;
    bool stats = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (cli_is_help(a)) {
            help(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--prompt")) {
            if (!(prompt = cli_value(VERB, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--length")) {
            if (!(v = cli_value(VERB, argc, argv, &i)) || !cli_int(VERB, a, v, 1, 1000000, &length))
                return CLI_USAGE;
        } else if (!strcmp(a, "--temperature")) {
            if (!(v = cli_value(VERB, argc, argv, &i)) || !parse_temperature(v, &temperature))
                return CLI_USAGE;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(VERB, argc, argv, &i)) || !cli_int(VERB, a, v, 0, INT64_MAX, &seed))
                return CLI_USAGE;
        } else if (!strcmp(a, "--threads")) {
            if (!(v = cli_value(VERB, argc, argv, &i)) || !cli_int(VERB, a, v, 1, 4096, &threads))
                return CLI_USAGE;
        } else if (!strcmp(a, "--stats")) {
            stats = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage(VERB, "unknown option '%s'", a);
        } else if (model) {
            return cli_usage(VERB, "one model only ('%s' and '%s')", model, a);
        } else {
            model = a;
        }
    }
    if (!model) return cli_usage(VERB, "no model (deepc generate MODEL --prompt TEXT)");
    if (!prompt || !*prompt) return cli_usage(VERB, "no --prompt TEXT to start from");
    if (threads > 0) dc_set_num_threads((int)threads);
    dc_text_vectorizer *v = dc_text_vectorizer_from_model_file(model);
    if (!v) return cli_fail(VERB);
    dc_model *m = dc_model_load(model);
    if (!m) {
        dc_text_vectorizer_free(v);
        return cli_fail(VERB);
    }
    dc_generate_options o = {.length = length, .temperature = temperature, .seed = (uint64_t)seed};
    double t0 = now();
    char *text = dc_model_generate_text(m, v, prompt, &o);
    double secs = now() - t0;
    int rc = CLI_OK;
    if (text) {
        printf("%s%s\n", prompt, text);
        fflush(stdout);
        if (stats)
            fprintf(stderr, "%lld tokens in %.3f s: %.0f tokens/s (%d threads)\n", length, secs,
                    (double)length / (secs > 0 ? secs : 1e-9), dc_get_num_threads());
    } else {
        rc = cli_fail(VERB);
    }
    dc_string_free(text);
    dc_model_free(m);
    dc_text_vectorizer_free(v);
    return rc;
}
