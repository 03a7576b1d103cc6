/* Hostile inputs (issue 18): special files, image files the project does
   not read or that declare huge images, memory bombs in IDX and generator
   files, and size arithmetic. Each test bounds its own time (Check's
   per-test timeout: a reader that blocks on a FIFO or loops fails) and, when
   not under AddressSanitizer (whose shadow mapping needs terabytes of
   address space), its memory: RLIMIT_AS = what the process maps now plus a
   budget, so a reader that allocates what a file declares fails with
   _NOMEM instead of the expected refusal. Check forks each test, so the
   limit ends with it. */
#define _DEFAULT_SOURCE /* mkdtemp, mkfifo, ftruncate */
#define GENREP_IMAGE_IO
#include "genrep.h"
#include "testutil.h"
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <dirent.h>
#include <zlib.h>
#include <stb/stb_image_write.h>

#if defined(__SANITIZE_ADDRESS__)
#define TH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TH_ASAN 1
#endif
#endif

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/genrep_test_hostile_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}
static void remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* Cap the address space at what is mapped now + budget bytes (not under ASan). */
static void limit_memory(size_t budget) {
#ifndef TH_ASAN
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    unsigned long pages = 0;
    ck_assert_int_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + budget;
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
#else
    (void)budget;
#endif
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void write_bytes(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (n) ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* ---- 2. special files ---- */

/* A FIFO or a device where a data file belongs is refused at once, by name
   and kind, by every reader (the old readers blocked in open() forever,
   which Check's timeout turns into a failure). */
START_TEST(special_files_refused) {
    char fifo[400], p[600], dir[400];
    snprintf(fifo, sizeof fifo, "%s/pipe", tmpdir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    double t0 = now_s();
    int fd = 12345;
    ck_assert_int_eq(genrep_file_open_regular(&fd, fifo), GENREP_ERR_IO);
    ck_assert_int_eq(fd, -1);
    ck_assert_msg(contains(genrep_last_error(), fifo) && contains(genrep_last_error(), "FIFO"), "%s", genrep_last_error());
    ck_assert_int_eq(genrep_file_open_regular(&fd, "/dev/null"), GENREP_ERR_IO);
    ck_assert_msg(contains(genrep_last_error(), "character device"), "%s", genrep_last_error());
    ck_assert_int_eq(genrep_file_open_regular(&fd, tmpdir), GENREP_ERR_IO);
    ck_assert_msg(contains(genrep_last_error(), "directory"), "%s", genrep_last_error());
    /* a regular file opens, blocking (O_NONBLOCK cleared) */
    snprintf(p, sizeof p, "%s/regular", tmpdir);
    write_bytes(p, "abc", 3);
    ck_assert_int_eq(genrep_file_open_regular(&fd, p), GENREP_OK);
    ck_assert(fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK));
    close(fd);

    genrep_idx x;
    ck_assert_int_eq(genrep_idx_read(&x, fifo), GENREP_ERR_IO);
    ck_assert_msg(contains(genrep_last_error(), "FIFO"), "%s", genrep_last_error());
    ck_assert_ptr_null(x.data);
    genrep_st *st = NULL;
    ck_assert_int_eq(genrep_st_open(&st, fifo, 0), GENREP_ERR_IO);
    ck_assert_msg(contains(genrep_last_error(), fifo), "%s", genrep_last_error());
    ck_assert_ptr_null(st);
    genrep_gen g;
    ck_assert_int_eq(genrep_gen_load(&g, fifo, 4), GENREP_ERR_IO);
    unsigned char *px = NULL;
    int w, h;
    ck_assert_int_eq(genrep_image_load(&px, &w, &h, fifo, 3), GENREP_ERR_IO);
    ck_assert_ptr_null(px);
    ck_assert_int_eq(genrep_image_load(&px, &w, &h, "/dev/zero", 3), GENREP_ERR_IO);

    /* Fashion-MNIST: a FIFO in the place of the training images */
    snprintf(dir, sizeof dir, "%s/fm", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    genrep_dataset d;
    ck_assert_int_eq(genrep_fmnist_load(&d, dir, 1), GENREP_ERR_IO);
    ck_assert_msg(contains(genrep_last_error(), "train-images-idx3-ubyte.gz") && contains(genrep_last_error(), "FIFO"),
                  "%s", genrep_last_error());
    ck_assert_ptr_null(d.images);

    /* an image folder with a FIFO named like an image */
    snprintf(dir, sizeof dir, "%s/imgs", tmpdir); mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/imgs/cls", tmpdir); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/imgs/cls/a.png", tmpdir);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    ck_assert_int_eq(genrep_imagefolder_load(&d, dir, 3, 8, 8), GENREP_ERR_IO);
    ck_assert_msg(contains(genrep_last_error(), "cls/a.png"), "%s", genrep_last_error());
    ck_assert_msg(now_s() - t0 < 5.0, "refusals took %.1f s", now_s() - t0);
}
END_TEST

/* ---- 1. images ---- */

/* The reproductions and their class: files in formats genrep.h does
   not read (whatever their extension), and PNG/JPEG headers declaring
   images over the pixel cap, are refused before decoding, in bounded time
   and memory; real PNG and JPEG files still load. */
START_TEST(image_formats_and_caps) {
    char p[400];
    unsigned char *px = NULL;
    int w = 0, h = 0;
    /* valid files first (before the memory cap: stb_image_write allocates) */
    unsigned char rgb[5 * 7 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (unsigned char)(i * 7);
    char png[400], jpg[400];
    snprintf(png, sizeof png, "%s/ok.png", tmpdir);
    snprintf(jpg, sizeof jpg, "%s/ok.jpg", tmpdir);
    ck_assert(stbi_write_png(png, 7, 5, 3, rgb, 21));
    ck_assert(stbi_write_jpg(jpg, 7, 5, 3, rgb, 90));
    limit_memory((size_t)256 << 20);
    double t0 = now_s();
    ck_assert_msg(genrep_image_load(&px, &w, &h, png, 3) == GENREP_OK, "%s", genrep_last_error());
    ck_assert(w == 7 && h == 5);
    ck_assert_mem_eq(px, rgb, sizeof rgb);
    genrep_image_free(px);
    ck_assert_msg(genrep_image_load(&px, &w, &h, jpg, 1) == GENREP_OK, "%s", genrep_last_error());
    ck_assert(w == 7 && h == 5 && px);
    genrep_image_free(px);

    /* the files: PPM 8192x8192 (stb segfaulted), truncated HDR
       (stb looped forever), GIF/TGA/PSD headers declaring 16384x16384 */
    static const char ppm[] = "P6\n8192 8192\n65535\n";
    unsigned char hdr[50] = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 64 +X 64\n";
    unsigned char gif[35] = {'G', 'I', 'F', '8', '9', 'a', 0x00, 0x40, 0x00, 0x40, 0x80, 0, 0};
    unsigned char tga[22] = {0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x40, 0x00, 0x40, 24, 0};
    unsigned char psd[140] = {'8', 'B', 'P', 'S', 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0x40, 0, 0, 0, 0x40, 0, 0, 8, 0, 3};
    struct { const char *name; const void *b; size_t n; const char *kind; } bad[] = {
        {"x.ppm", ppm, sizeof ppm - 1, "PNM"}, {"x.hdr", hdr, sizeof hdr, "HDR"}, {"x.gif", gif, sizeof gif, "GIF"},
        {"x.tga", tga, sizeof tga, "TGA"}, {"x.psd", psd, sizeof psd, "PSD"},
        {"ppm_named.png", ppm, sizeof ppm - 1, "PNM"}, {"empty.jpg", "", 0, "empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, bad[i].name);
        write_bytes(p, bad[i].b, bad[i].n);
        ck_assert_int_eq(genrep_image_load(&px, &w, &h, p, 3), GENREP_ERR_FORMAT);
        ck_assert_ptr_null(px);
        const char *e = genrep_last_error();
        ck_assert_msg(contains(e, bad[i].name) && contains(e, "PNG and JPEG only") && contains(e, bad[i].kind), "%s", e);
    }
    /* PNG whose IHDR declares 16384x16384 RGBA (a valid header, no data) */
    unsigned char big[45] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                             0, 0, 0x40, 0, 0, 0, 0x40, 0, 8, 6, 0, 0, 0};
    uint32_t crc = (uint32_t)crc32(0, big + 12, 17);
    big[29] = (unsigned char)(crc >> 24); big[30] = (unsigned char)(crc >> 16); big[31] = (unsigned char)(crc >> 8); big[32] = (unsigned char)crc;
    memcpy(big + 33, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
    snprintf(p, sizeof p, "%s/huge.png", tmpdir);
    write_bytes(p, big, sizeof big);
    ck_assert_int_eq(genrep_image_load(&px, &w, &h, p, 3), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "16384x16384") && contains(genrep_last_error(), "GENREP_IMAGE_MAX_PIXELS"), "%s", genrep_last_error());
    /* JPEG whose SOF0 declares 20000x20000 gray */
    static const unsigned char jbig[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x4E, 0x20, 0x4E, 0x20, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xD9};
    snprintf(p, sizeof p, "%s/huge.jpg", tmpdir);
    write_bytes(p, jbig, sizeof jbig);
    ck_assert_int_eq(genrep_image_load(&px, &w, &h, p, 3), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "20000x20000"), "%s", genrep_last_error());
    /* a file over GENREP_IMAGE_MAX_BYTES (sparse, PNG signature first): refused from fstat, unread */
    snprintf(p, sizeof p, "%s/big.png", tmpdir);
    write_bytes(p, big, 8);
    ck_assert_int_eq(truncate(p, (off_t)GENREP_IMAGE_MAX_BYTES + 1), 0);
    ck_assert_int_eq(genrep_image_load(&px, &w, &h, p, 3), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "GENREP_IMAGE_MAX_BYTES"), "%s", genrep_last_error());
    ck_assert_msg(now_s() - t0 < 5.0, "took %.1f s", now_s() - t0);

    /* an image folder holding one of them: an error naming the file */
    char root[400];
    snprintf(root, sizeof root, "%s/folder", tmpdir); mkdir(root, 0755);
    snprintf(p, sizeof p, "%s/folder/c", tmpdir); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/folder/c/b.ppm", tmpdir);
    write_bytes(p, ppm, sizeof ppm - 1);
    genrep_dataset d;
    ck_assert_int_eq(genrep_imagefolder_load(&d, root, 3, 8, 8), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "c/b.ppm"), "%s", genrep_last_error());
    ck_assert_ptr_null(d.images);
}
END_TEST

