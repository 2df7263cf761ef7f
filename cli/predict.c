/* predict.c — `deepc predict MODEL FILE.png|FILE.jpg|--index N|--text TEXT`: the
 * classes a trained model sees in one image or text, most probable first, with
 * class names when the model file keeps them. */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const VERB = "predict";

static void help(FILE *f) {
    fprintf(f,
            "usage: deepc predict MODEL.safetensors (FILE.png | FILE.jpg | --index N | --text TEXT)\n"
            "                     [--data SPEC] [--top K]\n"
            "\n"
            "Prints the top K (default 5) classes with their probabilities for an image\n"
            "(PNG or JPEG, gray or RGB, converted and resized to the model's input), for\n"
            "test sample N (of --data SPEC, default the model's own test data), or for a\n"
            "text, vectorized by the TextVectorization kept in the model file.\n");
}

/* The text as a (1, L) tensor of the model file's vectorizer; caller frees. */
static dc_tensor *input_text(const char *model, const char *text) {
    dc_text_vectorizer *v = dc_text_vectorizer_from_model_file(model);
    dc_tensor *x = v ? dc_text_vectorizer_call(v, &text, 1) : NULL;
    dc_text_vectorizer_free(v);
    if (!x) cli_fail(VERB);
    return x;
}

int cli_predict(int argc, char **argv) {
    cli_image_args ia = {.index = -1};
    long long top = 5;
    const char *text = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (cli_is_help(a)) {
            help(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--top")) {
            if (!(v = cli_value(VERB, argc, argv, &i)) || !cli_int(VERB, a, v, 1, 1000000, &top))
                return CLI_USAGE;
        } else if (!strcmp(a, "--text")) {
            if (!(text = cli_value(VERB, argc, argv, &i))) return CLI_USAGE;
        } else if (!cli_image_arg(VERB, argc, argv, &i, &ia)) {
            return CLI_USAGE;
        }
    }
    if (text && (ia.image || ia.index >= 0))
        return cli_usage(VERB, "give one of FILE, --index N and --text TEXT");
    if (text && !ia.model) return cli_usage(VERB, "no model file (deepc predict MODEL --text TEXT)");
    if (!text && !cli_image_args_check(VERB, &ia, "deepc predict MODEL.safetensors FILE.png"))
        return CLI_USAGE;
    const char *model = ia.model, *image = ia.image, *spec = ia.spec;
    const long long index = ia.index;
    cli_model cm;
    if (!cli_model_load(VERB, model, &cm)) return CLI_FAIL;
    int label = -1, rc = CLI_FAIL;
    dc_tensor *x = text ? input_text(model, text)
                        : cli_input_image(VERB, &cm, image, index, spec, &label),
              *y = NULL;
    if (!x) goto done;
    y = dc_model_predict(cm.model, x, 1);
    if (!y) {
        cli_fail(VERB);
        goto done;
    }
    int64_t n = y->size;
    float *p = malloc((size_t)n * sizeof *p);
    int *order = malloc((size_t)n * sizeof *order);
    if (!p || !order) {
        free(p);
        free(order);
        fprintf(stderr, "deepc %s: out of memory\n", VERB);
        goto done;
    }
    /* probabilities: softmax (sigmoid for one output) unless the model gives them */
    const char *kind = cli_model_meta(&cm, CLI_META_OUTPUT);
    bool probs = kind ? !strcmp(kind, "probabilities") : false;
    if (!kind) { /* a model file from elsewhere: outputs that already sum to 1 are probabilities */
        double s = 0;
        bool in01 = true;
        for (int64_t i = 0; i < n; i++) s += y->data[i], in01 = in01 && y->data[i] >= 0 && y->data[i] <= 1;
        probs = in01 && (n == 1 || fabs(s - 1.0) < 1e-3);
    }
    if (n == 1) {
        float q = probs ? y->data[0] : 1.0f / (1.0f + expf(-y->data[0]));
        /* a binary classifier: class 1 with q, class 0 with 1 - q */
        free(p);
        free(order);
        n = 2;
        p = malloc(2 * sizeof *p);
        order = malloc(2 * sizeof *order);
        if (!p || !order) {
            free(p);
            free(order);
            goto done;
        }
        p[0] = 1 - q;
        p[1] = q;
    } else if (probs) {
        for (int64_t i = 0; i < n; i++) p[i] = y->data[i];
    } else {
        float mx = y->data[0];
        for (int64_t i = 1; i < n; i++) mx = fmaxf(mx, y->data[i]);
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += (p[i] = expf(y->data[i] - mx));
        for (int64_t i = 0; i < n; i++) p[i] = (float)(p[i] / s);
    }
    for (int64_t i = 0; i < n; i++) order[i] = (int)i;
    for (int64_t i = 1; i < n; i++) { /* insertion sort, most probable first */
        int k = order[i];
        int64_t j = i;
        while (j > 0 && p[order[j - 1]] < p[k]) order[j] = order[j - 1], j--;
        order[j] = k;
    }
    if (text)
        printf("text \"%s\":\n", text);
    else if (image)
        printf("%s:\n", image);
    else if (label >= 0)
        printf("test sample %lld (label %d%s%s%s):\n", index, label,
               label < cm.n_names ? ": " : "", label < cm.n_names ? cm.names[label] : "",
               "");
    else
        printf("test sample %lld:\n", index);
    for (int64_t i = 0; i < n && i < top; i++) {
        int c = order[i];
        /* one layout for every row, also when the model file names only some classes */
        char unnamed[32];
        snprintf(unnamed, sizeof unnamed, "class %d", c);
        const char *name = c < cm.n_names ? cm.names[c] : unnamed;
        printf("  %2lld. %-16s %d  %.4f\n", (long long)i + 1, name, c, (double)p[c]);
    }
    free(p);
    free(order);
    rc = CLI_OK;
done:
    dc_tensor_free(x);
    dc_tensor_free(y);
    cli_model_free(&cm);
    return rc;
}
