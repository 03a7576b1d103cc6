/* Data: IDX / Fashion-MNIST loader (error cases on hand-made files, the real
   Debian files when installed), image folders, PNG grids. */
#define _DEFAULT_SOURCE /* mkdtemp, setenv */
#define GENREP_IMAGE_IO
#include "genrep.h"
#include "testutil.h"
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/genrep_test_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}
static void remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* Write bytes to path, gzip-compressed (gz = 1) or plain. */
static void write_file(const char *path, const unsigned char *b, size_t n, int gz) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        if (n) ck_assert_int_eq(gzwrite(f, b, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(b, 1, n, f), n);
        fclose(f);
    }
}

static void put_be32(unsigned char *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

/* An IDX image file of n images h x w (pixel = (i*7 + k) & 255) with
   `extra` bytes appended (extra < 0 cuts bytes off the end). */
static size_t idx_images(unsigned char *buf, int n, int h, int w, int magic_type, int extra) {
    put_be32(buf, 0x00000003u | (uint32_t)magic_type << 8);
    put_be32(buf + 4, n); put_be32(buf + 8, h); put_be32(buf + 12, w);
    size_t len = 16 + (size_t)n * h * w;
    for (size_t k = 16; k < len + (extra > 0 ? extra : 0); k++) buf[k] = (unsigned char)((k - 16) * 7 + (k - 16) / 784);
    return (size_t)((long)len + extra);
}
static size_t idx_labels(unsigned char *buf, int n, int bad_at) {
    put_be32(buf, 0x00000801u); put_be32(buf + 4, n);
    for (int i = 0; i < n; i++) buf[8 + i] = (unsigned char)(i == bad_at ? 10 : i % 10);
    return 8 + (size_t)n;
}

static unsigned char big[16 + 20 * 784 + 64];

/* A consistent little split: 12 images, labels i % 10. */
static void write_split(const char *dir, const char *prefix, int gz) {
    char p[512];
    unsigned char lb[64];
    size_t n = idx_images(big, 12, 28, 28, 0x08, 0);
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", dir, prefix, gz ? ".gz" : "");
    write_file(p, big, n, gz);
    n = idx_labels(lb, 12, -1);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", dir, prefix, gz ? ".gz" : "");
    write_file(p, lb, n, gz);
}

/* load must fail with status st and a message containing both needles */
#define EXPECT_FAIL(dir, train, st, needle1, needle2) do { \
        genrep_dataset d_; \
        genrep_status s_ = genrep_fmnist_load(&d_, (dir), (train)); \
        ck_assert_msg(s_ == (st), "status %s (%s), want %s", genrep_status_str(s_), genrep_last_error(), genrep_status_str(st)); \
        ck_assert_msg(strstr(genrep_last_error(), (needle1)) != NULL, "message '%s' lacks '%s'", genrep_last_error(), (needle1)); \
        ck_assert_msg(strstr(genrep_last_error(), (needle2)) != NULL, "message '%s' lacks '%s'", genrep_last_error(), (needle2)); \
        ck_assert_ptr_null(d_.images); \
    } while (0)

START_TEST(fmnist_small_ok_gz_and_plain) {
    for (int gz = 0; gz <= 1; gz++) {
        char dir[300];
        snprintf(dir, sizeof dir, "%s/ok%d", tmpdir, gz);
        mkdir(dir, 0755);
        write_split(dir, "t10k", gz);
        genrep_dataset d;
        ck_assert_msg(genrep_fmnist_load(&d, dir, 0) == GENREP_OK, "%s", genrep_last_error());
        ck_assert_int_eq(d.n, 12);
        ck_assert(d.c == 1 && d.h == 28 && d.w == 28 && d.num_classes == 10);
        for (int i = 0; i < 12; i++) ck_assert_int_eq(d.labels[i], i % 10);
        for (int k = 0; k < 12 * 784; k++)
            ck_assert_float_eq(d.images[k], (float)(unsigned char)(k * 7 + k / 784) / 255.0f);
        genrep_dataset_free(&d);
        ck_assert_ptr_null(d.images);
    }
}
END_TEST

