/* parts/data_decl.h: development fragment of genrep.h, inlined before release */

/* ----------------------------------------------------------------- [AUG] */
/* SimCLR pixel augmentations as GenRep uses them (torchvision semantics on
   float images in [0, 1]), per view in this order:
     RandomResizedCrop(out, scale, ratio, bilinear, antialias=False)
     -> RandomHorizontalFlip(flip_p)
     -> RandomApply(ColorJitter(b, c, s, h) in a random order, jitter_p)
     -> RandomGrayscale(gray_p) -> RandomApply(GaussianBlur, blur_p)
     -> Normalize(mean, std) (if normalize).
   GenRep's recipe is genrep_aug_config_simclr() (blur_p = 0); SimCLR's full
   set adds blur_p = 0.5. On 1-channel images saturation, hue and grayscale
   are identities (torchvision/PIL behaviour). All images are (C,H,W) planes
   inside NCHW tensors, C = 1 or 3, sides <= GENREP_AUG_MAX_SIDE. */

#define GENREP_AUG_MAX_SIDE 1024  /* bound on H, W, out_h, out_w: the per-view tables
                                     and line buffers live on the stack (~120 KB
                                     per thread at most) */

typedef struct {
    int   out_h, out_w;                     /* output size of the resized crop */
    float scale_min, scale_max;             /* crop area fraction, (0.2, 1.0) */
    float ratio_min, ratio_max;             /* crop aspect w/h, (3/4, 4/3) */
    float flip_p;                           /* horizontal flip probability, 0.5 */
    float jitter_p;                         /* colour jitter probability, 0.8 */
    float brightness, contrast, saturation; /* factor ~ U[max(0,1-x), 1+x]: 0.4 each */
    float hue;                              /* shift ~ U[-hue, hue], hue <= 0.5: 0.1 */
    float gray_p;                           /* grayscale probability, 0.2 */
    float blur_p;                           /* Gaussian blur probability: 0 (GenRep), 0.5 (SimCLR) */
    float blur_sigma_min, blur_sigma_max;   /* sigma ~ U[0.1, 2.0] */
    int   blur_kernel;                      /* odd kernel side; 0: ~10% of min(out_h,out_w), made odd, >= 3 */
    int   normalize;                        /* 1: out = (x - mean[c]) / std[c] at the end */
    float mean[3], std[3];                  /* per channel (only [0] used for C = 1) */
} genrep_aug_config;

/* The random choices of one view (what the sampler drew). */
typedef struct {
    int   top, left, crop_h, crop_w;        /* crop box in the input image */
    int   flip;                             /* 1: flip horizontally */
    int   jitter;                           /* 1: colour jitter applied */
    int   order[4];                         /* permutation of 0 brightness, 1 contrast, 2 saturation, 3 hue */
    float brightness, contrast, saturation, hue;
    int   gray;                             /* 1: to grayscale */
    int   blur;                             /* 1: Gaussian blur */
    float sigma;                            /* blur sigma */
    int   kernel;                           /* blur kernel side (odd) */
} genrep_aug_params;

/* GenRep's SimCLR/SupCon recipe for an out_h x out_w crop: scale (0.2,1),
   ratio (3/4,4/3), flip 0.5, jitter (0.4,0.4,0.4,0.1) w.p. 0.8, grayscale
   0.2, no blur (blur_p = 0; sigma range 0.1..2.0 ready), no normalisation
   (mean 0, std 1; set normalize = 1 and mean/std to use it). */
GENREP_API void genrep_aug_config_simclr(genrep_aug_config *cfg, int out_h, int out_w);
/* GENREP_ERR_ARG naming the field if cfg is unusable. */
GENREP_API genrep_status genrep_aug_config_check(const genrep_aug_config *cfg);

/* Draw the parameters of one view of an H x W image (cfg must pass
   genrep_aug_config_check). The draws come only from the Philox streams
   named by (seed, sample_index, view_index), as torchvision draws them:
   RandomResizedCrop.get_params (10 tries, then a centre crop of the closest
   allowed ratio; Python's round-half-even), then flip, jitter, the order of
   the four jitter ops, their factors, grayscale, blur, sigma. */
GENREP_API void genrep_aug_sample(genrep_aug_params *p, const genrep_aug_config *cfg, int H, int W,
                                  uint64_t seed, uint64_t sample_index, int view_index);

/* One view with given parameters: out (C, cfg->out_h, cfg->out_w) from
   in (C, H, W); no allocation, in and out must not overlap. */
GENREP_API genrep_status genrep_aug_apply(float *out, const float *in, int C, int H, int W,
                                          const genrep_aug_config *cfg, const genrep_aug_params *p);

/* out (N, C, cfg->out_h, cfg->out_w) = one augmented view of each image of
   in (N, C, H, W). Image n is sample first_sample_index + n; its view is a
   function of (seed, sample index, view_index) only, so the result is
   bitwise the same for any thread count or split of the batch. OpenMP over
   images; no allocation. */
GENREP_API genrep_status genrep_augment_batch(float *out, const float *in, int N, int C, int H, int W,
                                              const genrep_aug_config *cfg, uint64_t seed,
                                              uint64_t first_sample_index, int view_index);

/* The deterministic pieces, one (C, H, W) image each, torchvision's
   functional ops on float tensors. out == in (in place) is allowed except
   for resized_crop. Colour ops clamp to [0, 1] as torchvision does. */