/* Write a PNG (8-bit gray, w x h) whose IDAT holds raw_extra more inflated
   bytes than the image needs: a small file that inflates to a lot. */
/* also used by --write-corpus, outside Check's tests: plain abort */
#define TH_REQUIRE(x) do { if (!(x)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #x); abort(); } } while (0)
static size_t make_png_bomb(unsigned char *out, size_t cap, int w, int h, size_t inflated, size_t cut) {
    unsigned char *raw = (unsigned char *)calloc(inflated, 1);
    TH_REQUIRE(raw);
    uLongf zn = compressBound((uLong)inflated);
    unsigned char *z = (unsigned char *)malloc(zn);
    TH_REQUIRE(z);
    TH_REQUIRE(compress2(z, &zn, raw, (uLong)inflated, 9) == Z_OK);
    TH_REQUIRE(cut < zn);
    zn -= cut; /* a truncated stream when cut > 0 */
    free(raw);
    size_t n = 0;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    memcpy(out, sig, 8); n = 8;
    unsigned char ihdr[13] = {0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0};
    ihdr[2] = (unsigned char)(w >> 8); ihdr[3] = (unsigned char)w; ihdr[6] = (unsigned char)(h >> 8); ihdr[7] = (unsigned char)h;
    const struct { const char *type; const unsigned char *d; size_t len; } ch[3] = {{"IHDR", ihdr, 13}, {"IDAT", z, zn}, {"IEND", NULL, 0}};
    for (int c = 0; c < 3; c++) {
        TH_REQUIRE(n + 12 + ch[c].len <= cap);
        unsigned char *q = out + n;
        q[0] = (unsigned char)(ch[c].len >> 24); q[1] = (unsigned char)(ch[c].len >> 16);
        q[2] = (unsigned char)(ch[c].len >> 8); q[3] = (unsigned char)ch[c].len;
        memcpy(q + 4, ch[c].type, 4);
        if (ch[c].len) memcpy(q + 8, ch[c].d, ch[c].len);
        uint32_t crc = (uint32_t)crc32(0, q + 4, (uInt)(4 + ch[c].len));
        q[8 + ch[c].len] = (unsigned char)(crc >> 24); q[9 + ch[c].len] = (unsigned char)(crc >> 16);
        q[10 + ch[c].len] = (unsigned char)(crc >> 8); q[11 + ch[c].len] = (unsigned char)crc;
        n += 12 + ch[c].len;
    }
    free(z);
    return n;
}

