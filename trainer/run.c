/* trainer/run.c: run directories (see run.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_CLOEXEC, pread, pwrite, flock under -std=c11 */
#endif
#include "run.h"
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

volatile sig_atomic_t run_stop = 0;
static void on_stop(int sig) { (void)sig; run_stop = 1; }

void run_catch_signals(void) {
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    signal(SIGXFSZ, SIG_IGN);
}

const char *run_path(run_dir *r, const char *name) {
    snprintf(r->path, sizeof r->path, "%s/%s", r->dir, name);
    return r->path;
}

int run_open(run_dir *r, const char *cmd, const char *dir) {
    memset(r, 0, sizeof *r);
    r->cmd = cmd;
    r->lock_fd = -1;
    signal(SIGXFSZ, SIG_IGN); /* from the first write on: a size limit is a write error with a message */
    if (!dir || !*dir) { fprintf(stderr, "genrep %s: --out RUN_DIR is required\n", cmd); return -1; }
    if (strlen(dir) >= sizeof r->dir) {
        fprintf(stderr, "genrep %s: --out: the path is %zu characters, at most %zu are supported\n", cmd, strlen(dir),
                sizeof r->dir - 1);
        return -1;
    }
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    if (mkdir_p(r->dir)) return -1;
    r->lock_fd = open(run_path(r, ".lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (r->lock_fd < 0) { fprintf(stderr, "genrep %s: cannot open %s: %s\n", cmd, r->path, strerror(errno)); return -1; }
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB)) {
        char pid[32] = "";
        ssize_t n = pread(r->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        fprintf(stderr, "genrep %s: %s is in use by another genrep process%s%s; wait for it to finish, or use another --out\n",
                cmd, r->dir, *pid ? " (pid " : "", *pid ? strcat(pid, ")") : "");
        close(r->lock_fd); r->lock_fd = -1;
        return -1;
    }
    char me[32];
    int n = snprintf(me, sizeof me, "%ld\n", (long)getpid());
    if (ftruncate(r->lock_fd, 0) == 0 && pwrite(r->lock_fd, me, (size_t)n, 0) != n) { /* informational only */ }
    /* we hold the lock: temp files here are a killed writer's leftovers */
    DIR *d = opendir(r->dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp.") && unlink(run_path(r, de->d_name)) == 0)
            fprintf(stderr, "genrep %s: removed %s, left by a writer that was killed\n", cmd, r->path);
    if (d) closedir(d);
    return 0;
}

int run_write_text(run_dir *r, const char *name, const char *text) {
    return write_text_atomic(run_path(r, name), text);
}

int run_metrics_open(run_dir *r, const char *header, int64_t step0) {
    const char *path = run_path(r, "metrics.csv"); /* r->path: valid, nothing below calls run_path */
    /* the new file's text: header + the old rows up to step0 */
    size_t cap = 1 << 16, len = 0;
    char *text = (char *)xmalloc(cap, "metrics.csv");
    len = (size_t)snprintf(text, cap, "%s", header);
    FILE *old = step0 ? fopen(path, "r") : NULL;
    if (old) {
        char line[1024];
        int first = 1;
        while (fgets(line, sizeof line, old)) {
            if (first) { first = 0; continue; } /* the header: ours replaces it */
            if (!strchr(line, '\n') || atoll(line) < 1 || atoll(line) > step0) continue; /* torn or later rows */
            size_t l = strlen(line);
            if (len + l + 1 > cap) { cap = 2 * (len + l + 1); text = (char *)xrealloc(text, cap, "metrics.csv"); }
            memcpy(text + len, line, l + 1);
            len += l;
        }
        fclose(old);
    }
    int rc = write_text_atomic(path, text);
    free(text);
    if (rc) return -1;
    r->metrics = fopen(path, "a");
    if (!r->metrics) { fprintf(stderr, "genrep %s: cannot append to %s: %s\n", r->cmd, path, strerror(errno)); return -1; }
    return 0;
}

int run_metrics_row(run_dir *r, const char *fmt, ...) {
    long before = ftell(r->metrics);
    va_list ap;
    va_start(ap, fmt);
    int ok = vfprintf(r->metrics, fmt, ap) >= 0;
    va_end(ap);
    ok = fflush(r->metrics) == 0 && ok;
    if (!ok) {
        int err = errno;
        /* no torn row: cut the file back to the last whole one */
        if (before >= 0 && ftruncate(fileno(r->metrics), (off_t)before) != 0) { /* the message below stands */ }
        fprintf(stderr, "\ngenrep %s: cannot write %s/metrics.csv: %s\n", r->cmd, r->dir, strerror(err));
    }
    return ok ? 0 : -1;
}

int run_close(run_dir *r, int finished) {
    int rc = 0;
    if (r->metrics && fclose(r->metrics)) rc = -1;
    r->metrics = NULL;
    if (finished && !rc) rc = run_write_text(r, "DONE", "done\n");
    if (r->lock_fd >= 0) close(r->lock_fd);
    r->lock_fd = -1;
    return rc;
}
