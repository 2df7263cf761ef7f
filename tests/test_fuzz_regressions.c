/* test_fuzz_regressions.c — every input that once crashed a fuzz target
 * (tests/fuzz/regressions/<target>/) and every seed of the corpora, run
 * through the same entry functions as the libFuzzer binaries, leaking nothing. */
#include "fuzz/targets.c" /* first: it sets _GNU_SOURCE */
#include "test.h"

/* Runs every file of tests/<sub>/<target>/ through the target; returns the count. */
static int run_folder(const char *sub, const char *target, fuzz_fn fn) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", sub, target);
    const char *path = test_path(dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    int count = 0;
    struct dirent *e;
    char file[1024];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        FILE *f = fopen(file, "rb");
        if (!f) continue;
        uint8_t *buf = malloc(1 << 20);
        size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
        fclose(f);
        dc_alloc_stats before, after;
        dc_alloc_get_stats(&before);
        fn(buf, n);
        dc_alloc_get_stats(&after);
        if (after.bytes_live != before.bytes_live)
            test_fail(__FILE__, __LINE__, "%s leaks %lld bytes", file,
                      (long long)(after.bytes_live - before.bytes_live));
        free(buf);
        count++;
    }
    closedir(d);
    return count;
}

TEST(fuzz_regressions_and_seeds_run_clean) {
    int total_seeds = 0;
    for (int t = 0; t < FUZZ_N_TARGETS; t++) {
        run_folder("fuzz/regressions", fuzz_targets[t].name, fuzz_targets[t].fn);
        int seeds = run_folder("fuzz/corpus", fuzz_targets[t].name, fuzz_targets[t].fn);
        if (seeds == 0)
            test_fail(__FILE__, __LINE__, "no seeds in tests/fuzz/corpus/%s", fuzz_targets[t].name);
        total_seeds += seeds;
    }
    CHECK(total_seeds >= FUZZ_N_TARGETS);
    dc_clear_error();
}