/* A PNG of a 16x16 image whose zlib stream inflates to 64 MB (a 64 KB
   file): refused before stb inflates it into one growing buffer. The same
   file with exactly the bytes the image needs decodes. Also JPEG scan count. */
START_TEST(image_inflate_and_scan_bombs) {
    size_t cap = (size_t)1 << 20;
    unsigned char *buf = (unsigned char *)malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t n = make_png_bomb(buf, cap, 16, 16, 16 * 17, 0); /* exact: 16 rows of filter byte + 16 pixels */
    unsigned char *px = NULL;
    int w, h;
    ck_assert_msg(genrep_image_decode(&px, &w, &h, buf, n, 1, "ok.png") == GENREP_OK, "%s", genrep_last_error());
    ck_assert(w == 16 && h == 16);
    genrep_image_free(px);
    n = make_png_bomb(buf, cap, 16, 16, (size_t)64 << 20, 0);
    limit_memory((size_t)32 << 20);
    double t0 = now_s();
    ck_assert_int_eq(genrep_image_decode(&px, &w, &h, buf, n, 1, "bomb.png"), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "bomb.png") && contains(genrep_last_error(), "inflates"), "%s", genrep_last_error());
    /* the image data cut short (stb refuses it too, but its own inflate must
       never run on a stream zlib did not accept) */
    n = make_png_bomb(buf, cap, 16, 16, 16 * 17, 6);
    ck_assert_int_eq(genrep_image_decode(&px, &w, &h, buf, n, 1, "cut.png"), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "cut.png") && contains(genrep_last_error(), "image data is"), "%s", genrep_last_error());
    /* a chunk declaring 1 GiB in a 100-byte file (stb grew its buffer to
       the declared length first: 2 GiB; found by fuzz_image) */
    n = make_png_bomb(buf, cap, 16, 16, 16 * 17, 0) - 12; /* drop IEND */
    static const unsigned char liar[] = {0x40, 0, 0, 0, 'I', 'D', 'A', 'T', 0x78, 0xDA, 0x63, 0x60};
    memcpy(buf + n, liar, sizeof liar); n += sizeof liar;
    ck_assert_int_eq(genrep_image_decode(&px, &w, &h, buf, n, 1, "liar.png"), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "runs past the end"), "%s", genrep_last_error());
    /* the same with the file ending right after the chunk's length and type (fuzz_image) */
    ck_assert_int_eq(genrep_image_decode(&px, &w, &h, buf, n - 4, 1, "liar8.png"), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "runs past the end"), "%s", genrep_last_error());
    ck_assert_msg(now_s() - t0 < 5.0, "took %.1f s", now_s() - t0);
    /* JPEG: SOI, SOF2 (progressive) 4096x4096 gray, then 300 scan headers */
    size_t k = 0;
    static const unsigned char head[] = {0xFF, 0xD8, 0xFF, 0xC2, 0x00, 0x0B, 0x08, 0x10, 0x00, 0x10, 0x00, 0x01, 0x01, 0x11, 0x00};
    static const unsigned char dht[] = {0xFF, 0xC4, 0x00, 0x14, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00};
    memcpy(buf, head, sizeof head); k = sizeof head;
    memcpy(buf + k, dht, sizeof dht); k += sizeof dht; /* DC table 0: one code */
    for (int s = 0; s < 300; s++) {
        static const unsigned char sos[] = {0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00};
        memcpy(buf + k, sos, sizeof sos); k += sizeof sos;
    }
    buf[k++] = 0xFF; buf[k++] = 0xD9;
    ck_assert_int_eq(genrep_image_decode(&px, &w, &h, buf, k, 1, "s.jpg"), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "more than 256 scans"), "%s", genrep_last_error());
    /* a scan whose AC table was never defined: stb read stale heap as the
       table and aborted on its assertion (found by fuzz_image) */
    k = sizeof head + sizeof dht;
    static const unsigned char ac_scan[] = {0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3F, 0x00, 0x12, 0x34, 0xFF, 0xD9};
    memcpy(buf + k, ac_scan, sizeof ac_scan); k += sizeof ac_scan;
    ck_assert_int_eq(genrep_image_decode(&px, &w, &h, buf, k, 1, "noac.jpg"), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "not defined"), "%s", genrep_last_error());
    /* a real progressive JPEG (jpegtran's, the fuzz seed) decodes */
    FILE *pf = fopen("tests/fuzz/corpus/image/progressive.jpg", "rb");
    ck_assert_ptr_nonnull(pf);
    k = fread(buf, 1, cap, pf);
    fclose(pf);
    ck_assert_msg(genrep_image_decode(&px, &w, &h, buf + 1, k - 1, 3, "progressive.jpg") == GENREP_OK, "%s", genrep_last_error());
    ck_assert(w == 12 && h == 10);
    genrep_image_free(px);
    /* a Huffman table of 16 x 255 codes: stb 2.27 writes past its 256-entry
       arrays (heap overflow, found by fuzz_image); refused before stb */
    k = 0;
    memcpy(buf, head, sizeof head); k = sizeof head;
    buf[k++] = 0xFF; buf[k++] = 0xC4; buf[k++] = (unsigned char)((2 + 17 + 4080) >> 8); buf[k++] = (unsigned char)((2 + 17 + 4080) & 255);
    buf[k++] = 0x00;
    for (int i = 0; i < 16; i++) buf[k++] = 255;
    memset(buf + k, 0x41, 4080); k += 4080;
    buf[k++] = 0xFF; buf[k++] = 0xD9;
    ck_assert_int_eq(genrep_image_decode(&px, &w, &h, buf, k, 1, "dht.jpg"), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "Huffman table with 4080 codes"), "%s", genrep_last_error());
    free(buf);
}
END_TEST

