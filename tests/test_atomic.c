/* test_atomic.c — files are never torn: a save killed (SIGKILL) at 50 points
 * leaves the old file or the new one, whole and loadable; a full disk, a
 * folder that cannot be written and a missing folder give an error naming the
 * path and keep the previous file; metadata goes in with the model at once. */
#include "test.h"
#include "core/core.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmp_file(const char *name) {
    static char buf[4][1024];
    static int k = 0;
    char *p = buf[k++ & 3];
    snprintf(p, 1024, "%s/%s", test_tmpdir(), name);
    return p;
}

/* A 255 -> 256 Dense (65,792 floats, 257 KiB on disk) with weights from seed. */
static dc_model *model(uint64_t seed) {
    dc_model *m = dc_sequential_new("atomic");
    dc_model_add(m, dc_layer_input(DC_DIMS(255)));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 256}));
    if (dc_model_build(m, 1, (const int64_t[]){255}, seed) != DC_OK) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

static bool has_weights_of(const char *path, dc_model *want) {
    dc_model *m = dc_model_load(path);
    float *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    bool same = m && dc_model_all_weights(m, &a, &na) == DC_OK &&
                dc_model_all_weights(want, &b, &nb) == DC_OK && na == nb &&
                !memcmp(a, b, na * sizeof *a);
    dc_model_free(m);
    return same;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* The child's hook: dies by SIGKILL at a byte offset or at a stage. */
static uint64_t kill_at_byte;
static int kill_at_stage = -1;
static int kill_hook(int stage, const char *tmp, uint64_t offset, size_t n) {
    (void)tmp;
    if (stage == kill_at_stage || (stage == DC_IO_STAGE_WRITE && offset + n > kill_at_byte))
        raise(SIGKILL);
    return 0;
}

TEST(atomic_save_killed_at_50_points_leaves_old_or_new) {
    dc_model *old = model(1), *new = model(2);
    CHECK(old && new);
    if (!old || !new) return;
    const char *path = tmp_file("atomic_kill.safetensors");
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK_OK(dc_model_save(new, path));
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    uint64_t size = (uint64_t)sb.st_size;
    int saw_old = 0, saw_new = 0;
    for (int k = 0; k < 50; k++) {
        CHECK_OK(dc_model_save(old, path));
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            /* points spread over the bytes, then before and after the rename */
            kill_at_byte = k < 48 ? size * (uint64_t)k / 48 : UINT64_MAX;
            kill_at_stage = k == 48 ? DC_IO_STAGE_COMMIT : k == 49 ? DC_IO_STAGE_RENAMED : -1;
            dc_io_test_hook = kill_hook;
            dc_model_save(new, path);
            _exit(0);
        }
        int st = 0;
        CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        bool is_old = has_weights_of(path, old), is_new = has_weights_of(path, new);
        if (!(is_old || is_new))
            test_fail(__FILE__, __LINE__, "kill point %d: the file is neither old nor new", k);
        if (k < 49 && !is_old) test_fail(__FILE__, __LINE__, "point %d: old file replaced early", k);
        saw_old += is_old;
        saw_new += is_new;
    }
    CHECK(saw_old == 49 && saw_new == 1); /* only a kill after the rename shows the new file */
    /* a save killed half way leaves a tmp; the next save removes it */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        kill_at_byte = size / 2;
        kill_at_stage = -1;
        dc_io_test_hook = kill_hook;
        dc_model_save(old, path);
        _exit(0);
    }
    CHECK(pid > 0 && waitpid(pid, NULL, 0) == pid);
    CHECK(exists(tmp));
    CHECK_OK(dc_model_save(new, path));
    CHECK(!exists(tmp) && has_weights_of(path, new));
    dc_model_free(old);
    dc_model_free(new);
}

static uint64_t fail_after;
static int fail_errno, fail_stage;
static int failing_hook(int stage, const char *tmp, uint64_t offset, size_t n) {
    (void)tmp;
    if (stage != fail_stage) return 0;
    return stage != DC_IO_STAGE_WRITE || offset + n > fail_after ? fail_errno : 0;
}

