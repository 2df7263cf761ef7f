/* io.h — helpers shared by the files in src/io and src/data (internal). */
#ifndef DC_IO_H
#define DC_IO_H
#include "../core/core.h"

/* Writes 8-bit pixels (h rows of w*c bytes, c 1 or 3) as a PNG; fn names the
 * public function in error messages. */
dc_status dc_png_write_u8(const char *fn, const char *path, const uint8_t *pix, int h, int w,
                          int c);
/* A palette or gray PNG's raw indices (h*w bytes, dc_free), as masks store
 * class indices; NULL with an error naming fn and path otherwise. */
uint8_t *dc_png_read_indices(const char *fn, const char *path, int *height, int *width);
/* Converts one pixel of src_c channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) to
 * dst_c channels (1 or 3; or src_c, which copies). */
void dc_pixel_convert(const float *src, int src_c, float *dst, int dst_c);
/* TensorBoard event files (tensorboard.c): CRC32C, TFRecord's masked CRC32C,
 * and one scalar event framed as a TFRecord into *buf (grown as needed; the
 * caller frees it): the record's length, 0 when out of memory. */
uint32_t dc_crc32c(const void *data, size_t n);
uint32_t dc_crc32c_masked(const void *data, size_t n);
size_t dc_tb_scalar_record(void **buf, size_t *cap, double wall_time, int64_t step,
                           const char *tag, float value);
#endif