/* Every seed of fuzz_image (tests/fuzz/corpus/image: selector byte, then the
   file) decodes or is refused with _FORMAT, within the time limit; the
   fuzz_* files are the fuzzer's findings (crashes, out-of-memory, 10 s
   inputs before the guard learned them) and must be refused. */
START_TEST(image_fuzz_findings) {
    const char *dir = "tests/fuzz/corpus/image";
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int nfind = 0, nall = 0;
    static unsigned char buf[1 << 16];
    limit_memory((size_t)256 << 20);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        FILE *f = fopen(p, "rb");
        ck_assert_ptr_nonnull(f);
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        ck_assert(n >= 1 && n < sizeof buf);
        unsigned char *px = NULL;
        int w, h;
        genrep_status st = genrep_image_decode(&px, &w, &h, buf + 1, n - 1, 3, e->d_name);
        ck_assert_msg(st == GENREP_OK || st == GENREP_ERR_FORMAT, "%s: %s", e->d_name, genrep_last_error());
        if (!strncmp(e->d_name, "fuzz_", 5)) {
            ck_assert_msg(st == GENREP_ERR_FORMAT, "%s was not refused", e->d_name);
            nfind++;
        }
        genrep_image_free(px);
        nall++;
    }
    closedir(d);
    ck_assert_int_ge(nfind, 5);
    ck_assert_int_ge(nall, 15);
}
END_TEST

/* ---- 3. memory bombs ---- */

