/* trainer/trainer.h: shared by the files of the `genrep` CLI. */
#ifndef GENREP_TRAINER_H
#define GENREP_TRAINER_H
#define GENREP_IMAGE_IO
#include "../genrep.h"

/* Each subcommand: argv[0] is the subcommand's name; returns the exit code. */
typedef int (*genrep_cmd_fn)(int argc, char **argv);
#endif
