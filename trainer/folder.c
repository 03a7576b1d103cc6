/* trainer/folder.c: image folders as data; see folder.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fdopen under -std=c11 */
#endif
#include "folder.h"
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = (char *)xmalloc(n, "a path");
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* Entries of dir (no '.'-names), sorted; dirs[] get sub-folders, files[] regular
   files (symlinks followed). Returns -1 if dir cannot be opened. */
static int list_dir(const char *dir, char ***dirs, int *nd, char ***files, int *nf) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    *dirs = NULL; *files = NULL; *nd = *nf = 0;
    int cd = 0, cf = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = join(dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb)) { free(p); continue; } /* a dangling link: named below as unreadable only if it looks like an image */
        if (S_ISDIR(sb.st_mode)) {
            if (*nd == cd) *dirs = (char **)xrealloc(*dirs, sizeof(char *) * (size_t)(cd = cd ? 2 * cd : 16), "folder listing");
            (*dirs)[(*nd)++] = strdup(e->d_name);
        } else {
            if (*nf == cf) *files = (char **)xrealloc(*files, sizeof(char *) * (size_t)(cf = cf ? 2 * cf : 64), "folder listing");
            (*files)[(*nf)++] = strdup(e->d_name);
        }
        free(p);
    }
    closedir(d);
    if (*nd) qsort(*dirs, (size_t)*nd, sizeof(char *), cmp_str);
    if (*nf) qsort(*files, (size_t)*nf, sizeof(char *), cmp_str);
    return 0;
}

static void free_list(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Append dir's image files to f with label; returns how many non-image files were ignored. */
static int add_images(folder_t *f, int *cap, const char *dir, char **names, int n, int label) {
    int ignored = 0;
    for (int i = 0; i < n; i++) {
        if (!is_image_name(names[i])) { ignored++; continue; }
        if (f->n == *cap) {
            *cap = *cap ? 2 * *cap : 256;
            f->files = (char **)xrealloc(f->files, sizeof(char *) * (size_t)*cap, "folder listing");
            f->labels = (int32_t *)xrealloc(f->labels, sizeof(int32_t) * (size_t)*cap, "folder labels");
        }
        f->files[f->n] = join(dir, names[i]);
        f->labels[f->n++] = label;
    }
    return ignored;
}

int folder_scan(folder_t *f, const char *root, const char *who) {
    memset(f, 0, sizeof *f);
    char **dirs, **files;
    int nd, nf, cap = 0, ignored = 0;
    struct stat sb;
    if (stat(root, &sb) || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "genrep %s: folder %s: %s\n", who, root, stat(root, &sb) ? strerror(errno) : "not a directory");
        return -1;
    }
    if (list_dir(root, &dirs, &nd, &files, &nf)) {
        fprintf(stderr, "genrep %s: folder %s: cannot list it: %s\n", who, root, strerror(errno));
        return -1;
    }
    f->root = strdup(root);
    if (nd == 0) { /* flat: unlabelled */
        f->flat = 1;
        ignored = add_images(f, &cap, root, files, nf, 0);
    } else {
        for (int i = 0; i < nf; i++)
            if (is_image_name(files[i])) {
                fprintf(stderr, "genrep %s: folder %s has class sub-folders (%s ...) and images beside them (%s): put every image "
                        "in its class folder, or use a folder without sub-folders for unlabelled images\n", who, root, dirs[0], files[i]);
                free_list(dirs, nd); free_list(files, nf); folder_free(f);
                return -1;
            }
        ignored = nf;
        f->n_classes = nd;
        f->classes = dirs;
        dirs = NULL; nd = 0;
        for (int c = 0; c < f->n_classes; c++) {
            char *cd = join(root, f->classes[c]), **sub, **subf;
            int nsd, nsf, before = f->n;
            if (list_dir(cd, &sub, &nsd, &subf, &nsf)) {
                fprintf(stderr, "genrep %s: class folder %s: cannot list it: %s\n", who, cd, strerror(errno));
                free(cd); free_list(files, nf); folder_free(f);
                return -1;
            }
            ignored += add_images(f, &cap, cd, subf, nsf, c) + nsd;
            free_list(sub, nsd); free_list(subf, nsf);
            if (f->n == before) {
                fprintf(stderr, "genrep %s: class folder %s holds no .png/.jpg/.jpeg image (every class needs at least one)\n", who, cd);
                free(cd); free_list(files, nf); folder_free(f);
                return -1;
            }
            free(cd);
        }
    }
    free_list(dirs, nd); free_list(files, nf);
    if (f->n == 0) {
        fprintf(stderr, "genrep %s: folder %s holds no .png/.jpg/.jpeg image (expected %s/<class>/<image>.png, or %s/<image>.png "
                "for unlabelled images)\n", who, root, root, root);
        folder_free(f);
        return -1;
    }
    if (ignored)
        fprintf(stderr, "genrep %s: folder %s: %d entries that are not .png/.jpg/.jpeg files (or are nested folders) ignored\n",
                who, root, ignored);
    return 0;
}

