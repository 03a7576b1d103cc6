/* trainer/cmd_embed.c: `genrep embed`, features of a folder of the user's
   images from a trained encoder, to CSV, and the nearest neighbours of a
   query image among them (what examples/05_embed.c does, for the CLI). */
#define _POSIX_C_SOURCE 200809L   /* scandir, fileno, fsync under -std=c11 */
#include "common.h"
#include "opt.h"
#include <dirent.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stb/stb_image_resize.h>   /* implementation from -lstb; decoding goes through genrep_image_load */

/* trained by `make repro` (P_gauss, seed 0), see weights/README.md; relative to the repository root */
#define EMBED_DEFAULT_ENCODER "weights/fmnist_encoder.safetensors"

typedef struct {
    const char *encoder, *images, *out, *query;
    int head, invert, k, batch, threads;
} embed_opts;

#define F(x) offsetof(embed_opts, x)
static const opt_spec embed_spec[] = {
    {"encoder", OPT_STR, F(encoder), EMBED_DEFAULT_ENCODER, 0, 0, NULL, "PATH", "RUN_DIR of `genrep train` (uses RUN_DIR/ckpt.safetensors), "
     "a checkpoint or an encoder file; the default is the shipped Fashion-MNIST encoder (weights/README.md)", 0},
    {"images", OPT_STR, F(images), NULL, 0, 0, NULL, "DIR", "folder of images", OPT_REQUIRED},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "FILE.csv", "output, replaced atomically", OPT_REQUIRED},
    {"head", OPT_BOOL, F(head), NULL, 0, 0, NULL, NULL, "write the L2-normalised projection-head output instead of the pooled "
     "features (the features are what `genrep probe` evaluates)", 0},
    {"invert", OPT_BOOL, F(invert), NULL, 0, 0, NULL, NULL, "use 1 - pixel: Fashion-MNIST is light objects on black, most "
     "photos and drawings are dark on white", 0},
    {"query", OPT_STR, F(query), NULL, 0, 0, NULL, "IMG", "print the images of DIR most similar (cosine) to IMG", 0},
    {"k", OPT_INT, F(k), "5", 1, 1000, NULL, "K", "how many neighbours to print", 0},
    {"batch", OPT_INT, F(batch), "64", 1, 4096, NULL, "N", "images per forward pass", 0},
    {"threads", OPT_INT, F(threads), NULL, 1, 1024, NULL, "T", "OpenMP threads (default OMP_NUM_THREADS / all cores)", 0},
};
#undef F
static const opt_table embed_table = {
    "embed", "[--encoder RUN_DIR_OR_FILE] --images DIR --out FILE.csv [flags]",
    "Embed every image under DIR (subfolders included, in byte order) with a trained\n"
    "encoder and write FILE.csv: a header, then one row per image: path,f0,f1,...\n"
    "Images are converted to the encoder's channels, resized to its input size\n"
    "(stb_image_resize) and normalised as in training; files that cannot be decoded\n"
    "are reported and skipped. Formats read: PNG and JPEG; files named .bmp .gif .tga\n"
    ".ppm .pgm .pnm .psd .hdr are listed so that each is reported as unsupported\n"
    "rather than silently ignored.\n",
    embed_spec, OPT_N(embed_spec)};

/* The image files under dir, recursively, sorted per directory. */
typedef struct { char **p; int n, cap; } path_list;

static int is_image_name(const char *name) {
    static const char *exts[] = {"png", "jpg", "jpeg", "bmp", "gif", "tga", "ppm", "pgm", "pnm", "psd", "hdr"};
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
        const char *a = dot + 1, *b = exts[e];
        while (*a && *b && (*a | 0x20) == *b) { a++; b++; }
        if (!*a && !*b) return 1;
    }
    return 0;
}

static int list_images(path_list *l, const char *dir, int depth) {
    struct dirent **ents;
    int m = scandir(dir, &ents, NULL, alphasort);
    if (m < 0) { fprintf(stderr, "genrep embed: cannot read directory %s\n", dir); return -1; }
    int rc = 0;
    for (int i = 0; i < m; i++) {
        const char *nm = ents[i]->d_name;
        char path[4096];
        struct stat sb;
        if (!rc && nm[0] != '.' && snprintf(path, sizeof path, "%s/%s", dir, nm) < (int)sizeof path
            && stat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode)) {
                if (depth < 16) rc = list_images(l, path, depth + 1);
            } else if (is_image_name(nm)) {
                if (l->n == l->cap) {
                    int nc = l->cap ? 2 * l->cap : 256;
                    char **np = (char **)realloc(l->p, sizeof(char *) * (size_t)nc);
                    if (!np) rc = -1; else { l->p = np; l->cap = nc; }
                }
                if (!rc && !(l->p[l->n++] = strdup(path))) rc = -1;
            }
        }
        free(ents[i]);
    }
    free(ents);
    if (rc) fprintf(stderr, "genrep embed: out of memory listing %s\n", dir);
    return rc;
}

