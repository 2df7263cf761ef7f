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
            "                     [--data SPEC] [--top K] [--invert] [--out MASK.png]\n"
            "\n"
            "Prints the top K (default 5) classes with their probabilities for an image\n"
            "(PNG or JPEG, gray or RGB, converted and resized to the model's input), for\n"
            "test sample N (of --data SPEC, default the model's own test data), or for a\n"
            "text, vectorized by the TextVectorization kept in the model file.\n"
            "\n"
            "  --invert   take 1 - x for each input value in [0, 1]: a dark object on a light\n"
            "             background for a model trained on light objects on black\n"
            "             (Fashion-MNIST, MNIST)\n"
            "When the model file keeps its training inputs' statistics (deepc train writes\n"
            "them), an input whose mean or range is far from theirs gets a warning.\n"
            "\n"
            "A segmentation model (outputs (H, W, classes)) writes the class of every\n"
            "pixel instead: --out MASK.png (default mask.png) gets the classes' colours\n"
            "and MASK_overlay.png the image with them laid over it (class 0, the\n"
            "background, left clear), both at the image's size; the share of each\n"
            "class is printed.\n");
}

/* 1 - x where the model's inputs are in [0, 1] (pixels). */
static void invert(dc_tensor *x) {
    for (int64_t i = 0; i < x->size; i++) x->data[i] = 1.0f - x->data[i];
}

/* How many spreads a's value lies from the training's, 0 when close in
 * absolute terms (a twentieth of the range) or not measured. */
static double strays(double v, double train, double spread, double range) {
    if (!isfinite(v) || !isfinite(train) || fabs(v - train) <= 0.05 * range) return 0;
    return fabs(v - train) / fmax(spread, 1e-3);
}

/* The worst channel's distance from the training inputs, in spreads of an
 * image's mean or of its border's mean; *what says which. */
static double distance(const cli_stats *train, const cli_stats *in, int *channel, bool *border) {
    double worst = 0;
    for (int c = 0; c < train->channels; c++) {
        double range = fmax(train->max[c] - train->min[c], 1e-6);
        double dm = strays(in->mean[c], train->mean[c], train->spread[c], range);
        double db = strays(in->border[c], train->border[c], train->border_spread[c], range);
        if (dm > worst) worst = dm, *channel = c, *border = false;
        if (db > worst) worst = db, *channel = c, *border = true;
    }
    return worst;
}

/* Warns on stderr when x is unlike the training inputs: a channel's image
 * mean or border mean more than 4 spreads (standard deviations over the
 * training images) from theirs, as a photo of a dark garment on white is to
 * Fashion-MNIST's light garments on black, or values beyond the training
 * range by a tenth of it. Suggests --invert when 1 - x would fit. */
static void warn_if_unlike_training(const cli_model *cm, const dc_tensor *x, bool inverted) {
    const char *text = cli_model_meta(cm, CLI_META_STATS);
    cli_stats train, in, flipped;
    if (!text || !cli_stats_parse(text, &train)) return;
    cli_sample_stats(x->data, cm->in_ndim, cm->in_shape, &in);
    if (in.channels != train.channels) return;
    float *tmp = malloc((size_t)x->size * sizeof *tmp);
    if (!tmp) return;
    for (int64_t i = 0; i < x->size; i++) tmp[i] = 1.0f - x->data[i];
    cli_sample_stats(tmp, cm->in_ndim, cm->in_shape, &flipped);
    free(tmp);
    bool pixels = true, outside = false; /* pixels: inputs in [0, 1], so 1 - x is a picture */
    int wc = 0, fc = 0, oc = 0;
    bool wb = false, fb = false;
    for (int c = 0; c < train.channels; c++) {
        double range = train.max[c] - train.min[c];
        pixels = pixels && train.min[c] >= 0 && train.max[c] <= 1;
        if (in.min[c] < train.min[c] - 0.1 * range || in.max[c] > train.max[c] + 0.1 * range)
            outside = true, oc = c;
    }
    double far = distance(&train, &in, &wc, &wb), far_flipped = distance(&train, &flipped, &fc, &fb);
    if (far <= 4 && !outside) return;
    const char *ch = train.channels > 1 ? " (in a channel)" : "";
    fprintf(stderr, "deepc predict: warning: this %sinput is unlike the training images: ",
            inverted ? "inverted " : "");
    if (far > 4 && wb)
        fprintf(stderr, "its border's mean%s is %.3f, theirs %.3f +- %.3f", ch, in.border[wc],
                train.border[wc], train.border_spread[wc]);
    else if (far > 4)
        fprintf(stderr, "its mean%s is %.3f, theirs %.3f +- %.3f", ch, in.mean[wc],
                train.mean[wc], train.spread[wc]);
    else
        fprintf(stderr, "its values reach [%.3g, %.3g], theirs stay in [%.3g, %.3g]",
                in.min[oc], in.max[oc], train.min[oc], train.max[oc]);
    fprintf(stderr, "; the answer below may mean little.\n");
    if (pixels && far_flipped <= 4 && far_flipped < far)
        fprintf(stderr, "deepc predict: %s\n",
                inverted ? "without --invert it fits them better."
                         : "its inverse (1 - x) fits them: if it shows a dark object on a light "
                           "background, try --invert.");
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
    bool inv = false;
    const char *out = NULL;
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
        } else if (!strcmp(a, "--out")) {
            if (!(out = cli_value(VERB, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--invert")) {
            inv = true;
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
    if (!text && inv) invert(x);
    if (!text) warn_if_unlike_training(&cm, x, inv);
    y = dc_model_predict(cm.model, x, 1);
    if (!y) {
        cli_fail(VERB);
        goto done;
    }
    if (y->ndim == 4) {
        rc = cli_predict_segmentation(VERB, &cm, x, y, image, out ? out : "mask.png");
        goto done;
    }
    if (out) {
        fprintf(stderr, "deepc %s: --out is for segmentation models (outputs (H, W, classes))\n", VERB);
        rc = CLI_USAGE;
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
