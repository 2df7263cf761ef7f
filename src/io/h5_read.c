/* h5_read.c — reads the HDF5 subset Keras 3 and deepc's export write (superblock 0/1, v1 object
 * headers, symbol-table groups, contiguous or compact datasets) from memory, every offset checked. */
#include "h5_read.h"
#include <stdio.h>
#include <string.h>

#define UNDEF UINT64_MAX      /* HDF5's "undefined address" (all bits set) */
#define MAX_BLOCKS 64         /* an object header's blocks: its first and continuations */
#define MAX_MESSAGES 65535    /* a v1 header counts its messages in 16 bits */
#define MAX_BTREE_LEVEL 32    /* 2K^32 symbols is beyond any file */
#define MAX_GROUP_WORK 100000 /* B-tree nodes plus symbols visited in one group walk */
#define MAX_PATH_PARTS 32

struct dc_h5r {
    const uint8_t *img;
    uint64_t len;
    uint64_t base;   /* addresses count from here */
    unsigned so, sl; /* the sizes of offsets and of lengths: 2, 4 or 8 bytes */
    uint64_t root;   /* the root group's object header */
    const char *fn;
    char name[256];
};

/* ---- bounded reading ---- */

/* A part of the image being decoded; a read past its end sets bad and yields zeros,
 * so a decoder reads its fields and checks bad once. */
typedef struct {
    const uint8_t *p;
    uint64_t n, at;
    bool bad;
} cursor;