TEST(atomic_full_disk_unwritable_and_missing_folders_keep_the_old_file) {
    dc_model *old = model(3), *new = model(4);
    CHECK(old && new);
    if (!old || !new) return;
    const char *path = tmp_file("atomic_full.safetensors");
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK_OK(dc_model_save(old, path));

    /* a full disk after 100 KB */
    fail_stage = DC_IO_STAGE_WRITE;
    fail_after = 100000;
    fail_errno = ENOSPC;
    dc_io_test_hook = failing_hook;
    CHECK_ERR(dc_model_save(new, path), DC_ERR_IO, "No space left on device");
    CHECK_MSG("atomic_full.safetensors");
    CHECK(has_weights_of(path, old) && !exists(tmp));
    /* a disk that fills at the fsync/close */
    fail_stage = DC_IO_STAGE_COMMIT;
    CHECK_ERR(dc_model_save(new, path), DC_ERR_IO, "the previous file is kept");
    CHECK(has_weights_of(path, old) && !exists(tmp));
    /* a folder that refuses new files (tests run as root, for whom chmod 0555
     * does not bite: the hook plays the system's EACCES) */
    fail_stage = DC_IO_STAGE_OPEN;
    fail_errno = EACCES;
    CHECK_ERR(dc_model_save(new, path), DC_ERR_IO, "Permission denied");
    CHECK_MSG("atomic_full.safetensors");
    CHECK(has_weights_of(path, old));
    dc_io_test_hook = NULL;
    /* the model is unharmed: the same call now succeeds */
    CHECK_OK(dc_model_save(new, path));
    CHECK(has_weights_of(path, new));

    /* a missing folder, and a "folder" that is a file (real errors, no hook) */
    CHECK_ERR(dc_model_save(new, tmp_file("no/such/m.safetensors")), DC_ERR_IO,
              "no/such' does not exist");
    CHECK_ERR(dc_model_save(new, tmp_file("atomic_full.safetensors/m.safetensors")), DC_ERR_IO,
              "Not a directory");
    CHECK_MSG("atomic_full.safetensors/m.safetensors");
    dc_model_free(old);
    dc_model_free(new);
}

TEST(atomic_history_csv_and_png_keep_the_old_file_on_failure) {
    const float loss[3] = {1.0f, 0.5f, 0.25f};
    const char *png = tmp_file("atomic_curves.png"), *csv = tmp_file("atomic_hist.csv");
    CHECK_OK(dc_plot_history(png, NULL, loss, NULL, NULL, NULL, 3));
    struct stat a, b;
    CHECK(stat(png, &a) == 0);
    FILE *f = fopen(csv, "w");
    if (f) {
        fputs("old\n", f);
        fclose(f);
    }
    /* a history to write: one epoch of a tiny fit */
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7}, y[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(1), y, 0, NULL, 8, false);
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2}));
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){
                                     .loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                     .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f}}));
    dc_history *h = NULL;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 1}, &h));
    fail_stage = DC_IO_STAGE_COMMIT;
    fail_errno = ENOSPC;
    dc_io_test_hook = failing_hook;
    CHECK_ERR(dc_history_write_csv(h, csv), DC_ERR_IO, "atomic_hist.csv");
    CHECK_ERR(dc_plot_history(png, NULL, loss, NULL, NULL, NULL, 2), DC_ERR_IO, "atomic_curves.png");
    dc_io_test_hook = NULL;
    char line[16] = "";
    f = fopen(csv, "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = '\0';
        fclose(f);
    }
    CHECK(!strcmp(line, "old\n"));
    CHECK(stat(png, &b) == 0 && a.st_size == b.st_size && a.st_mtime == b.st_mtime);
    CHECK_OK(dc_history_write_csv(h, csv));
    f = fopen(csv, "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = '\0';
        fclose(f);
    }
    CHECK(!strncmp(line, "epoch,loss", 10));
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(atomic_model_metadata_goes_in_with_the_model) {
    dc_model *m = model(5);
    if (!m) return;
    const char *path = tmp_file("atomic_meta.safetensors");
    const char *keys[2] = {"deepc_classes", "note"}, *vals[2] = {"a\nb", "hello"};
    CHECK_OK(dc_model_save_with_metadata(m, path, keys, vals, 2));
    dc_safetensors *st = dc_safetensors_load(path);
    CHECK(st && dc_safetensors_metadata(st, "note") && !strcmp(dc_safetensors_metadata(st, "note"), "hello"));
    CHECK(st && dc_safetensors_metadata(st, "deepc_architecture"));
    dc_safetensors_free(st);
    CHECK(has_weights_of(path, m));
    const char *bad = "deepc_architecture";
    CHECK_ERR(dc_model_save_with_metadata(m, path, &bad, vals, 1), DC_ERR_ARG, "deepc's own");
    dc_model_free(m);
}
