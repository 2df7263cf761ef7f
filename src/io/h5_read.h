/* h5_read.h — deepc's own reader for the subset of HDF5 that Keras 3 (h5py's defaults) and
 * deepc's export write (internal); untrusted weights never reach libhdf5 (h5_read.c). */
#ifndef DC_H5_READ_H
#define DC_H5_READ_H
#include "../core/core.h"

/* HDF5 allows 32 dimensions; deepc's tensors take DC_MAX_DIMS of them. */
#define DC_H5R_MAX_RANK 32

typedef struct dc_h5r dc_h5r;

/* A dataset's elements, which lie inside the image (or data is NULL when count is 0). */
typedef struct {
    int rank; /* 0: a scalar */
    uint64_t dims[DC_H5R_MAX_RANK];
    uint64_t count; /* elements */
    unsigned size;  /* bytes per element: 1, 2, 4 or 8 */
    bool is_float;  /* IEEE binary32/64; else a two's complement integer */
    bool is_signed, big_endian;
    const uint8_t *data; /* count * size bytes */
} dc_h5r_dataset;

typedef enum { DC_H5R_GROUP, DC_H5R_DATASET, DC_H5R_OTHER } dc_h5r_kind;

typedef struct {
    dc_h5r_kind kind;
    uint64_t btree, heap; /* a group's B-tree and local heap */
    dc_h5r_dataset ds;    /* a dataset's */
} dc_h5r_object;

/* Checks the superblock and the root group of the image in data (len bytes),
 * which must outlive the reader; messages say "fn: name: <part>: <why>".
 * NULL with DC_ERR_FORMAT set when it is not a file this reader takes. */
dc_h5r *dc_h5r_open(const char *fn, const char *name, const uint8_t *data, size_t len);
void dc_h5r_close(dc_h5r *r);
/* Resolves path ("layers/dense/vars/0") from the root group: 1 with *o filled,
 * 0 when a part of it is absent (or a dataset stands where a group should be),
 * -1 with the error set when the file is corrupt or uses what is not supported. */
int dc_h5r_find(const dc_h5r *r, const char *path, dc_h5r_object *o);
/* The number of links of group o (at most limit), or -1 with the error set. */
int dc_h5r_count(const dc_h5r *r, const char *path, const dc_h5r_object *o, int limit);
/* Element i of d as a double (exact for every float and for integers below 2^53). */
double dc_h5r_value(const dc_h5r_dataset *d, uint64_t i);
/* All of d's elements as float32 into out (d->count of them). */
void dc_h5r_floats(const dc_h5r_dataset *d, float *out);
#endif
