/* test_text.c — the text vectorizer against Keras' TextVectorization (reference
 * outputs from tests/ref/ref_text.py), text collections, text datasets, the
 * per-batch padding of variable-length samples, and bad text input. */
#include "test.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char *tmp_path(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", test_tmpdir(), name);
    return buf[k];
}

static void write_file(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fwrite(text, 1, len, f);
    fclose(f);
}

static void make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) test_fail(__FILE__, __LINE__, "mkdir %s", path);
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

/* ---- against Keras ---- */

static bool options_from_ref(const cJSON *c, dc_text_vectorizer_options *o) {
    memset(o, 0, sizeof *o);
    const cJSON *x;
    if ((x = cJSON_GetObjectItem(c, "max_tokens"))) o->max_tokens = (int64_t)x->valuedouble;
    if ((x = cJSON_GetObjectItem(c, "output_sequence_length")))
        o->output_sequence_length = (int64_t)x->valuedouble;
    if ((x = cJSON_GetObjectItem(c, "pad_to_max_tokens"))) o->pad_to_max_tokens = cJSON_IsTrue(x);
    if ((x = cJSON_GetObjectItem(c, "ngrams"))) o->ngrams = (int)x->valuedouble;
    if ((x = cJSON_GetObjectItem(c, "standardize"))) {
        if (cJSON_IsNull(x)) o->standardize = DC_STANDARDIZE_NONE;
        else if (!strcmp(x->valuestring, "lower")) o->standardize = DC_STANDARDIZE_LOWER;
        else if (!strcmp(x->valuestring, "strip_punctuation"))
            o->standardize = DC_STANDARDIZE_STRIP_PUNCTUATION;
        else return false;
    }
    if ((x = cJSON_GetObjectItem(c, "split")) && !strcmp(x->valuestring, "character"))
        o->split = DC_SPLIT_CHARACTER;
    if ((x = cJSON_GetObjectItem(c, "output_mode"))) {
        const char *m = x->valuestring;
        o->output_mode = !strcmp(m, "multi_hot") ? DC_TEXT_MULTI_HOT
                         : !strcmp(m, "count")   ? DC_TEXT_COUNT
                         : !strcmp(m, "tf_idf")  ? DC_TEXT_TF_IDF
                                                 : DC_TEXT_INT;
    }
    return true;
}

/* texts of a JSON array of strings (pointers into the document) */
static int ref_texts(const cJSON *arr, const char **out, int cap) {
    int n = 0;
    for (const cJSON *t = arr ? arr->child : NULL; t && n < cap; t = t->next) out[n++] = t->valuestring;
    return n;
}

/* Checks v against one Keras configuration: vocabulary, outputs, idf. */
static void check_against_keras(dc_text_vectorizer *v, const cJSON *c, const char **test, int nt) {
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const cJSON *voc = cJSON_GetObjectItem(c, "vocabulary");
    int nv = cJSON_GetArraySize(voc);
    if (dc_text_vectorizer_vocabulary_size(v) != nv)
        test_fail(__FILE__, __LINE__, "%s: vocabulary size %lld, Keras %d", name,
                  (long long)dc_text_vectorizer_vocabulary_size(v), nv);
    int i = 0;
    for (const cJSON *t = voc->child; t; t = t->next, i++) {
        const char *ours = dc_text_vectorizer_token(v, i);
        if (!ours || strcmp(ours, t->valuestring)) {
            test_fail(__FILE__, __LINE__, "%s: token %d is \"%s\", Keras \"%s\"", name, i,
                      ours ? ours : "(none)", t->valuestring);
            break;
        }
    }
    dc_tensor *out = dc_text_vectorizer_call(v, test, nt);
    CHECK(out != NULL);
    const cJSON *rows = cJSON_GetObjectItem(c, "outputs");
    if (out) {
        int r = 0;
        for (const cJSON *row = rows->child; row; row = row->next, r++) {
            int w = cJSON_GetArraySize(row);
            if (out->shape[1] != w) {
                test_fail(__FILE__, __LINE__, "%s: output width %lld, Keras %d", name,
                          (long long)out->shape[1], w);
                break;
            }
            int k = 0;
            for (const cJSON *x = row->child; x; x = x->next, k++)
                if (fabs(out->data[r * w + k] - x->valuedouble) > 1e-5 * (1 + fabs(x->valuedouble))) {
                    test_fail(__FILE__, __LINE__, "%s: text %d value %d is %g, Keras %g", name, r,
                              k, (double)out->data[r * w + k], x->valuedouble);
                    r = 1 << 20;
                    break;
                }
            if (r >= 1 << 20) break;
        }
    }
    dc_tensor_free(out);
    const cJSON *idf = cJSON_GetObjectItem(c, "idf_weights");
    if (idf) {
        const float *ours = dc_text_vectorizer_idf_weights(v);
        CHECK(ours != NULL);
        int k = 0;
        for (const cJSON *x = idf->child; ours && x && k < nv; x = x->next, k++)
            CHECK_NEAR(ours[k], x->valuedouble, 1e-5);
    }
}

TEST(text_vectorizer_matches_keras) {
    char *doc = read_all(test_path("ref/data/text_keras.json"));
    CHECK(doc != NULL);
    if (!doc) return;
    cJSON *root = cJSON_Parse(doc);
    CHECK(root != NULL);
    const char *train[32], *test[32];
    int n_train = ref_texts(cJSON_GetObjectItem(root, "train"), train, 32);
    int n_test = ref_texts(cJSON_GetObjectItem(root, "test"), test, 32);
    int n_configs = 0;
    for (const cJSON *c = cJSON_GetObjectItem(root, "configs")->child; c; c = c->next) {
        dc_text_vectorizer_options o;
        CHECK(options_from_ref(c, &o));
        dc_text_vectorizer *v = dc_text_vectorizer_new(&o);
        CHECK(v != NULL);
        CHECK_OK(dc_text_vectorizer_adapt(v, train, n_train));
        check_against_keras(v, c, test, n_test);
        /* a dataset of the test texts holds the same samples as the layer call */
        dc_text_set *ts = dc_text_set_new(test, NULL, n_test, 0, NULL);
        dc_dataset *ds = dc_dataset_from_texts(v, ts);
        dc_tensor *want = dc_text_vectorizer_call(v, test, n_test);
        CHECK(ds && want);
        if (ds && want && o.output_sequence_length == 0 && o.output_mode == DC_TEXT_INT) {
            dc_batcher *b = dc_batcher_new(ds, n_test, false, 0);
            dc_tensor *bx, *by;
            CHECK(dc_batcher_next(b, &bx, &by) == n_test && dc_tensor_same_shape(bx, want));
            CHECK(!memcmp(bx->data, want->data, (size_t)want->size * sizeof(float)));
            dc_batcher_free(b);
        } else if (ds && want) {
            float *x = calloc((size_t)want->shape[1], sizeof(float)), y;
            for (int i = 0; i < n_test; i++) {
                CHECK_OK(dc_dataset_get(ds, i, x, &y));
                CHECK(!memcmp(x, want->data + i * want->shape[1], (size_t)want->shape[1] * sizeof(float)));
            }
            free(x);
        }
        dc_tensor_free(want);
        dc_dataset_free(ds);
        dc_text_set_free(ts);
        /* the JSON round trip gives the same vectorizer */
        char *json = dc_text_vectorizer_to_json(v);
        CHECK(json != NULL);
        dc_text_vectorizer *w = dc_text_vectorizer_from_json(json);
        CHECK(w != NULL);
        if (w) check_against_keras(w, c, test, n_test);
        dc_string_free(json);
        dc_text_vectorizer_free(w);
        dc_text_vectorizer_free(v);
        n_configs++;
    }
    CHECK(n_configs >= 18);
    cJSON_Delete(root);
    free(doc);
}