void folder_free(folder_t *f) {
    for (int i = 0; i < f->n; i++) free(f->files[i]);
    free(f->files); free(f->labels);
    free_list(f->classes, f->n_classes);
    free(f->root);
    memset(f, 0, sizeof *f);
}

int folder_image(float *out, const folder_t *f, int i, const folder_shape *sh, char *err, size_t nerr) {
    unsigned char *px;
    int w, h;
    genrep_status s = genrep_image_load(&px, &w, &h, f->files[i], sh->C);
    if (s) { snprintf(err, nerr, "%s", genrep_last_error()); return -1; }
    const int C = sh->C, other = h != sh->H || w != sh->W;
    const int S = sh->size ? sh->size : sh->fit && other && sh->H == sh->W ? sh->H : 0;
    if (!S && other) {
        snprintf(err, nerr, "%s is %dx%d, but the folder's first image is %dx%d: images of one folder must share one size "
                 "(without --size), or give --size S to centre-crop and resize each to SxS", f->files[i], w, h, sh->W, sh->H);
        genrep_image_free(px);
        return -2;
    }
    float *planar = (float *)xmalloc(sizeof(float) * (size_t)C * h * w, "an image");
    for (int c = 0; c < C; c++)
        for (size_t p = 0; p < (size_t)h * w; p++) planar[(size_t)c * h * w + p] = px[p * C + c] / 255.0f;
    genrep_image_free(px);
    if (!S) {
        memcpy(out, planar, sizeof(float) * (size_t)C * h * w);
    } else { /* centre square of the shorter side, resized to S x S */
        int side = h < w ? h : w;
        s = genrep_aug_resized_crop(out, planar, C, h, w, (h - side) / 2, (w - side) / 2, side, side, S, S);
        if (s) { snprintf(err, nerr, "%s: resize: %s", f->files[i], genrep_last_error()); free(planar); return -1; }
    }
    free(planar);
    return 0;
}

int folder_shape_init(folder_shape *sh, const folder_t *f, const char *who) {
    if (sh->size) { sh->H = sh->W = sh->size; return 0; }
    char first_err[1024] = "";
    for (int i = 0; i < f->n; i++) {
        unsigned char *px;
        int w, h;
        if (genrep_image_load(&px, &w, &h, f->files[i], sh->C)) { /* named later, with the others */
            if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", genrep_last_error());
            continue;
        }
        genrep_image_free(px);
        sh->H = h; sh->W = w;
        return 0;
    }
    fprintf(stderr, "genrep %s: no file of folder %s can be read as PNG/JPEG (first: %s)\n", who, f->root, first_err);
    return -1;
}

int folder_report_bad(const char *who, const folder_t *f, int n_bad, char **bad_why, int skip_bad) {
    if (!n_bad) return 0;
    fprintf(stderr, "genrep %s: %d of %d files of %s cannot be read%s:\n", who, n_bad, f->n, f->root,
            skip_bad ? " and are left out (--skip-bad)" : "");
    for (int i = 0; i < n_bad; i++) fprintf(stderr, "  %s\n", bad_why[i]);
    if (!skip_bad)
        fprintf(stderr, "genrep %s: fix or remove them, or give --skip-bad to go on with the other %d\n", who, f->n - n_bad);
    return skip_bad ? 0 : -1;
}

