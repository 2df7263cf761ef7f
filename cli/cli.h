/* cli.h — what the verbs of the `deepc` command share: exit codes, messages,
 * option parsing, and reading what train keeps in a model file. */
#ifndef DEEPC_CLI_H
#define DEEPC_CLI_H
#include "deepc.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Metadata keys train adds to model.safetensors. */
#define CLI_META_DATA "deepc_data"          /* test split spec (dc_dataset_load_spec) */
#define CLI_META_CLASSES "deepc_class_names" /* one name per line */
#define CLI_META_METRICS "deepc_metrics"    /* compile order, comma-separated */
#define CLI_META_OUTPUT "deepc_output"      /* "logits" or "probabilities" */
#define CLI_META_SOURCE "deepc_model_file"  /* the INI file it came from */
#define CLI_META_STATS "deepc_input_stats"  /* training inputs (cli_stats_format) */

int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_summary(int argc, char **argv);
int cli_visualize(int argc, char **argv);
int cli_generate(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_import(int argc, char **argv);

/* "deepc VERB: message" plus a hint to --help on stderr; returns CLI_USAGE. */
int cli_usage(const char *verb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* "deepc VERB: <the library's last error>" on stderr; returns CLI_FAIL. */
int cli_fail(const char *verb);
/* A whole number in [lo, hi] for option opt, or a usage message (false). */
bool cli_int(const char *verb, const char *opt, const char *s, long long lo, long long hi,
             long long *out);
/* The value after option argv[*i], or NULL after a usage message. */
const char *cli_value(const char *verb, int argc, char **argv, int *i);
bool cli_is_help(const char *a);
/* "VERB IN OUT" with no options but --help: CLI_PARSED with files[0..1] set,
 * or the exit code to return (help printed, or a usage error). */
#define CLI_PARSED (-1)
int cli_in_out_args(const char *verb, int argc, char **argv, void (*help)(FILE *),
                    const char *usage, const char *files[2]);
/* mkdir -p; false with a message (dc_last_error style) on stderr. */
bool cli_mkdirs(const char *verb, const char *dir);
bool cli_ends_with(const char *s, const char *suffix);

/* A loaded model file with what train kept beside the weights. */
typedef struct {
    dc_model *model;
    dc_safetensors *st;  /* for the metadata */
    int in_ndim;
    int64_t in_shape[DC_MAX_DIMS];
    char *class_names;   /* the metadata copied, '\n' turned into '\0' */
    const char *names[1024];
    int n_names;
} cli_model;
bool cli_model_load(const char *verb, const char *path, cli_model *cm);
void cli_model_free(cli_model *cm);
const char *cli_model_meta(const cli_model *cm, const char *key); /* NULL if absent */
/* The test set for --index / eval: spec, else the model file's data spec. */
dc_dataset *cli_test_data(const char *verb, const cli_model *cm, const char *spec);
/* One image as a (1, H, W, C) tensor fitting the model's input: a file (PNG or
 * JPEG, converted to the model's channels and resized) or test sample `index`
 * (label written to *label, -1 for a file). Caller frees. */
dc_tensor *cli_input_image(const char *verb, const cli_model *cm, const char *file,
                           long long index, const char *spec, int *label);

/* The training inputs' statistics per channel (the last axis of (H,W,C)
 * images with C <= 4, else one over all values): of the values, then of each
 * sample's mean (spread: how far one image's mean strays) and, for images, of
 * the mean of its one-pixel border (NaN when not images). */
enum { CLI_STATS_MAX_CH = 4 };
typedef struct {
    int channels;
    double mean[CLI_STATS_MAX_CH], std[CLI_STATS_MAX_CH], min[CLI_STATS_MAX_CH],
        max[CLI_STATS_MAX_CH], spread[CLI_STATS_MAX_CH], border[CLI_STATS_MAX_CH],
        border_spread[CLI_STATS_MAX_CH];
} cli_stats;
/* Of a dataset's inputs (at most 20,000 samples, evenly spaced); false when
 * it has none or memory runs out. */
bool cli_dataset_stats(const dc_dataset *ds, cli_stats *st);
/* Of one sample of the given shape (without the batch axis). */
void cli_sample_stats(const float *x, int ndim, const int64_t *shape, cli_stats *st);
/* To and from the CLI_META_STATS text: a line per channel, "mean std min max
 * spread border border_spread". */
void cli_stats_format(const cli_stats *st, char *buf, size_t n);
bool cli_stats_parse(const char *text, cli_stats *st);

/* What predict and visualize both take: MODEL, then an image FILE or --index N,
 * and --data SPEC. */
typedef struct {
    const char *model, *image, *spec;
    long long index; /* -1: none given */
} cli_image_args;
/* Takes argv[*i] (and the value after it) as one of cli_image_args' options or
 * positionals; false after a usage message (bad value, unknown option, too many
 * arguments). The verb's own options are tested before this. */
bool cli_image_arg(const char *verb, int argc, char **argv, int *i, cli_image_args *ia);
/* After the arguments: a model file and exactly one of FILE and --index, or
 * false after a usage message; example is how to call the verb. */
bool cli_image_args_check(const char *verb, const cli_image_args *ia, const char *example);

/* What train and eval both take: one FILE, --batch-size N and --threads N. */
typedef struct {
    const char *file;
    long long batch, threads; /* as given (the caller sets the defaults) */
} cli_run_args;
/* Takes argv[*i] (and the value after it) as one of cli_run_args' options or
 * the file; false after a usage message (bad value, unknown option, a second
 * file). The verb's own options are tested before this. */
bool cli_run_arg(const char *verb, int argc, char **argv, int *i, cli_run_args *ra);
/* Segmentation models (segment.c): class k's colour (0 black); predict's
 * colour mask at out and the overlay beside it (mask.png -> mask_overlay.png)
 * from the model's output y (1, H, W, classes) for input x (from image, or a
 * test sample when image is NULL); visualize's DIR/segmentation.png, the
 * first count test images with true and predicted masks and a legend. */
void cli_class_rgb(int k, float rgb[3]);
int cli_predict_segmentation(const char *verb, const cli_model *cm, const dc_tensor *x,
                             const dc_tensor *y, const char *image, const char *out);
int cli_visualize_segmentation(const char *verb, const cli_model *cm, const char *spec,
                               const char *dir, long long count);
#endif
