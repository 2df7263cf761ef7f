/* atomic.c — files written whole or not at all: the bytes go to "path.tmp" in
 * the same folder, which is fsynced, renamed over path once, and the folder fsynced. */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

dc_io_hook_fn dc_io_test_hook = NULL;

static int hook(dc_atomic_file *a, int stage, size_t n) {
    return dc_io_test_hook ? dc_io_test_hook(stage, a->tmp, a->written, n) : 0;
}

/* A message for a failed create: a missing folder is said in words. */
static dc_status create_error(const dc_atomic_file *a, int err) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", a->path);
    char *slash = strrchr(dir, '/');
    if (err == ENOENT && slash) {
        *slash = '\0';
        return dc_set_error(DC_ERR_IO, "%s: cannot write '%s': the folder '%s' does not exist",
                            a->fn, a->path, dir[0] ? dir : "/");
    }
    return dc_set_error(DC_ERR_IO, "%s: cannot write '%s': %s", a->fn, a->path, strerror(err));
}

dc_status dc_atomic_begin(dc_atomic_file *a, const char *fn, const char *path) {
    memset(a, 0, sizeof *a);
    a->fn = fn;
    a->path = path;
    size_t n = strlen(path);
    a->tmp = dc_malloc(n + 5);
    if (!a->tmp) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp", 5);
    remove(a->tmp); /* left by a save that was killed */
    int e = hook(a, DC_IO_STAGE_OPEN, 0);
    if (e) {
        dc_status s = create_error(a, e);
        dc_atomic_abort(a);
        return s;
    }
    return DC_OK;
}

dc_status dc_atomic_open(dc_atomic_file *a, const char *fn, const char *path) {
    if (dc_atomic_begin(a, fn, path) != DC_OK) return dc_last_status();
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        dc_status s = create_error(a, errno);
        dc_atomic_abort(a);
        return s;
    }
    return DC_OK;
}

/* In chunks, so that a test can stop a save at any point of a large tensor. */
dc_status dc_atomic_write(dc_atomic_file *a, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        size_t k = n < 65536 ? n : 65536;
        int e = hook(a, DC_IO_STAGE_WRITE, k);
        if (!e && fwrite(c, 1, k, a->f) != k) e = errno ? errno : EIO;
        if (e) {
            dc_set_error(DC_ERR_IO, "%s: cannot write '%s': %s (the previous file is kept)",
                         a->fn, a->path, strerror(e));
            a->failed = e;
            return DC_ERR_IO;
        }
        a->written += k;
        c += k;
        n -= k;
    }
    return DC_OK;
}

void dc_atomic_abort(dc_atomic_file *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) remove(a->tmp);
    dc_free(a->tmp);
    a->f = NULL;
    a->tmp = NULL;
}

static void fsync_folder(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[slash == dir ? 1 : 0] = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

dc_status dc_atomic_commit(dc_atomic_file *a) {
    if (!a->tmp) return dc_set_error(DC_ERR_STATE, "%s: '%s' was not opened", a->fn, a->path);
    if (a->failed) { /* the error is already set */
        dc_status s = dc_last_status();
        dc_atomic_abort(a);
        return s;
    }
    int e = 0;
    if (a->f) {
        if (fflush(a->f) != 0 || ferror(a->f)) e = errno ? errno : EIO;
        if (!e && fsync(fileno(a->f)) != 0) e = errno;
        if (fclose(a->f) != 0 && !e) e = errno ? errno : EIO;
        a->f = NULL;
    } else { /* written by a library through the name */
        int fd = open(a->tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0) e = errno;
        if (fd >= 0) close(fd);
    }
    if (!e) e = hook(a, DC_IO_STAGE_COMMIT, 0);
    if (e) {
        dc_atomic_abort(a);
        return dc_set_error(DC_ERR_IO, "%s: cannot write '%s': %s (the previous file is kept)",
                            a->fn, a->path, strerror(e));
    }
    if (rename(a->tmp, a->path) != 0) {
        e = errno;
        dc_atomic_abort(a);
        return dc_set_error(DC_ERR_IO, "%s: cannot rename a new '%s' into place: %s", a->fn,
                            a->path, strerror(e));
    }
    hook(a, DC_IO_STAGE_RENAMED, 0);
    fsync_folder(a->path);
    dc_free(a->tmp);
    a->tmp = NULL;
    return DC_OK;
}