START_TEST(fmnist_missing_file) {
    char dir[300], want[400];
    snprintf(dir, sizeof dir, "%s/missing", tmpdir);
    mkdir(dir, 0755);
    snprintf(want, sizeof want, "%s/train-images-idx3-ubyte.gz", dir);
    EXPECT_FAIL(dir, 1, GENREP_ERR_IO, want, "cannot open");
    /* images there, labels missing */
    write_split(dir, "train", 1);
    char lp[400];
    snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte.gz", dir);
    ck_assert_int_eq(unlink(lp), 0);
    EXPECT_FAIL(dir, 1, GENREP_ERR_IO, lp, "No such file");
}
END_TEST

START_TEST(fmnist_truncated_and_trailing) {
    char dir[300], ip[400];
    snprintf(dir, sizeof dir, "%s/trunc", tmpdir);
    mkdir(dir, 0755);
    write_split(dir, "train", 1);
    snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte.gz", dir);
    /* IDX payload one image short */
    write_file(ip, big, idx_images(big, 12, 28, 28, 0x08, -784), 1);
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, ip, "truncated");
    /* header cut in the middle */
    write_file(ip, big, 10, 1);
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, ip, "truncated");
    /* trailing bytes */
    write_file(ip, big, idx_images(big, 12, 28, 28, 0x08, 5), 1);
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, ip, "trailing");
    /* empty file */
    write_file(ip, big, 0, 0);
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, ip, "truncated");
    /* a gzip stream cut in half */
    size_t n = idx_images(big, 12, 28, 28, 0x08, 0);
    uLongf clen = compressBound(n) + 64;
    unsigned char *cbuf = (unsigned char *)malloc(clen);
    write_file(ip, big, n, 1);
    FILE *f = fopen(ip, "rb");
    size_t got = fread(cbuf, 1, clen, f);
    fclose(f);
    write_file(ip, cbuf, got / 2, 0);
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, ip, "truncated");
    /* all data there, but the gzip trailer (CRC, length) cut off */
    write_file(ip, cbuf, got - 6, 0);
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, ip, "truncated gzip");
    /* corrupt gzip: bytes flipped inside the deflate stream */
    for (size_t k = got / 3; k < got / 3 + 8; k++) cbuf[k] ^= 0x5a;
    write_file(ip, cbuf, got, 0);
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, ip, "corrupt");
    for (size_t k = got / 3; k < got / 3 + 8; k++) cbuf[k] ^= 0x5a;
    /* a wrong CRC in the trailer */
    cbuf[got - 7] ^= 1;
    write_file(ip, cbuf, got, 0);
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, ip, "corrupt");
    free(cbuf);
}
END_TEST

START_TEST(fmnist_bad_magic_and_dims) {
    char dir[300], ip[400], lp[400];
    snprintf(dir, sizeof dir, "%s/magic", tmpdir);
    mkdir(dir, 0755);
    write_split(dir, "t10k", 1);
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte.gz", dir);
    /* first bytes not zero: not an IDX file at all */
    size_t n = idx_images(big, 12, 28, 28, 0x08, 0);
    big[0] = 0x1f;
    write_file(ip, big, n, 1);
    EXPECT_FAIL(dir, 0, GENREP_ERR_FORMAT, ip, "magic");
    /* unknown type code 0x07 */
    write_file(ip, big, idx_images(big, 12, 28, 28, 0x07, 0), 1);
    EXPECT_FAIL(dir, 0, GENREP_ERR_FORMAT, ip, "magic");
    /* a valid IDX of the wrong kind: the labels file where images belong */
    unsigned char lb[64];
    write_file(ip, lb, idx_labels(lb, 12, -1), 1);
    EXPECT_FAIL(dir, 0, GENREP_ERR_FORMAT, ip, "0x00000801");
    /* images of 20x20 */
    write_file(ip, big, idx_images(big, 12, 20, 20, 0x08, 0), 1);
    EXPECT_FAIL(dir, 0, GENREP_ERR_FORMAT, ip, "28x28");
    /* images file where labels belong */
    write_split(dir, "t10k", 1);
    write_file(lp, big, idx_images(big, 12, 28, 28, 0x08, 0), 1);
    EXPECT_FAIL(dir, 0, GENREP_ERR_FORMAT, lp, "0x00000803");
    /* a zero dimension */
    write_file(lp, lb, idx_labels(lb, 0, -1), 1);
    EXPECT_FAIL(dir, 0, GENREP_ERR_FORMAT, lp, "dimension 0");
}
END_TEST