/* ---- hand-computed behaviour ---- */

TEST(text_vectorizer_ties_oov_truncation) {
    /* counts: b 3, a 2, c 2, d 1: ties broken by the bytes, descending (c before a) */
    const char *texts[] = {"a b c", "b c d", "b a"};
    dc_text_vectorizer *v = dc_text_vectorizer_new(&(dc_text_vectorizer_options){
        .output_sequence_length = 3});
    CHECK_OK(dc_text_vectorizer_adapt(v, texts, 3));
    const char *want[] = {"", "[UNK]", "b", "c", "a", "d"};
    CHECK(dc_text_vectorizer_vocabulary_size(v) == 6);
    for (int i = 0; i < 6; i++) CHECK(!strcmp(dc_text_vectorizer_token(v, i), want[i]));
    float out[3];
    /* longer than output_sequence_length: truncated at the end; unknown words: 1 */
    CHECK(dc_text_vectorizer_encode(v, "D, zz A! b", out, 3) == 3);
    CHECK(out[0] == 5 && out[1] == 1 && out[2] == 4);
    CHECK(dc_text_vectorizer_encode(v, "", out, 3) == 3); /* an empty text: all padding */
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 0);
    CHECK(dc_text_vectorizer_token_id(v, "zebra") == 1);
    CHECK(dc_text_vectorizer_oov_id(v) == 1);
    char *back = dc_text_vectorizer_decode(v, (const float[]){2, 1, 0, 4}, 4);
    CHECK(back && !strcmp(back, "b [UNK] a"));
    dc_string_free(back);
    dc_text_vectorizer_free(v);
}

TEST(text_vectorizer_characters_and_bad_utf8) {
    /* a bad byte (0xFF), a truncated sequence (0xC3 at the end) and a valid é */
    const char *texts[] = {"ab\xFF" "c\xC3\xA9", "a\xC3"};
    dc_text_vectorizer *v = dc_text_vectorizer_new(&(dc_text_vectorizer_options){
        .standardize = DC_STANDARDIZE_NONE, .split = DC_SPLIT_CHARACTER});
    CHECK_OK(dc_text_vectorizer_adapt(v, texts, 2));
    /* a 2, U+FFFD 2, b 1, c 1, é 1: ties by bytes descending: é (C3 A9) > c > b */
    const char *want[] = {"", "[UNK]", "\xEF\xBF\xBD", "a", "\xC3\xA9", "c", "b"};
    CHECK(dc_text_vectorizer_vocabulary_size(v) == 7);
    for (int i = 0; i < 7 && dc_text_vectorizer_token(v, i); i++)
        if (strcmp(dc_text_vectorizer_token(v, i), want[i]))
            test_fail(__FILE__, __LINE__, "token %d is \"%s\"", i, dc_text_vectorizer_token(v, i));
    float out[8];
    /* a character outside the vocabulary (z, and the 3-byte €) maps to 1 */
    CHECK(dc_text_vectorizer_encode(v, "z\xE2\x82\xAC" "a\x80", out, 8) == 4);
    CHECK(out[0] == 1 && out[1] == 1 && out[2] == 3 && out[3] == 2);
    char *json = dc_text_vectorizer_to_json(v);
    CHECK(json != NULL);
    dc_text_vectorizer *w = dc_text_vectorizer_from_json(json);
    CHECK(w && dc_text_vectorizer_vocabulary_size(w) == 7);
    char *back = dc_text_vectorizer_decode(w, (const float[]){3, 4, 5}, 3);
    CHECK(back && !strcmp(back, "a\xC3\xA9" "c"));
    dc_string_free(back);
    dc_string_free(json);
    dc_text_vectorizer_free(w);
    dc_text_vectorizer_free(v);
}

/* Ill-formed UTF-8 becomes U+FFFD per maximal subpart, as TensorFlow's
 * tf.strings.unicode_split(..., "UTF-8") gives (checked by hand with TF 2.21). */
TEST(text_utf8_repair_matches_tensorflow) {
#define R "\xEF\xBF\xBD"
    const char *in[] = {"ab\xFF" "c\xC3\xA9", "a\xC3", "\xE2\x82", "\xED\xA0\x80x", "\xF0\x9F\x98",
                        "\xC0\xAF", "\xF4\x90\x80\x80", "ok \xF0\x9F\x98\x80"};
    const char *want[] = {"ab" R "c\xC3\xA9", "a" R, R, R R R "x", R, R R, R R R R, "ok \xF0\x9F\x98\x80"};
#undef R
    dc_text_set *s = dc_text_set_new(in, NULL, 8, 0, NULL);
    CHECK(s != NULL);
    for (int i = 0; s && i < 8; i++)
        if (strcmp(s->texts[i], want[i])) test_fail(__FILE__, __LINE__, "case %d repaired wrongly", i);
    dc_text_set_free(s);
}

TEST(text_vectorizer_bad_input) {
    dc_text_vectorizer *v = dc_text_vectorizer_new(NULL);
    const char *empty[] = {"", "  ", "!!! ..."};
    /* an empty vocabulary is an error */
    CHECK_ERR(dc_text_vectorizer_adapt(v, empty, 3), DC_ERR_ARG, "vocabulary would be empty");
    CHECK_ERR(dc_text_vectorizer_adapt(v, NULL, 0), DC_ERR_ARG, "vocabulary would be empty");
    float out[4];
    CHECK(dc_text_vectorizer_encode(v, "abc", out, 4) == -1);
    CHECK_MSG("no vocabulary");
    CHECK(dc_text_vectorizer_call(v, (const char *[]){"abc"}, 1) == NULL);
    const char *with_null[] = {"abc", NULL};
    CHECK_ERR(dc_text_vectorizer_adapt(v, with_null, 2), DC_ERR_ARG, "text 1 is NULL");
    /* options */
    CHECK(dc_text_vectorizer_new(&(dc_text_vectorizer_options){.max_tokens = 2}) == NULL);
    CHECK_MSG("max_tokens 2");
    CHECK(dc_text_vectorizer_new(&(dc_text_vectorizer_options){
              .output_mode = DC_TEXT_COUNT, .output_sequence_length = 4}) == NULL);
    CHECK_MSG("output_sequence_length applies to output_mode int");
    CHECK(dc_text_vectorizer_new(&(dc_text_vectorizer_options){.output_mode = 9}) == NULL);
    /* set_vocabulary checks the special tokens and duplicates */
    CHECK_ERR(dc_text_vectorizer_set_vocabulary(v, (const char *[]){"[UNK]", "", "a"}, 3, NULL),
              DC_ERR_ARG, "expected \"\"");
    CHECK_ERR(dc_text_vectorizer_set_vocabulary(v, (const char *[]){"", "[UNK]", "a", "a"}, 4, NULL),
              DC_ERR_ARG, "twice");
    CHECK_ERR(dc_text_vectorizer_set_vocabulary(v, (const char *[]){"", "[UNK]", "a\xFF"}, 3, NULL),
              DC_ERR_ARG, "UTF-8");
    CHECK_OK(dc_text_vectorizer_set_vocabulary(v, (const char *[]){"", "[UNK]", "x", "y"}, 4, NULL));
    CHECK(dc_text_vectorizer_encode(v, "y x q", out, 4) == 3);
    CHECK(out[0] == 3 && out[1] == 2 && out[2] == 1);
    dc_text_vectorizer_free(v);
}

