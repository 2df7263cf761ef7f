/* cli_util.c — finds build/deepc beside the test runner and runs it as a user
 * would (popen), for the tests of the command line. */
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
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