START_TEST(fmnist_count_mismatch_and_label_range) {
    char dir[300], ip[400], lp[400];
    snprintf(dir, sizeof dir, "%s/count", tmpdir);
    mkdir(dir, 0755);
    write_split(dir, "train", 1);
    snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte.gz", dir);
    unsigned char lb[64];
    write_file(lp, lb, idx_labels(lb, 11, -1), 1);
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, lp, "mismatch");
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, ip, "12 images");
    write_file(lp, lb, idx_labels(lb, 12, 7), 1);
    EXPECT_FAIL(dir, 1, GENREP_ERR_FORMAT, lp, "label 10 at index 7 is out of range");
    /* another count is fine when both files agree */
    write_file(ip, big, idx_images(big, 20, 28, 28, 0x08, 0), 1);
    write_file(lp, lb, idx_labels(lb, 20, -1), 1);
    genrep_dataset d;
    ck_assert_int_eq(genrep_fmnist_load(&d, dir, 1), GENREP_OK);
    ck_assert_int_eq(d.n, 20);
    genrep_dataset_free(&d);
}
END_TEST

/* Multi-byte IDX types are big-endian in the file, host order after reading. */
START_TEST(idx_read_int32_and_env_dir) {
    char p[400];
    snprintf(p, sizeof p, "%s/m.idx", tmpdir);
    unsigned char b[12 + 6 * 4];
    put_be32(b, 0x00000C02u); put_be32(b + 4, 2); put_be32(b + 8, 3);
    const int32_t vals[6] = {1, -2, 70000, -70000, 0x7fffffff, 0};
    for (int i = 0; i < 6; i++) put_be32(b + 12 + 4 * i, (uint32_t)vals[i]);
    write_file(p, b, sizeof b, 0);
    genrep_idx x;
    ck_assert_msg(genrep_idx_read(&x, p) == GENREP_OK, "%s", genrep_last_error());
    ck_assert(x.type == 0x0C && x.elem_size == 4 && x.ndim == 2 && x.dims[0] == 2 && x.dims[1] == 3 && x.numel == 6);
    for (int i = 0; i < 6; i++) ck_assert_int_eq(((int32_t *)x.data)[i], vals[i]);
    genrep_idx_free(&x);
    /* too many dims */
    b[3] = 7;
    write_file(p, b, sizeof b, 0);
    ck_assert_int_eq(genrep_idx_read(&x, p), GENREP_ERR_FORMAT);
    ck_assert_ptr_null(x.data);
    /* the environment variable names the default directory */
    setenv("GENREP_FMNIST_DIR", tmpdir, 1);
    ck_assert_str_eq(genrep_fmnist_default_dir(), tmpdir);
    unsetenv("GENREP_FMNIST_DIR");
    ck_assert_str_eq(genrep_fmnist_default_dir(), "/usr/share/datasets/fashion-mnist");
}
END_TEST

/* The real Debian files, when installed: 60000 + 10000, 6000/1000 per class. */
START_TEST(fmnist_real) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char p[300];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    if (access(p, R_OK) != 0) { fprintf(stderr, "skip: %s not installed (apt install dataset-fashion-mnist)\n", p); return; }
    for (int train = 1; train >= 0; train--) {
        genrep_dataset d;
        ck_assert_msg(genrep_fmnist_load(&d, dir, train) == GENREP_OK, "%s", genrep_last_error());
        int64_t want = train ? 60000 : 10000;
        ck_assert_int_eq(d.n, want);
        int count[10] = {0};
        for (int64_t i = 0; i < d.n; i++) {
            ck_assert(d.labels[i] >= 0 && d.labels[i] <= 9);
            count[d.labels[i]]++;
        }
        for (int k = 0; k < 10; k++) ck_assert_int_eq(count[k], want / 10);
        double s = 0; float mx = 0, mn = 1;
        for (int64_t i = 0; i < d.n * 784; i++) {
            s += d.images[i];
            if (d.images[i] > mx) mx = d.images[i];
            if (d.images[i] < mn) mn = d.images[i];
        }
        ck_assert(mn == 0.0f && mx == 1.0f);
        /* Fashion-MNIST's mean pixel is 0.286 (train) / 0.287 (test) */
        ck_assert_msg(fabs(s / (double)(d.n * 784) - 0.286) < 0.003, "mean %g", s / (double)(d.n * 784));
        genrep_dataset_free(&d);
    }
}
END_TEST