TEST(text_vectorizer_hostile_json) {
    const char *bad[] = {
        "",
        "[]",
        "{\"config\": 3}",
        "{\"class_name\": \"Dense\", \"config\": {}, \"vocabulary\": [\"\", \"[UNK]\", \"a\"]}",
        "{\"config\": {\"max_tokens\": -5}, \"vocabulary\": [\"\", \"[UNK]\", \"a\"]}",
        "{\"config\": {\"max_tokens\": 1e300}, \"vocabulary\": [\"\", \"[UNK]\", \"a\"]}",
        "{\"config\": {\"output_sequence_length\": 2.5}, \"vocabulary\": [\"\", \"[UNK]\", \"a\"]}",
        "{\"config\": {\"output_sequence_length\": 1e12}, \"vocabulary\": [\"\", \"[UNK]\", \"a\"]}",
        "{\"config\": {\"split\": \"words\"}, \"vocabulary\": [\"\", \"[UNK]\", \"a\"]}",
        "{\"config\": {\"output_mode\": 7}, \"vocabulary\": [\"\", \"[UNK]\", \"a\"]}",
        "{\"config\": {}, \"vocabulary\": \"abc\"}",
        "{\"config\": {}, \"vocabulary\": []}",
        "{\"config\": {}, \"vocabulary\": [\"\", \"[UNK]\", 5]}",
        "{\"config\": {}, \"vocabulary\": [\"\", \"[UNK]\", \"a\", \"a\"]}",
        "{\"config\": {}, \"vocabulary\": [\"[UNK]\", \"\", \"a\"]}",
        "{\"config\": {\"max_tokens\": 3}, \"vocabulary\": [\"\", \"[UNK]\", \"a\", \"b\"]}",
        "{\"config\": {\"output_mode\": \"tf_idf\"}, \"vocabulary\": [\"[UNK]\", \"a\"]}",
        "{\"config\": {\"output_mode\": \"tf_idf\"}, \"vocabulary\": [\"[UNK]\", \"a\"], "
        "\"idf_weights\": [1]}",
        "{\"config\": {\"output_mode\": \"tf_idf\"}, \"vocabulary\": [\"[UNK]\", \"a\"], "
        "\"idf_weights\": [1, \"x\"]}",
        "{\"config\": {\"output_mode\": \"tf_idf\"}, \"vocabulary\": [\"[UNK]\", \"a\"], "
        "\"idf_weights\": [1, -1]}",
        "{\"config\": {\"pad_to_max_tokens\": \"yes\"}, \"vocabulary\": [\"\", \"[UNK]\", \"a\"]}",
        "{\"config\": {}, \"vocabulary\": [\"\", \"[UNK]\", \"\\ud800\"]}",
        "{\"config\": {}, \"vocabulary\": [\"\", \"[UNK]\", \"a\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dc_clear_error();
        dc_text_vectorizer *v = dc_text_vectorizer_from_json(bad[i]);
        if (v || dc_last_status() != DC_ERR_FORMAT || !strstr(dc_last_error(), "from_json"))
            test_fail(__FILE__, __LINE__, "document %zu: accepted or a vague error \"%s\"", i,
                      dc_last_error());
        dc_text_vectorizer_free(v);
    }
    CHECK(dc_text_vectorizer_from_json(NULL) == NULL);
    /* a well-formed minimal one is accepted */
    dc_text_vectorizer *v = dc_text_vectorizer_from_json(
        "{\"config\": {\"standardize\": null}, \"vocabulary\": [\"\", \"[UNK]\", \"Hi\"]}");
    CHECK(v != NULL);
    float out[2];
    CHECK(dc_text_vectorizer_encode(v, "Hi hi", out, 2) == 2);
    CHECK(out[0] == 2 && out[1] == 1);
    dc_text_vectorizer_free(v);
}

/* ---- datasets ---- */

TEST(text_dataset_variable_length_batches) {
    const char *texts[] = {"one", "one two three four", "", "two two", "three one two"};
    int32_t labels[] = {0, 1, 0, 1, 1};
    dc_text_set *s = dc_text_set_new(texts, labels, 5, 2, (const char *[]){"neg", "pos"});
    CHECK(s != NULL);
    dc_text_vectorizer *v = dc_text_vectorizer_new(NULL);
    CHECK_OK(dc_text_vectorizer_adapt(v, (const char *const *)s->texts, s->count));
    dc_dataset *ds = dc_dataset_from_texts(v, s);
    CHECK(ds != NULL);
    int64_t xs[DC_MAX_DIMS];
    CHECK(dc_dataset_x_shape(ds, xs) == 1 && xs[0] == -1); /* a None time axis */
    CHECK(dc_dataset_max_seq_length(ds) == 4);
    CHECK(dc_dataset_seq_length(ds, 1) == 4 && dc_dataset_seq_length(ds, 2) == 0);
    CHECK(dc_dataset_num_classes(ds) == 2 && !strcmp(dc_dataset_class_name(ds, 1), "pos"));
    float x[4], y;
    CHECK_OK(dc_dataset_get(ds, 3, x, &y)); /* padded to the longest of the dataset */
    CHECK(x[0] == x[1] && x[0] > 1 && x[2] == 0 && x[3] == 0 && y == 1);
    /* batches of 2 without shuffling: (2,4), (2,2), (1,3) */
    dc_batcher *b = dc_batcher_new(ds, 2, false, 0);
    dc_tensor *bx, *by;
    int64_t want_t[] = {4, 2, 3};
    for (int pass = 0; pass < 2; pass++) {
        uint64_t allocs = dc_alloc_count();
        for (int k = 0; k < 3; k++) {
            CHECK(dc_batcher_next(b, &bx, &by) == (k < 2 ? 2 : 1));
            CHECK(bx->ndim == 2 && bx->shape[1] == want_t[k] && bx->size == bx->shape[0] * want_t[k]);
            CHECK(by->ndim == 1 && by->shape[0] == bx->shape[0]);
        }
        CHECK(bx->data[0] == dc_text_vectorizer_token_id(v, "three"));
        CHECK(dc_batcher_next(b, &bx, &by) == 0);
        CHECK(dc_alloc_count() == allocs); /* padding per batch allocates nothing */
    }
    /* the batch holding the empty text: (2, 2), its row all padding */
    dc_batcher_reset(b);
    dc_batcher_next(b, &bx, &by);
    dc_batcher_next(b, &bx, &by);
    CHECK(bx->data[0] == 0 && bx->data[1] == 0);
    /* a batch of empty texts alone is (1, 1) of padding */
    dc_dataset *one = dc_dataset_view(ds, 2, 1);
    dc_batcher *b1 = dc_batcher_new(one, 4, false, 0);
    CHECK(dc_batcher_next(b1, &bx, &by) == 1 && bx->shape[1] == 1 && bx->data[0] == 0);
    dc_batcher_free(b1);
    dc_dataset_free(one);
    dc_batcher_free(b);
    dc_dataset_free(ds);
    dc_text_vectorizer_free(v);
    dc_text_set_free(s);
}