/* ---- the uint8 cache ---- */

#define CACHE_KEY 512
typedef struct { char magic[4]; uint32_t version, n, C, H, W, n_classes, n_bad; char key[CACHE_KEY]; } cache_head;

/* root, shape, count and an FNV-1a hash of every file's name, size and mtime */
static void cache_key(char *key, const folder_t *f, const folder_shape *sh) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < f->n; i++) {
        struct stat sb;
        long long v[3] = {0, 0, f->labels[i]};
        if (!stat(f->files[i], &sb)) { v[0] = (long long)sb.st_size; v[1] = (long long)sb.st_mtime; }
        for (const char *p = f->files[i]; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
        for (size_t b = 0; b < sizeof v; b++) h = (h ^ ((unsigned char *)v)[b]) * 1099511628211ull;
    }
    snprintf(key, CACHE_KEY, "v1 C=%d H=%d W=%d size=%d n=%d files=%016llx root=%.400s", sh->C, sh->H, sh->W, sh->size, f->n,
             (unsigned long long)h, f->root);
}

/* Map path if it is the cache of key: header, shape (C,H,W as sh), count
   (n <= f->n), exact file size and labels checked, so a damaged or foreign
   file is rebuilt, never read out of bounds. */
static int cache_map(folder_cache *c, const char *path, const char *key, const folder_t *f, const folder_shape *sh) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    struct stat sb;
    cache_head hd;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || (size_t)sb.st_size < sizeof hd || read(fd, &hd, sizeof hd) != (ssize_t)sizeof hd
        || memcmp(hd.magic, "GRIC", 4) || hd.version != 1 || strncmp(hd.key, key, CACHE_KEY) || hd.C != (uint32_t)sh->C
        || hd.H != (uint32_t)sh->H || hd.W != (uint32_t)sh->W || hd.n > (uint32_t)f->n || hd.n_classes != (uint32_t)f->n_classes) {
        close(fd);
        return -1;
    }
    size_t img = (size_t)hd.C * hd.H * hd.W, want = sizeof hd + sizeof(int32_t) * hd.n + img * hd.n;
    if ((size_t)sb.st_size != want) { close(fd); return -1; }
    void *m = mmap(NULL, want, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return -1;
    c->map = m; c->map_len = want;
    c->n = (int)hd.n; c->C = (int)hd.C; c->H = (int)hd.H; c->W = (int)hd.W;
    c->n_classes = (int)hd.n_classes; c->n_bad = (int)hd.n_bad;
    c->labels = (const int32_t *)((const char *)m + sizeof hd);
    c->px = (const unsigned char *)m + sizeof hd + sizeof(int32_t) * hd.n;
    for (int i = 0; i < c->n; i++)
        if (c->labels[i] < 0 || (c->n_classes && c->labels[i] >= c->n_classes)) { folder_cache_close(c); return -1; }
    return 0;
}

