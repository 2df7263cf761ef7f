/* test_data.c — datasets and the batcher: the real Fashion-MNIST files, small
 * IDX files written here (valid, truncated, wrong magic, hostile sizes, corrupt
 * gzip), CSV files, views, and the batcher's order and allocation behaviour. */
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *tmpfile_path(const char *name) {
    static _Thread_local char buf[8][512];
    static _Thread_local int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", test_tmpdir(), name);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        test_fail(__FILE__, __LINE__, "cannot write %s", path);
        return;
    }
    fwrite(p, 1, n, f);
    fclose(f);
}

static void write_gz(const char *path, const void *p, size_t n) {
    gzFile g = gzopen(path, "wb");
    if (!g) {
        test_fail(__FILE__, __LINE__, "cannot write %s", path);
        return;
    }
    gzwrite(g, p, (unsigned)n);
    gzclose(g);
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* n images of h x w with pixel (i, r, c) = (i*7 + r*w + c) % 256; labels i % 3.
 * Returns the byte counts through *ni and *nl. */
static size_t make_images(unsigned char *buf, uint32_t n, uint32_t h, uint32_t w) {
    put_be32(buf, 0x803);
    put_be32(buf + 4, n);
    put_be32(buf + 8, h);
    put_be32(buf + 12, w);
    for (uint32_t i = 0; i < n * h * w; i++) buf[16 + i] = (unsigned char)((i / (h * w) * 7 + i % (h * w)) % 256);
    return 16 + (size_t)n * h * w;
}
static size_t make_labels(unsigned char *buf, uint32_t n) {
    put_be32(buf, 0x801);
    put_be32(buf + 4, n);
    for (uint32_t i = 0; i < n; i++) buf[8 + i] = (unsigned char)(i % 3);
    return 8 + n;
}

TEST(data_fashion_mnist_loads) {
    struct stat st;
    if (stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", &st) != 0 &&
        !getenv("DEEPC_DATA_DIR"))
        SKIP("fashion-mnist not installed");
    dc_dataset *tr = dc_dataset_load_named("fashion-mnist", "train");
    CHECK(tr != NULL);
    if (!tr) {
        printf("    %s\n", dc_last_error());
        return;
    }
    CHECK(dc_dataset_count(tr) == 60000);
    int64_t xs[DC_MAX_DIMS], ys[DC_MAX_DIMS];
    CHECK(dc_dataset_x_shape(tr, xs) == 3 && xs[0] == 28 && xs[1] == 28 && xs[2] == 1);
    CHECK(dc_dataset_y_shape(tr, ys) == 0);
    CHECK(dc_dataset_num_classes(tr) == 10);
    CHECK(strcmp(dc_dataset_class_name(tr, 0), "T-shirt/top") == 0);
    CHECK(strcmp(dc_dataset_class_name(tr, 9), "Ankle boot") == 0);
    CHECK(dc_dataset_class_name(tr, 10) == NULL);
    float x[784], y;
    int hist[10] = {0};
    double sum = 0;
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < 60000; i++) {
        CHECK_OK(dc_dataset_get(tr, i, i % 100 == 0 ? x : NULL, &y));
        CHECK(y >= 0 && y < 10 && y == (float)(int)y);
        hist[(int)y]++;
        if (i % 100 == 0)
            for (int k = 0; k < 784; k++) {
                sum += x[k];
                lo = x[k] < lo ? x[k] : lo;
                hi = x[k] > hi ? x[k] : hi;
            }
    }
    for (int c = 0; c < 10; c++) CHECK(hist[c] == 6000); /* Fashion-MNIST is balanced */
    CHECK(lo == 0.0f && hi == 1.0f);
    CHECK(sum / (600.0 * 784) > 0.2 && sum / (600.0 * 784) < 0.4); /* mean pixel ~0.286 */
    /* The first training image is an ankle boot (label 9). */
    CHECK_OK(dc_dataset_get(tr, 0, x, &y));
    CHECK(y == 9.0f);
    dc_dataset_free(tr);
    dc_dataset *te = dc_dataset_load_named("fashion-mnist", "test");
    CHECK(te && dc_dataset_count(te) == 10000);
    dc_dataset_free(te);
    CHECK(dc_dataset_load_named("fashion-mnist", "valid") == NULL);
    CHECK_MSG("unknown split \"valid\"");
    CHECK(dc_dataset_load_named("cifar-1000", "train") == NULL);
    CHECK_MSG("unknown dataset \"cifar-1000\"");
}