TEST(text_dataset_fixed_and_bag) {
    const char *texts[] = {"a b a", "c", "a c c d e f g"};
    dc_text_set *s = dc_text_set_new(texts, NULL, 3, 0, NULL);
    dc_text_vectorizer *v = dc_text_vectorizer_new(&(dc_text_vectorizer_options){
        .output_sequence_length = 5});
    CHECK_OK(dc_text_vectorizer_adapt(v, texts, 3));
    dc_dataset *ds = dc_dataset_from_texts(v, s);
    int64_t xs[DC_MAX_DIMS];
    CHECK(ds && dc_dataset_x_shape(ds, xs) == 1 && xs[0] == 5);
    float x[5], y = -1;
    CHECK_OK(dc_dataset_get(ds, 2, x, &y));
    CHECK(y == 0 && x[4] != 0); /* truncated to 5 */
    dc_dataset_free(ds);
    dc_text_vectorizer_free(v);
    v = dc_text_vectorizer_new(&(dc_text_vectorizer_options){.output_mode = DC_TEXT_COUNT,
                                                            .max_tokens = 4});
    CHECK_OK(dc_text_vectorizer_adapt(v, texts, 3));
    ds = dc_dataset_from_texts(v, s);
    CHECK(ds && dc_dataset_x_shape(ds, xs) == 1 && xs[0] == 4);
    /* a 3 and c 3, then b d e f g 1 each: ties by bytes descending give
     * [UNK], c, a, g */
    CHECK(!strcmp(dc_text_vectorizer_token(v, 1), "c") && !strcmp(dc_text_vectorizer_token(v, 2), "a"));
    CHECK(!strcmp(dc_text_vectorizer_token(v, 3), "g"));
    CHECK_OK(dc_dataset_get(ds, 2, x, &y));
    CHECK(x[0] == 3 && x[1] == 2 && x[2] == 1 && x[3] == 1); /* d e f are out of vocabulary */
    dc_batcher *b = dc_batcher_new(ds, 2, true, 5);
    dc_tensor *bx, *by;
    dc_batcher_next(b, &bx, &by);
    uint64_t allocs = dc_alloc_count();
    for (int k = 0; k < 7; k++) CHECK(dc_batcher_next(b, &bx, &by) >= 0);
    CHECK(dc_alloc_count() == allocs); /* bags counted as read: nothing allocated */
    dc_batcher_free(b);
    dc_dataset_free(ds);
    dc_text_vectorizer_free(v);
    dc_text_set_free(s);
}

TEST(text_folder_dataset) {
    const char *root = tmp_path("textdir");
    char p[1024];
    make_dir(root);
    snprintf(p, sizeof p, "%s/pos", root);
    make_dir(p);
    snprintf(p, sizeof p, "%s/neg", root);
    make_dir(p);
    snprintf(p, sizeof p, "%s/pos/b.txt", root);
    write_file(p, "great fun\n", 10);
    snprintf(p, sizeof p, "%s/pos/a.txt", root);
    write_file(p, "good \xFF movie", 12);
    snprintf(p, sizeof p, "%s/neg/x.txt", root);
    write_file(p, "", 0); /* an empty text, as Keras */
    snprintf(p, sizeof p, "%s/neg/notes.md", root);
    write_file(p, "ignored", 7);
    dc_text_set *s = dc_text_set_load_folder(root);
    CHECK(s != NULL);
    if (s) {
        CHECK(s->count == 3 && s->num_classes == 2);
        CHECK(!strcmp(s->class_names[0], "neg") && !strcmp(s->class_names[1], "pos"));
        CHECK(s->labels[0] == 0 && !strcmp(s->texts[0], ""));
        CHECK(s->labels[1] == 1 && !strcmp(s->texts[1], "good \xEF\xBF\xBD movie")); /* a.txt first */
        CHECK(!strcmp(s->texts[2], "great fun\n"));
    }
    dc_text_set_free(s);
    /* bad folders */
    CHECK(dc_text_set_load_folder(tmp_path("no-such-dir")) == NULL);
    CHECK_MSG("no-such-dir");
    const char *empty = tmp_path("textdir-empty");
    make_dir(empty);
    CHECK(dc_text_set_load_folder(empty) == NULL);
    CHECK_MSG("no class sub-folders");
    snprintf(p, sizeof p, "%s/a", empty);
    make_dir(p);
    CHECK(dc_text_set_load_folder(empty) == NULL);
    CHECK_MSG("no .txt file");
    /* a directory named like a text is not a text; an unreadable file is an error naming it */
    snprintf(p, sizeof p, "%s/a/dir.txt", empty);
    make_dir(p);
    snprintf(p, sizeof p, "%s/a/z.txt", empty);
    write_file(p, "hello", 5);
    s = dc_text_set_load_folder(empty);
    CHECK(s && s->count == 1 && !strcmp(s->texts[0], "hello"));
    dc_text_set_free(s);
    chmod(p, 0);
    FILE *probe = fopen(p, "rb");
    if (probe) {
        fclose(probe); /* running as root: every file is readable */
    } else {
        CHECK(dc_text_set_load_folder(empty) == NULL);
        CHECK_MSG("z.txt");
    }
    chmod(p, 0644);
}

TEST(text_csv_dataset) {
    const char *path = tmp_path("texts.csv");
    const char *csv = "id,text,label\r\n"
                      "1,\"Hello, world\",pos\r\n"
                      "2,\"two\nlines and \"\"quotes\"\"\",neg\r\n"
                      "\r\n"
                      "3,plain text ,pos\n";
    write_file(path, csv, strlen(csv));
    dc_text_set *s = dc_text_set_load_csv(path, "text", "label", 0);
    CHECK(s != NULL);
    if (s) {
        CHECK(s->count == 3 && s->num_classes == 2);
        CHECK(!strcmp(s->texts[0], "Hello, world") && s->labels[0] == 1);
        CHECK(!strcmp(s->texts[1], "two\nlines and \"quotes\"") && s->labels[1] == 0);
        CHECK(!strcmp(s->texts[2], "plain text ") && !strcmp(s->class_names[0], "neg"));
    }
    dc_text_set_free(s);
    /* TSV by extension, numeric labels as class ids, no label column */
    const char *tsv = tmp_path("texts.tsv");
    write_file(tsv, "label\ttext\n2\ta, b\n0\tc\n", 22);
    s = dc_text_set_load_csv(tsv, "text", "label", 0);
    CHECK(s && s->count == 2 && s->num_classes == 3 && s->labels[0] == 2 &&
          !strcmp(s->texts[0], "a, b"));
    dc_text_set_free(s);
    s = dc_text_set_load_csv(tsv, "text", NULL, 0);
    CHECK(s && s->labels == NULL && s->count == 2);
    dc_text_set_free(s);
    /* missing columns, quotes never closed, short rows, empty files */
    CHECK(dc_text_set_load_csv(path, "body", "label", 0) == NULL);
    CHECK_MSG("no column named \"body\"");
    CHECK_MSG("texts.csv");
    CHECK(dc_text_set_load_csv(path, "text", "stars", 0) == NULL);
    CHECK_MSG("\"stars\"");
    const char *bad = tmp_path("bad.csv");
    write_file(bad, "text,label\n\"open,1\n", 19);
    CHECK(dc_text_set_load_csv(bad, "text", "label", 0) == NULL);
    CHECK_MSG("bad.csv:2: a quote is never closed");
    write_file(bad, "text,label\nonly\n", 16);
    CHECK(dc_text_set_load_csv(bad, "text", "label", 0) == NULL);
    CHECK_MSG("bad.csv:2");
    write_file(bad, "", 0);
    CHECK(dc_text_set_load_csv(bad, "text", "label", 0) == NULL);
    CHECK_MSG("empty");
    write_file(bad, "text,label\n", 11);
    CHECK(dc_text_set_load_csv(bad, "text", "label", 0) == NULL);
    CHECK_MSG("no rows");
    write_file(bad, "text,label\nab\0c,x\n", 18);
    CHECK(dc_text_set_load_csv(bad, "text", "label", 0) == NULL);
    CHECK_MSG("a NUL byte at offset 13");
    CHECK(dc_text_set_load_csv(tmp_path("none.csv"), "text", "label", 0) == NULL);
    CHECK_MSG("none.csv");
}

