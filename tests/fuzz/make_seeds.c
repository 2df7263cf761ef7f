/* make_seeds.c — writes the seed corpora under tests/fuzz/corpus/ with the
 * library itself (run by hand from the repository root; see tests/fuzz/README). */
#include "targets.c"
#include <jpeglib.h>
#include <zlib.h>

static void put(const char *target, const char *name, const void *p, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "tests/fuzz/corpus/%s", target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "tests/fuzz/corpus/%s/%s", target, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(p, 1, n, f);
    fclose(f);
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    uint8_t *p = malloc(1 << 20);
    *n = fread(p, 1, 1 << 20, f);
    fclose(f);
    return p;
}

static void put_gz(const char *target, const char *name, const void *p, size_t n) {
    uLong cap = compressBound((uLong)n) + 64;
    uint8_t *out = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    put(target, name, out, cap - z.avail_out);
    deflateEnd(&z);
    free(out);
}

static void idx_seeds(void) {
    /* images (N, H, W) of several sizes, labels (N), plain and gzipped */
    const uint32_t shapes[][3] = {{2, 3, 2}, {1, 1, 1}, {0, 4, 4}, {3, 5, 1}, {2, 28, 28}};
    for (int s = 0; s < 5; s++) {
        uint32_t n = shapes[s][0], h = shapes[s][1], w = shapes[s][2];
        size_t len = 16 + (size_t)n * h * w;
        uint8_t *b = calloc(1, len);
        uint8_t head[16] = {0, 0, 8, 3};
        for (int i = 0; i < 3; i++) {
            head[4 + 4 * i + 2] = (uint8_t)(shapes[s][i] >> 8);
            head[4 + 4 * i + 3] = (uint8_t)shapes[s][i];
        }
        memcpy(b, head, 16);
        for (size_t i = 16; i < len; i++) b[i] = (uint8_t)(i * 37);
        char name[64];
        snprintf(name, sizeof name, "images_%ux%ux%u", n, h, w);
        if (s != 4) put("idx", name, b, len);
        snprintf(name, sizeof name, "images_%ux%ux%u.gz", n, h, w);
        put_gz("idx", name, b, len);
        free(b);
    }
    const uint32_t counts[] = {0, 1, 3, 10};
    for (int s = 0; s < 4; s++) {
        uint8_t b[32] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)counts[s]};
        for (uint32_t i = 0; i < counts[s]; i++) b[8 + i] = (uint8_t)(i % 10);
        char name[64];
        snprintf(name, sizeof name, "labels_%u", counts[s]);
        put("idx", name, b, 8 + counts[s]);
        snprintf(name, sizeof name, "labels_%u.gz", counts[s]);
        put_gz("idx", name, b, 8 + counts[s]);
    }
}

static void csv_seeds(void) {
    const char *a = "x1,x2,label\n0.5,1,0\n-2,3.25,1\n1e3,0,2\n";
    const char *b = "sepal,petal,species\n5.1,1.4,setosa\n6.2,4.5,versicolor\n";
    const char *c = "label,a,b,c\n1.5,1,2,3\n-0.25,4,5,6\n";
    const char *d = "a,b\r\n\"1\",2\r\n3,\"4\"\r\n";
    put("csv", "classes.csv", a, strlen(a));
    put("csv", "text_labels.csv", b, strlen(b));
    put("csv", "regression_first.csv", c, strlen(c));
    put("csv", "quoted_crlf.csv", d, strlen(d));
}

static void ini_seeds(void) {
    const char *files[] = {"models/fashion_mlp.ini", "models/fashion_cnn.ini",
                           "models/fashion_cnn_bn.ini"};
    for (int i = 0; i < 3; i++) {
        size_t n;
        uint8_t *p = slurp(files[i], &n);
        put("ini", strrchr(files[i], '/') + 1, p, n);
        free(p);
    }
    const char *small = "[model]\nname = tiny\ninput_shape = 4\n[data]\ntrain = t.csv\n"
                        "[train]\nepochs = 2\nbatch_size = 2\noptimizer = sgd\n"
                        "loss = mse\nmetrics = mae\n[EarlyStopping]\npatience = 1\n"
                        "[Dense]\nunits = 3\nactivation = relu\n[Dropout]\nrate = 0.5\n"
                        "[Dense out]\nunits = 1\n";
    put("ini", "tiny.ini", small, strlen(small));
}

static void save_seed(dc_model *m, const char *target, const char *name, bool checkpoint) {
    char tmp[] = "/tmp/deepc-seed-XXXXXX";
    int fd = mkstemp(tmp);
    close(fd);
    dc_status s = checkpoint ? dc_model_save_checkpoint(m, tmp, 3) : dc_model_save(m, tmp);
    if (s != DC_OK) {
        fprintf(stderr, "make_seeds: %s\n", dc_last_error());
        exit(1);
    }
    size_t n;
    uint8_t *p = slurp(tmp, &n);
    put(target, name, p, n);
    free(p);
    unlink(tmp);
}

static dc_model *built(dc_model *m, int nd, const int64_t *shape, dc_loss_kind loss) {
    if (dc_model_build(m, nd, shape, 7) != DC_OK) exit(1);
    dc_compile_options co = {.loss = loss, .optimizer = {.kind = DC_OPT_SGD},
                             .metrics = {DC_METRIC_ACCURACY}};
    if (dc_model_compile(m, &co) != DC_OK) exit(1);
    return m;
}

