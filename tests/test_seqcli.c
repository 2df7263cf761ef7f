/* test_seqcli.c — the sequence side of the deepc command, run as a user runs it
 * on fixture text this file writes: predict --text on a tiny text classifier,
 * and (with the recurrent layers) train/generate/eval/summary of a char LSTM. */
#include "test.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/seqcli/%s", test_tmpdir(), name);
    return buf[k];
}

static bool write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fputs(text, f);
    return fclose(f) == 0;
}

/* A saved model file with no text vectorizer in it: Dense(2) on (3) inputs. */
static const char *plain_model(void) {
    const char *path = tmp("plain.safetensors");
    dc_model *m = dc_sequential_new(NULL);
    dc_status s = dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2}));
    if (s == DC_OK) s = dc_model_build(m, DC_DIMS(3), 1);
    if (s == DC_OK) s = dc_model_save(m, path);
    dc_model_free(m);
    return s == DC_OK ? path : NULL;
}

static bool setup(void) {
    if (!test_deepc_path()) return false;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/seqcli", test_tmpdir());
    mkdir(dir, 0700);
    return true;
}

/* The probability printed for class `name` in predict's output (-1 if absent). */
static double prob_of(const char *out, const char *name) {
    char key[64];
    snprintf(key, sizeof key, ". %-16s", name);
    const char *p = strstr(out, key);
    if (!p) return -1;
    const char *nl = strchr(p, '\n'), *sp = p;
    for (const char *q = p; *q && q != nl; q++)
        if (*q == ' ') sp = q;
    return strtod(sp + 1, NULL);
}

