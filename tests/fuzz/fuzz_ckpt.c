/* libFuzzer target for the encoder checkpoint loader (genrep_encoder_load,
   used by train --resume, probe, embed and the examples): any file either
   loads into an encoder whose tensors all came from the file, or fails with
   a status and no encoder. The input is written to a memfd and loaded from
   /proc/self/fd/N, with and without the optimiser tensors of `train`. */
#define _GNU_SOURCE
#include "genrep.h"
#include <string.h>
#include <unistd.h>
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd("ckpt", path);
    fuzz_write_all(fd, data, size);
    for (int with_extra = 0; with_extra < 2; with_extra++) {
        genrep_encoder e; genrep_st *st = NULL;
        memset(&e, 0, sizeof e);
        /* the momentum of `train` is sized from the file's own tensor so both branches load */
        static float mom[1 << 16];
        genrep_extra_tensor ex = {"optim.momentum", mom, 0};
        if (with_extra) {
            genrep_st *peek;
            if (genrep_st_open_memory(&peek, data, size, 0, "peek")) break;
            const genrep_st_tensor *t = genrep_st_find(peek, "optim.momentum");
            size_t n = t ? (size_t)t->numel : 0;
            genrep_st_close(peek);
            if (!t || n > sizeof mom / sizeof mom[0]) break;
            ex.n = n;
        }
        genrep_status s = genrep_encoder_load(&e, path, 1, with_extra ? &ex : NULL, with_extra, &st);
        if (s == GENREP_OK) {
            FUZZ_REQUIRE(st && e.params && e.num_tensors > 0);
            volatile float acc = 0;
            for (size_t i = 0; i < e.num_params; i++) acc += e.params[i];
            (void)acc;
            genrep_encoder_free(&e);
            genrep_st_close(st);
        } else {
            FUZZ_REQUIRE(st == NULL);
        }
    }
    close(fd);
    return 0;
}