/* Fashion-MNIST files that declare 200,000 images (over the default cap of
   131,072) with the data really there (gzip of zeros: 157 MB of payload in
   ~200 KB): refused from the headers, before allocating or reading. The
   old reader needed ~800 MB (u8 payload + float copy). */
/* One gzip member of in[0, n) appended to f (gzread reads concatenated members as one stream). */
static void put_gz_member(FILE *f, const void *in, size_t n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uLong cap = deflateBound(&z, (uLong)n);
    unsigned char *out = (unsigned char *)malloc(cap);
    ck_assert_ptr_nonnull(out);
    z.next_in = (Bytef *)(uintptr_t)in; z.avail_in = (uInt)n; z.next_out = out; z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(fwrite(out, 1, z.total_out, f), z.total_out);
    deflateEnd(&z);
    free(out);
}

/* IDX u8 file of n images (28x28) or n labels, all zeros, gzip: the
   payload is n/1000 copies of one member of 1000 items (n % 1000 == 0). */
static void write_idx_gz(const char *path, uint32_t n, int images) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char hdr[16] = {0, 0, 8, (unsigned char)(images ? 3 : 1)};
    for (int i = 0; i < 4; i++) hdr[4 + i] = (unsigned char)(n >> (24 - 8 * i));
    if (images) { hdr[11] = 28; hdr[15] = 28; }
    put_gz_member(f, hdr, images ? 16 : 8);
    size_t item = images ? 784 : 1;
    unsigned char *zero = (unsigned char *)calloc(1000 * item, 1);
    ck_assert_ptr_nonnull(zero);
    z_stream z; /* compress the member once, write it n/1000 times */
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uLong cap = deflateBound(&z, (uLong)(1000 * item));
    unsigned char *m = (unsigned char *)malloc(cap);
    z.next_in = zero; z.avail_in = (uInt)(1000 * item); z.next_out = m; z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    for (uint32_t k = 0; k < n / 1000; k++) ck_assert_uint_eq(fwrite(m, 1, z.total_out, f), z.total_out);
    deflateEnd(&z);
    free(m); free(zero);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(fmnist_declared_size_capped) {
    char dir[400], p[500];
    snprintf(dir, sizeof dir, "%s/bomb", tmpdir);
    mkdir(dir, 0755);
    uint32_t n = 200000;
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir); write_idx_gz(p, n, 1);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir); write_idx_gz(p, n, 0);
    limit_memory((size_t)256 << 20);
    genrep_dataset d;
    double t0 = now_s();
    ck_assert_int_eq(genrep_fmnist_load(&d, dir, 1), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "200000 images") && contains(genrep_last_error(), "GENREP_FMNIST_MAX_IMAGES"), "%s", genrep_last_error());
    ck_assert_ptr_null(d.images);
    ck_assert_msg(now_s() - t0 < 1.0, "refusal took %.2f s (the payload was read)", now_s() - t0);
    /* a caller that needs 1000 of them gets them, reading only those */
    ck_assert_msg(genrep_fmnist_load_n(&d, dir, 1, 1000) == GENREP_OK, "%s", genrep_last_error());
    ck_assert(d.n == 1000 && d.c == 1 && d.h == 28 && d.w == 28 && d.images[999 * 784 + 783] == 0.0f && d.labels[999] == 0);
    genrep_dataset_free(&d);
    ck_assert_int_eq(genrep_fmnist_load_n(&d, dir, 1, -1), GENREP_ERR_ARG);
}
END_TEST

/* max_images on a well-formed split: the first images, identical to the full load's. */
START_TEST(fmnist_load_n_prefix) {
    char dir[400], p[500];
    snprintf(dir, sizeof dir, "%s/small", tmpdir);
    mkdir(dir, 0755);
    enum { N = 7 };
    unsigned char img[16 + N * 784], lab[8 + N];
    memset(img, 0, 16); memset(lab, 0, 8);
    img[2] = 8; img[3] = 3; img[7] = N; img[11] = 28; img[15] = 28;
    lab[2] = 8; lab[3] = 1; lab[7] = N;
    for (int i = 0; i < N * 784; i++) img[16 + i] = (unsigned char)(i * 31 + 7);
    for (int i = 0; i < N; i++) lab[8 + i] = (unsigned char)(i % 10);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir); write_bytes(p, img, sizeof img);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir); write_bytes(p, lab, sizeof lab);
    genrep_dataset all, few;
    ck_assert_msg(genrep_fmnist_load(&all, dir, 0) == GENREP_OK, "%s", genrep_last_error());
    ck_assert_int_eq(all.n, N);
    for (int i = 0; i < N * 784; i++) ck_assert(all.images[i] == (float)img[16 + i] / 255.0f);
    ck_assert_int_eq(genrep_fmnist_load_n(&few, dir, 0, 3), GENREP_OK);
    ck_assert_int_eq(few.n, 3);
    ck_assert_mem_eq(few.images, all.images, 3 * 784 * sizeof(float));
    ck_assert_mem_eq(few.labels, all.labels, 3 * sizeof(int32_t));
    genrep_dataset_free(&few);
    ck_assert_int_eq(genrep_fmnist_load_n(&few, dir, 0, 100), GENREP_OK); /* more than there are: all */
    ck_assert_int_eq(few.n, N);
    genrep_dataset_free(&few);
    genrep_dataset_free(&all);
    /* reading the prefix does not excuse a bad label inside it */
    lab[8 + 1] = 10;
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir); write_bytes(p, lab, sizeof lab);
    ck_assert_int_eq(genrep_fmnist_load_n(&few, dir, 0, 3), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "label 10 at index 1"), "%s", genrep_last_error());
}
END_TEST