/* x (C,H,W) = the image at path, C channels, resized to H x W, mapped to
   (v - 0.5) / 0.5 like the training inputs (1 - v first with invert).
   0, or -1 after printing why the file is skipped. */
static int load_image(float *x, const char *path, int C, int H, int W, int invert) {
    int w, h;
    unsigned char *px = NULL, *rs = NULL;
    /* the library's guard: regular files, PNG/JPEG by magic bytes, size and pixel caps, structure checks */
    if (genrep_image_load(&px, &w, &h, path, C)) {
        fprintf(stderr, "genrep embed: skipping %s: %s\n", path, genrep_last_error());
        return -1;
    }
    if (w != W || h != H) {
        rs = (unsigned char *)malloc((size_t)W * H * C);
        if (!rs || !stbir_resize_uint8(px, w, h, 0, rs, W, H, 0, C)) {
            fprintf(stderr, "genrep embed: skipping %s: cannot resize %dx%d to %dx%d\n", path, w, h, W, H);
            free(rs); genrep_image_free(px);
            return -1;
        }
    }
    const unsigned char *p = rs ? rs : px;
    for (int c = 0; c < C; c++)
        for (size_t i = 0; i < (size_t)H * W; i++) {
            float v = p[i * C + c] / 255.0f;
            x[(size_t)c * H * W + i] = ((invert ? 1.0f - v : v) - 0.5f) / 0.5f;
        }
    free(rs);
    genrep_image_free(px);
    return 0;
}

/* CSV field: quoted (RFC 4180) when it holds a comma, quote or line break. */
static void csv_path(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) { if (*s == '"') fputc('"', f); fputc(*s, f); }
    fputc('"', f);
}

/* Embed the images of batch (nb of them, already in x); rows of out are D wide. */
static genrep_status embed_batch(genrep_encoder *e, const float *x, int nb, int head, float *out, int D) {
    if (!head) return genrep_encoder_features(out, e, x, nb);
    genrep_status s = genrep_encoder_forward(e, x, nb, 0);
    if (!s) memcpy(out, e->out, sizeof(float) * (size_t)nb * D);
    return s;
}

static int embed_parse(embed_opts *o, int argc, char **argv) {
    int r = opt_parse(&embed_table, o, NULL, argc, argv);
    if (r) return r;
    const char *flag[4] = {"--encoder", "--images", "--out", "--query"}, *v[4] = {o->encoder, o->images, o->out, o->query};
    for (int i = 0; i < 4; i++)
        if (v[i] && !*v[i]) { fprintf(stderr, "genrep embed: %s: empty value\n", flag[i]); return -1; }
    return 0;
}

/* --encoder: a run directory (its ckpt.safetensors) or a file; 0 or -1. */
static int resolve_ckpt(char *ckpt, size_t n, const char *arg) {
    struct stat sb;
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode)) snprintf(ckpt, n, "%s/ckpt.safetensors", arg);
    else snprintf(ckpt, n, "%s", arg);
    if (file_exists(ckpt)) return 0;
    if (!strcmp(arg, EMBED_DEFAULT_ENCODER))
        fprintf(stderr, "genrep embed: the shipped encoder %s is not here: run genrep from the repository root, or "
                "give --encoder (a run directory of `genrep train` or its ckpt.safetensors)\n", ckpt);
    else
        fprintf(stderr, "genrep embed: --encoder: %s does not exist (give a run directory of `genrep train` or its "
                "ckpt.safetensors)\n", ckpt);
    return -1;
}

/* The features (or head outputs) of each readable file of l: rows of feat,
   D wide, and as CSV rows in f; row_file maps rows to l. Returns the number of
   rows, or -1 after a message. */
static int embed_files(FILE *f, float *feat, int *row_file, genrep_encoder *e, const path_list *l, const embed_opts *o,
                       int D, int *skipped) {
    const int C = e->cfg.in_channels, H = e->cfg.in_h, W = e->cfg.in_w;
    const size_t chw = (size_t)C * H * W;
    float *x = (float *)xmalloc(sizeof(float) * chw * (size_t)o->batch, "image batch");
    int kept = 0, rc = 0;
    fprintf(f, "path");
    for (int j = 0; j < D; j++) fprintf(f, ",f%d", j);
    fputc('\n', f);
    /* Decode a batch of readable files, embed them in one forward, write rows. */
    for (int i0 = 0; i0 < l->n && !rc;) {
        int nb = 0, idx[4096];
        for (; i0 < l->n && nb < o->batch; i0++) {
            if (load_image(x + (size_t)nb * chw, l->p[i0], C, H, W, o->invert)) { (*skipped)++; continue; }
            idx[nb++] = i0;
        }
        if (!nb) continue;
        genrep_status s = embed_batch(e, x, nb, o->head, feat + (size_t)kept * D, D);
        if (s) { report_status("embed", "encoder", s); rc = -1; break; }
        for (int b = 0; b < nb; b++) {
            const float *r = feat + (size_t)(kept + b) * D;
            csv_path(f, l->p[idx[b]]);
            for (int j = 0; j < D; j++) fprintf(f, ",%.7g", r[j]);
            fputc('\n', f);
            row_file[kept + b] = idx[b];
        }
        kept += nb;
    }
    free(x);
    return rc ? -1 : kept;
}