static const char *fortune_fixture(void) {
    const char *dir = tmp_path("fortunes");
    char p[1024];
    make_dir(dir);
    snprintf(p, sizeof p, "%s/cats", dir);
    const char *cats = "Cats sleep.\n%\nA cat\non two lines.\n%\n%\n   \n%\nMeow.\n";
    write_file(p, cats, strlen(cats));
    snprintf(p, sizeof p, "%s/dogs", dir);
    const char *dogs = "Dogs bark.\r\n%\r\nWoof.\n%\n";
    write_file(p, dogs, strlen(dogs));
    snprintf(p, sizeof p, "%s/dogs.dat", dir);
    write_file(p, "\x00\x01", 2);
    snprintf(p, sizeof p, "%s/birds", dir);
    write_file(p, "Tweet.\n", 7);
    return dir;
}

TEST(text_fortunes_fixture) {
    const char *dir = fortune_fixture();
    dc_text_set *s = dc_text_set_load_fortunes(dir, NULL, 0, 2);
    CHECK(s != NULL);
    if (s) {
        /* birds (1 fortune) dropped; cats 3 (the empty ones skipped), dogs 2 */
        CHECK(s->num_classes == 2 && !strcmp(s->class_names[0], "cats"));
        CHECK(s->count == 5);
        CHECK(!strcmp(s->texts[0], "Cats sleep.") && !strcmp(s->texts[1], "A cat\non two lines."));
        CHECK(!strcmp(s->texts[2], "Meow.") && s->labels[2] == 0);
        CHECK(!strcmp(s->texts[3], "Dogs bark.") && s->labels[3] == 1);
        dc_text_set *tr, *te;
        CHECK_OK(dc_text_set_split(s, 2, &tr, &te));
        CHECK(tr->count == 3 && te->count == 2 && !strcmp(te->texts[0], "A cat\non two lines."));
        CHECK(te->num_classes == 2 && te->labels[1] == 1);
        dc_text_set_free(tr);
        dc_text_set_free(te);
        size_t len;
        char *all = dc_text_set_join(s, "\n\n", &len);
        CHECK(all && len == strlen(all) && !strncmp(all, "Cats sleep.\n\nA cat", 18));
        dc_string_free(all);
    }
    dc_text_set_free(s);
    /* an empty category file holds no fortune; a binary one is refused */
    char p[1024];
    snprintf(p, sizeof p, "%s/empty", dir);
    write_file(p, "", 0);
    CHECK(dc_text_set_load_fortunes(dir, (const char *[]){"empty"}, 1, 0) == NULL);
    CHECK_MSG("empty holds 0 fortunes");
    CHECK(dc_text_set_load_fortunes(dir, (const char *[]){"dogs.dat"}, 1, 0) == NULL);
    CHECK_MSG("NUL byte");
    remove(p);
    /* named categories: a too-small one is an error, a missing one names its file */
    CHECK(dc_text_set_load_fortunes(dir, (const char *[]){"dogs", "birds"}, 2, 2) == NULL);
    CHECK_MSG("birds holds 1 fortunes");
    CHECK(dc_text_set_load_fortunes(dir, (const char *[]){"fish"}, 1, 0) == NULL);
    CHECK_MSG("fish");
    s = dc_text_set_load_fortunes(dir, (const char *[]){"dogs", "birds"}, 2, 0);
    CHECK(s && s->num_classes == 2 && !strcmp(s->class_names[0], "birds") && s->count == 3);
    dc_text_set_free(s);
    CHECK(dc_text_set_load_fortunes(dir, NULL, 0, 100) == NULL);
    CHECK_MSG("no category");
}

TEST(text_fortunes_debian) {
    struct stat st;
    if (stat("/usr/share/games/fortunes/fortunes", &st) != 0) SKIP("Debian's fortunes not installed");
    dc_text_set *s = dc_text_set_load_fortunes("/usr/share/games/fortunes", NULL, 0, 200);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(s->num_classes >= 6);
    CHECK(s->count > 3000 && s->count < 100000);
    int64_t per[64] = {0};
    for (int64_t i = 0; i < s->count; i++) per[s->labels[i] < 64 ? s->labels[i] : 63]++;
    for (int c = 0; c < s->num_classes && c < 63; c++) CHECK(per[c] >= 200);
    for (int64_t i = 0; i < s->count; i += 97) CHECK(strlen(s->texts[i]) > 0 && strlen(s->texts[i]) < 20000);
    dc_text_set_free(s);
}

