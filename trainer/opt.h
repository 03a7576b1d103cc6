/* trainer/opt.h: one option table per command. Each row names a flag, its
   type, default, range and help; the same table drives getopt_long parsing
   (`--flag value`, `--flag=value`, `-h`), the usage text with defaults,
   config.txt, the settings a checkpoint records, and the resume check that
   refuses a changed run-defining setting. */
#ifndef GENREP_TRAINER_OPT_H
#define GENREP_TRAINER_OPT_H
#include "trainer.h"
#include <stddef.h>
#include <stdio.h>

typedef enum {
    OPT_INT,    /* int, lo..hi */
    OPT_FLOAT,  /* float, lo..hi, finite */
    OPT_U64,    /* uint64_t, no sign accepted */
    OPT_STR,    /* const char * (points into argv or at the default) */
    OPT_ENUM,   /* int: index of the value in choices "a|b|c" */
    OPT_BOOL,   /* int set to 1 by the bare flag; takes no value */
    OPT_LIST    /* opt_list: a repeatable string flag, in order */
} opt_kind;

enum {
    OPT_RUN = 1,      /* defines the run: recorded in checkpoints, a change refuses resume */
    OPT_REQUIRED = 2, /* must be given */
    OPT_HIDDEN = 4    /* for tests: parsed, not listed in --help */
};

#define OPT_LIST_MAX 16
typedef struct { const char *v[OPT_LIST_MAX]; int n; } opt_list;

typedef struct {
    const char *name;    /* long flag without "--" */
    opt_kind    kind;
    size_t      off;     /* offsetof(the command's option struct, field) */
    const char *def;     /* default as text (NULL: none -> 0 / NULL) */
    double      lo, hi;  /* range of OPT_INT / OPT_FLOAT */
    const char *choices; /* OPT_ENUM: "a|b|c" */
    const char *meta;    /* value name in the usage: N, FILE ... */
    const char *help;
    int         flags;   /* OPT_RUN | OPT_REQUIRED | OPT_HIDDEN */
} opt_spec;

typedef struct {
    const char     *cmd;      /* "train" */
    const char     *synopsis; /* usage line after "genrep CMD " */
    const char     *epilog;   /* printed after the flags (may be NULL) */
    const opt_spec *spec;
    int             n;
} opt_table;

#define OPT_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Parse argv (argv[0] = the command) into o after filling every default.
   given (may be NULL, t->n entries) marks the flags on the command line.
   0: run; 1: --help printed to stdout; -1: a message naming the flag and
   what was expected printed to stderr. */
int  opt_parse(const opt_table *t, void *o, unsigned char *given, int argc, char **argv);
void opt_usage(const opt_table *t, FILE *f);
/* The value of row i of o as text (floats %.9g, exact for a float). */
void opt_format(const opt_spec *s, const void *o, char *buf, size_t n);
/* "name = value\n" for every row (hidden ones too), appended to buf. */
void opt_config_text(const opt_table *t, const void *o, char *buf, size_t n);
/* The run-defining rows as metadata pairs "<cmd>.<name>" = value:
   kv[2k], kv[2k+1] for k < the return value; vals holds the text
   (OPT_MAX_RUN rows at most). */
#define OPT_MAX_RUN 48
int  opt_run_kv(const opt_table *t, const void *o, char vals[][160], const char **kv);
/* Resume check against a checkpoint's metadata: each run-defining row whose
   stored value differs is named (stored vs given); -1 if any differs (or is
   missing from a file that records settings), else 0. */
int  opt_check_resume(const opt_table *t, const void *o, const genrep_st *st, const char *ckpt);
#endif
