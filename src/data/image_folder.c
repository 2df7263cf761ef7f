/* image_folder.c — a classification dataset from PNG and JPEG files in DIR/<class name>/
 * (as Keras' image_dataset_from_directory): classes sorted by name, images
 * decoded once into dense (H, W, C) storage, resized or converted on request. */
#include "dataset.h"
#include "../io/io.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static bool list_push(dc_str_list *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **p = dc_realloc(l->items, (size_t)cap * sizeof(char *));
        if (!p) return false;
        l->items = p;
        l->cap = cap;
    }
    if (!(l->items[l->n] = dc_ds_strdup(s))) return false;
    l->n++;
    return true;
}

void dc_ds_list_free(dc_str_list *l) {
    for (int i = 0; i < l->n; i++) dc_free(l->items[i]);
    dc_free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                   strcasecmp(dot, ".jpeg") == 0);
}

/* Names in dir (no hidden ones) that are directories (want_dirs) or image
 * files, sorted; false with an error set on failure. */
bool dc_ds_list_dir(const char *fn, const char *dir, bool want_dirs, dc_str_list *out) {
    DIR *d = opendir(dir);
    if (!d) {
        dc_set_error(DC_ERR_IO, "%s: cannot open directory %s: %s", fn, dir, strerror(errno));
        return false;
    }
    struct dirent *e;
    char path[4096];
    bool ok = true;
    while (ok && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        bool take = want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode) && is_image_name(e->d_name);
        if (take && !list_push(out, e->d_name)) {
            dc_set_error(DC_ERR_NOMEM, "%s: out of memory listing %s", fn, dir);
            ok = false;
        }
    }
    closedir(d);
    if (ok && out->n > 1) qsort(out->items, (size_t)out->n, sizeof(char *), cmp_str); /* items is NULL when empty */
    return ok;
}

dc_dataset *dc_dataset_load_image_folder(const char *dir, int height, int width, int channels) {
    const char *fn = "dc_dataset_load_image_folder";
    if (!dir) {
        dc_set_error(DC_ERR_ARG, "%s: dir is NULL", fn);
        return NULL;
    }
    if (height < 0 || width < 0 || (height == 0) != (width == 0) ||
        (channels != 0 && channels != 1 && channels != 3)) {
        dc_set_error(DC_ERR_ARG, "%s: height %d, width %d, channels %d: sizes are both 0 (keep) "
                     "or both positive, channels 0, 1 or 3", fn, height, width, channels);
        return NULL;
    }
    dc_str_list classes = {0}, files = {0};
    int *file_class = NULL;
    dc_ds_storage *s = NULL;
    dc_dataset *ds = NULL;
    dc_tensor *img = NULL;
    char path[4096], first[4096];
    if (!dc_ds_list_dir(fn, dir, true, &classes)) goto done;
    if (classes.n == 0) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s has no class subdirectories", fn, dir);
        goto done;
    }
    for (int c = 0; c < classes.n; c++) {
        snprintf(path, sizeof path, "%s/%s", dir, classes.items[c]);
        dc_str_list names = {0};
        if (!dc_ds_list_dir(fn, path, false, &names)) goto done;
        int *fc = dc_realloc(file_class, (size_t)(files.n + names.n + 1) * sizeof(int));
        if (!fc) {
            dc_ds_list_free(&names);
            goto nomem;
        }
        file_class = fc;
        for (int i = 0; i < names.n; i++) {
            char full[4096 + 512];
            snprintf(full, sizeof full, "%s/%s", path, names.items[i]);
            file_class[files.n] = c;
            if (!list_push(&files, full)) {
                dc_ds_list_free(&names);
                goto nomem;
            }
        }
        dc_ds_list_free(&names);
    }
    if (files.n == 0) {
        dc_set_error(DC_ERR_FORMAT, "%s: no .png or .jpg images under %s/<class>/", fn, dir);
        goto done;
    }
    int64_t sh = 0, sw = 0, sc = 0, sample = 0;
    for (int i = 0; i < files.n; i++) {
        img = dc_image_load(files.items[i], channels);
        if (!img) goto done; /* the image loader's message names the file */
        int64_t h = img->shape[0], w = img->shape[1], c = img->shape[2];
        if (i == 0) {
            snprintf(first, sizeof first, "%s", files.items[0]);
            sh = height ? height : h;
            sw = width ? width : w;
            sc = c;
            if (sc != 1 && sc != 3 && sc != 2 && sc != 4) {
                dc_set_error(DC_ERR_FORMAT, "%s: %s has %lld channels", fn, first, (long long)sc);
                goto done;
            }
            sample = sh * sw * sc;
            s = dc_calloc(1, sizeof *s);
            if (!s) goto nomem;
            s->owns = true;
            s->x = dc_malloc_aligned((size_t)files.n * (size_t)sample * sizeof(float));
            s->y = dc_malloc_aligned((size_t)files.n * sizeof(float));
            if (!s->x || !s->y) goto nomem;
        }
        if (c != sc) {
            dc_set_error(DC_ERR_FORMAT, "%s: %s has %lld channels but %s has %lld (pass channels "
                         "1 or 3 to convert)", fn, files.items[i], (long long)c, first,
                         (long long)sc);
            goto done;
        }
        float *dst = s->x + (int64_t)i * sample;
        if (height == 0) {
            if (h != sh || w != sw) {
                dc_set_error(DC_ERR_FORMAT, "%s: %s is %lldx%lld but %s is %lldx%lld (pass a "
                             "height and width to resize)", fn, files.items[i], (long long)w,
                             (long long)h, first, (long long)sw, (long long)sh);
                goto done;
            }
            memcpy(dst, img->data, (size_t)sample * sizeof(float));
        } else if (dc_image_resize(img->data, (int)h, (int)w, (int)c, dst, height, width) != DC_OK) {
            goto done;
        }
        s->y[i] = (float)file_class[i];
        dc_tensor_free(img);
        img = NULL;
    }
    s->num_classes = classes.n;
    s->class_names = classes.items; /* taken over */
    s->owns_names = true;
    classes.items = NULL;
    classes.n = 0;
    int64_t xs[3] = {sh, sw, sc};
    ds = dc_dataset_from_storage(fn, s, files.n, 3, xs, 0, NULL);
    s = NULL;
    goto done;
nomem:
    dc_set_error(DC_ERR_NOMEM, "%s: out of memory loading %s", fn, dir);
done:
    dc_tensor_free(img);
    dc_ds_storage_free(s);
    dc_free(file_class);
    dc_ds_list_free(&files);
    dc_ds_list_free(&classes);
    return ds;
}
