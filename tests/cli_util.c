/* cli_util.c — finds build/deepc beside the test runner and runs it as a user
 * would (popen), and writes the small IDX datasets the command-line tests train on. */
#include "test.h"
#include <limits.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

const char *test_deepc_path(void) {
    static char path[PATH_MAX];
    if (path[0]) return path;
    char self[PATH_MAX - 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return NULL;
    *slash = '\0';
    snprintf(path, sizeof path, "%s/deepc", self);
    if (access(path, X_OK) != 0) path[0] = '\0';
    return path[0] ? path : NULL;
}

int test_run_deepc(const char *args, char *out, size_t cap) {
    const char *deepc = test_deepc_path();
    if (!deepc) return -1;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", deepc, args);
    return test_run_command(cmd, out, cap);
}

int test_count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

int test_run_command(const char *cmd, char *out, size_t cap) {
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void put_be32(FILE *f, uint32_t v) {
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    fwrite(b, 1, 4, f);
}

/* n images 8x8 of 3 classes: a bright bar at the top, middle or bottom. */
void test_write_idx(const char *images, const char *labels, int n, uint32_t seed) {
    FILE *fi = fopen(images, "wb"), *fl = fopen(labels, "wb");
    if (!fi || !fl) {
        if (fi) fclose(fi);
        if (fl) fclose(fl);
        return;
    }
    put_be32(fi, 0x803);
    put_be32(fi, (uint32_t)n);
    put_be32(fi, 8);
    put_be32(fi, 8);
    put_be32(fl, 0x801);
    put_be32(fl, (uint32_t)n);
    dc_rng r;
    dc_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        int c = i % 3;
        uint8_t px[64];
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                bool bar = y / 3 == c || (c == 2 && y == 7);
                px[y * 8 + x] = (uint8_t)(bar ? 200 + dc_rng_below(&r, 55) : dc_rng_below(&r, 60));
            }
        fwrite(px, 1, 64, fi);
        uint8_t lb = (uint8_t)c;
        fwrite(&lb, 1, 1, fl);
    }
    fclose(fi);
    fclose(fl);
}
