/* parts/st_decl.h: development fragment of genrep.h, inlined before release */

/* --------------------------------------------------------- [SAFETENSORS] */
/* Weights files in the safetensors layout, strict profile:
     [u64 little-endian N][N bytes of JSON header][data section]
   The header is one JSON object: tensor name -> {"dtype", "shape",
   "data_offsets": [begin, end]} (offsets relative to the data section),
   plus an optional "__metadata__": {string: string} holding architecture
   and settings. Names are PyTorch state_dict names ("net.0.weight").
   Reading accepts F32, F16 and BF16 (the last two widened to F32); other
   dtypes are recognised and refused with GENREP_ERR_UNSUPPORTED. The loader
   validates the whole file (header, numbers, offsets, no holes, no
   overlaps, no trailing bytes, finite values) before it returns a handle;
   every refusal names the file, the tensor and the broken rule.
   Writing pads the header with spaces to a multiple of 8 bytes, lays the
   tensors out contiguously in the order given, and replaces the target
   atomically (temp file in the same directory, fsync, rename, fsync of the
   directory): an existing file is never left half-written. */

#define GENREP_ST_MAX_RANK   8                      /* dims per tensor */
#define GENREP_ST_MAX_HEADER ((uint64_t)100 << 20)  /* JSON header cap, bytes */
#define GENREP_ST_ALLOW_NONFINITE 1                 /* flag: accept NaN/Inf weights */

typedef struct genrep_st genrep_st; /* an open, fully validated file */

typedef struct {
    const char  *name;                       /* NUL-terminated, unescaped */
    const char  *dtype;                      /* dtype in the file: "F32", "F16", "BF16" */
    int          ndim;                       /* 0 (scalar) .. GENREP_ST_MAX_RANK */
    int64_t      shape[GENREP_ST_MAX_RANK];  /* unused dims are 0 */
    int64_t      numel;
    const float *data;                       /* numel floats, widened to F32, 64-byte aligned */
} genrep_st_tensor;

/* What a model expects to find: name and shape (unused dims ignored). */
typedef struct {
    const char *name;
    int         ndim;
    int64_t     shape[GENREP_ST_MAX_RANK];
} genrep_st_spec;

/* One tensor to write: data holds prod(shape) floats, row-major. */
typedef struct {
    const char  *name;
    int          ndim;
    int64_t      shape[GENREP_ST_MAX_RANK];
    const float *data;
} genrep_st_entry;

/* Read and validate path (one read, one allocation for the handle).
   flags: 0 or GENREP_ST_ALLOW_NONFINITE. On failure *out is NULL and the
   status is _IO, _NOMEM, _FORMAT, _UNSUPPORTED (dtype) or _NONFINITE. */
GENREP_API genrep_status genrep_st_open(genrep_st **out, const char *path, int flags);
/* The same on bytes in memory (copied; the caller keeps ownership).
   name (may be NULL) is the file name used in error messages. */
GENREP_API genrep_status genrep_st_open_memory(genrep_st **out, const void *bytes, size_t n, int flags,
                                               const char *name);
GENREP_API void genrep_st_close(genrep_st *st);
/* Tensors, in data-section order. */
GENREP_API int genrep_st_count(const genrep_st *st);
GENREP_API const genrep_st_tensor *genrep_st_get(const genrep_st *st, int i);
/* Tensor by name, NULL if absent (binary search). */
GENREP_API const genrep_st_tensor *genrep_st_find(const genrep_st *st, const char *name);
/* __metadata__ value for key, NULL if absent. */
GENREP_API const char *genrep_st_meta(const genrep_st *st, const char *key);
/* Metadata entries in key order: *key, *value of entry i; 0 <= i < genrep_st_meta_count. */
GENREP_API int genrep_st_meta_count(const genrep_st *st);
GENREP_API void genrep_st_meta_get(const genrep_st *st, int i, const char **key, const char **value);
/* Check the file holds exactly the tensors a model needs: GENREP_OK, or
   _FORMAT naming missing and unexpected tensors, or _SHAPE naming the
   tensors whose shape differs (the message lists as many as fit). */
GENREP_API genrep_status genrep_st_expect(const genrep_st *st, const genrep_st_spec *specs, int n);
/* Write n tensors (F32) and n_meta metadata pairs meta_kv[2i] = key,
   meta_kv[2i+1] = value to path, atomically. Names must be unique and
   not "__metadata__"; data must be finite (_NONFINITE otherwise, so a
   diverged run never replaces a good checkpoint). On any failure the
   previous file at path is untouched and no temp file is left. */
GENREP_API genrep_status genrep_st_write(const char *path, const genrep_st_entry *entries, int n,
                                         const char *const *meta_kv, int n_meta);