TEST(data_idx_small_plain_and_gz) {
    unsigned char im[16 + 5 * 3 * 4], lb[8 + 5];
    size_t ni = make_images(im, 5, 3, 4), nl = make_labels(lb, 5);
    const char *pi = tmpfile_path("small-images.idx"), *pl = tmpfile_path("small-labels.idx");
    write_bytes(pi, im, ni);
    write_bytes(pl, lb, nl);
    const char *gi = tmpfile_path("small-images.idx.gz"), *gl = tmpfile_path("small-labels.gz");
    write_gz(gi, im, ni);
    write_gz(gl, lb, nl);
    for (int gz = 0; gz < 2; gz++) {
        dc_dataset *ds = gz ? dc_dataset_load_idx(gi, gl) : dc_dataset_load_idx(pi, pl);
        CHECK(ds != NULL);
        if (!ds) continue;
        int64_t xs[DC_MAX_DIMS];
        CHECK(dc_dataset_count(ds) == 5);
        CHECK(dc_dataset_x_shape(ds, xs) == 3 && xs[0] == 3 && xs[1] == 4 && xs[2] == 1);
        CHECK(dc_dataset_num_classes(ds) == 3);
        CHECK(dc_dataset_class_name(ds, 0) == NULL);
        float x[12], y;
        CHECK_OK(dc_dataset_get(ds, 4, x, &y));
        CHECK(y == 1.0f);
        for (int k = 0; k < 12; k++) CHECK_NEAR(x[k], im[16 + 4 * 12 + k] / 255.0, 1e-7);
        CHECK_ERR(dc_dataset_get(ds, 5, x, &y), DC_ERR_ARG, "index 5 outside [0, 5)");
        /* A view shares the storage and shifts indices. */
        dc_dataset *v = dc_dataset_view(ds, 2, 3);
        CHECK(v && dc_dataset_count(v) == 3 && dc_dataset_num_classes(v) == 3);
        float xv[12], yv;
        CHECK_OK(dc_dataset_get(v, 2, xv, &yv));
        CHECK(yv == y && memcmp(xv, x, sizeof x) == 0);
        CHECK(dc_dataset_view(ds, 3, 3) == NULL);
        CHECK_MSG("rows [3, 6) outside a dataset of 5");
        dc_dataset_free(v);
        dc_dataset_free(ds);
    }
}