TEST(text_char_corpus) {
    const char *text = "abcabcabcabcabcabcabcx"; /* 22 characters */
    dc_text_vectorizer *v = dc_text_vectorizer_new(&(dc_text_vectorizer_options){
        .standardize = DC_STANDARDIZE_NONE, .split = DC_SPLIT_CHARACTER});
    CHECK_OK(dc_text_vectorizer_adapt(v, &text, 1));
    dc_dataset *tr, *va;
    /* 4 held out (18% of 22), windows of 4 without overlap in the first 18 */
    CHECK_OK(dc_dataset_char_corpus(v, text, strlen(text),
                                    &(dc_char_corpus_options){.seq_len = 4, .validation_fraction = 0.2f},
                                    &tr, &va));
    CHECK(tr && dc_dataset_count(tr) == 4); /* starts 0,4,8,12: 12+4+1 <= 18 */
    CHECK(va == NULL);                        /* 4 characters: no window of 4 plus one */
    int64_t ys[DC_MAX_DIMS];
    CHECK(dc_dataset_y_shape(tr, ys) == 1 && ys[0] == 4);
    float x[4], y[4];
    CHECK_OK(dc_dataset_get(tr, 1, x, y)); /* "bcab" -> "cabc" */
    int64_t a = dc_text_vectorizer_token_id(v, "a"), b = dc_text_vectorizer_token_id(v, "b"),
            c = dc_text_vectorizer_token_id(v, "c");
    CHECK(x[0] == b && x[1] == c && x[2] == a && x[3] == b);
    CHECK(y[0] == c && y[1] == a && y[2] == b && y[3] == c);
    dc_batcher *bt = dc_batcher_new(tr, 3, true, 1);
    dc_tensor *bx, *by;
    CHECK(dc_batcher_next(bt, &bx, &by) == 3 && bx->shape[1] == 4 && by->ndim == 2 && by->shape[1] == 4);
    uint64_t allocs = dc_alloc_count();
    for (int k = 0; k < 6; k++) dc_batcher_next(bt, &bx, &by);
    CHECK(dc_alloc_count() == allocs);
    dc_batcher_free(bt);
    dc_dataset_free(tr);
    /* stride 1, the next character only, a validation part */
    CHECK_OK(dc_dataset_char_corpus(v, text, strlen(text),
                                    &(dc_char_corpus_options){.seq_len = 3, .stride = 1,
                                                              .last_only = true,
                                                              .validation_fraction = 0.25f},
                                    &tr, &va));
    CHECK(tr && dc_dataset_count(tr) == 14); /* 17 training characters: starts 0..13 */
    CHECK(va && dc_dataset_count(va) == 2);  /* "abcx": starts 0 */
    CHECK(dc_dataset_y_shape(tr, ys) == 0);
    CHECK_OK(dc_dataset_get(va, dc_dataset_count(va) - 1, x, y));
    CHECK(y[0] == dc_text_vectorizer_token_id(v, "x"));
    dc_dataset_free(tr);
    dc_dataset_free(va);
    /* too short, wrong vectorizer */
    CHECK_ERR(dc_dataset_char_corpus(v, "ab", 2, &(dc_char_corpus_options){.seq_len = 4}, &tr, &va),
              DC_ERR_ARG, "too few");
    dc_text_vectorizer *words = dc_text_vectorizer_new(NULL);
    CHECK_OK(dc_text_vectorizer_adapt(words, &text, 1));
    CHECK_ERR(dc_dataset_char_corpus(words, text, strlen(text), NULL, &tr, &va), DC_ERR_ARG,
              "split character");
    dc_text_vectorizer_free(words);
    dc_text_vectorizer_free(v);
}

TEST(text_vectorizer_model_file) {
    const char *texts[] = {"hello world", "hello there"};
    dc_text_vectorizer *v = dc_text_vectorizer_new(NULL);
    CHECK_OK(dc_text_vectorizer_adapt(v, texts, 2));
    dc_tensor *w = dc_tensor_zeros(DC_DIMS(2));
    dc_tensor_set_name(w, "w");
    const char *path = tmp_path("with_vocab.safetensors");
    CHECK_OK(dc_safetensors_save(path, &w, 1, NULL, NULL, 0));
    CHECK(dc_text_vectorizer_from_model_file(path) == NULL);
    CHECK_MSG("keeps no text vectorizer");
    CHECK_OK(dc_model_file_set_text_vectorizer(path, v));
    dc_text_vectorizer *back = dc_text_vectorizer_from_model_file(path);
    CHECK(back && dc_text_vectorizer_vocabulary_size(back) == 5);
    dc_tensor *ids = back ? dc_text_vectorizer_call(back, (const char *[]){"Hello, World!"}, 1) : NULL;
    CHECK(ids && ids->shape[1] == 2 && ids->data[0] == 2);
    dc_tensor_free(ids);
    dc_text_vectorizer_free(back);
    dc_tensor_free(w);
    dc_text_vectorizer_free(v);
}

/* ---- model files ---- */

static dc_run_config *parse_text_config(const char *data, const char *vec, const char *layers) {
    char ini[4096];
    snprintf(ini, sizeof ini,
             "[model]\nname = t\n[data]\n%s\n%s[train]\nloss = sparse_categorical_crossentropy\n"
             "metrics = accuracy\nbatch_size = 4\nepochs = 2\nseed = 3\nverbose = 0\n%s",
             data, vec, layers);
    return dc_run_config_parse(ini, "text.ini");
}

TEST(text_model_file_bag_of_words_trains) {
    const char *dir = fortune_fixture();
    char data[1024];
    snprintf(data, sizeof data, "fortunes = %s\ncategories = cats, dogs\ntest_every = 2\n"
             "validation = test", dir);
    dc_run_config *c = parse_text_config(
        data, "[TextVectorization]\nmax_tokens = 12\noutput_mode = tf_idf\n",
        "[Dense]\nunits = 8\nactivation = relu\n[Dense]\nunits = 2\n");
    CHECK(c != NULL);
    if (!c) {
        printf("%s\n", dc_last_error());
        return;
    }
    dc_dataset *train, *test;
    CHECK_OK(dc_run_config_load_data(c, &train, &test));
    CHECK(train && test && dc_dataset_count(train) == 3 && dc_dataset_count(test) == 2);
    const dc_text_vectorizer *v = dc_run_config_text_vectorizer(c);
    CHECK(v != NULL && dc_text_vectorizer_idf_weights(v) != NULL);
    int64_t xs[DC_MAX_DIMS];
    CHECK(dc_dataset_x_shape(train, xs) == 1 && xs[0] == dc_text_vectorizer_vocabulary_size(v));
    dc_model *m = dc_run_config_build_model(c, train);
    CHECK(m != NULL);
    dc_fit_options fo;
    CHECK_OK(dc_run_config_fit_options(c, test, &fo));
    dc_history *h = NULL;
    if (m) CHECK_OK(dc_model_fit(m, train, &fo, &h));
    CHECK(h && dc_history_epochs(h) == 2);
    /* saved with its vectorizer, the model takes raw text */
    const char *path = tmp_path("bow.safetensors");
    if (m) CHECK_OK(dc_model_save(m, path));
    CHECK_OK(dc_model_file_set_text_vectorizer(path, v));
    dc_model *back = dc_model_load(path);
    dc_text_vectorizer *bv = dc_text_vectorizer_from_model_file(path);
    CHECK(back && bv);
    if (back && bv) {
        dc_tensor *x = dc_text_vectorizer_call(bv, (const char *[]){"Woof woof, a cat!"}, 1);
        dc_tensor *p = x ? dc_model_predict(back, x, 1) : NULL;
        CHECK(p && p->shape[1] == 2);
        dc_tensor_free(p);
        dc_tensor_free(x);
    }
    dc_text_vectorizer_free(bv);
    dc_model_free(back);
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    dc_run_config_free(c);
}

