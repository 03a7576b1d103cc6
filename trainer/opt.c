/* trainer/opt.c: option tables -> getopt_long, usage, config.txt, resume check. */
#include "opt.h"
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *field(void *o, const opt_spec *s) { return (char *)o + s->off; }
static const void *cfield(const void *o, const opt_spec *s) { return (const char *)o + s->off; }

/* Parse text into the field of s. 0, or -1 with a message naming --name. */
static int set_value(const char *cmd, const opt_spec *s, void *o, const char *v) {
    char *end;
    if (s->kind == OPT_STR) { *(const char **)field(o, s) = v; return 0; }
    if (s->kind == OPT_LIST) {
        opt_list *l = (opt_list *)field(o, s);
        if (l->n == OPT_LIST_MAX) { fprintf(stderr, "genrep %s: --%s: at most %d\n", cmd, s->name, OPT_LIST_MAX); return -1; }
        l->v[l->n++] = v;
        return 0;
    }
    if (s->kind == OPT_ENUM) {
        size_t len = strlen(v);
        int k = 0;
        for (const char *c = s->choices; *c; k++) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == len && !strncmp(c, v, len)) { *(int *)field(o, s) = k; return 0; }
            if (!bar) break;
            c = bar + 1;
        }
        fprintf(stderr, "genrep %s: --%s: '%s' unknown, expected one of %s\n", cmd, s->name, v, s->choices);
        return -1;
    }
    /* numbers: no leading space or sign where none belongs (strto* skip them) */
    int signed_ok = s->kind != OPT_U64 && s->lo < 0;
    if (!*v || isspace((unsigned char)*v) || (*v == '-' && !signed_ok) || *v == '+') {
        fprintf(stderr, "genrep %s: --%s: '%s' is not a%s number\n", cmd, s->name, v,
                s->kind == OPT_FLOAT ? "" : s->kind == OPT_U64 || s->lo >= 0 ? " non-negative whole" : " whole");
        return -1;
    }
    errno = 0;
    if (s->kind == OPT_U64) {
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || end == v || *end) { fprintf(stderr, "genrep %s: --%s: '%s' is not a non-negative whole number below 2^64\n", cmd, s->name, v); return -1; }
        *(uint64_t *)field(o, s) = (uint64_t)x;
        return 0;
    }
    double x = s->kind == OPT_INT ? (double)strtoll(v, &end, 10) : strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x)) {
        fprintf(stderr, "genrep %s: --%s: '%s' is not a%s\n", cmd, s->name, v, s->kind == OPT_INT ? " whole number" : " finite number");
        return -1;
    }
    if (x < s->lo || x > s->hi) {
        fprintf(stderr, "genrep %s: --%s: %s is out of range, expected %g..%g\n", cmd, s->name, v, s->lo, s->hi);
        return -1;
    }
    if (s->kind == OPT_INT) *(int *)field(o, s) = (int)x;
    else *(float *)field(o, s) = (float)x;
    return 0;
}

int opt_parse(const opt_table *t, void *o, unsigned char *given, int argc, char **argv) {
    struct option lo[128];
    assert(t->n < 127);
    for (int i = 0; i < t->n; i++) {
        const opt_spec *s = &t->spec[i];
        lo[i].name = s->name;
        lo[i].has_arg = s->kind == OPT_BOOL ? no_argument : required_argument;
        lo[i].flag = NULL;
        lo[i].val = 1000 + i;
        if (s->kind == OPT_BOOL) *(int *)field(o, s) = 0;
        else if (s->kind == OPT_LIST) memset(field(o, s), 0, sizeof(opt_list));
        else if (s->kind == OPT_STR) *(const char **)field(o, s) = s->def;
        else if (s->def && set_value(t->cmd, s, o, s->def)) assert(!"bad default in an option table");
        else if (!s->def) memset(field(o, s), 0, s->kind == OPT_U64 ? sizeof(uint64_t) : sizeof(int));
        if (given) given[i] = 0;
    }
    lo[t->n] = (struct option){"help", no_argument, NULL, 'h'};
    lo[t->n + 1] = (struct option){NULL, 0, NULL, 0};
    opterr = 0;
    optind = 0; /* glibc: full re-initialisation (the tests parse several times) */
    for (;;) {
        int prev = optind ? optind : 1;
        int c = getopt_long(argc, argv, "+:h", lo, NULL);
        if (c == -1) break;
        const char *arg = prev < argc ? argv[prev] : "";
        if (c == 'h') { opt_usage(t, stdout); return 1; }
        if (c == ':') {
            fprintf(stderr, "genrep %s: %s needs a value (genrep %s --help)\n", t->cmd, arg, t->cmd);
            return -1;
        }
        if (c == '?') {
            if (optopt && optopt < 1000) fprintf(stderr, "genrep %s: unknown flag '-%c' (genrep %s --help lists them)\n", t->cmd, optopt, t->cmd);
            else fprintf(stderr, "genrep %s: unknown or ambiguous flag '%s' (genrep %s --help lists them)\n", t->cmd, arg, t->cmd);
            return -1;
        }
        int i = c - 1000;
        if (t->spec[i].kind == OPT_BOOL) *(int *)field(o, &t->spec[i]) = 1;
        else if (set_value(t->cmd, &t->spec[i], o, optarg)) return -1;
        if (given) given[i] = 1;
    }
    if (optind < argc) {
        fprintf(stderr, "genrep %s: unexpected argument '%s' (flags start with --; genrep %s --help)\n", t->cmd, argv[optind], t->cmd);
        return -1;
    }
    for (int i = 0; i < t->n; i++) {
        const opt_spec *s = &t->spec[i];
        if ((s->flags & OPT_REQUIRED) && !(s->kind == OPT_STR ? *(const char **)cfield(o, s) != NULL : 1)) {
            fprintf(stderr, "genrep %s: --%s %s is required (genrep %s --help)\n", t->cmd, s->name, s->meta ? s->meta : "", t->cmd);
            return -1;
        }
    }
    return 0;
}