TEST(data_idx_hostile_files) {
    unsigned char im[16 + 4 * 2 * 2], lb[8 + 4];
    size_t ni = make_images(im, 4, 2, 2), nl = make_labels(lb, 4);
    const char *pl = tmpfile_path("h-labels.idx"), *p = tmpfile_path("h-images.idx");
    write_bytes(pl, lb, nl);

    CHECK(dc_dataset_load_idx(tmpfile_path("does-not-exist"), pl) == NULL);
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_MSG("cannot open");

    /* Every truncation of the image file fails with a message naming the file. */
    for (size_t len = 0; len < ni; len++) {
        write_bytes(p, im, len);
        dc_dataset *ds = dc_dataset_load_idx(p, pl);
        CHECK(ds == NULL && dc_last_status() == DC_ERR_FORMAT);
        CHECK_MSG("h-images.idx");
        CHECK_MSG("truncated");
        dc_dataset_free(ds);
    }
    /* Trailing garbage. */
    unsigned char big[sizeof im + 3];
    memcpy(big, im, ni);
    write_bytes(p, big, ni + 3);
    CHECK(dc_dataset_load_idx(p, pl) == NULL);
    CHECK_MSG("trailing bytes");

    /* Wrong magic (labels given as images, and a float IDX). */
    CHECK(dc_dataset_load_idx(pl, pl) == NULL);
    CHECK_MSG("bad magic 0x00000801");
    unsigned char bad[sizeof im];
    memcpy(bad, im, ni);
    bad[2] = 0x0d;
    write_bytes(p, bad, ni);
    CHECK(dc_dataset_load_idx(p, pl) == NULL);
    CHECK_MSG("bad magic 0x00000d03");

    /* Counts disagree. */
    write_bytes(p, im, ni);
    unsigned char lb3[8 + 3];
    write_bytes(pl, lb3, make_labels(lb3, 3));
    CHECK(dc_dataset_load_idx(p, pl) == NULL);
    CHECK_MSG("holds 4 images but");
    CHECK_MSG("holds 3 labels");
    write_bytes(pl, lb, nl);

    /* Hostile dims: a product that overflows 64 bits, and one that is huge. */
    memcpy(bad, im, ni);
    put_be32(bad + 4, 0xffffffffu);
    put_be32(bad + 8, 0xffffffffu);
    put_be32(bad + 12, 0xffffffffu);
    write_bytes(p, bad, ni);
    CHECK(dc_dataset_load_idx(p, pl) == NULL);
    CHECK_MSG("overflow");
    put_be32(bad + 4, 1000000);
    put_be32(bad + 8, 1000);
    put_be32(bad + 12, 1000);
    write_bytes(p, bad, ni);
    CHECK(dc_dataset_load_idx(p, pl) == NULL);
    CHECK_MSG("cannot hold them");
    const char *pg = tmpfile_path("h-images.gz");
    write_gz(pg, bad, ni);
    CHECK(dc_dataset_load_idx(pg, pl) == NULL);
    CHECK_MSG("cannot hold them");
}

TEST(data_idx_corrupt_gzip) {
    unsigned char im[16 + 6 * 8 * 8], lb[8 + 6];
    size_t ni = make_images(im, 6, 8, 8), nl = make_labels(lb, 6);
    const char *pl = tmpfile_path("c-labels.gz"), *p = tmpfile_path("c-images.gz");
    write_gz(pl, lb, nl);
    write_gz(p, im, ni);
    FILE *f = fopen(p, "rb");
    unsigned char gz[4096];
    size_t n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    CHECK(n > 30 && n < sizeof gz);
    dc_dataset *ok = dc_dataset_load_idx(p, pl);
    CHECK(ok != NULL);
    dc_dataset_free(ok);
    /* Truncated gzip streams. */
    for (size_t len = 0; len < n; len += 3) {
        write_bytes(p, gz, len);
        dc_dataset *ds = dc_dataset_load_idx(p, pl);
        CHECK(ds == NULL);
        dc_dataset_free(ds);
    }
    /* Flipped bits in the deflate data or the CRC: always an error, never a crash. */
    int caught = 0;
    for (size_t at = 10; at < n; at++) {
        unsigned char c[4096];
        memcpy(c, gz, n);
        c[at] ^= 0x55;
        write_bytes(p, c, n);
        dc_dataset *ds = dc_dataset_load_idx(p, pl);
        if (!ds) caught++;
        dc_dataset_free(ds);
    }
    CHECK(caught == (int)(n - 10));
    /* The CRC trailer: the data decodes but fails its check. */
    unsigned char c[4096];
    memcpy(c, gz, n);
    c[n - 6] ^= 0xff;
    write_bytes(p, c, n);
    CHECK(dc_dataset_load_idx(p, pl) == NULL);
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    CHECK_MSG("corrupt gzip");
}