static dc_status fail(const dc_h5r *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static dc_status fail(const dc_h5r *f, const char *fmt, ...) {
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return dc_set_error(DC_ERR_FORMAT, "%s: %s: %s", f->fn, f->name, why);
}

static const uint8_t *take(cursor *c, uint64_t k) {
    if (c->bad || k > c->n - c->at) {
        c->bad = true;
        return NULL;
    }
    const uint8_t *q = c->p + c->at;
    c->at += k;
    return q;
}

static uint64_t load_uint(const uint8_t *q, unsigned k, bool big_endian) {
    uint64_t v = 0;
    for (unsigned i = 0; i < k; i++) v = v << 8 | q[big_endian ? i : k - 1 - i];
    return v;
}

static void skip(cursor *c, uint64_t k) { take(c, k); }

/* k bytes (at most 8) little-endian, as every HDF5 structure stores them. */
static uint64_t get(cursor *c, unsigned k) {
    const uint8_t *q = take(c, k);
    return q ? load_uint(q, k, false) : 0;
}

/* An address: all bits set is HDF5's "undefined", made UNDEF whatever its width. */
static uint64_t get_addr(const dc_h5r *f, cursor *c) {
    uint64_t v = get(c, f->so);
    uint64_t all = f->so >= 8 ? UINT64_MAX : ((uint64_t)1 << (8 * f->so)) - 1;
    return v == all && !c->bad ? UNDEF : v;
}

static uint64_t get_length(const dc_h5r *f, cursor *c) { return get(c, f->sl); }

static bool has_signature(cursor *c, const char sig[4]) {
    const uint8_t *q = take(c, 4);
    return q && !memcmp(q, sig, 4);
}

/* The absolute offset of n bytes at address addr, when they lie inside the image. */
static bool span(const dc_h5r *f, uint64_t addr, uint64_t n, uint64_t *at) {
    uint64_t room = f->len - f->base; /* base <= len, checked at open */
    if (addr == UNDEF || addr > room || n > room - addr) return false;
    *at = f->base + addr;
    return true;
}

/* A cursor from address addr to the end of the image (a part whose length its
 * own fields give), or n bytes exactly when n is not UNDEF. */
static bool open_at(const dc_h5r *f, uint64_t addr, uint64_t n, cursor *c) {
    uint64_t at;
    *c = (cursor){NULL, 0, 0, true}; /* reads from a part outside the image yield zeros */
    if (!span(f, addr, n == UNDEF ? 0 : n, &at)) return false;
    *c = (cursor){f->img + at, n == UNDEF ? f->len - at : n, 0, false};
    return true;
}

/* "byte N", or what an undefined address is, for messages. */
static const char *addr_text(uint64_t addr, char *buf, size_t n) {
    if (addr == UNDEF) return "an undefined address";
    snprintf(buf, n, "byte %llu", (unsigned long long)addr);
    return buf;
}
#define AT(addr) addr_text((addr), (char[32]){0}, 32)

/* ---- superblock ---- */

static bool valid_size(unsigned k) { return k == 2 || k == 4 || k == 8; }

/* Superblock 0 (1 adds two fields): versions, the sizes of offsets and lengths,
 * B-tree K values, flags, then base, free-space, end-of-file and driver addresses,
 * then the root group's symbol table entry (name offset, object header address, ...). */
static dc_status read_superblock(dc_h5r *f) {
    cursor c = {f->img, f->len, 0, false};
    static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    const uint8_t *s = take(&c, 8);
    if (!s || memcmp(s, sig, 8)) return fail(f, "not an HDF5 file (no signature at its start)");
    unsigned version = (unsigned)get(&c, 1);
    if (c.bad) return fail(f, "the superblock is truncated");
    if (version > 1) /* 2 and 3: libver 1.8+, which h5py and Keras do not ask for */
        return fail(f, "superblock version %u is not supported (versions 0 and 1 are, as "
                    "h5py and libhdf5 write by default)", version);
    skip(&c, 4); /* free-space, root entry, reserved, shared header versions */
    f->so = (unsigned)get(&c, 1);
    f->sl = (unsigned)get(&c, 1);
    skip(&c, 1 + 2 + 2 + 4 + (version == 1 ? 4 : 0)); /* reserved, K values, flags */
    if (c.bad) return fail(f, "the superblock is truncated (%llu bytes)", (unsigned long long)f->len);
    if (!valid_size(f->so) || !valid_size(f->sl))
        return fail(f, "superblock: sizes of offsets %u and lengths %u (2, 4 or 8 expected)",
                    f->so, f->sl);
    f->base = get_addr(f, &c);
    get_addr(f, &c); /* free-space info: a reader has no use for it */
    uint64_t eof = get_addr(f, &c);
    get_addr(f, &c); /* driver info: the image is read as it is */
    get_addr(f, &c); /* the root entry's link name offset */
    f->root = get_addr(f, &c);
    if (c.bad) return fail(f, "the superblock is truncated (%llu bytes)", (unsigned long long)f->len);
    if (f->base > f->len)
        return fail(f, "superblock: base address %llu is past the end of the file (%llu bytes)",
                    (unsigned long long)f->base, (unsigned long long)f->len);
    if (eof == UNDEF || eof > f->len - f->base)
        return fail(f, "truncated: the superblock says the file ends at byte %llu, it has %llu",
                    (unsigned long long)eof, (unsigned long long)(f->len - f->base));
    return DC_OK;
}

/* ---- object headers ---- */

typedef struct {
    uint64_t addr, len;
} block;

/* What an object header says, as far as deepc reads it. */
typedef struct {
    bool space, type, layout, symtab; /* the messages seen */
    bool links, external, filters;    /* what is refused when met */
    dc_h5r_object *o;
    uint64_t data_addr, data_len; /* contiguous storage */
    bool compact;
    block blocks[MAX_BLOCKS];
    int n_blocks;
    unsigned messages;
} header;

/* Dataspace: version 1 (rank, flags, 5 reserved bytes) or 2 (rank, flags, kind), then
 * rank current sizes (lengths); maximum sizes follow, which a reader skips. */
static dc_status read_dataspace(const dc_h5r *f, const char *path, cursor *c, dc_h5r_dataset *d) {
    unsigned version = (unsigned)get(c, 1), rank = (unsigned)get(c, 1);
    get(c, 1); /* flags */
    unsigned kind = 1;
    if (version == 1) skip(c, 5);
    else if (version == 2) kind = (unsigned)get(c, 1);
    else return fail(f, "%s: dataspace version %u is not supported", path, version);
    if (kind == 2) return fail(f, "%s: a null dataspace (no elements) is not supported", path);
    if (kind > 2 || rank > DC_H5R_MAX_RANK)
        return fail(f, "%s: corrupt dataspace (kind %u, rank %u)", path, kind, rank);
    if (version == 2 && kind == 0) rank = 0;
    d->rank = (int)rank;
    for (unsigned i = 0; i < rank; i++) d->dims[i] = get_length(f, c);
    if (c->bad) return fail(f, "%s: the dataspace message is truncated", path);
    return DC_OK;
}

/* IEEE 754 binary32 or binary64, as HDF5 describes one field by field. */
static bool is_ieee(unsigned size, unsigned bits, const uint8_t *p) {
    /* bits: byte order (0), padding (1-3), mantissa normalisation (4-5), VAX order (6),
     * sign position (8-15); p: offset, precision, exponent at/size, mantissa at/size, bias */
    unsigned e = size == 4 ? 8 : 11, m = size == 4 ? 23 : 52, bias = size == 4 ? 127 : 1023;
    return (size == 4 || size == 8) && (bits >> 4 & 3) == 2 && !(bits >> 6 & 1) &&
           (bits >> 8 & 0xff) == 8 * size - 1 && load_uint(p, 2, false) == 0 &&
           load_uint(p + 2, 2, false) == 8 * size && p[4] == m && p[5] == e && p[6] == 0 &&
           p[7] == m && load_uint(p + 8, 4, false) == bias;
}

static const char *class_name(unsigned cls) {
    static const char *names[] = {"integer", "float", "time", "string", "bitfield", "opaque",
                                  "compound", "reference", "enum", "variable-length", "array"};
    return cls < sizeof names / sizeof *names ? names[cls] : "unknown";
}

/* Datatype: class and version (4 bits each), 24 bits of class flags, the size in bytes,
 * then the class's properties (integers: offset, precision; floats: 12 bytes). */
static dc_status read_datatype(const dc_h5r *f, const char *path, cursor *c, dc_h5r_dataset *d) {
    unsigned head = (unsigned)get(c, 1), bits = (unsigned)get(c, 3);
    unsigned size = (unsigned)get(c, 4), cls = head & 15;
    if (!c->bad && cls > 1)
        return fail(f, "%s: datatype class %u (%s) is not supported (floats and integers are)",
                    path, cls, class_name(cls));
    const uint8_t *p = take(c, cls == 1 ? 12 : 4);
    if (c->bad) return fail(f, "%s: the datatype message is truncated", path);
    d->is_float = cls == 1;
    d->big_endian = bits & 1;
    d->is_signed = cls == 0 && (bits >> 3 & 1);
    d->size = size;
    bool ok = cls == 1 ? is_ieee(size, bits, p)
                       : (size == 1 || size == 2 || size == 4 || size == 8) &&
                             load_uint(p, 2, false) == 0 && load_uint(p + 2, 2, false) == 8 * size;
    if (!ok)
        return fail(f, "%s: a %u-byte %s type of an unusual layout is not supported", path, size,
                    class_name(cls));
    return DC_OK;
}

/* Data layout version 3 or 4: the class, then compact: the size (2 bytes) and the
 * bytes; contiguous: the address and size. Chunked and virtual storage are refused. */
static dc_status read_layout(const dc_h5r *f, const char *path, cursor *c, header *h) {
    unsigned version = (unsigned)get(c, 1), cls = (unsigned)get(c, 1);
    if (c->bad) return fail(f, "%s: the layout message is truncated", path);
    if (version < 3 || version > 4)
        return fail(f, "%s: data layout version %u is not supported (3 and 4 are)", path, version);
    if (cls == 0) {
        h->data_len = get(c, 2);
        h->o->ds.data = take(c, h->data_len);
        h->compact = true;
    } else if (cls == 1) {
        h->data_addr = get_addr(f, c);
        h->data_len = get_length(f, c);
    } else {
        return fail(f, "%s: %s storage is not supported (contiguous and compact are)", path,
                    cls == 2 ? "chunked" : cls == 3 ? "virtual" : "unknown");
    }
    if (c->bad) return fail(f, "%s: the layout message is truncated", path);
    return DC_OK;
}

/* Continuation: the address and length of one more block of messages. A block seen
 * before (a cycle) or too many of them are refused. */
static dc_status add_block(const dc_h5r *f, const char *path, cursor *c, header *h) {
    block b = {get_addr(f, c), get_length(f, c)};
    if (c->bad) return fail(f, "%s: a continuation message is truncated", path);
    for (int i = 0; i < h->n_blocks; i++)
        if (h->blocks[i].addr == b.addr)
            return fail(f, "%s: object header continuation at %s is met twice (a cycle)",
                        path, AT(b.addr));
    if (h->n_blocks == MAX_BLOCKS)
        return fail(f, "%s: object header has more than %d continuation blocks", path,
                    MAX_BLOCKS - 1);
    h->blocks[h->n_blocks++] = b;
    return DC_OK;
}

enum {
    MSG_NIL = 0, MSG_DATASPACE = 1, MSG_LINK_INFO = 2, MSG_DATATYPE = 3, MSG_LINK = 6,
    MSG_EXTERNAL = 7, MSG_LAYOUT = 8, MSG_FILTERS = 11, MSG_CONTINUATION = 16, MSG_SYMTAB = 17
};

/* A message deepc needs, seen once and stored in place (flag bit 1: shared, elsewhere). */
static dc_status needed_once(const dc_h5r *f, const char *path, bool *seen, unsigned flags,
                             const char *what) {
    if (*seen) return fail(f, "%s: the object header holds two %s messages", path, what);
    if (flags & 2) return fail(f, "%s: a shared %s message is not supported", path, what);
    *seen = true;
    return DC_OK;
}

static dc_status take_message(const dc_h5r *f, const char *path, unsigned type, unsigned flags,
                              cursor *c, header *h) {
    dc_h5r_object *o = h->o;
    switch (type) {
    case MSG_DATASPACE:
        if (needed_once(f, path, &h->space, flags, "dataspace") != DC_OK) return dc_last_status();
        return read_dataspace(f, path, c, &o->ds);
    case MSG_DATATYPE:
        if (needed_once(f, path, &h->type, flags, "datatype") != DC_OK) return dc_last_status();
        return read_datatype(f, path, c, &o->ds);
    case MSG_LAYOUT:
        if (needed_once(f, path, &h->layout, flags, "layout") != DC_OK) return dc_last_status();
        return read_layout(f, path, c, h);
    case MSG_SYMTAB:
        if (needed_once(f, path, &h->symtab, flags, "symbol table") != DC_OK) return dc_last_status();
        o->btree = get_addr(f, c);
        o->heap = get_addr(f, c);
        return c->bad ? fail(f, "%s: the symbol table message is truncated", path) : DC_OK;
    case MSG_CONTINUATION: return add_block(f, path, c, h);
    case MSG_LINK_INFO:
    case MSG_LINK: h->links = true; return DC_OK;
    case MSG_EXTERNAL: h->external = true; return DC_OK;
    case MSG_FILTERS: h->filters = true; return DC_OK;
    default: return DC_OK; /* attributes, times, fill values: nothing deepc reads */
    }
}

/* A v1 block of messages: each a type (2 bytes), size (2), flags (1), 3 reserved
 * bytes and its data; fewer than 8 bytes left are padding. */
static dc_status read_block(const dc_h5r *f, const char *path, const block *b, header *h) {
    cursor c;
    if (!open_at(f, b->addr, b->len, &c))
        return fail(f, "%s: object header block at %s (%llu bytes) runs past the end of the "
                    "file", path, AT(b->addr), (unsigned long long)b->len);
    while (c.n - c.at >= 8) {
        unsigned type = (unsigned)get(&c, 2), size = (unsigned)get(&c, 2);
        unsigned flags = (unsigned)get(&c, 1);
        skip(&c, 3);
        const uint8_t *data = take(&c, size);
        if (!data)
            return fail(f, "%s: object header message (type %u, %u bytes) at byte %llu runs past "
                        "its block", path, type, size, (unsigned long long)(b->addr + c.at));
        if (++h->messages > MAX_MESSAGES)
            return fail(f, "%s: object header has more than %d messages", path, MAX_MESSAGES);
        cursor m = {data, size, 0, false};
        if (take_message(f, path, type, flags, &m, h) != DC_OK) return dc_last_status();
    }
    return DC_OK;
}

/* A dataset's elements: their count and bytes overflow-checked, the bytes inside
 * the image (contiguous) or the message (compact). */
static dc_status place_data(const dc_h5r *f, const char *path, header *h) {
    dc_h5r_dataset *d = &h->o->ds;
    d->count = 1;
    for (int i = 0; i < d->rank; i++) {
        if (d->dims[i] && d->count > UINT64_MAX / d->dims[i])
            return fail(f, "%s: its dimensions overflow", path);
        d->count *= d->dims[i];
    }
    if (d->count > UINT64_MAX / d->size) return fail(f, "%s: its size overflows", path);
    uint64_t bytes = d->count * d->size, at;
    if (h->compact) {
        if (h->data_len != bytes)
            return fail(f, "%s: compact data of %llu bytes for %llu elements of %u bytes", path,
                        (unsigned long long)h->data_len, (unsigned long long)d->count, d->size);
        return DC_OK;
    }
    if (bytes == 0) return DC_OK;
    if (h->data_addr == UNDEF) return fail(f, "%s: its data was never written", path);
    if (h->data_len < bytes || !span(f, h->data_addr, bytes, &at))
        return fail(f, "%s: its data (%llu bytes at %s) lies outside the file (%llu bytes)",
                    path, (unsigned long long)bytes, AT(h->data_addr),
                    (unsigned long long)f->len);
    d->data = f->img + at;
    return DC_OK;
}

/* What the messages make of the object: a group, a dataset or something else. */
static dc_status classify(const dc_h5r *f, const char *path, header *h) {
    dc_h5r_object *o = h->o;
    if (h->symtab) o->kind = DC_H5R_GROUP;
    else if (h->links)
        return fail(f, "%s: a group of link messages (compact or dense link storage, libver "
                    "1.8+) is not supported", path);
    else if (h->space && h->type && h->layout) o->kind = DC_H5R_DATASET;
    else o->kind = DC_H5R_OTHER;
    if (o->kind != DC_H5R_DATASET) return DC_OK;
    if (h->external) return fail(f, "%s: data in external files is not supported", path);
    if (h->filters) return fail(f, "%s: filters (compression) are not supported", path);
    return place_data(f, path, h);
}

/* Object header version 1: version, reserved, message count (2), reference count (4),
 * the size of its first block (4), padding to 8 bytes; then the messages. */
static dc_status read_object(const dc_h5r *f, uint64_t addr, const char *path, dc_h5r_object *o) {
    header h = {.o = o};
    memset(o, 0, sizeof *o);
    cursor c;
    if (!open_at(f, addr, UNDEF, &c))
        return fail(f, "%s: object header at %s lies outside the file (%llu bytes)", path,
                    AT(addr), (unsigned long long)f->len);
    if (c.n >= 4 && !memcmp(c.p, "OHDR", 4))
        return fail(f, "%s: object header version 2 (libver 1.8+) is not supported", path);
    unsigned version = (unsigned)get(&c, 1);
    skip(&c, 1 + 2 + 4);
    uint64_t size = get(&c, 4);
    skip(&c, 4);
    if (c.bad) return fail(f, "%s: the object header at byte %llu is truncated", path,
                           (unsigned long long)addr);
    if (version != 1)
        return fail(f, "%s: object header at byte %llu: version %u is not supported", path,
                    (unsigned long long)addr, version);
    h.blocks[h.n_blocks++] = (block){addr + 16, size};
    for (int i = 0; i < h.n_blocks; i++) /* continuations append blocks as they are met */
        if (read_block(f, path, &h.blocks[i], &h) != DC_OK) return dc_last_status();
    return classify(f, path, &h);
}

/* ---- groups ---- */

/* A group's local heap, where its link names are: "HEAP", version 0, 3 reserved
 * bytes, the data segment's size, the free list's head, the segment's address. */
typedef struct {
    const uint8_t *seg;
    uint64_t size;
} heap;

static dc_status read_heap(const dc_h5r *f, const char *path, uint64_t addr, heap *hp) {
    cursor c;
    bool in = open_at(f, addr, UNDEF, &c);
    bool sig = in && has_signature(&c, "HEAP");
    unsigned version = (unsigned)get(&c, 1);
    skip(&c, 3);
    uint64_t size = get_length(f, &c);
    get_length(f, &c);
    uint64_t seg = get_addr(f, &c), at;
    if (!in || c.bad || !sig || version != 0)
        return fail(f, "%s: no valid local heap at %s", path, AT(addr));
    if (!span(f, seg, size, &at))
        return fail(f, "%s: the local heap's data (%llu bytes at %s) lies outside the file",
                    path, (unsigned long long)size, AT(seg));
    *hp = (heap){f->img + at, size};
    return DC_OK;
}

/* What a walk over a group's links is after: the count, or one name's object. */
typedef struct {
    const char *want; /* NULL: count */
    size_t want_len;
    uint64_t found; /* its object header, UNDEF until found */
    int count, limit;
    bool soft;  /* want named a soft link */
    long work;  /* nodes and symbols visited, bounded (a DAG of nodes could repeat) */
    heap names;
} walk;

/* A symbol table node: "SNOD", version 1, reserved, the number of entries (2), then
 * entries of name offset, object header address, cache type (4), reserved (4), scratch (16). */
static dc_status read_symbols(const dc_h5r *f, const char *path, uint64_t addr, walk *w) {
    cursor c;
    bool in = open_at(f, addr, UNDEF, &c);
    bool sig = in && has_signature(&c, "SNOD");
    unsigned version = (unsigned)get(&c, 1);
    skip(&c, 1);
    unsigned n = (unsigned)get(&c, 2);
    if (!in || c.bad || !sig || version != 1)
        return fail(f, "%s: no valid symbol table node at %s", path, AT(addr));
    for (unsigned i = 0; i < n && w->found == UNDEF; i++) {
        uint64_t name = get_length(f, &c), obj = get_addr(f, &c);
        unsigned cache = (unsigned)get(&c, 4);
        skip(&c, 4 + 16);
        if (c.bad) return fail(f, "%s: symbol table node at byte %llu is truncated", path,
                               (unsigned long long)addr);
        if (++w->work > MAX_GROUP_WORK) return fail(f, "%s: the group is too large", path);
        const uint8_t *s = name < w->names.size ? w->names.seg + name : NULL;
        const uint8_t *end = s ? memchr(s, 0, w->names.size - name) : NULL;
        if (!end) return fail(f, "%s: a link name runs outside the local heap", path);
        if (!w->want) {
            if (++w->count > w->limit)
                return fail(f, "%s: the group holds more than %d links", path, w->limit);
        } else if ((size_t)(end - s) == w->want_len && !memcmp(s, w->want, w->want_len)) {
            w->found = obj;
            w->soft = cache == 2;
        }
    }
    return DC_OK;
}

/* A v1 B-tree node of a group: "TREE", type 0, its level, the entries used (2), the
 * siblings, then key, child, key, ... key; children of level 0 are symbol table nodes.
 * Each child must sit one level lower, so a walk cannot loop. */
static dc_status read_btree(const dc_h5r *f, const char *path, uint64_t addr, int level, walk *w) {
    cursor c;
    bool in = open_at(f, addr, UNDEF, &c);
    bool sig = in && has_signature(&c, "TREE");
    unsigned type = (unsigned)get(&c, 1), at_level = (unsigned)get(&c, 1);
    unsigned n = (unsigned)get(&c, 2);
    get_addr(f, &c);
    get_addr(f, &c);
    if (!in || c.bad || !sig || type != 0)
        return fail(f, "%s: no valid group B-tree node at %s", path, AT(addr));
    if (level < 0 && at_level > MAX_BTREE_LEVEL)
        return fail(f, "%s: its B-tree claims %u levels", path, at_level);
    if (level >= 0 && (int)at_level != level)
        return fail(f, "%s: B-tree node at byte %llu has level %u where %d belongs (a cycle or "
                    "corrupt node)", path, (unsigned long long)addr, at_level, level);
    for (unsigned i = 0; i < n && w->found == UNDEF; i++) {
        get_length(f, &c); /* the key: a name's heap offset, for a search deepc does not do */
        uint64_t child = get_addr(f, &c);
        if (c.bad) return fail(f, "%s: B-tree node at byte %llu is truncated", path,
                               (unsigned long long)addr);
        if (++w->work > MAX_GROUP_WORK) return fail(f, "%s: the group's B-tree is too large", path);
        dc_status s = at_level == 0 ? read_symbols(f, path, child, w)
                                    : read_btree(f, path, child, (int)at_level - 1, w);
        if (s != DC_OK) return s;
    }
    return DC_OK;
}

static dc_status walk_group(const dc_h5r *f, const char *path, const dc_h5r_object *g, walk *w) {
    w->found = UNDEF;
    if (read_heap(f, path, g->heap, &w->names) != DC_OK) return dc_last_status();
    return read_btree(f, path, g->btree, -1, w);
}

/* ---- the API ---- */

dc_h5r *dc_h5r_open(const char *fn, const char *name, const uint8_t *data, size_t len) {
    dc_h5r *f = dc_calloc(1, sizeof *f);
    if (!f) {
        dc_set_error(DC_ERR_NOMEM, "%s: %s: out of memory", fn, name);
        return NULL;
    }
    *f = (dc_h5r){.img = data, .len = len, .fn = fn};
    snprintf(f->name, sizeof f->name, "%s", name);
    dc_h5r_object root;
    if (read_superblock(f) != DC_OK || read_object(f, f->root, "the root group", &root) != DC_OK) {
        dc_free(f);
        return NULL;
    }
    if (root.kind != DC_H5R_GROUP) {
        fail(f, "the root object is not a group");
        dc_free(f);
        return NULL;
    }
    return f;
}

void dc_h5r_close(dc_h5r *r) { dc_free(r); }

/* The next part of path after *at ("a//b/" has parts a and b): its length, 0 at the end. */
static size_t next_part(const char *path, size_t *at) {
    while (path[*at] == '/') (*at)++;
    return strcspn(path + *at, "/");
}

int dc_h5r_find(const dc_h5r *r, const char *path, dc_h5r_object *o) {
    if (read_object(r, r->root, "the root group", o) != DC_OK) return -1;
    size_t at = 0, n;
    for (int depth = 0; (n = next_part(path, &at)) > 0; depth++, at += n) {
        if (depth == MAX_PATH_PARTS) {
            fail(r, "%s: more than %d levels of groups", path, MAX_PATH_PARTS);
            return -1;
        }
        if (o->kind != DC_H5R_GROUP) return 0;
        walk w = {.want = path + at, .want_len = n};
        if (walk_group(r, path, o, &w) != DC_OK) return -1;
        if (w.found == UNDEF) return 0;
        if (w.soft) {
            fail(r, "%s: soft links are not supported", path);
            return -1;
        }
        if (read_object(r, w.found, path, o) != DC_OK) return -1;
    }
    return 1;
}

int dc_h5r_count(const dc_h5r *r, const char *path, const dc_h5r_object *o, int limit) {
    walk w = {.limit = limit};
    return walk_group(r, path, o, &w) == DC_OK ? w.count : -1;
}

double dc_h5r_value(const dc_h5r_dataset *d, uint64_t i) {
    uint64_t v = load_uint(d->data + i * d->size, d->size, d->big_endian);
    if (d->is_float && d->size == 4) {
        uint32_t b = (uint32_t)v;
        float x;
        memcpy(&x, &b, sizeof x);
        return x;
    }
    if (d->is_float) {
        double x;
        memcpy(&x, &v, sizeof x);
        return x;
    }
    unsigned bits = 8 * d->size;
    if (d->is_signed && bits < 64 && (v >> (bits - 1) & 1)) v |= UINT64_MAX << bits;
    return d->is_signed ? (double)(int64_t)v : (double)v;
}

void dc_h5r_floats(const dc_h5r_dataset *d, float *out) {
    for (uint64_t i = 0; i < d->count; i++) out[i] = (float)dc_h5r_value(d, i);
}
