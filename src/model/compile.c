/* compile.c — compile settings belong to the model: the loss and metric kinds
 * by Keras name, and dc_model_compile, which checks them and makes the optimizer. */
#include "model.h"
#include "../optim/optim.h"
#include <math.h>
#include <string.h>

static const char *const metric_names[] = {"", "accuracy", "binary_accuracy", "mae", "mse",
                                           "mean_io_u"};
static const char *const loss_names[] = {"", "sparse_categorical_crossentropy",
                                         "categorical_crossentropy", "mse",
                                         "binary_crossentropy", "dice"};

const char *dc_metric_name(dc_metric_kind k) {
    return k > DC_METRIC_NONE && k <= DC_METRIC_MEAN_IOU ? metric_names[k] : NULL;
}
const char *dc_loss_name(dc_loss_kind k) {
    return k > DC_LOSS_NONE && k <= DC_LOSS_DICE ? loss_names[k] : NULL;
}

dc_loss_kind dc_loss_from_name(const char *name) {
    static const struct { const char *alias; dc_loss_kind k; } aliases[] = {
        {"mean_squared_error", DC_LOSS_MSE}};
    for (int k = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY; name && k <= DC_LOSS_DICE; k++)
        if (!strcmp(name, loss_names[k])) return (dc_loss_kind)k;
    for (size_t i = 0; name && i < sizeof aliases / sizeof *aliases; i++)
        if (!strcmp(name, aliases[i].alias)) return aliases[i].k;
    dc_set_error(DC_ERR_ARG,
                 "dc_loss_from_name: unknown loss '%s' (known: sparse_categorical_crossentropy, "
                 "categorical_crossentropy, mse, binary_crossentropy, dice)",
                 name ? name : "(null)");
    return DC_LOSS_NONE;
}

dc_metric_kind dc_metric_from_name(const char *name) {
    static const struct { const char *alias; dc_metric_kind k; } aliases[] = {
        {"acc", DC_METRIC_ACCURACY}, {"sparse_categorical_accuracy", DC_METRIC_ACCURACY},
        {"categorical_accuracy", DC_METRIC_ACCURACY}, {"mean_absolute_error", DC_METRIC_MAE},
        {"mean_squared_error", DC_METRIC_MSE}, {"mean_iou", DC_METRIC_MEAN_IOU},
        {"pixel_accuracy", DC_METRIC_ACCURACY}};
    for (int k = DC_METRIC_ACCURACY; name && k <= DC_METRIC_MEAN_IOU; k++)
        if (!strcmp(name, metric_names[k])) return (dc_metric_kind)k;
    for (size_t i = 0; name && i < sizeof aliases / sizeof *aliases; i++)
        if (!strcmp(name, aliases[i].alias)) return aliases[i].k;
    dc_set_error(DC_ERR_ARG,
                 "dc_metric_from_name: unknown metric '%s' (known: accuracy, binary_accuracy, mae, mse, "
                 "mean_io_u)",
                 name ? name : "(null)");
    return DC_METRIC_NONE;
}

static dc_status check_class_weights(const dc_compile_options *opt) {
    const char *fn = "dc_model_compile";
    if (opt->n_class_weights == 0) return DC_OK;
    if (opt->n_class_weights < 0 || opt->n_class_weights > DC_MAX_CLASS_WEIGHTS)
        return dc_set_error(DC_ERR_ARG, "%s: n_class_weights %d must be in [0, %d]", fn,
                            opt->n_class_weights, DC_MAX_CLASS_WEIGHTS);
    if (opt->loss != DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
        return dc_set_error(DC_ERR_ARG, "%s: class weights need loss "
                            "sparse_categorical_crossentropy, not %s", fn, dc_loss_name(opt->loss));
    for (int c = 0; c < opt->n_class_weights; c++)
        if (!(opt->class_weights[c] >= 0 && isfinite(opt->class_weights[c])))
            return dc_set_error(DC_ERR_ARG, "%s: class weight %d is %g; each must be finite and >= 0",
                                fn, c, (double)opt->class_weights[c]);
    return DC_OK;
}

/* The metrics before the first NONE, each known and given once: how many,
 * or -1 with an error (`which` ends it: "", " of output 1"). */
static int count_metrics(const dc_metric_kind *metrics, const char *which) {
    int n = 0;
    for (; n < DC_MAX_METRICS && metrics[n] != DC_METRIC_NONE; n++) {
        if (!dc_metric_name(metrics[n]))
            return dc_set_error(DC_ERR_ARG, "dc_model_compile: unknown metric %d%s",
                                (int)metrics[n], which), -1;
        for (int j = 0; j < n; j++)
            if (metrics[j] == metrics[n])
                return dc_set_error(DC_ERR_ARG, "dc_model_compile: metric '%s' given twice%s",
                                    dc_metric_name(metrics[n]), which), -1;
    }
    return n;
}

dc_status dc_model_compile(dc_model *m, const dc_compile_options *opt) {
    if (!m || !opt)
        return dc_set_error(DC_ERR_ARG, "dc_model_compile: %s is NULL", m ? "options" : "model");
    if (!dc_loss_name(opt->loss))
        return dc_set_error(DC_ERR_ARG, "dc_model_compile: unknown loss %d", (int)opt->loss);
    int n = count_metrics(opt->metrics, "");
    if (n < 0) return DC_ERR_ARG;
    for (int i = 0; i < DC_MAX_MODEL_IO; i++) {
        char which[32];
        snprintf(which, sizeof which, " of output %d", i);
        if (count_metrics(opt->output_metrics[i], which) < 0) return DC_ERR_ARG;
    }
    for (int i = 0; i < DC_MAX_MODEL_IO; i++) {
        if (opt->losses[i] != DC_LOSS_NONE && !dc_loss_name(opt->losses[i]))
            return dc_set_error(DC_ERR_ARG, "dc_model_compile: unknown loss %d for output %d",
                                (int)opt->losses[i], i);
        if (!(opt->loss_weights[i] >= 0) || isinf(opt->loss_weights[i]))
            return dc_set_error(DC_ERR_ARG, "dc_model_compile: loss_weights[%d] = %g must be >= 0",
                                i, (double)opt->loss_weights[i]);
    }
    if (check_class_weights(opt) != DC_OK) return DC_ERR_ARG;
    /* the optimizer checks its own options; made now when the size is known */
    dc_optimizer *o = dc_optimizer_new(&opt->optimizer, m->built ? m->n_trainable : 1);
    if (!o) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dc_set_error(dc_last_status(), "dc_model_compile: %s", msg);
    }
    dc_optimizer_free(m->opt);
    dc_optimizer_free(m->opt_options);
    /* An unbuilt model gets its optimizer at the first fit, when the parameter
     * count is known; until then `o` keeps the options, and copt's schedule
     * points at its copy (the caller's may not outlive this call). */
    m->opt = m->built ? o : NULL;
    m->opt_options = m->built ? NULL : o;
    m->copt = *opt;
    m->copt.optimizer.schedule = dc_optimizer_schedule(o);
    m->n_metrics = n;
    m->compiled = true;
    return DC_OK;
}

dc_optimizer *dc_model_optimizer(dc_model *m) { return m ? m->opt : NULL; }