TEST(data_from_arrays_and_errors) {
    float x[6 * 2], y[6];
    for (int i = 0; i < 12; i++) x[i] = (float)i;
    for (int i = 0; i < 6; i++) y[i] = (float)(10 + i);
    dc_dataset *a = dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, 6, true);
    dc_dataset *b = dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, 6, false);
    CHECK(a && b);
    x[2] = 99; /* the copy keeps the old value; the borrow sees the new one */
    float s[2], t;
    CHECK_OK(dc_dataset_get(a, 1, s, &t));
    CHECK(s[0] == 2 && s[1] == 3 && t == 11);
    CHECK_OK(dc_dataset_get(b, 1, s, &t));
    CHECK(s[0] == 99);
    CHECK(dc_dataset_num_classes(a) == 0);
    dc_dataset_free(a);
    dc_dataset_free(b);
    CHECK(dc_dataset_from_arrays(NULL, DC_DIMS(2), y, 0, NULL, 6, true) == NULL);
    CHECK_MSG("x is NULL");
    CHECK(dc_dataset_from_arrays(x, DC_DIMS(-2), y, 0, NULL, 6, true) == NULL);
    CHECK_MSG("negative");
    CHECK(dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, -1, true) == NULL);
    CHECK_MSG("negative sample count");
    CHECK_ERR(dc_dataset_get(NULL, 0, s, &t), DC_ERR_ARG, "dc_dataset_get");
}

static void check_epoch(dc_batcher *b, int64_t n, int64_t bs, int64_t *order) {
    int seen[100] = {0};
    dc_tensor *x, *y;
    int64_t got, total = 0, batches = 0;
    while ((got = dc_batcher_next(b, &x, &y)) > 0) {
        CHECK(got == (total + bs <= n ? bs : n - total));
        CHECK(x->ndim == 2 && x->shape[0] == got && x->shape[1] == 2 && x->size == 2 * got);
        CHECK(y->ndim == 1 && y->shape[0] == got);
        for (int64_t k = 0; k < got; k++) {
            int64_t i = (int64_t)y->data[k];
            CHECK(i >= 0 && i < n);
            if (i < 0 || i >= n) continue;
            seen[i]++;
            CHECK(x->data[2 * k] == (float)(2 * i) && x->data[2 * k + 1] == (float)(2 * i + 1));
            order[total + k] = i;
        }
        total += got;
        batches++;
    }
    CHECK(total == n);
    CHECK(batches == dc_batcher_num_batches(b));
    for (int64_t i = 0; i < n; i++) CHECK(seen[i] == 1);
}

TEST(data_batcher_epochs_shuffle_and_no_allocation) {
    enum { N = 37 };
    float x[2 * N], y[N];
    for (int i = 0; i < 2 * N; i++) x[i] = (float)i;
    for (int i = 0; i < N; i++) y[i] = (float)i;
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, N, false);
    dc_batcher *b = dc_batcher_new(ds, 8, true, 1234);
    dc_batcher *b2 = dc_batcher_new(ds, 8, true, 1234);
    dc_batcher *b3 = dc_batcher_new(ds, 8, true, 999);
    dc_batcher *plain = dc_batcher_new(ds, 8, false, 0);
    CHECK(b && b2 && b3 && plain && dc_batcher_num_batches(b) == 5);
    int64_t o1[N], o2[N], o3[N], prev[N];
    check_epoch(plain, N, 8, o1);
    for (int i = 0; i < N; i++) CHECK(o1[i] == i);
    uint64_t allocs = dc_alloc_count();
    int differs_from_prev = 0, differs_from_other_seed = 0;
    for (int epoch = 0; epoch < 4; epoch++) {
        /* b2 is reset explicitly; b just keeps calling next: same orders. */
        check_epoch(b, N, 8, o1);
        dc_batcher_reset(b2);
        check_epoch(b2, N, 8, o2);
        check_epoch(b3, N, 8, o3);
        CHECK(memcmp(o1, o2, sizeof o1) == 0);
        differs_from_other_seed += memcmp(o1, o3, sizeof o1) != 0;
        if (epoch) differs_from_prev += memcmp(o1, prev, sizeof o1) != 0;
        memcpy(prev, o1, sizeof o1);
        int moved = 0;
        for (int i = 0; i < N; i++) moved += o1[i] != i;
        CHECK(moved > N / 2);
    }
    CHECK(differs_from_prev == 3);
    CHECK(differs_from_other_seed == 4);
    CHECK(dc_alloc_count() == allocs); /* nothing allocated per batch or per epoch */
    dc_batcher_free(b);
    dc_batcher_free(b2);
    dc_batcher_free(b3);
    dc_batcher_free(plain);
    CHECK(dc_batcher_new(ds, 0, true, 1) == NULL);
    CHECK_MSG("batch_size 0 must be positive");
    CHECK(dc_batcher_new(NULL, 4, true, 1) == NULL);
    CHECK_MSG("dataset is NULL");
    dc_dataset_free(ds);
}

