/* main.c — the test runner: runs every TEST (or those whose name contains the
 * first argument) and ends with "runner: N passed, N failed, N skipped". */
#include "test.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define T(name) void test_##name(void);
#define G(name)
#include "tests.inc"
#undef T
#undef G

typedef struct {
    const char *name;
    void (*fn)(void);
} test_entry;

#define T(name) {#name, test_##name},
#define G(name)
static const test_entry all_tests[] = {
#include "tests.inc"
    {NULL, NULL}};
#undef T
#undef G

static int cur_failures, cur_skipped;
static char skip_reason[256];

void test_fail(const char *file, int line, const char *fmt, ...) {
    if (cur_failures < 5) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stdout, "    %s:%d: ", file, line);
        vfprintf(stdout, fmt, ap);
        fprintf(stdout, "\n");
        va_end(ap);
    }
    cur_failures++;
}

void test_skip(const char *reason) {
    cur_skipped = 1;
    snprintf(skip_reason, sizeof skip_reason, "%s", reason);
}

const char *test_path(const char *rel) {
    static _Thread_local char buf[4096];
    const char *root = getenv("DEEPC_TEST_ROOT");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "tests", rel);
    return buf;
}

bool test_count_allocs(dc_model *m, int epoch, int64_t batch, float loss, void *user) {
    (void)m, (void)epoch, (void)batch, (void)loss;
    test_alloc_probe *p = user;
    if (p->batches++ == 0) p->after_first = dc_alloc_count();
    p->last = dc_alloc_count();
    return false;
}

const char *test_tmpdir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        /* A fresh directory each run: a name from the pid alone can be reused and hold files
         * from an old run (a stale folder/zebra/y.png failed image_folder_dataset). */
        snprintf(dir, sizeof dir, "%s/deepc-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            snprintf(dir, sizeof dir, "%s/deepc-test-%d", base ? base : "/tmp", (int)getpid());
            mkdir(dir, 0700);
        }
    }
    return dir;
}

double test_close_ratio(const float *a, const float *b, int64_t n, double atol, double rtol) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d) return INFINITY;
        double r = d / (atol + rtol * fabs((double)b[i]));
        if (r > worst) worst = r;
    }
    return worst;
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (const test_entry *t = all_tests; t->name; t++) {
        if (filter && !strstr(t->name, filter)) continue;
        cur_failures = 0;
        cur_skipped = 0;
        dc_clear_error();
        t->fn();
        if (cur_failures) {
            printf("FAIL %s (%d checks failed)\n", t->name, cur_failures);
            failed++;
        } else if (cur_skipped) {
            printf("skip %s: %s\n", t->name, skip_reason);
            skipped++;
        } else {
            printf("ok   %s\n", t->name);
            passed++;
        }
    }
    printf("runner: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