TEST(text_model_file_kinds_and_errors) {
    /* a CSV with a held-out every 2nd row; a variable-length int dataset */
    const char *csv = tmp_path("mf.csv");
    const char *body = "text,label\nbig cat,a\nsmall dog,b\ncat nap here,a\ndog,b\n";
    write_file(csv, body, strlen(body));
    char data[1024];
    snprintf(data, sizeof data, "train_text_csv = %s\ntext_column = text\nlabel_column = label\n"
             "test_every = 2", csv);
    dc_run_config *c = parse_text_config(data, "", "[Dense]\nunits = 2\n");
    CHECK(c != NULL);
    dc_dataset *train = NULL, *test = NULL;
    if (c) CHECK_OK(dc_run_config_load_data(c, &train, &test));
    int64_t xs[DC_MAX_DIMS];
    CHECK(train && dc_dataset_x_shape(train, xs) == 1 && xs[0] == -1); /* Keras' default: int */
    CHECK(test && dc_dataset_count(test) == 2);
    /* a model of fixed input on variable-length data: an error, not a crash */
    dc_model *m = c && train ? dc_run_config_build_model(c, train) : NULL;
    if (m) {
        dc_fit_options fo = {.epochs = 1, .batch_size = 2};
        CHECK(dc_model_fit(m, train, &fo, NULL) != DC_OK);
    } else {
        CHECK_MSG("text.ini"); /* refused when building: Dense needs a known last axis */
    }
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    dc_run_config_free(c);
    /* a character corpus from a file */
    const char *corpus = tmp_path("corpus.txt");
    char text[2100];
    for (int i = 0; i < 2000; i++) text[i] = "abcdefg \n"[i % 9];
    write_file(corpus, text, 2000);
    snprintf(data, sizeof data, "corpus = %s\nseq_len = 50\nvalidation_fraction = 0.1\n"
             "validation = test", corpus);
    c = parse_text_config(data, "", "[Dense]\nunits = vocabulary_size\n");
    CHECK(c != NULL);
    if (c) CHECK_OK(dc_run_config_load_data(c, &train, &test));
    CHECK(train && dc_dataset_count(train) == (1800 - 1) / 50);
    /* "vocabulary_size" stands for the adapted vocabulary's size */
    m = c && train ? dc_run_config_build_model(c, train) : NULL;
    int64_t os[DC_MAX_DIMS];
    CHECK(m && dc_model_output_shape(m, os) == 1 && os[0] == 11);
    dc_model_free(m);
    CHECK(test && dc_dataset_count(test) == (200 - 1) / 50);
    CHECK(c && dc_text_vectorizer_vocabulary_size(dc_run_config_text_vectorizer(c)) == 2 + 9);
    dc_dataset_free(train);
    dc_dataset_free(test);
    dc_run_config_free(c);
    /* errors name the file, line and key */
    struct {
        const char *data, *vec, *msg;
    } bad[] = {
        {"train_text_csv = x.csv\nlabel_column = y", "", "needs text_column"},
        {"train_text_csv = x.csv\ntext_column = t", "", "needs label_column"},
        {"fortunes = default\ncorpus = fortunes", "", "one kind of text data"},
        {"fortunes = default\ntest_every = 1", "", "text.ini:5: [data] test_every"},
        {"corpus = fortunes\ntarget = middle", "", "target: 'middle'"},
        {"corpus = fortunes\nvalidation_fraction = 1.5", "", "validation_fraction: '1.5'"},
        {"corpus = fortunes", "[TextVectorization]\nsplit = whitespace\n", "must keep split = character"},
        {"fortunes = default", "[TextVectorization]\noutput_mode = bag\n", "output_mode: unknown value 'bag'"},
        {"fortunes = default", "[TextVectorization]\nmax_tokens = 1\n", "max_tokens 1"},
        {"fortunes = default", "[TextVectorization]\nngrams = 9\n", "ngrams: '9'"},
        {"dataset = fashion-mnist", "[TextVectorization]\nmax_tokens = 10\n", "needs text data"},
        {"dataset = fashion-mnist\nfortunes = default", "", "one kind of data"},
        {"train_text_dir = d\ncategories = a", "", "categories apply to fortunes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c = parse_text_config(bad[i].data, bad[i].vec, "[Dense]\nunits = 2\n");
        if (c || !strstr(dc_last_error(), bad[i].msg))
            test_fail(__FILE__, __LINE__, "case %zu: \"%s\", wanted \"%s\"", i,
                      c ? "(accepted)" : dc_last_error(), bad[i].msg);
        dc_run_config_free(c);
    }
    /* a missing folder is an error at load time naming it */
    c = parse_text_config("train_text_dir = /nonexistent/texts", "", "[Dense]\nunits = 2\n");
    CHECK(c != NULL);
    if (c) CHECK_ERR(dc_run_config_load_data(c, &train, &test), DC_ERR_IO, "/nonexistent/texts");
    dc_run_config_free(c);
}

/* Mutated vectorizer documents and CSV files load or are refused with a
 * message; never a crash (run under make asan too). */
TEST(text_mutations_never_crash) {
    const char *texts[] = {"the quick brown fox", "jumps over the lazy dog", "the end"};
    dc_text_vectorizer *v = dc_text_vectorizer_new(&(dc_text_vectorizer_options){
        .output_mode = DC_TEXT_TF_IDF, .max_tokens = 8});
    CHECK_OK(dc_text_vectorizer_adapt(v, texts, 3));
    char *json = dc_text_vectorizer_to_json(v);
    CHECK(json != NULL);
    size_t n = json ? strlen(json) : 0;
    char *buf = malloc(n + 1);
    dc_rng r;
    dc_rng_seed(&r, 7);
    int accepted = 0, refused = 0;
    for (int k = 0; json && buf && k < 400; k++) {
        memcpy(buf, json, n + 1);
        int edits = 1 + (int)dc_rng_below(&r, 3);
        for (int e = 0; e < edits; e++) {
            size_t at = dc_rng_below(&r, (uint32_t)n);
            switch (dc_rng_below(&r, 3)) {
            case 0: buf[at] = "{}[]\",:0-9eE\\ax\xFF"[dc_rng_below(&r, 17)]; break;
            case 1: buf[at] = '\0'; break; /* truncated */
            default: buf[at] = (char)dc_rng_below(&r, 256); break;
            }
        }
        dc_text_vectorizer *w = dc_text_vectorizer_from_json(buf);
        if (w) {
            accepted++;
            dc_tensor *t = dc_text_vectorizer_call(w, (const char *[]){"the lazy fox"}, 1);
            dc_tensor_free(t);
        } else {
            refused++;
            CHECK(strstr(dc_last_error(), "dc_text_vectorizer_from_json") != NULL);
        }
        dc_text_vectorizer_free(w);
    }
    CHECK(refused > 100);
    (void)accepted;
    free(buf);
    dc_string_free(json);
    dc_text_vectorizer_free(v);
    /* CSV files */
    const char *csv = "text,label\n\"a, b\",x\n\"multi\nline\",y\nplain,x\n";
    size_t cn = strlen(csv);
    char cbuf[128];
    const char *path = tmp_path("mut.csv");
    for (int k = 0; k < 300; k++) {
        memcpy(cbuf, csv, cn);
        size_t len = cn;
        for (int e = 0; e < 2; e++) {
            size_t at = dc_rng_below(&r, (uint32_t)len);
            if (dc_rng_below(&r, 4) == 0) len = at; /* truncated */
            else cbuf[at] = ",\"\n\rx\t\xC3"[dc_rng_below(&r, 7)];
        }
        write_file(path, cbuf, len);
        dc_text_set *s = dc_text_set_load_csv(path, "text", "label", 0);
        if (s) {
            CHECK(s->count >= 1 && s->num_classes >= 1);
            for (int64_t i = 0; i < s->count; i++) CHECK(s->labels[i] < s->num_classes);
        } else {
            CHECK(strstr(dc_last_error(), "mut.csv") != NULL);
        }
        dc_text_set_free(s);
    }
}

/* The test split written as a spec and loaded back through the vectorizer
 * gives the same samples as the run's own test split. */
TEST(text_test_spec_round_trip) {
    const char *dir = fortune_fixture();
    const char *corpus = tmp_path("spec_corpus.txt");
    char text[1200];
    for (int i = 0; i < 1200; i++) text[i] = "hello world, "[i % 13];
    write_file(corpus, text, 1200);
    char d1[600], d2[600];
    snprintf(d1, sizeof d1, "fortunes = %s\ncategories = cats, dogs\ntest_every = 2", dir);
    snprintf(d2, sizeof d2, "corpus = %s\nseq_len = 20\nstride = 7\nvalidation_fraction = 0.2",
             corpus);
    const char *datas[] = {d1, d2};
    for (int k = 0; k < 2; k++) {
        dc_run_config *c = parse_text_config(datas[k], "", "[Dense]\nunits = 2\n");
        CHECK(c != NULL);
        if (!c) continue;
        dc_dataset *train, *test;
        CHECK_OK(dc_run_config_load_data(c, &train, &test));
        char spec[8192];
        CHECK_OK(dc_run_config_test_spec(c, spec, sizeof spec));
        CHECK(!strncmp(spec, "text:", 5));
        dc_dataset *again = dc_dataset_load_text_spec(spec, dc_run_config_text_vectorizer(c));
        CHECK(again && test && dc_dataset_count(again) == dc_dataset_count(test));
        if (again && test) {
            int64_t n = dc_dataset_max_seq_length(test);
            float *a = calloc((size_t)n * 2 + 2, sizeof(float)), *b = a + n + 1;
            float ya[32], yb[32];
            for (int64_t i = 0; i < dc_dataset_count(test); i++) {
                CHECK_OK(dc_dataset_get(test, i, a, ya));
                CHECK_OK(dc_dataset_get(again, i, b, yb));
                CHECK(!memcmp(a, b, (size_t)n * sizeof(float)) && ya[0] == yb[0]);
            }
            free(a);
        }
        dc_dataset_free(again);
        dc_dataset_free(train);
        dc_dataset_free(test);
        dc_run_config_free(c);
    }
    /* hostile specs: messages, no crash */
    dc_text_vectorizer *v = dc_text_vectorizer_new(NULL);
    CHECK_OK(dc_text_vectorizer_adapt(v, (const char *[]){"a b"}, 1));
    const char *bad[] = {"text:", "text:[1]", "text:{\"kind\": \"tape\"}",
                         "text:{\"kind\": \"text_csv\", \"train\": \"/x.csv\"}",
                         "text:{\"kind\": \"fortunes\", \"categories\": [\"../etc\"]}",
                         "text:{\"kind\": \"fortunes\", \"min_count\": -4}",
                         "text:{\"kind\": \"text_dir\", \"test\": \"/nonexistent/dir\"}",
                         "csv:{}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dc_dataset *ds = dc_dataset_load_text_spec(bad[i], v);
        if (ds || !strstr(dc_last_error(), "dc_dataset_load_text_spec"))
            test_fail(__FILE__, __LINE__, "spec %zu: \"%s\"", i, ds ? "(accepted)" : dc_last_error());
        dc_dataset_free(ds);
    }
    CHECK(dc_dataset_load_text_spec("text:{}", NULL) == NULL);
    CHECK_MSG("no text vectorizer");
    dc_text_vectorizer_free(v);
}

/* CSV and TSV read as Python's csv.DictReader reads them (tests/ref/ref_text_csv.py). */
TEST(text_csv_matches_python) {
    char *doc = read_all(test_path("ref/data/text_csv.json"));
    CHECK(doc != NULL);
    if (!doc) return;
    cJSON *root = cJSON_Parse(doc);
    int n_cases = 0;
    for (const cJSON *c = root ? root->child : NULL; c; c = c->next, n_cases++) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        char delim = cJSON_GetObjectItem(c, "delimiter")->valuestring[0];
        const char *path = tmp_path(delim == '\t' ? "python.tsv" : "python.csv");
        write_file(path, text, strlen(text));
        dc_text_set *s = dc_text_set_load_csv(path, "text", "label", 0);
        CHECK(s != NULL);
        if (!s) continue;
        const cJSON *texts = cJSON_GetObjectItem(c, "texts"), *labels = cJSON_GetObjectItem(c, "labels");
        CHECK(s->count == cJSON_GetArraySize(texts));
        int i = 0;
        for (const cJSON *t = texts->child, *l = labels->child; t && l && i < s->count;
             t = t->next, l = l->next, i++) {
            if (strcmp(s->texts[i], t->valuestring))
                test_fail(__FILE__, __LINE__, "%s row %d: \"%s\", Python \"%s\"", name, i,
                          s->texts[i], t->valuestring);
            if (strcmp(s->class_names[s->labels[i]], l->valuestring))
                test_fail(__FILE__, __LINE__, "%s row %d: label %s, Python %s", name, i,
                          s->class_names[s->labels[i]], l->valuestring);
        }
        dc_text_set_free(s);
    }
    CHECK(n_cases == 2);
    cJSON_Delete(root);
    free(doc);
}