static const char *write_text(const char *name, const char *text) {
    const char *p = tmpfile_path(name);
    write_bytes(p, text, strlen(text));
    return p;
}

TEST(data_csv_good) {
    const char *p = write_text("good.csv", "a, b ,label\r\n1,2.5,0\n-3e2, 4 ,2\n\n0.125,\"7\",1\n");
    dc_dataset *ds = dc_dataset_load_csv(p, NULL);
    CHECK(ds != NULL);
    if (!ds) {
        printf("    %s\n", dc_last_error());
        return;
    }
    int64_t xs[DC_MAX_DIMS];
    CHECK(dc_dataset_count(ds) == 3);
    CHECK(dc_dataset_x_shape(ds, xs) == 1 && xs[0] == 2);
    CHECK(dc_dataset_num_classes(ds) == 3);
    float x[2], y;
    CHECK_OK(dc_dataset_get(ds, 1, x, &y));
    CHECK(x[0] == -300 && x[1] == 4 && y == 2);
    CHECK_OK(dc_dataset_get(ds, 2, x, &y));
    CHECK(x[0] == 0.125f && x[1] == 7 && y == 1);
    dc_dataset_free(ds);
    /* Label by name, in the middle; text labels become sorted classes. */
    p = write_text("iris.csv", "sepal,species,petal\n1.5,virginica,2\n2.5,setosa,3\n3.5,virginica,4\n");
    ds = dc_dataset_load_csv(p, "species");
    CHECK(ds && dc_dataset_num_classes(ds) == 2);
    if (ds) {
        CHECK(strcmp(dc_dataset_class_name(ds, 0), "setosa") == 0);
        CHECK(strcmp(dc_dataset_class_name(ds, 1), "virginica") == 0);
        CHECK_OK(dc_dataset_get(ds, 2, x, &y));
        CHECK(x[0] == 3.5f && x[1] == 4 && y == 1);
        CHECK_OK(dc_dataset_get(ds, 1, x, &y));
        CHECK(y == 0);
    }
    dc_dataset_free(ds);
    /* A regression target is not a classification. */
    p = write_text("reg.csv", "x,y\n1,0.5\n2,1.5\n");
    ds = dc_dataset_load_csv(p, "y");
    CHECK(ds && dc_dataset_num_classes(ds) == 0);
    dc_dataset_free(ds);
}