/* Image folders: classes by subfolder, images resized, other files skipped. */
START_TEST(imagefolder_load) {
    char root[300], p[400];
    snprintf(root, sizeof root, "%s/folder", tmpdir);
    mkdir(root, 0755);
    snprintf(p, sizeof p, "%s/b_shirts", root); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/a_shoes", root); mkdir(p, 0755);
    /* a_shoes/x.png: 6x8 gray gradient, a_shoes/y.PNG: RGB 10x10 constant,
       b_shirts/z.png: RGB 5x7 pattern, b_shirts/readme.txt: skipped */
    unsigned char g[6 * 8], rgb[10 * 10 * 3], z[5 * 7 * 3];
    for (int i = 0; i < 48; i++) g[i] = (unsigned char)(i * 5);
    for (int i = 0; i < 100; i++) { rgb[3 * i] = 200; rgb[3 * i + 1] = 100; rgb[3 * i + 2] = 50; }
    for (int i = 0; i < 105; i++) z[i] = (unsigned char)(i * 2 + 1);
    snprintf(p, sizeof p, "%s/a_shoes/x.png", root); ck_assert(stbi_write_png(p, 8, 6, 1, g, 8));
    snprintf(p, sizeof p, "%s/a_shoes/y.PNG", root); ck_assert(stbi_write_png(p, 10, 10, 3, rgb, 30));
    snprintf(p, sizeof p, "%s/b_shirts/z.png", root); ck_assert(stbi_write_png(p, 7, 5, 3, z, 21));
    snprintf(p, sizeof p, "%s/b_shirts/readme.txt", root); write_file(p, (const unsigned char *)"hi", 2, 0);
    genrep_dataset d;
    ck_assert_msg(genrep_imagefolder_load(&d, root, 3, 4, 4) == GENREP_OK, "%s", genrep_last_error());
    ck_assert_int_eq(d.n, 3);
    ck_assert(d.c == 3 && d.h == 4 && d.w == 4 && d.num_classes == 2);
    ck_assert(d.labels[0] == 0 && d.labels[1] == 0 && d.labels[2] == 1);
    /* x.png: gray replicated to RGB, then the same bilinear resize as the augmentation */
    float src[3 * 48], want[3 * 16];
    for (int c = 0; c < 3; c++) for (int i = 0; i < 48; i++) src[c * 48 + i] = g[i] / 255.0f;
    ck_assert_int_eq(genrep_aug_resized_crop(want, src, 3, 6, 8, 0, 0, 6, 8, 4, 4), GENREP_OK);
    ck_assert_mem_eq(d.images, want, sizeof want);
    /* y.PNG: constant colour stays constant */
    for (int k = 0; k < 16; k++) {
        ck_assert_float_eq_tol(d.images[48 + k], 200 / 255.0f, 1e-6f);
        ck_assert_float_eq_tol(d.images[48 + 16 + k], 100 / 255.0f, 1e-6f);
        ck_assert_float_eq_tol(d.images[48 + 32 + k], 50 / 255.0f, 1e-6f);
    }
    genrep_dataset_free(&d);
    /* 1 channel: stb's gray conversion of the constant colour */
    ck_assert_int_eq(genrep_imagefolder_load(&d, root, 1, 5, 3), GENREP_OK);
    ck_assert(d.n == 3 && d.c == 1 && d.h == 5 && d.w == 3);
    genrep_dataset_free(&d);

    /* a broken image is reported by name */
    snprintf(p, sizeof p, "%s/b_shirts/broken.png", root);
    write_file(p, (const unsigned char *)"not a png at all", 16, 0);
    ck_assert_int_eq(genrep_imagefolder_load(&d, root, 3, 4, 4), GENREP_ERR_FORMAT);
    ck_assert_msg(strstr(genrep_last_error(), "b_shirts/broken.png") != NULL, "%s", genrep_last_error());
    ck_assert_ptr_null(d.images);
    /* missing root, empty root */
    snprintf(p, sizeof p, "%s/nope", tmpdir);
    ck_assert_int_eq(genrep_imagefolder_load(&d, p, 3, 4, 4), GENREP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), p));
    snprintf(p, sizeof p, "%s/emptyroot", tmpdir); mkdir(p, 0755);
    ck_assert_int_eq(genrep_imagefolder_load(&d, p, 3, 4, 4), GENREP_ERR_FORMAT);
    ck_assert_int_eq(genrep_imagefolder_load(&d, root, 2, 4, 4), GENREP_ERR_ARG);
}
END_TEST

