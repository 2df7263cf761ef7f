/* dataset.h — the dataset structure shared by the loaders in src/data (internal).
 * A dataset is a window [offset, offset+count) over a storage of dense float
 * samples; views share the storage, only the owner frees it. */
#ifndef DC_DATASET_H
#define DC_DATASET_H
#include "../core/core.h"

typedef struct {
    float *x, *y;        /* count * x_size and count * y_size floats */
    uint8_t *x_bytes;    /* instead of x: pixels kept as bytes (4x less memory),
                            scaled to [0, 1] as samples are read */
    bool owns;           /* x and y freed (dc_free_aligned) with the storage */
    int num_classes;     /* 0 if not classification */
    char **class_names;  /* num_classes strings (dc_malloc'd) or NULL */
    bool owns_names;     /* class_names freed with the storage */
    /* text (text_dataset.c): ragged samples, sample r is the ids
     * x[seq_start[r] .. seq_start[r+1]) (count+1 offsets, owned), or NULL */
    int64_t *seq_start;
    int64_t x_len;       /* a corpus: ids in x; sample r starts at r * stride */
    int64_t stride;
    bool last_only;      /* a corpus: y is the one id after the window */
    int bag_mode;        /* a bag of words (dc_text_output_mode, 0: none) made from the
                            ragged ids as samples are read */
    float *bag_idf;      /* tf_idf weights (owned), or NULL */
    uint8_t *y_bytes;    /* instead of y: labels kept as bytes (segmentation masks;
                            owned), widened to floats as samples are read */
} dc_ds_storage;

struct dc_dataset {
    int64_t count;
    int x_ndim, y_ndim;
    int64_t x_shape[DC_MAX_DIMS], y_shape[DC_MAX_DIMS];
    int64_t x_size, y_size;          /* floats per sample */
    /* Copies sample i (relative to this dataset) into x and y. */
    dc_status (*get)(const dc_dataset *ds, int64_t i, float *x, float *y);
    dc_ds_storage *storage;
    int64_t offset;                  /* first storage row of this dataset */
    bool is_view;                    /* storage belongs to another dataset */
    /* Variable-length samples: x_shape[0] is the longest sequence (what
     * dc_dataset_get pads to); dc_dataset_x_shape reports -1 for it. */
    bool var_len;
    /* Several inputs or targets (dc_dataset_from_multi_arrays): a sample's x
     * holds n_x_parts samples side by side, each x_parts[i] of its own shape
     * (y likewise); 0 parts: one input and one target, as x and y are. */
    int n_x_parts, n_y_parts;
    struct dc_ds_part {
        int ndim;
        int64_t shape[DC_MAX_DIMS];
    } x_parts[DC_MAX_MODEL_IO], y_parts[DC_MAX_MODEL_IO];
};

/* A dataset owning `storage` (heap-allocated with dc_malloc, taken over even on
 * failure); shapes are per sample. Returns NULL and sets an error naming fn. */
dc_dataset *dc_dataset_from_storage(const char *fn, dc_ds_storage *storage, int64_t n,
                                    int x_ndim, const int64_t *x_shape, int y_ndim,
                                    const int64_t *y_shape);
/* Frees a storage and everything it owns. */
void dc_ds_storage_free(dc_ds_storage *s);
/* A copy of s made with dc_malloc, or NULL. */
char *dc_ds_strdup(const char *s);

/* Names in a directory (image_folder.c). */
typedef struct {
    char **items;
    int n, cap;
} dc_str_list;
/* The names in dir (no hidden ones) that are directories (want_dirs) or .png,
 * .jpg and .jpeg files, sorted; false with an error naming fn on failure. */
bool dc_ds_list_dir(const char *fn, const char *dir, bool want_dirs, dc_str_list *out);
void dc_ds_list_free(dc_str_list *l);
#endif