TEST(data_csv_bad) {
    struct {
        const char *text, *label, *msg;
    } cases[] = {
        {"", NULL, "the file is empty"},
        {"a,b,c\n1,2,0\nx3,4,1\n", NULL, "bad.csv:3: column 1 (\"a\"): \"x3\""},
        {"a,b\n1,2\n3,4,5\n", NULL, "bad.csv:3: 3 fields but the header has 2 columns"},
        {"a,b,c\n1,2\n", NULL, "bad.csv:2: 2 fields but the header has 3"},
        {"a,b\n1,2\n", "c", "no column named \"c\""},
        {"a,b\n", NULL, "no data rows"},
        {"a\n1\n", NULL, "need features and a label"},
        {"a,b\n1,\"2\n", NULL, "bad.csv:2: an unclosed quote"},
        {"a,b,c\n1,nan,0\n", NULL, "column 2 (\"b\"): \"nan\" is not a finite number"},
        {"a,b,c\n1,,0\n", NULL, "column 2 (\"b\"): \"\""},
        {"a,b,c\n1,1e999,0\n", NULL, "not a finite number"},
        {"a,b\n1,\n", NULL, "the label is empty"},
        {"a,b,c\n1,2,0\n3,1e39,1\n", NULL, "\"1e39\" is not a finite number (sample 1)"},
        {"a,b\n1,2\n3,inf\n", NULL, "the label \"inf\" is not a finite number (sample 1)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = write_text("bad.csv", cases[i].text);
        dc_dataset *ds = dc_dataset_load_csv(p, cases[i].label);
        if (ds || !strstr(dc_last_error(), cases[i].msg))
            test_fail(__FILE__, __LINE__, "case %zu: \"%s\", wanted \"%s\"", i, dc_last_error(),
                      cases[i].msg);
        dc_dataset_free(ds);
    }
    CHECK(dc_dataset_load_csv(tmpfile_path("none.csv"), NULL) == NULL);
    CHECK(dc_last_status() == DC_ERR_IO);
    /* The fields message of case 1 names the column "b" and the bad text. */
    const char *p = write_text("bad.csv", "a,b\n1,2\n3,x4\n");
    CHECK(dc_dataset_load_csv(p, "a") == NULL);
    CHECK_MSG("bad.csv:3: column 2 (\"b\"): \"x4\" is not a finite number");
}

TEST(data_named_uses_deepc_data_dir) {
    char root[512], dir[600], p[700];
    snprintf(root, sizeof root, "%s/datadir", test_tmpdir());
    snprintf(dir, sizeof dir, "%s/fashion-mnist", root);
    mkdir(root, 0700);
    mkdir(dir, 0700);
    unsigned char im[16 + 5 * 2 * 2], lb[8 + 5];
    size_t ni = make_images(im, 5, 2, 2), nl = make_labels(lb, 5);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    write_gz(p, im, ni);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir);
    write_gz(p, lb, nl);
    const char *old = getenv("DEEPC_DATA_DIR");
    char saved[1024] = {0};
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("DEEPC_DATA_DIR", root, 1);
    dc_dataset *ds = dc_dataset_load_named("fashion-mnist", "test");
    CHECK(ds && dc_dataset_count(ds) == 5 && dc_dataset_num_classes(ds) == 10);
    CHECK(ds && strcmp(dc_dataset_class_name(ds, 8), "Bag") == 0);
    dc_dataset_free(ds);
    /* A $DEEPC_DATA_DIR/fashion-mnist that exists is used, and missing files are reported. */
    snprintf(dir, sizeof dir, "%s/empty", root);
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/fashion-mnist", dir);
    mkdir(p, 0700);
    setenv("DEEPC_DATA_DIR", dir, 1);
    ds = dc_dataset_load_named("fashion-mnist", "train");
    CHECK(ds == NULL && dc_last_status() == DC_ERR_IO);
    CHECK_MSG("not found in");
    CHECK_MSG("DEEPC_DATA_DIR");
    dc_dataset_free(ds);
    if (old) setenv("DEEPC_DATA_DIR", saved, 1);
    else unsetenv("DEEPC_DATA_DIR");
}

TEST(data_csv_bom_and_hostile_shape) {
    const char *p = write_text("bom.csv", "\xEF\xBB\xBFx,label\n1,0\n2,1\n");
    dc_dataset *ds = dc_dataset_load_csv(p, "x");
    CHECK(ds && dc_dataset_count(ds) == 2);
    dc_dataset_free(ds);
    /* Many columns and many empty lines: bounded by the bytes, and an error. */
    size_t cols = 20000, n = 2 * cols + 200000;
    char *text = malloc(n + 1);
    size_t k = 0;
    for (size_t c = 0; c < cols; c++) {
        text[k++] = 'a';
        text[k++] = c + 1 < cols ? ',' : '\n';
    }
    while (k < n) text[k++] = '\n';
    text[k] = '\0';
    p = write_text("wide.csv", text);
    free(text);
    uint64_t before = dc_alloc_count();
    dc_alloc_stats st;
    ds = dc_dataset_load_csv(p, NULL);
    dc_alloc_get_stats(&st);
    CHECK(ds == NULL);
    CHECK_MSG("no data rows");
    CHECK(dc_alloc_count() > before);
    CHECK(st.bytes_peak < ((uint64_t)1 << 31)); /* not 20000 columns x 200000 lines of floats */
}
