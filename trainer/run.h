/* trainer/run.h: run directories, shared by train, gan-train and steer-train.
   A run directory holds config.txt, metrics.csv, checkpoints and DONE.
   - one writer at a time: an flock on RUN/.lock, held until exit; a second
     process on the same directory is refused with the holder's pid;
   - nothing a user has is rewritten in place: config.txt and checkpoints are
     written aside, fsynced and renamed; metrics.csv is cut back to the
     resumed step the same way before new rows are appended;
   - Ctrl-C / SIGTERM set run_stop (the loop saves and exits 130); SIGXFSZ is
     ignored so a file-size limit is an ordinary write error with a message;
   - stale temp files of a killed writer (*.tmp.*) are removed on open. */
#ifndef GENREP_TRAINER_RUN_H
#define GENREP_TRAINER_RUN_H
#include "trainer.h"
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *cmd;
    char  dir[3072];
    int   lock_fd;
    FILE *metrics;
    char  path[4096];   /* scratch for run_path */
} run_dir;

extern volatile sig_atomic_t run_stop;

/* Create (mkdir -p) and lock dir. 0, or -1 with a message. */
int  run_open(run_dir *r, const char *cmd, const char *dir);
/* dir/name in r->path (valid until the next call). */
const char *run_path(run_dir *r, const char *name);
/* Write dir/name atomically. 0 or -1 with a message. */
int  run_write_text(run_dir *r, const char *name, const char *text);
/* metrics.csv: with step0 == 0 a new file with header; otherwise the rows
   up to step0 are kept (written aside and renamed) and new rows appended. */
int  run_metrics_open(run_dir *r, const char *header, int64_t step0);
/* Append one row (printf format, newline included by the caller) and flush;
   -1 with a message when the disk refuses it. */
int  run_metrics_row(run_dir *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ctrl-C / SIGTERM -> run_stop; SIGXFSZ ignored. */
void run_catch_signals(void);
/* Close metrics, write DONE when finished != 0, release the lock. */
int  run_close(run_dir *r, int finished);
#endif