/* out (C,out_h,out_w) = bilinear resize (align_corners=False, no antialias)
   of the box (top, left, h, w), which must lie inside the image. */
GENREP_API genrep_status genrep_aug_resized_crop(float *out, const float *in, int C, int H, int W,
                                                 int top, int left, int h, int w, int out_h, int out_w);
GENREP_API genrep_status genrep_aug_hflip(float *out, const float *in, int C, int H, int W);
GENREP_API genrep_status genrep_aug_adjust_brightness(float *out, const float *in, int C, int H, int W, float factor);
/* blends with the mean of the grayscale image (of the image itself if C = 1) */
GENREP_API genrep_status genrep_aug_adjust_contrast(float *out, const float *in, int C, int H, int W, float factor);
GENREP_API genrep_status genrep_aug_adjust_saturation(float *out, const float *in, int C, int H, int W, float factor);
/* hue shift in [-0.5, 0.5] (fraction of the colour circle), via HSV */
GENREP_API genrep_status genrep_aug_adjust_hue(float *out, const float *in, int C, int H, int W, float shift);
/* gray = 0.2989 R + 0.587 G + 0.114 B, written to all C channels */
GENREP_API genrep_status genrep_aug_grayscale(float *out, const float *in, int C, int H, int W);
/* separable Gaussian, odd kernel side, reflect padding (torchvision gaussian_blur) */
GENREP_API genrep_status genrep_aug_gaussian_blur(float *out, const float *in, int C, int H, int W,
                                                  int kernel, float sigma);
GENREP_API genrep_status genrep_aug_normalize(float *out, const float *in, int C, int H, int W,
                                              const float *mean, const float *std);

/* ----------------------------------------------------------------- [IDX] */
/* IDX files (LeCun's MNIST format; gzip or plain, read through zlib unless
   GENREP_NO_ZLIB, then plain only) and Fashion-MNIST. */

#define GENREP_IDX_MAX_DIMS  4
#define GENREP_IDX_MAX_BYTES ((int64_t)1 << 31)   /* bound on an IDX payload */

typedef struct {
    void   *data;                          /* host-endian values, genrep_alloc'd */
    int     type;                          /* IDX type code: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64 */
    int     elem_size;                     /* bytes per value */
    int     ndim;                          /* 1..GENREP_IDX_MAX_DIMS */
    int64_t dims[GENREP_IDX_MAX_DIMS];     /* unused dims are 1 */
    int64_t numel;
} genrep_idx;

/* A labelled image set: images (n, c, h, w) in [0, 1], labels (n) in [0, num_classes). */
typedef struct {
    float   *images;
    int32_t *labels;
    int64_t  n;
    int      c, h, w;
    int      num_classes;
} genrep_dataset;

/* Read a whole IDX file; validates the magic, dims (each >= 1, payload
   <= GENREP_IDX_MAX_BYTES), the length (no truncation, no trailing bytes).
   Errors: GENREP_ERR_IO (cannot open/read), GENREP_ERR_FORMAT, naming the file. */
GENREP_API genrep_status genrep_idx_read(genrep_idx *out, const char *path);
GENREP_API void          genrep_idx_free(genrep_idx *x);

/* The directory used when dir is NULL: $GENREP_FMNIST_DIR, else
   /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist). */
GENREP_API const char *genrep_fmnist_default_dir(void);
/* Load Fashion-MNIST's train (60000) or test (10000) split from
   dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]: images (N,1,28,28)
   in [0,1], labels 0..9. Checks magic numbers, 28x28 images, image and label
   counts agree, label range, file lengths; every error names the file. */
GENREP_API genrep_status genrep_fmnist_load(genrep_dataset *out, const char *dir, int train);
GENREP_API void          genrep_dataset_free(genrep_dataset *d);

/* --------------------------------------------------------------- [IMAGE] */
/* Image files through stb_image / stb_image_write (Debian libstb-dev).
   Opt-in: #define GENREP_IMAGE_IO before including genrep.h (in the
   implementation unit too) and link -lstb; the core needs no stb. */
#ifdef GENREP_IMAGE_IO
#define GENREP_IMAGE_MAX_SIDE 16384   /* larger files are refused before decoding */

/* Class-per-subfolder layout root/<class>/<image>: classes are the
   subfolders in byte order (label = rank), files with extensions
   png/jpg/jpeg/bmp/gif/tga/ppm/pgm in byte order; other files and names
   starting with '.' are skipped.
   Each image becomes C channels (1 gray or 3 RGB), bilinearly resized to
   out_h x out_w, values in [0,1]. A file that cannot be decoded or is too
   large is an error naming it. */
GENREP_API genrep_status genrep_imagefolder_load(genrep_dataset *out, const char *root, int C,
                                                 int out_h, int out_w);

/* PNG of a grid of rows x cols images, images (rows*cols, C, H, W), C = 1
   (gray PNG) or 3 (RGB), row-major (image r*cols + c at row r, column c),
   with pad pixels of value pad_value around and between the tiles. Values
   are x*std[c] + mean[c] when mean and std are non-NULL (undoing a
   normalisation), then clamped to [0,1] and rounded to 8 bits. */
GENREP_API genrep_status genrep_png_write_grid(const char *path, const float *images, int rows, int cols,
                                               int C, int H, int W, int pad, float pad_value,
                                               const float *mean, const float *std);
#endif