void opt_usage(const opt_table *t, FILE *f) {
    fprintf(f, "usage: genrep %s %s\n", t->cmd, t->synopsis);
    for (int i = 0; i < t->n; i++) {
        const opt_spec *s = &t->spec[i];
        if (s->flags & OPT_HIDDEN) continue;
        char lhs[96];
        const char *meta = s->kind == OPT_BOOL ? "" : s->kind == OPT_ENUM ? s->choices : s->meta ? s->meta : "X";
        snprintf(lhs, sizeof lhs, "--%s%s%s", s->name, *meta ? " " : "", meta);
        fprintf(f, "  %-26s %s", lhs, s->help);
        if (s->flags & OPT_REQUIRED) fprintf(f, " (required)");
        else if (s->def && s->kind != OPT_BOOL) fprintf(f, " (default %s)", s->def);
        if (s->flags & OPT_RUN) fprintf(f, " *");
        fputc('\n', f);
    }
    fprintf(f, "  %-26s %s\n", "-h, --help", "this text");
    int any_run = 0;
    for (int i = 0; i < t->n; i++) any_run |= t->spec[i].flags & OPT_RUN;
    if (any_run)
        fprintf(f, "* defines the run: resuming a run directory with another value is refused; the other\n"
                   "  flags (threads, steps to extend a run, checkpoint/eval frequency, output) may change.\n");
    fprintf(f, "Flags take --flag value or --flag=value.\n");
    if (t->epilog) fprintf(f, "%s", t->epilog);
}

void opt_format(const opt_spec *s, const void *o, char *buf, size_t n) {
    const void *p = cfield(o, s);
    switch (s->kind) {
    case OPT_INT: case OPT_BOOL: snprintf(buf, n, "%d", *(const int *)p); break;
    case OPT_FLOAT: { /* the shortest text that reads back as the same float */
        float v = *(const float *)p;
        snprintf(buf, n, "%g", (double)v);
        if ((float)strtod(buf, NULL) != v) snprintf(buf, n, "%.9g", (double)v);
        break;
    }
    case OPT_U64: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case OPT_STR: snprintf(buf, n, "%s", *(const char *const *)p ? *(const char *const *)p : ""); break;
    case OPT_LIST: {
        const opt_list *l = (const opt_list *)p;
        buf[0] = '\0';
        for (int i = 0; i < l->n; i++) snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? " " : "", l->v[i]);
        break;
    }
    case OPT_ENUM: {
        int k = *(const int *)p;
        const char *c = s->choices;
        for (; k > 0 && c; k--) { c = strchr(c, '|'); if (c) c++; }
        size_t cl = c ? (strchr(c, '|') ? (size_t)(strchr(c, '|') - c) : strlen(c)) : 0;
        snprintf(buf, n, "%.*s", (int)cl, c ? c : "");
        break;
    }
    }
}

void opt_config_text(const opt_table *t, const void *o, char *buf, size_t n) {
    for (int i = 0; i < t->n; i++) {
        char v[1200];
        opt_format(&t->spec[i], o, v, sizeof v);
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s = %s\n", t->spec[i].name, v);
    }
}

int opt_run_kv(const opt_table *t, const void *o, char vals[][160], const char **kv) {
    static char keys[OPT_MAX_RUN][80];
    int k = 0;
    for (int i = 0; i < t->n; i++) {
        if (!(t->spec[i].flags & OPT_RUN)) continue;
        assert(k < OPT_MAX_RUN);
        snprintf(keys[k], sizeof keys[k], "%s.%s", t->cmd, t->spec[i].name);
        opt_format(&t->spec[i], o, vals[k], 160);
        kv[2 * k] = keys[k];
        kv[2 * k + 1] = vals[k];
        k++;
    }
    return k;
}

int opt_check_resume(const opt_table *t, const void *o, const genrep_st *st, const char *ckpt) {
    int bad = 0, recorded = 0;
    char key[96], v[160];
    for (int i = 0; i < t->n; i++) {
        snprintf(key, sizeof key, "%s.%s", t->cmd, t->spec[i].name);
        recorded |= (t->spec[i].flags & OPT_RUN) && genrep_st_meta(st, key) != NULL;
    }
    if (!recorded) return 0; /* a file from before settings were recorded: the model checks still apply */
    for (int i = 0; i < t->n; i++) {
        const opt_spec *s = &t->spec[i];
        if (!(s->flags & OPT_RUN)) continue;
        snprintf(key, sizeof key, "%s.%s", t->cmd, s->name);
        const char *stored = genrep_st_meta(st, key);
        opt_format(s, o, v, sizeof v);
        /* a setting added after the file was written is absent from it; the
           run then had the behaviour its default names (train.precision: fp32) */
        if (!stored && s->def && !strcmp(v, s->def)) continue;
        if (!stored || strcmp(stored, v)) {
            if (!bad) fprintf(stderr, "genrep %s: %s was trained with other settings:\n", t->cmd, ckpt);
            fprintf(stderr, "    --%s: stored %s%s%s, given %s%s%s\n", s->name, stored ? "'" : "", stored ? stored : "(missing)",
                    stored ? "'" : "", "'", v, "'");
            bad = 1;
        }
    }
    if (bad)
        fprintf(stderr, "genrep %s: not resuming. Rerun with the stored settings to continue this run, or give "
                "another --out (or --resume no to start it over) for a new run.\n", t->cmd);
    return bad ? -1 : 0;
}
