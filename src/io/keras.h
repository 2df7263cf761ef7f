/* keras.h — Keras 3 .keras archives (internal): the zip container and the HDF5
 * weights file inside it, read with every name and size checked (keras_file.c). */
#ifndef DC_KERAS_H
#define DC_KERAS_H
#include "../core/core.h"
#include "deepc.h"

/* The parts of a .keras archive (each NUL-terminated; weights may hold NULs). */
typedef struct {
    char *config;   /* config.json */
    char *metadata; /* metadata.json, or NULL when absent */
    uint8_t *weights;
    size_t weights_len; /* model.weights.h5 */
} dc_keras_archive;

/* Reads the archive in data (len bytes); name stands for it in messages. Refuses
 * entries with absolute or ".." paths, a missing config.json or weights file,
 * parts larger than their limit or that inflate far beyond their compressed size
 * (a zip bomb), and parts whose bytes disagree with their header. */
dc_status dc_keras_archive_read(const char *fn, const char *name, const void *data, size_t len,
                                dc_keras_archive *out);
void dc_keras_archive_free(dc_keras_archive *a);
/* Writes config.json, metadata.json and model.weights.h5 as a zip at path,
 * atomically (path.tmp, fsynced, renamed). */
dc_status dc_keras_archive_write(const char *fn, const char *path, const char *config,
                                 const char *metadata, const void *weights, size_t weights_len);

/* HDF5 files held in memory. Paths are "layers/dense/vars"; messages name the
 * file as name and the path inside it. */
typedef struct dc_h5 dc_h5;
/* Opens an untrusted image read-only with deepc's own reader (h5_read.h), never
 * libhdf5 (which faults on some corrupt files); data must outlive the handle. A
 * file outside the subset Keras and deepc write is DC_ERR_FORMAT, naming the part. */
dc_h5 *dc_h5_open_image(const char *fn, const char *name, const void *data, size_t len);
dc_h5 *dc_h5_create(const char *fn, const char *name);
void dc_h5_close(dc_h5 *h);
/* The number of links in group path (its datasets "0", "1" ...), 0 when the
 * group is absent, -1 (error set) when path is not a group. */
int dc_h5_count(dc_h5 *h, const char *path);
/* Reads dataset path into t, which it must match in shape exactly (DC_ERR_SHAPE
 * naming both shapes otherwise); any float type converts to float32. */
dc_status dc_h5_read(dc_h5 *h, const char *path, const char *what, dc_tensor *t);
/* Creates group path (and its parents) with the attribute name = attr_name
 * (NULL: none), as Keras marks each vars group. */
dc_status dc_h5_group(dc_h5 *h, const char *path, const char *attr_name);
/* Writes t as the float32 dataset path (its group must exist). */
dc_status dc_h5_write(dc_h5 *h, const char *path, const dc_tensor *t);
/* A scalar dataset: written as int64 (is_int) or float32; read from any
 * integer or float scalar. */
dc_status dc_h5_write_scalar(dc_h5 *h, const char *path, double v, bool is_int);
dc_status dc_h5_read_scalar(dc_h5 *h, const char *path, double *v);
/* The bytes of a created file (the caller frees with dc_free). */
dc_status dc_h5_image(dc_h5 *h, uint8_t **data, size_t *len);
/* The HDF5 group of layer i of m in model.weights.h5: its snake-case class,
 * numbered from the second of a class on ("layers/dense", "layers/dense_1"),
 * as Keras names the entries of a layer list (keras_import.c). */
void dc_keras_layer_group(const dc_model *m, int i, char *out, size_t n);
/* The optimizer's variables in Keras' layout, optimizer/vars/0.. : the
 * iteration (int64), the learning rate, then for each trainable variable of
 * layers[0, n) (Keras' model.layers order) its slots (Adam: momentum and
 * velocity; SGD with momentum: momentum) (keras_optimizer.c). Write: Adam
 * without amsgrad and SGD; other optimizers write no variables (Keras then
 * starts them afresh). Read: loads them into m's optimizer when they are what
 * that layout gives for it; anything else is left (Keras' own rule, which
 * warns and skips), a shape that disagrees is an error. */
dc_status dc_keras_optimizer_write(dc_h5 *h, const dc_model *m, dc_layer *const *layers, int n);
dc_status dc_keras_optimizer_read(const char *file, dc_h5 *h, dc_model *m, dc_layer *const *layers,
                                  int n);
#endif