TEST(cli_predict_text_prints_class_probabilities) {
    if (!setup()) SKIP("build/deepc is not built");
    FILE *f = fopen(tmp("moods.csv"), "w");
    if (!f) return;
    fprintf(f, "text,label\n");
    const char *good[] = {"great", "lovely", "superb", "fine"}, *bad[] = {"awful", "dull", "bad", "poor"};
    for (int i = 0; i < 40; i++)
        fprintf(f, "\"A %s %s day.\",%s\n", i % 2 ? good[i / 2 % 4] : bad[i / 2 % 4],
                i % 3 ? "sunny" : "long", i % 2 ? "happy" : "sad");
    fclose(f);
    CHECK(write_file(tmp("moods.ini"),
                     "[model]\n[data]\ntrain_text_csv = moods.csv\ntext_column = text\n"
                     "label_column = label\ntest_every = 4\nvalidation = test\n"
                     "[TextVectorization]\noutput_mode = multi_hot\n[train]\n"
                     "loss = sparse_categorical_crossentropy\nmetrics = accuracy\n"
                     "learning_rate = 0.05\nepochs = 20\nbatch_size = 8\nseed = 1\n"
                     "[Dense]\nunits = 2\nactivation = softmax\n"));
    static char out[1 << 16];
    char args[2048];
    snprintf(args, sizeof args, "train %s --out %s --quiet --threads 1", tmp("moods.ini"),
             tmp("moods"));
    int rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) {
        printf("%s\n", out);
        return;
    }
    const char *model = tmp("moods/model.safetensors");
    snprintf(args, sizeof args, "predict %s --text \"What a superb day!\"", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(strstr(out, "text \"What a superb day!\":") != NULL);
    double happy = prob_of(out, "happy"), sad = prob_of(out, "sad");
    CHECK(happy > 0.5 && sad >= 0 && sad < 0.5);
    CHECK_NEAR(happy + sad, 1.0, 2e-3);
    CHECK(strstr(out, "1. happy") != NULL);
    snprintf(args, sizeof args, "predict %s --text \"so dull and poor\" --top 1", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(strstr(out, "1. sad") != NULL && strstr(out, "2. ") == NULL);
    /* bad usage: text and an image, or text for a model without a vectorizer */
    snprintf(args, sizeof args, "predict %s x.png --text hi", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 2 && strstr(out, "--text") != NULL);
    snprintf(args, sizeof args, "predict --text hi");
    CHECK(test_run_deepc(args, out, sizeof out) == 2);
    /* ids of any length (no output_sequence_length): Embedding(mask_zero) and a GRU;
     * "great" and "superb" are training words (the test rows hold the others) */
    CHECK(write_file(tmp("moods_rnn.ini"),
                     "[model]\n[data]\ntrain_text_csv = moods.csv\ntext_column = text\n"
                     "label_column = label\ntest_every = 4\nvalidation = test\n"
                     "[TextVectorization]\n[train]\nloss = sparse_categorical_crossentropy\n"
                     "metrics = accuracy\nlearning_rate = 0.05\nepochs = 15\nbatch_size = 8\n"
                     "seed = 1\n[Embedding]\ninput_dim = vocabulary_size\noutput_dim = 8\n"
                     "mask_zero = true\n[GRU]\nunits = 8\n[Dense]\nunits = 2\n"
                     "activation = softmax\n"));
    snprintf(args, sizeof args, "train %s --out %s --quiet --threads 1", tmp("moods_rnn.ini"),
             tmp("moods_rnn"));
    rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) printf("%s\n", out);
    snprintf(args, sizeof args, "predict %s --text \"A great sunny day, so superb\"",
             tmp("moods_rnn/model.safetensors"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(prob_of(out, "happy") > 0.5 && strstr(out, "1. happy") != NULL);
    const char *plain = plain_model();
    CHECK(plain != NULL);
    snprintf(args, sizeof args, "predict %s --text hi", plain ? plain : "none");
    CHECK(test_run_deepc(args, out, sizeof out) == 1);
    CHECK(strstr(out, "text vectorizer") != NULL);
}

/* Embedding(V, 6) -> rnn(8, return_sequences) -> Dense(V) over ids of any length. */
static dc_model *tiny_lm(const char *rnn, int64_t V, bool softmax) {
    dc_model *m = dc_sequential_new(NULL);
    char vs[16];
    snprintf(vs, sizeof vs, "%lld", (long long)V);
    const char *ek[] = {"input_dim", "output_dim"}, *ev[] = {vs, "6"};
    const char *rk[] = {"units", "return_sequences"}, *rv[] = {"8", "true"};
    const char *dk[] = {"units", "activation"}, *dv[] = {vs, softmax ? "softmax" : "linear"};
    dc_model_add(m, dc_layer_from_config("Embedding", ek, ev, 2));
    dc_model_add(m, dc_layer_from_config(rnn, rk, rv, 2));
    dc_model_add(m, dc_layer_from_config("Dense", dk, dv, 2));
    if (dc_model_build(m, DC_DIMS(-1), 7) != DC_OK) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* Stepping with carried state gives what running the whole text again gives:
 * at a tiny temperature every sampled id is the argmax of the full forward. */
TEST(generate_steps_agree_with_the_whole_sequence) {
    const char *kinds[] = {"LSTM", "GRU", "SimpleRNN"};
    for (int k = 0; k < 3; k++) {
        dc_model *m = tiny_lm(kinds[k], 9, k == 0);
        CHECK(m != NULL);
        if (!m) continue;
        int64_t ids[6 + 12] = {3, 4, 5, 2, 8, 3};
        dc_generate_options o = {.length = 12, .temperature = 1e-6f, .seed = 1, .exclude_below = 2};
        CHECK_OK(dc_model_generate(m, ids, 6, &o, ids + 6));
        for (int64_t n = 6; n < 18; n++) {
            float x[18];
            for (int64_t i = 0; i < n; i++) x[i] = (float)ids[i];
            dc_tensor *xt = dc_tensor_from_data(DC_DIMS(1, n), x);
            dc_tensor *y = dc_model_predict(m, xt, 1);
            CHECK(y != NULL);
            if (y) {
                const float *last = y->data + (n - 1) * 9;
                int64_t best = 2;
                for (int64_t v = 3; v < 9; v++)
                    if (last[v] > last[best]) best = v;
                if (best != ids[n])
                    test_fail(__FILE__, __LINE__, "%s: step %lld sampled %lld, argmax %lld",
                              kinds[k], (long long)n, (long long)ids[n], (long long)best);
            }
            dc_tensor_free(xt);
            dc_tensor_free(y);
        }
        /* the same seed, the same ids; another seed at temperature 1, others */
        int64_t a[40], b[40], c[40];
        o.temperature = 1.0f;
        o.length = 40;
        CHECK_OK(dc_model_generate(m, ids, 6, &o, a));
        CHECK_OK(dc_model_generate(m, ids, 6, &o, b));
        o.seed = 2;
        CHECK_OK(dc_model_generate(m, ids, 6, &o, c));
        CHECK(!memcmp(a, b, sizeof a) && memcmp(a, c, sizeof a));
        /* allocations happen before the first step only: as many for 40 tokens as for 4 */
        uint64_t n0 = dc_alloc_count();
        o.length = 4;
        CHECK_OK(dc_model_generate(m, ids, 6, &o, c));
        uint64_t n1 = dc_alloc_count();
        o.length = 40;
        CHECK_OK(dc_model_generate(m, ids, 6, &o, c));
        uint64_t n2 = dc_alloc_count();
        CHECK(n2 - n1 == n1 - n0);
        for (int i = 0; i < 40; i++) CHECK(a[i] >= 2 && a[i] < 9);
        /* bad options */
        o.temperature = 0.0f;
        CHECK_ERR(dc_model_generate(m, ids, 6, &o, a), DC_ERR_ARG, "temperature 0");
        o.temperature = -1.0f;
        CHECK_ERR(dc_model_generate(m, ids, 6, &o, a), DC_ERR_ARG, "temperature -1");
        o.temperature = 1.0f;
        o.length = 0;
        CHECK_ERR(dc_model_generate(m, ids, 6, &o, a), DC_ERR_ARG, "length 0");
        o.length = 3;
        CHECK_ERR(dc_model_generate(m, ids, 0, &o, a), DC_ERR_ARG, "prompt is empty");
        ids[0] = 9;
        CHECK_ERR(dc_model_generate(m, ids, 6, &o, a), DC_ERR_ARG, "outside [0, 9)");
        dc_model_free(m);
    }
    /* a model with nothing recurrent cannot carry a text */
    dc_model *d = dc_sequential_new(NULL);
    dc_model_add(d, dc_layer_dense(&(dc_dense_options){.units = 4}));
    CHECK_OK(dc_model_build(d, DC_DIMS(3), 1));
    int64_t p[1] = {1}, out[2];
    CHECK_ERR(dc_model_generate(d, p, 1, &(dc_generate_options){.length = 2, .temperature = 1}, out),
              DC_ERR_UNSUPPORTED, "no recurrent layer");
    dc_model_free(d);
}

/* A tiny char LSTM trained by deepc train on a fixture corpus, then generate,
 * eval, summary and the bad inputs of generate. */
TEST(cli_char_lm_train_generate_eval_summary) {
    if (!setup()) SKIP("build/deepc is not built");
    FILE *f = fopen(tmp("corpus.txt"), "w");
    if (!f) return;
    const char *w[] = {"the", "cat", "sat", "on", "mat", "a", "dog", "ran", "to", "red", "hat"};
    dc_rng r;
    dc_rng_seed(&r, 1);
    for (int i = 0; i < 150; i++) fprintf(f, "%s%s", i ? " " : "", w[dc_rng_below(&r, 11)]);
    fprintf(f, ".\n");
    fclose(f);
    CHECK(write_file(tmp("lm.ini"),
                     "[model]\nname = tinychar\n[data]\ncorpus = corpus.txt\nseq_len = 20\n"
                     "validation_fraction = 0.1\nvalidation = test\n[train]\n"
                     "loss = sparse_categorical_crossentropy\nlearning_rate = 0.01\nepochs = 3\n"
                     "batch_size = 8\nseed = 1\n[Embedding]\ninput_dim = vocabulary_size\n"
                     "output_dim = 8\n[LSTM]\nunits = 16\nreturn_sequences = true\n[Dense]\n"
                     "units = vocabulary_size\n"));
    static char out[1 << 16], out2[1 << 16];
    char args[2048];
    snprintf(args, sizeof args, "train %s --out %s --threads 1", tmp("lm.ini"), tmp("lm"));
    int rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) {
        printf("%s\n", out);
        return;
    }
    CHECK(strstr(out, "Epoch 3/3") != NULL && strstr(out, "val_loss") != NULL);
    /* perplexity = exp(loss) per character, in the progress line and history.csv */
    const char *vl = strstr(out, "3/3 - "), *vp = vl ? strstr(vl, "val_perplexity: ") : NULL;
    vl = vl ? strstr(vl, "val_loss: ") : NULL;
    CHECK(vl && vp);
    if (vl && vp) CHECK_NEAR(exp(strtod(vl + 10, NULL)), strtod(vp + 16, NULL), 2e-3 * strtod(vp + 16, NULL));
    CHECK(strstr(out, "test perplexity: ") != NULL);
    f = fopen(tmp("lm/history.csv"), "r");
    char head[256] = "";
    CHECK(f && fgets(head, sizeof head, f));
    if (f) fclose(f);
    CHECK(strstr(head, ",seconds,") && strstr(head, "perplexity,val_perplexity"));
    const char *model = tmp("lm/model.safetensors");
    snprintf(args, sizeof args, "generate %s --prompt \"the cat\" --length 40 --seed 5", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(test_run_deepc(args, out2, sizeof out2) == 0);
    CHECK(!strcmp(out, out2));                       /* same seed, same text */
    CHECK(!strncmp(out, "the cat", 7) && strlen(out) == 7 + 40 + 1);
    for (const char *p = out; *p; p++) CHECK(strchr("the catsonmdgrl.\n", *p) != NULL);
    snprintf(args, sizeof args, "generate %s --prompt \"the cat\" --length 40 --seed 6", model);
    CHECK(test_run_deepc(args, out2, sizeof out2) == 0 && strcmp(out, out2) != 0); /* another seed */
    snprintf(args, sizeof args, "generate %s --prompt \"the cat\" --length 5 --stats", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 0 && strstr(out, "tokens/s") != NULL);
    /* the last epoch's checkpoint carries the vectorizer and data spec too:
     * it generates what the model does, and evaluates */
    snprintf(args, sizeof args, "generate %s --prompt \"the cat\" --length 40 --seed 5",
             tmp("lm/checkpoint.safetensors"));
    char out3[4096];
    CHECK(test_run_deepc(args, out2, sizeof out2) == 0);
    snprintf(args, sizeof args, "generate %s --prompt \"the cat\" --length 40 --seed 5", model);
    CHECK(test_run_deepc(args, out3, sizeof out3) == 0 && !strcmp(out2, out3));
    snprintf(args, sizeof args, "eval %s", tmp("lm/checkpoint.safetensors"));
    CHECK(test_run_deepc(args, out3, sizeof out3) == 0 && strstr(out3, "loss: ") == out3);

    snprintf(args, sizeof args, "eval %s", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 0 && strstr(out, "loss: ") == out);
    snprintf(args, sizeof args, "summary %s", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(strstr(out, "(Embedding)") && strstr(out, "(LSTM)") && strstr(out, "(None, 20, 16)"));

    /* bad input: characters outside the vocabulary, temperature, length, no vectorizer */
    snprintf(args, sizeof args, "generate %s --prompt \"the Zebra\"", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 1);
    CHECK(strstr(out, "'Z' at position 4 is not in the model's vocabulary") != NULL);
    snprintf(args, sizeof args, "generate %s --prompt the --temperature 0", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 2 && strstr(out, "must be a number > 0"));
    snprintf(args, sizeof args, "generate %s --prompt the --temperature -0.5", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 2 && strstr(out, "must be a number > 0"));
    snprintf(args, sizeof args, "generate %s --prompt the --length 0", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 2 && strstr(out, "--length"));
    snprintf(args, sizeof args, "generate %s", model);
    CHECK(test_run_deepc(args, out, sizeof out) == 2 && strstr(out, "--prompt"));
    const char *plain = plain_model();
    snprintf(args, sizeof args, "generate %s --prompt the", plain ? plain : "none");
    CHECK(test_run_deepc(args, out, sizeof out) == 1 && strstr(out, "text vectorizer"));
}