/* Print the k rows of feat (kept of them) most similar to the query image. */
static int print_neighbours(genrep_encoder *e, float *feat, int kept, const int *row_file, const path_list *l,
                            const embed_opts *o, int D) {
    const int C = e->cfg.in_channels, H = e->cfg.in_h, W = e->cfg.in_w;
    float *q = feat + (size_t)kept * D;
    float *x = (float *)xmalloc(sizeof(float) * (size_t)C * H * W, "query image");
    genrep_status s = GENREP_OK;
    int rc = 0;
    if (load_image(x, o->query, C, H, W, o->invert)) { fprintf(stderr, "genrep embed: --query %s cannot be read\n", o->query); rc = 1; }
    else if ((s = embed_batch(e, x, 1, o->head, q, D))) { report_status("embed", o->query, s); rc = 1; }
    free(x);
    if (rc) return rc;
    float *sim = (float *)xmalloc(sizeof(float) * (size_t)(kept ? kept : 1), "similarities");
    for (int i = 0; i < kept; i++) {
        double dot = 0, na = 0, nq = 0;
        for (int j = 0; j < D; j++) {
            double a = feat[(size_t)i * D + j];
            dot += a * q[j]; na += a * a; nq += (double)q[j] * q[j];
        }
        sim[i] = (float)(dot / (sqrt(na * nq) + 1e-30));
    }
    printf("nearest to %s (cosine similarity):\n", o->query);
    for (int r = 0; r < o->k && r < kept; r++) {
        int best = 0;
        for (int i = 1; i < kept; i++) if (sim[i] > sim[best]) best = i;
        printf("  %2d  %.4f  %s\n", r + 1, sim[best], l->p[row_file[best]]);
        sim[best] = -INFINITY;
    }
    free(sim);
    return 0;
}

int genrep_cmd_embed(int argc, char **argv) {
    embed_opts o;
    int pr = embed_parse(&o, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    if (o.threads) genrep_set_num_threads(o.threads);
    char ckpt[4200];
    if (resolve_ckpt(ckpt, sizeof ckpt, o.encoder)) return 1;
    genrep_encoder e;
    if (load_encoder("embed", ckpt, &e, o.batch)) return 1;
    const int C = e.cfg.in_channels, H = e.cfg.in_h, W = e.cfg.in_w, D = o.head ? e.out_dim : e.feat_dim;
    if (C != 1 && C != 3) {
        fprintf(stderr, "genrep embed: %s takes %d-channel images; only 1 (gray) or 3 (RGB) can be read\n", ckpt, C);
        genrep_encoder_free(&e); return 1;
    }
    if (o.query) { /* a bad --query must fail before anything is written */
        float *qx = (float *)xmalloc(sizeof(float) * (size_t)C * H * W, "query image");
        int bad = load_image(qx, o.query, C, H, W, o.invert);
        free(qx);
        if (bad) {
            fprintf(stderr, "genrep embed: --query %s cannot be read; nothing written\n", o.query);
            genrep_encoder_free(&e); return 1;
        }
    }
    path_list l = {NULL, 0, 0};
    if (list_images(&l, o.images, 0)) { genrep_encoder_free(&e); return 1; }
    if (l.n == 0) fprintf(stderr, "genrep embed: no image files under %s\n", o.images);
    float *feat = (float *)xmalloc(sizeof(float) * (size_t)D * (size_t)(l.n + 1), "features");
    int *row_file = (int *)xmalloc(sizeof(int) * (size_t)(l.n + 1), "rows");
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", o.out, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = 0, kept = 0, skipped = 0, opened = f != NULL;
    if (!f) { fprintf(stderr, "genrep embed: cannot write %s\n", tmp); rc = 1; }
    double t0 = now_seconds();
    if (!rc && (kept = embed_files(f, feat, row_file, &e, &l, &o, D, &skipped)) < 0) rc = 1;
    if (!rc && kept == 0) { fprintf(stderr, "genrep embed: no image could be read; %s left as it was\n", o.out); rc = 1; }
    /* Replace out only once the whole file is on disk. */
    if (f) {
        int bad = ferror(f) || fflush(f) || fsync(fileno(f));
        bad |= fclose(f);
        if (!rc && (bad || rename(tmp, o.out))) { fprintf(stderr, "genrep embed: cannot write %s\n", o.out); rc = 1; }
        if (rc) unlink(tmp);
    }
    if (!rc)
        printf("genrep embed: wrote %s: %d images x %d %s in %.1fs\n", o.out, kept, D,
               o.head ? "head outputs" : "features", now_seconds() - t0);
    if (!rc && o.query) rc = print_neighbours(&e, feat, kept, row_file, &l, &o, D);
    if (opened) printf("genrep embed: %d file%s skipped\n", skipped, skipped == 1 ? "" : "s");
    for (int i = 0; i < l.n; i++) free(l.p[i]);
    free(l.p); free(feat); free(row_file);
    genrep_encoder_free(&e);
    return rc;
}
