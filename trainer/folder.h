/* trainer/folder.h: image folders as data (--data folder:DIR, --probe-train DIR).

   Layout (torchvision's ImageFolder): DIR/<class>/<image> with one
   sub-folder per class (labels = rank of the folder name in byte order),
   or DIR/<image> with no sub-folders (unlabelled). Images are .png, .jpg
   or .jpeg files (other files are counted and ignored, names starting with
   '.' skipped), each decoded through genrep.h's guard (genrep_image_load:
   regular files only, PNG/JPEG magic, size limits) into C = 1 or 3 channels.

   Size rule: with size 0 every image must have the first image's size
   (mixed sizes are an error naming both files); with size S each image is
   centre-cropped to a square of its shorter side and bilinearly resized to
   S x S.

   Unreadable files (corrupt, not PNG/JPEG inside, over a limit) are counted
   and each is named with its reason; without skip_bad any is an error, with
   skip_bad the others are used. Nothing is dropped silently. */
#ifndef GENREP_TRAINER_FOLDER_H
#define GENREP_TRAINER_FOLDER_H
#include "trainer.h"
#include <stddef.h>

typedef struct {
    char    *root;
    char   **files;       /* n paths, class by class, each in byte order */
    int32_t *labels;      /* n class ranks (0 when flat) */
    int      n, n_classes, flat;
    char   **classes;     /* n_classes folder names (none when flat) */
} folder_t;

/* List DIR. Prints "genrep WHO: ..." and returns -1 for a missing folder,
   no images, an empty class folder, or images beside class folders. */
int  folder_scan(folder_t *f, const char *root, const char *who);
void folder_free(folder_t *f);

/* What every image becomes: C channels, H x W; size = S to crop/resize,
   0 to require one common size; fit = 1 (an encoder's square input H = W):
   images of another size are centre-cropped and resized to H x H. */
typedef struct { int C, H, W, size, fit; } folder_shape;

/* sh->H, sh->W from the first readable image when sh->size is 0 (else S x S).
   -1 with a message if no image can be read. */
int folder_shape_init(folder_shape *sh, const folder_t *f, const char *who);

/* Image i of f as (C,H,W) floats in [0,1]. 0 on success; -1 (unreadable,
   reason in err) or -2 (another size than the rule allows, reason in err). */
int folder_image(float *out, const folder_t *f, int i, const folder_shape *sh, char *err, size_t nerr);

/* Report the unreadable files (names and reasons, one a line); returns -1
   unless skip_bad (then 0). bad_names/bad_why hold n_bad entries. */
int folder_report_bad(const char *who, const folder_t *f, int n_bad, char **bad_why, int skip_bad);

/* A decoded uint8 cache of a folder (training data larger than memory):
   "GRIC", u32 version 1, u32 n, C, H, W, n_classes, n_bad, char key[512]
   (root, shape and the files' sizes and times), int32 labels[n], then
   n*C*H*W bytes (image-major, planar). Built in one streaming pass (one
   image in memory at a time), written atomically, memory-mapped for
   reading; one made from other files or settings is rebuilt. */
typedef struct {
    int n, C, H, W, n_classes, n_bad;
    const int32_t *labels;
    const unsigned char *px;
    void  *map;
    size_t map_len;
} folder_cache;

/* Open path as the cache of f with shape sh, (re)building it when it is
   missing or stale. -1 with messages on failure (unreadable files without
   skip_bad, mixed sizes, I/O). */
int  folder_cache_open(folder_cache *c, const char *path, const folder_t *f, const folder_shape *sh, int skip_bad,
                       const char *who);
void folder_cache_close(folder_cache *c);
#endif