static void model_seeds(void) {
    dc_model *m = dc_sequential_new("mlp");
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "relu"}));
    dc_model_add(m, dc_layer_dropout(0.25f));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2, .activation = "softmax"}));
    save_seed(built(m, 1, (int64_t[]){4}, DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY), "model",
              "mlp.safetensors", false);
    dc_model_free(m);

    m = dc_sequential_new("cnn");
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                        .filters = 2, .kernel_size = {3}, .activation = "relu"}));
    dc_model_add(m, dc_layer_batch_normalization(NULL));
    dc_model_add(m, dc_layer_max_pooling2d(NULL));
    dc_model_add(m, dc_layer_flatten());
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2}));
    save_seed(built(m, 3, (int64_t[]){6, 6, 1}, DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY),
              "model", "cnn_bn.safetensors", false);
    dc_model_free(m);

    m = fuzz_checkpoint_model();
    save_seed(m, "checkpoint", "adam.ckpt", true);
    save_seed(m, "checkpoint", "weights_only.safetensors", false);
    save_seed(m, "model", "dense_adam.safetensors", false);
    dc_model_free(m);
}

static void write_jpeg(const char *path, int w, int h, int c) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_start_compress(&ci, TRUE);
    unsigned char row[64 * 3];
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w * c; x++) row[x] = (unsigned char)(x * 20 + y * 30);
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

/* Returns the bytes of a small picture file (PNG by the library, JPEG by libjpeg). */
static uint8_t *picture(bool jpeg, int w, int h, int c, size_t *n) {
    const char *tmp = "/tmp/deepc-seed-picture";
    if (jpeg) write_jpeg(tmp, w, h, c);
    else {
        float px[64 * 64 * 3];
        for (int i = 0; i < w * h * c; i++) px[i] = (float)(i % 7) / 6.0f;
        if (dc_image_save_png(tmp, px, h, w, c) != DC_OK) exit(1);
    }
    uint8_t *p = slurp(tmp, n);
    unlink(tmp);
    return p;
}

static void image_seeds(void) {
    const struct { bool jpeg; int w, h, c; const char *name; } pics[] = {
        {false, 3, 2, 1, "gray.png"}, {false, 4, 4, 3, "rgb.png"},
        {true, 8, 8, 1, "gray.jpg"},  {true, 5, 3, 3, "rgb.jpg"}};
    for (int i = 0; i < 4; i++) {
        size_t n;
        uint8_t *p = picture(pics[i].jpeg, pics[i].w, pics[i].h, pics[i].c, &n);
        put("image", pics[i].name, p, n);
        free(p);
    }
    /* image folders: [options] then [entry][length][bytes] records (targets.c) */
    size_t npng, njpg;
    uint8_t *png = picture(false, 4, 5, 1, &npng), *jpg = picture(true, 4, 5, 3, &njpg);
    uint8_t tree[8192];
    size_t k = 0;
    tree[k++] = 0; /* keep sizes and channels */
    tree[k++] = 0 | 0 << 2;  /* cat/a.png */
    tree[k++] = (uint8_t)npng, tree[k++] = (uint8_t)(npng >> 8);
    memcpy(tree + k, png, npng), k += npng;
    tree[k++] = 1 | 6 << 2;  /* dog/g.png */
    tree[k++] = (uint8_t)npng, tree[k++] = (uint8_t)(npng >> 8);
    memcpy(tree + k, png, npng), k += npng;
    put("image_folder", "two_classes_png", tree, k);
    tree[0] = 4 | 2; /* resize to 5x4, RGB */
    tree[k++] = 1 | 1 << 2; /* dog/b.jpg */
    tree[k++] = (uint8_t)njpg, tree[k++] = (uint8_t)(njpg >> 8);
    memcpy(tree + k, jpg, njpg), k += njpg;
    tree[k++] = 0 | 4 << 2; /* cat/e.txt: ignored */
    tree[k++] = 3, tree[k++] = 0;
    memcpy(tree + k, "abc", 3), k += 3;
    put("image_folder", "mixed_resized", tree, k);
    free(png);
    free(jpg);
}

static void text_seeds(void) {
    const char *a = "text,label\nthe cat sat,0\n\"a dog, barking\",1\n\"say \"\"hi\"\"\",0\n";
    const char *b = "text\tlabel\nfirst line\tpos\nsecond\tneg\n";
    put("text_csv", "quoted.csv", a, strlen(a));
    put("text_csv", "labels.tsv", b, strlen(b));
    const char *texts[3] = {"The cat sat on the mat.", "A dog barks; the cat runs!", "mat mat cat"};
    const dc_text_vectorizer_options modes[2] = {{.output_sequence_length = 6},
                                                 {.output_mode = DC_TEXT_TF_IDF}};
    const char *names[2] = {"int_len6.json", "tf_idf.json"};
    for (int i = 0; i < 2; i++) {
        dc_text_vectorizer *v = dc_text_vectorizer_new(&modes[i]);
        if (!v || dc_text_vectorizer_adapt(v, texts, 3) != DC_OK) {
            fprintf(stderr, "make_seeds: %s\n", dc_last_error());
            exit(1);
        }
        char *json = dc_text_vectorizer_to_json(v);
        put("vectorizer", names[i], json, strlen(json));
        dc_string_free(json);
        dc_text_vectorizer_free(v);
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "text") == 0) { /* only the text seeds */
        text_seeds();
        return 0;
    }
    mkdir("tests/fuzz/corpus", 0755);
    idx_seeds();
    csv_seeds();
    ini_seeds();
    model_seeds();
    image_seeds();
    text_seeds();
    return 0;
}