/* A generator file that is only a header whose metadata describes a huge
   model (the 172-byte file): refused before the model is created.
   The old loader created it first (3.5 GB at zdim 65536, width 4096). */
START_TEST(gen_header_only_bomb) {
    char p[400];
    snprintf(p, sizeof p, "%s/bomb.safetensors", tmpdir);
    const char *kv[] = {"genrep.model", "dcgan", "genrep.zdim", "65536", "genrep.width", "4096",
                        "genrep.dwidth", "64", "genrep.n_classes", "10", "genrep.embed_dim", "10"};
    ck_assert_int_eq(genrep_st_write(p, NULL, 0, kv, 6), GENREP_OK);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert(sb.st_size < 400);
    limit_memory((size_t)256 << 20);
    genrep_gen g;
    ck_assert_int_eq(genrep_gen_load(&g, p, 64), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), p) && contains(genrep_last_error(), "missing tensor 'fc.weight'"), "%s", genrep_last_error());
    ck_assert_ptr_null(g.params);
}
END_TEST

/* A valid generator file plus a 1.5 GB extra tensor (a sparse file: no
   disk): refused after reading the header only. The old reader read the
   whole file and widened it (9.4 GB peak in the issue). */
START_TEST(gen_extra_tensor_bomb) {
    char ok[400], p[400];
    snprintf(ok, sizeof ok, "%s/gen.safetensors", tmpdir);
    snprintf(p, sizeof p, "%s/gen_extra.safetensors", tmpdir);
    genrep_gan_config c;
    genrep_gan_config_default(&c, GENREP_GAN_DCGAN);
    c.zdim = 8; c.width = 4; c.dwidth = 4;
    genrep_gen g;
    ck_assert_int_eq(genrep_gen_create(&g, &c, 2, 7), GENREP_OK);
    ck_assert_int_eq(genrep_gen_save(&g, ok, NULL, 0), GENREP_OK);
    /* the valid file loads back */
    genrep_gen h;
    ck_assert_msg(genrep_gen_load(&h, ok, 2) == GENREP_OK, "%s", genrep_last_error());
    ck_assert_mem_eq(h.params, g.params, g.n_params * sizeof(float));
    genrep_gen_free(&h);
    genrep_gen_free(&g);
    /* header + ,"junk":{...} */
    FILE *f = fopen(ok, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char len8[8];
    ck_assert_uint_eq(fread(len8, 1, 8, f), 8);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | len8[i];
    char *hdr = (char *)calloc(hl + 256, 1);
    ck_assert_uint_eq(fread(hdr, 1, hl, f), hl);
    fseek(f, 0, SEEK_END);
    uint64_t dsize = (uint64_t)ftell(f) - 8 - hl;
    unsigned char *data = (unsigned char *)malloc(dsize);
    fseek(f, (long)(8 + hl), SEEK_SET);
    ck_assert_uint_eq(fread(data, 1, dsize, f), dsize);
    fclose(f);
    size_t e = strlen(hdr);
    while (e && hdr[e - 1] == ' ') e--;
    ck_assert(e && hdr[e - 1] == '}');
    uint64_t extra = (uint64_t)1536 << 20; /* bytes: 384 M floats */
    int k = snprintf(hdr + e - 1, 255, ",\"junk\":{\"dtype\":\"F32\",\"shape\":[%llu],\"data_offsets\":[%llu,%llu]}}",
                     (unsigned long long)(extra / 4), (unsigned long long)dsize, (unsigned long long)(dsize + extra));
    uint64_t nl = e - 1 + (uint64_t)k;
    while (nl % 8) hdr[nl++] = ' ';
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(nl >> (8 * i));
    ck_assert_int_eq(write(fd, len8, 8), 8);
    ck_assert_int_eq(write(fd, hdr, nl), (ssize_t)nl);
    ck_assert_int_eq(write(fd, data, dsize), (ssize_t)dsize);
    ck_assert_int_eq(ftruncate(fd, (off_t)(8 + nl + dsize + extra)), 0); /* zeros, sparse */
    close(fd);
    free(hdr); free(data);
    limit_memory((size_t)256 << 20);
    double t0 = now_s();
    ck_assert_int_eq(genrep_gen_load(&g, p, 2), GENREP_ERR_FORMAT);
    ck_assert_msg(contains(genrep_last_error(), "unexpected tensor 'junk'"), "%s", genrep_last_error());
    ck_assert_msg(now_s() - t0 < 2.0, "took %.1f s (the tensor was read)", now_s() - t0);
    /* the same through the general API; a header-only open reads no data */
    genrep_st *st = NULL;
    genrep_st_spec none = {NULL, 0, {0}};
    ck_assert_int_eq(genrep_st_open_expect(&st, p, 0, &none, 0), GENREP_ERR_FORMAT);
    ck_assert_ptr_null(st);
    ck_assert_msg(genrep_st_open(&st, p, GENREP_ST_HEADER_ONLY) == GENREP_OK, "%s", genrep_last_error());
    const genrep_st_tensor *t = genrep_st_find(st, "junk");
    ck_assert(t && t->numel == (int64_t)(extra / 4) && t->data == NULL);
    ck_assert_str_eq(genrep_st_meta(st, "genrep.model"), "dcgan");
    genrep_st_close(st);
    ck_assert_msg(now_s() - t0 < 2.0, "took %.1f s", now_s() - t0);
}
END_TEST

/* Loading through the new per-tensor read gives the same bits as loading
   from memory, for F32, F16 and BF16 tensors (the in-place widening). */
START_TEST(st_file_read_matches_memory) {
    char p[400];
    snprintf(p, sizeof p, "%s/mixed.safetensors", tmpdir);
    /* header by hand: a F16 tensor (5 values), a BF16 (3), a F32 (2) */
    const char *json = "{\"a\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[10,16]},"
                       "\"c\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}";
    size_t jl = strlen(json), hl = (jl + 7) & ~(size_t)7;
    unsigned char file[8 + 256 + 24];
    ck_assert(hl <= 256);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)(hl >> (8 * i));
    memcpy(file + 8, json, jl);
    memset(file + 8 + jl, ' ', hl - jl);
    static const unsigned char d[24] = {0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0xFF, 0x7B, 0x55, 0x35,  /* F16 1, -2, tiny, 65504, ~0.33 */
                                        0x80, 0x3F, 0x49, 0x40, 0x00, 0x80,                          /* BF16 1, 3.14, -0 */
                                        0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x20, 0xC1};             /* F32 1.5, -10 */
    memcpy(file + 8 + hl, d, 24);
    write_bytes(p, file, 8 + hl + 24);
    genrep_st *a = NULL, *b = NULL;
    ck_assert_msg(genrep_st_open(&a, p, 0) == GENREP_OK, "%s", genrep_last_error());
    ck_assert_int_eq(genrep_st_open_memory(&b, file, 8 + hl + 24, 0, p), GENREP_OK);
    ck_assert_int_eq(genrep_st_count(a), 3);
    for (int i = 0; i < 3; i++) {
        const genrep_st_tensor *x = genrep_st_get(a, i), *y = genrep_st_get(b, i);
        ck_assert_str_eq(x->name, y->name);
        ck_assert_int_eq(x->numel, y->numel);
        ck_assert_mem_eq(x->data, y->data, (size_t)x->numel * sizeof(float));
        ck_assert(((uintptr_t)x->data & 63) == 0);
    }
    ck_assert(genrep_st_find(a, "a")->data[1] == -2.0f && genrep_st_find(a, "a")->data[3] == 65504.0f);
    ck_assert(genrep_st_find(a, "c")->data[1] == -10.0f);
    genrep_st_close(a); genrep_st_close(b);
    /* a spec that matches opens; one with a wrong shape is _SHAPE */
    genrep_st_spec sp[3] = {{"a", 1, {5}}, {"b", 1, {3}}, {"c", 1, {2}}};
    ck_assert_int_eq(genrep_st_open_expect(&a, p, 0, sp, 3), GENREP_OK);
    genrep_st_close(a);
    sp[2].shape[0] = 3;
    ck_assert_int_eq(genrep_st_open_expect(&a, p, 0, sp, 3), GENREP_ERR_SHAPE);
    ck_assert_ptr_null(a);
    /* a file cut inside the data: the header's offsets exceed the file */
    write_bytes(p, file, 8 + hl + 20);
    ck_assert_int_eq(genrep_st_open(&a, p, 0), GENREP_ERR_FORMAT);
}
END_TEST