/* A character language model from a model file: Embedding(vocabulary) ->
 * LSTM(return_sequences) -> Dense(vocabulary) over (window, next character at
 * every step) samples, trained one epoch, the vocabulary in the saved file. */
TEST(text_model_file_language_model_trains) {
    const char *corpus = tmp_path("lm_corpus.txt");
    char text[3000];
    for (int i = 0; i < 3000; i++) text[i] = "the cat sat on the mat. "[i % 24];
    write_file(corpus, text, 3000);
    char data[700];
    snprintf(data, sizeof data, "corpus = %s\nseq_len = 24\nvalidation_fraction = 0.1\n"
             "validation = test", corpus);
    dc_run_config *c = parse_text_config(
        data, "",
        "[Embedding]\ninput_dim = vocabulary_size\noutput_dim = 8\n[LSTM]\nunits = 16\n"
        "return_sequences = true\n[Dense]\nunits = vocabulary_size\n");
    CHECK(c != NULL);
    if (!c) return;
    dc_dataset *train, *test;
    CHECK_OK(dc_run_config_load_data(c, &train, &test));
    const dc_text_vectorizer *v = dc_run_config_text_vectorizer(c);
    int64_t V = dc_text_vectorizer_vocabulary_size(v);
    CHECK(V == 2 + 11); /* padding, [UNK], and "the casonm." with the space */
    dc_model *m = dc_run_config_build_model(c, train);
    CHECK(m != NULL);
    int64_t os[DC_MAX_DIMS];
    CHECK(m && dc_model_output_shape(m, os) == 2 && os[0] == 24 && os[1] == V);
    dc_fit_options fo;
    CHECK_OK(dc_run_config_fit_options(c, test, &fo));
    dc_history *h = NULL;
    if (m) CHECK_OK(dc_model_fit(m, train, &fo, &h));
    const float *loss = h ? dc_history_get(h, "val_loss") : NULL;
    CHECK(loss && isfinite(loss[0]) && loss[0] < logf((float)V) + 0.5f);
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    dc_run_config_free(c);
}
