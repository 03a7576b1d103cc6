/* libFuzzer target for the flag parsing of `genrep train` (parse() in
   trainer/cmd_train.c): the input is split at NUL and newline bytes into
   argv; parsing must either succeed with options inside their documented
   ranges or refuse, never read or write out of bounds. */
#define _GNU_SOURCE
#include "trainer/common.c"
#include "trainer/folder.c"
#include "trainer/opt.c"
#include "trainer/run.c"
#include "trainer/dist.c" /* the one-process stubs (no MPI here) */
#include "trainer/cmd_train.c"

#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    enum { MAXARG = 64 };
    char *buf = (char *)malloc(size + 1), *argv[MAXARG + 2];
    FUZZ_REQUIRE(buf);
    memcpy(buf, data, size);
    buf[size] = 0;
    int argc = 0;
    argv[argc++] = (char *)"train";
    char *p = buf, *end = buf + size;
    while (p <= end && argc < MAXARG) {
        char *q = p;
        while (q < end && *q && *q != '\n') q++;
        *q = 0;
        argv[argc++] = p;
        p = q + 1;
    }
    argv[argc] = NULL;
    train_opts o;
    int r = parse(&o, argc, argv);
    FUZZ_REQUIRE(r == -1 || r == 0 || r == 1);
    if (r == 0) {
        FUZZ_REQUIRE(!!o.gen + !!o.data == 1 && (!o.data || !strcmp(o.data, "fmnist") || (!strncmp(o.data, "folder:", 7) && o.data[7])));
        FUZZ_REQUIRE(o.size >= 0 && o.size <= 4096 && (o.channels == 0 || o.channels == 1 || o.channels == 3));
        FUZZ_REQUIRE(!(o.size || o.channels || o.skip_bad) || (o.data && !strncmp(o.data, "folder:", 7)));
        FUZZ_REQUIRE(o.out && o.views >= 0 && o.views <= GENREP_VIEW_STEER);
        FUZZ_REQUIRE(o.batch >= 2 && o.batch <= 4096 && o.steps >= 1 && o.warmup >= -1);
        FUZZ_REQUIRE(o.sigma >= 0 && o.tau > 0 && o.lr > 0 && o.loss >= 0 && o.loss < 4);
        FUZZ_REQUIRE(o.pool >= 0 && o.pool <= GENREP_VIEW_MAX && o.anchors >= 1 && o.ckpt_every >= 1);
        FUZZ_REQUIRE(o.width >= 0 && o.width <= GENREP_ENCODER_MAX_WIDTH && o.blocks >= 0 && o.blocks <= GENREP_ENCODER_MAX_BLOCKS);
    }
    free(buf);
    return 0;
}