/* ---- 6. size arithmetic ---- */

/* Sizes that would overflow an int in the output-size formulas or in the
   encoder's layout are refused with _ARG (UBSan reported signed overflow
   in H + 2*pad, (H-1)*stride - 2*pad + ..., K*R*R; test-san runs this). */
START_TEST(size_arithmetic_refused) {
    genrep_conv2d_desc d;
    ck_assert_int_eq(genrep_conv2d_init(&d, 1, 1, 8, 8, 1, 3, 3, 1, INT32_MAX / 2), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_conv2d_init(&d, 1, 1, 8, 8, 1, 3, 3, INT32_MAX, 1), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_conv2d_init(&d, 1, 1, 8, 8, 1, 3, 3, 1, 1), GENREP_OK); /* still fine */
    ck_assert(d.P == 8 && d.Q == 8);
    genrep_convt2d_desc t;
    ck_assert_int_eq(genrep_convt2d_init(&t, 1, 1, 1, 1, 1, 1, 1, INT32_MAX, 0, INT32_MAX - 1), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_convt2d_init(&t, 1, 1, 4096, 4096, 1, 4, 4, 1 << 20, 1, 0), GENREP_ERR_ARG);
    ck_assert_int_eq(genrep_convt2d_init(&t, 1, 1, 7, 7, 1, 4, 4, 2, 1, 0), GENREP_OK);
    ck_assert(t.P == 14 && t.Q == 14);
    genrep_encoder_config c;
    genrep_encoder_config_small(&c, 1, 28, 28);
    size_t np = 0;
    ck_assert_int_eq(genrep_encoder_sizes(&c, 8, &np, NULL, NULL), GENREP_OK);
    ck_assert(np > 0);
    c.widths[0] = 1 << 30; /* K * R * R = 9 * 2^30 */
    ck_assert_int_eq(genrep_encoder_sizes(&c, 8, &np, NULL, NULL), GENREP_ERR_ARG);
    genrep_encoder_config_small(&c, 1, 28, 28);
    c.stem_width = INT32_MAX;
    ck_assert_int_eq(genrep_encoder_sizes(&c, 8, &np, NULL, NULL), GENREP_ERR_ARG);
    genrep_encoder_config_small(&c, 1, 28, 28);
    c.head_out = INT32_MAX;
    ck_assert_int_eq(genrep_encoder_sizes(&c, 8, &np, NULL, NULL), GENREP_ERR_ARG);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("hostile");
    TCase *t = tcase_create("hostile");
    tcase_add_unchecked_fixture(t, make_tmpdir, remove_tmpdir);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, special_files_refused);
    tcase_add_test(t, image_formats_and_caps);
    tcase_add_test(t, image_inflate_and_scan_bombs);
    tcase_add_test(t, image_fuzz_findings);
    tcase_add_test(t, fmnist_declared_size_capped);
    tcase_add_test(t, fmnist_load_n_prefix);
    tcase_add_test(t, gen_header_only_bomb);
    tcase_add_test(t, gen_extra_tensor_bomb);
    tcase_add_test(t, st_file_read_matches_memory);
    tcase_add_test(t, size_arithmetic_refused);
    suite_add_tcase(s, t);
    return s;
}