int folder_cache_open(folder_cache *c, const char *path, const folder_t *f, const folder_shape *sh, int skip_bad,
                      const char *who) {
    memset(c, 0, sizeof *c);
    cache_head hd;
    memset(&hd, 0, sizeof hd);
    cache_key(hd.key, f, sh);
    if (!cache_map(c, path, hd.key, f, sh)) {
        if (c->n_bad)
            fprintf(stderr, "genrep %s: %s: %d unreadable file(s) of %s were left out when this cache was built (--skip-bad)\n",
                    who, path, c->n_bad, f->root);
        return 0;
    }
    /* build: one pass, one image in memory; labels first (known), pixels streamed, then the header rewritten */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *out = fopen(tmp, "w+b"); /* read back when unreadable files leave label slots to close up */
    if (!out) { fprintf(stderr, "genrep %s: cannot write %s: %s\n", who, tmp, strerror(errno)); return -1; }
    const size_t img = (size_t)sh->C * sh->H * sh->W;
    float *x = (float *)xmalloc(sizeof(float) * img, "an image");
    unsigned char *u = (unsigned char *)xmalloc(img, "an image");
    char **bad = NULL, err[1024];
    int n_bad = 0, ok = 1, n = 0;
    int32_t *labels = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)f->n, "labels");
    /* the label block has room for all files; it is rewritten with the kept ones (and the file cut) at the end */
    ok = fwrite(&hd, sizeof hd, 1, out) == 1 && fwrite(f->labels, sizeof(int32_t), (size_t)f->n, out) == (size_t)f->n;
    fprintf(stderr, "genrep %s: decoding %d images of %s into %s ...\n", who, f->n, f->root, path);
    for (int i = 0; ok && i < f->n; i++) {
        int r = folder_image(x, f, i, sh, err, sizeof err);
        if (r == -2) { fprintf(stderr, "genrep %s: %s\n", who, err); ok = 0; break; }
        if (r) {
            bad = (char **)xrealloc(bad, sizeof(char *) * (size_t)(n_bad + 1), "unreadable files");
            bad[n_bad++] = strdup(err);
            continue;
        }
        for (size_t p = 0; p < img; p++) {
            float v = x[p] * 255.0f + 0.5f;
            u[p] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        labels[n++] = f->labels[i];
        ok = fwrite(u, 1, img, out) == img;
        if (!ok) fprintf(stderr, "genrep %s: cannot write %s: %s\n", who, tmp, strerror(errno));
    }
    if (ok && (folder_report_bad(who, f, n_bad, bad, skip_bad) || n == 0)) {
        if (n == 0 && skip_bad) fprintf(stderr, "genrep %s: no readable image left in %s\n", who, f->root);
        ok = 0;
    }
    if (ok) { /* move the pixels up over the unused label slots, then the header */
        memcpy(hd.magic, "GRIC", 4);
        hd.version = 1; hd.n = (uint32_t)n; hd.C = (uint32_t)sh->C; hd.H = (uint32_t)sh->H; hd.W = (uint32_t)sh->W;
        hd.n_classes = (uint32_t)f->n_classes; hd.n_bad = (uint32_t)n_bad;
        ok = fflush(out) == 0;
        if (ok && n_bad) {
            int fd = fileno(out);
            off_t from = (off_t)(sizeof hd + sizeof(int32_t) * (size_t)f->n), to = (off_t)(sizeof hd + sizeof(int32_t) * (size_t)n);
            for (int i = 0; ok && i < n; i++)
                ok = pread(fd, u, img, from + (off_t)(i * img)) == (ssize_t)img && pwrite(fd, u, img, to + (off_t)(i * img)) == (ssize_t)img;
            ok = ok && ftruncate(fd, to + (off_t)((size_t)n * img)) == 0;
        }
        ok = ok && fseek(out, 0, SEEK_SET) == 0 && fwrite(&hd, sizeof hd, 1, out) == 1
             && fwrite(labels, sizeof(int32_t), (size_t)n, out) == (size_t)n && fflush(out) == 0 && fsync(fileno(out)) == 0;
        if (!ok) fprintf(stderr, "genrep %s: cannot write %s: %s\n", who, tmp, strerror(errno));
    }
    if (fclose(out)) ok = 0;
    if (ok && rename(tmp, path)) { fprintf(stderr, "genrep %s: cannot rename %s: %s\n", who, tmp, strerror(errno)); ok = 0; }
    if (!ok) unlink(tmp);
    for (int i = 0; i < n_bad; i++) free(bad[i]);
    free(bad); free(x); free(u); free(labels);
    if (!ok) return -1;
    if (cache_map(c, path, hd.key, f, sh)) { fprintf(stderr, "genrep %s: cannot map %s after writing it\n", who, path); return -1; }
    return 0;
}

void folder_cache_close(folder_cache *c) {
    if (c->map) munmap(c->map, c->map_len);
    memset(c, 0, sizeof *c);
}