/* PNG grids: size, padding, pixel values, un-normalisation; 1 and 3 channels. */
START_TEST(png_grid) {
    enum { R = 2, Q = 3, H = 5, W = 4, PAD = 2 };
    float img[R * Q * 3 * H * W];
    for (int i = 0; i < R * Q * 3 * H * W; i++) img[i] = (float)(i % 11) / 10.0f;
    char p[400];
    for (int C = 1; C <= 3; C += 2) {
        snprintf(p, sizeof p, "%s/grid%d.png", tmpdir, C);
        ck_assert_msg(genrep_png_write_grid(p, img, R, Q, C, H, W, PAD, 1.0f, NULL, NULL) == GENREP_OK, "%s", genrep_last_error());
        int w, h, comp;
        unsigned char *px = stbi_load(p, &w, &h, &comp, 0);
        ck_assert_ptr_nonnull(px);
        ck_assert_int_eq(w, Q * (W + PAD) + PAD);
        ck_assert_int_eq(h, R * (H + PAD) + PAD);
        ck_assert_int_eq(comp, C);
        ck_assert_int_eq(px[0], 255); /* padding */
        /* image (r=1, q=2), channel C-1, pixel (y=3, x=1) */
        int r = 1, q = 2, c = C - 1, y = 3, x = 1;
        float v = img[(((r * Q + q) * C + c) * H + y) * W + x];
        int gy = PAD + r * (H + PAD) + y, gx = PAD + q * (W + PAD) + x;
        ck_assert_int_eq(px[(gy * w + gx) * C + c], (int)(v * 255.0f + 0.5f));
        stbi_image_free(px);
    }
    /* with mean/std: 0 maps to mean */
    const float mean[3] = {0.5f, 0.25f, 0.0f}, std[3] = {0.1f, 0.1f, 0.1f};
    float zero[3 * H * W];
    memset(zero, 0, sizeof zero);
    snprintf(p, sizeof p, "%s/gridn.png", tmpdir);
    ck_assert_int_eq(genrep_png_write_grid(p, zero, 1, 1, 3, H, W, 0, 0.0f, mean, std), GENREP_OK);
    int w, h, comp;
    unsigned char *px = stbi_load(p, &w, &h, &comp, 3);
    ck_assert(px && w == W && h == H);
    ck_assert(px[0] == 128 && px[1] == 64 && px[2] == 0);
    stbi_image_free(px);
    /* an unwritable path is an I/O error naming it */
    snprintf(p, sizeof p, "%s/no/such/dir/g.png", tmpdir);
    ck_assert_int_eq(genrep_png_write_grid(p, zero, 1, 1, 3, H, W, 0, 0.0f, NULL, NULL), GENREP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(genrep_last_error(), p));
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("data");
    TCase *t = tcase_create("idx");
    tcase_add_unchecked_fixture(t, make_tmpdir, remove_tmpdir);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, fmnist_small_ok_gz_and_plain);
    tcase_add_test(t, fmnist_missing_file);
    tcase_add_test(t, fmnist_truncated_and_trailing);
    tcase_add_test(t, fmnist_bad_magic_and_dims);
    tcase_add_test(t, fmnist_count_mismatch_and_label_range);
    tcase_add_test(t, idx_read_int32_and_env_dir);
    tcase_add_test(t, fmnist_real);
    tcase_add_test(t, imagefolder_load);
    tcase_add_test(t, png_grid);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()); }