/* Seeds for tests/fuzz/fuzz_image: valid PNGs and JPEGs and the hostile
   files above, each behind the harness's selector byte (bit 0: through a
   file; C = 1 + (byte >> 1) % 4). The progressive JPEG seed is made from
   rgb.jpg with jpegtran (see tests/fuzz/RESULTS.md). */
static void put_seed(const char *dir, const char *name, int sel, const void *b, size_t n) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(1); }
    fputc(sel, f);
    if (n) fwrite(b, 1, n, f);
    fclose(f);
}
typedef struct { unsigned char *p; size_t n; } th_mem;
static void th_mem_put(void *ctx, void *data, int size) {
    th_mem *m = (th_mem *)ctx;
    m->p = (unsigned char *)realloc(m->p, m->n + (size_t)size);
    memcpy(m->p + m->n, data, (size_t)size);
    m->n += (size_t)size;
}
static int write_corpus(const char *dir) {
    unsigned char px[12 * 10 * 4];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (unsigned char)(i * 37 + (i >> 3));
    struct { const char *name; int sel, comp, w, h, jpg; } v[] = {
        {"gray.png", 0, 1, 12, 10, 0}, {"rgb.png", 5, 3, 7, 5, 0}, {"rgba.png", 6, 4, 4, 4, 0}, {"ga.png", 3, 2, 5, 3, 0},
        {"gray.jpg", 0, 1, 12, 10, 1}, {"rgb.jpg", 4, 3, 12, 10, 1}, {"rgb_file.jpg", 5, 3, 9, 7, 1},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        th_mem m = {NULL, 0};
        int ok = v[i].jpg ? stbi_write_jpg_to_func(th_mem_put, &m, v[i].w, v[i].h, v[i].comp, px, 60)
                          : stbi_write_png_to_func(th_mem_put, &m, v[i].w, v[i].h, v[i].comp, px, v[i].w * v[i].comp);
        if (!ok) return 1;
        put_seed(dir, v[i].name, v[i].sel, m.p, m.n);
        free(m.p);
    }
    unsigned char *buf = (unsigned char *)malloc((size_t)1 << 20);
    size_t n = make_png_bomb(buf, (size_t)1 << 20, 16, 16, (size_t)2 << 20, 0);
    put_seed(dir, "inflate_bomb.png", 4, buf, n);
    n = make_png_bomb(buf, (size_t)1 << 20, 16, 16, 16 * 17, 0);
    put_seed(dir, "raw16.png", 0, buf, n);
    free(buf);
    static const char ppm[] = "P6\n8192 8192\n65535\n";
    unsigned char gif[35] = {'G', 'I', 'F', '8', '9', 'a', 0x00, 0x40, 0x00, 0x40, 0x80, 0, 0};
    static const unsigned char jbig[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x4E, 0x20, 0x4E, 0x20, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xD9};
    put_seed(dir, "x.ppm", 4, ppm, sizeof ppm - 1);
    put_seed(dir, "x.gif", 4, gif, sizeof gif);
    put_seed(dir, "huge.jpg", 4, jbig, sizeof jbig);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-corpus")) return write_corpus(argv[2]);
    return tu_run(suite());
}
