/* trainer/cmd_plot.c: `genrep plot`, line charts of CSV results (accuracy
   against data size, ...) as PNG for the reproduction report: series of
   markers joined by lines, error bars, dashed reference lines, ticks, labels
   and a legend, drawn in C with a hand-made bitmap font and written with
   stb_image_write. No Python at run time. */
#define _POSIX_C_SOURCE 200809L   /* getline, fileno, fsync under -std=c11 */
#include "common.h"
#include "opt.h"
#include <stddef.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stb/stb_image_write.h>   /* implementation comes from -lstb */

#define MAX_SERIES 40
#define MAX_HLINES OPT_LIST_MAX
#define STR_(x) #x
#define STR(x) STR_(x)
#define MAX_TICKS  64

/* ---- a 5x8 bitmap font, ASCII 32..126, drawn for this file: one byte per
   row, bit 4 is the leftmost column; rows 0..6 hold capitals and digits, row
   7 the descenders of g j p q y _. Cells are 6 columns wide (1 of spacing). */
static const unsigned char font5x8[95][8] = {
    {0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00}, /*   */
    {0x04,0x04,0x04,0x04,0x04,0x00,0x04,0x00}, /* ! */
    {0x0a,0x0a,0x0a,0x00,0x00,0x00,0x00,0x00}, /* " */
    {0x0a,0x0a,0x1f,0x0a,0x1f,0x0a,0x0a,0x00}, /* # */
    {0x04,0x0f,0x14,0x0e,0x05,0x1e,0x04,0x00}, /* $ */
    {0x18,0x19,0x02,0x04,0x08,0x13,0x03,0x00}, /* % */
    {0x0c,0x12,0x14,0x08,0x15,0x12,0x0d,0x00}, /* & */
    {0x04,0x04,0x08,0x00,0x00,0x00,0x00,0x00}, /* ' */
    {0x02,0x04,0x08,0x08,0x08,0x04,0x02,0x00}, /* ( */
    {0x08,0x04,0x02,0x02,0x02,0x04,0x08,0x00}, /* ) */
    {0x00,0x04,0x15,0x0e,0x15,0x04,0x00,0x00}, /* * */
    {0x00,0x04,0x04,0x1f,0x04,0x04,0x00,0x00}, /* + */
    {0x00,0x00,0x00,0x00,0x0c,0x04,0x08,0x00}, /* , */
    {0x00,0x00,0x00,0x1f,0x00,0x00,0x00,0x00}, /* - */
    {0x00,0x00,0x00,0x00,0x00,0x0c,0x0c,0x00}, /* . */
    {0x00,0x01,0x02,0x04,0x08,0x10,0x00,0x00}, /* / */
    {0x0e,0x11,0x13,0x15,0x19,0x11,0x0e,0x00}, /* 0 */
    {0x04,0x0c,0x04,0x04,0x04,0x04,0x0e,0x00}, /* 1 */
    {0x0e,0x11,0x01,0x02,0x04,0x08,0x1f,0x00}, /* 2 */
    {0x1f,0x02,0x04,0x02,0x01,0x11,0x0e,0x00}, /* 3 */
    {0x02,0x06,0x0a,0x12,0x1f,0x02,0x02,0x00}, /* 4 */
    {0x1f,0x10,0x1e,0x01,0x01,0x11,0x0e,0x00}, /* 5 */
    {0x06,0x08,0x10,0x1e,0x11,0x11,0x0e,0x00}, /* 6 */
    {0x1f,0x01,0x02,0x04,0x08,0x08,0x08,0x00}, /* 7 */
    {0x0e,0x11,0x11,0x0e,0x11,0x11,0x0e,0x00}, /* 8 */
    {0x0e,0x11,0x11,0x0f,0x01,0x02,0x0c,0x00}, /* 9 */
    {0x00,0x0c,0x0c,0x00,0x0c,0x0c,0x00,0x00}, /* : */
    {0x00,0x0c,0x0c,0x00,0x0c,0x04,0x08,0x00}, /* ; */
    {0x02,0x04,0x08,0x10,0x08,0x04,0x02,0x00}, /* < */
    {0x00,0x00,0x1f,0x00,0x1f,0x00,0x00,0x00}, /* = */
    {0x08,0x04,0x02,0x01,0x02,0x04,0x08,0x00}, /* > */
    {0x0e,0x11,0x01,0x02,0x04,0x00,0x04,0x00}, /* ? */
    {0x0e,0x11,0x01,0x0d,0x15,0x15,0x0e,0x00}, /* @ */
    {0x0e,0x11,0x11,0x1f,0x11,0x11,0x11,0x00}, /* A */
    {0x1e,0x11,0x11,0x1e,0x11,0x11,0x1e,0x00}, /* B */
    {0x0e,0x11,0x10,0x10,0x10,0x11,0x0e,0x00}, /* C */
    {0x1c,0x12,0x11,0x11,0x11,0x12,0x1c,0x00}, /* D */
    {0x1f,0x10,0x10,0x1e,0x10,0x10,0x1f,0x00}, /* E */
    {0x1f,0x10,0x10,0x1e,0x10,0x10,0x10,0x00}, /* F */
    {0x0e,0x11,0x10,0x17,0x11,0x11,0x0f,0x00}, /* G */
    {0x11,0x11,0x11,0x1f,0x11,0x11,0x11,0x00}, /* H */
    {0x0e,0x04,0x04,0x04,0x04,0x04,0x0e,0x00}, /* I */
    {0x07,0x02,0x02,0x02,0x02,0x12,0x0c,0x00}, /* J */
    {0x11,0x12,0x14,0x18,0x14,0x12,0x11,0x00}, /* K */
    {0x10,0x10,0x10,0x10,0x10,0x10,0x1f,0x00}, /* L */
    {0x11,0x1b,0x15,0x15,0x11,0x11,0x11,0x00}, /* M */
    {0x11,0x11,0x19,0x15,0x13,0x11,0x11,0x00}, /* N */
    {0x0e,0x11,0x11,0x11,0x11,0x11,0x0e,0x00}, /* O */
    {0x1e,0x11,0x11,0x1e,0x10,0x10,0x10,0x00}, /* P */
    {0x0e,0x11,0x11,0x11,0x15,0x12,0x0d,0x00}, /* Q */
    {0x1e,0x11,0x11,0x1e,0x14,0x12,0x11,0x00}, /* R */
    {0x0f,0x10,0x10,0x0e,0x01,0x01,0x1e,0x00}, /* S */
    {0x1f,0x04,0x04,0x04,0x04,0x04,0x04,0x00}, /* T */
    {0x11,0x11,0x11,0x11,0x11,0x11,0x0e,0x00}, /* U */
    {0x11,0x11,0x11,0x11,0x11,0x0a,0x04,0x00}, /* V */
    {0x11,0x11,0x11,0x15,0x15,0x15,0x0a,0x00}, /* W */
    {0x11,0x11,0x0a,0x04,0x0a,0x11,0x11,0x00}, /* X */
    {0x11,0x11,0x0a,0x04,0x04,0x04,0x04,0x00}, /* Y */
    {0x1f,0x01,0x02,0x04,0x08,0x10,0x1f,0x00}, /* Z */
    {0x0e,0x08,0x08,0x08,0x08,0x08,0x0e,0x00}, /* [ */
    {0x00,0x10,0x08,0x04,0x02,0x01,0x00,0x00}, /* backslash */
    {0x0e,0x02,0x02,0x02,0x02,0x02,0x0e,0x00}, /* ] */
    {0x04,0x0a,0x11,0x00,0x00,0x00,0x00,0x00}, /* ^ */
    {0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x1f}, /* _ */
    {0x08,0x04,0x02,0x00,0x00,0x00,0x00,0x00}, /* ` */
    {0x00,0x00,0x0e,0x01,0x0f,0x11,0x0f,0x00}, /* a */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x1e,0x00}, /* b */
    {0x00,0x00,0x0e,0x10,0x10,0x11,0x0e,0x00}, /* c */
    {0x01,0x01,0x0d,0x13,0x11,0x11,0x0f,0x00}, /* d */
    {0x00,0x00,0x0e,0x11,0x1f,0x10,0x0e,0x00}, /* e */
    {0x06,0x09,0x08,0x1c,0x08,0x08,0x08,0x00}, /* f */
    {0x00,0x00,0x0f,0x11,0x11,0x0f,0x01,0x0e}, /* g */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x11,0x00}, /* h */
    {0x04,0x00,0x0c,0x04,0x04,0x04,0x0e,0x00}, /* i */
    {0x02,0x00,0x06,0x02,0x02,0x02,0x12,0x0c}, /* j */
    {0x10,0x10,0x12,0x14,0x18,0x14,0x12,0x00}, /* k */
    {0x0c,0x04,0x04,0x04,0x04,0x04,0x0e,0x00}, /* l */
    {0x00,0x00,0x1a,0x15,0x15,0x11,0x11,0x00}, /* m */
    {0x00,0x00,0x16,0x19,0x11,0x11,0x11,0x00}, /* n */
    {0x00,0x00,0x0e,0x11,0x11,0x11,0x0e,0x00}, /* o */
    {0x00,0x00,0x1e,0x11,0x11,0x1e,0x10,0x10}, /* p */
    {0x00,0x00,0x0f,0x11,0x11,0x0f,0x01,0x01}, /* q */
    {0x00,0x00,0x16,0x19,0x10,0x10,0x10,0x00}, /* r */
    {0x00,0x00,0x0e,0x10,0x0e,0x01,0x1e,0x00}, /* s */
    {0x08,0x08,0x1c,0x08,0x08,0x09,0x06,0x00}, /* t */
    {0x00,0x00,0x11,0x11,0x11,0x13,0x0d,0x00}, /* u */
    {0x00,0x00,0x11,0x11,0x11,0x0a,0x04,0x00}, /* v */
    {0x00,0x00,0x11,0x11,0x15,0x15,0x0a,0x00}, /* w */
    {0x00,0x00,0x11,0x0a,0x04,0x0a,0x11,0x00}, /* x */
    {0x00,0x00,0x11,0x11,0x11,0x0f,0x01,0x0e}, /* y */
    {0x00,0x00,0x1f,0x02,0x04,0x08,0x1f,0x00}, /* z */
    {0x02,0x04,0x04,0x08,0x04,0x04,0x02,0x00}, /* { */
    {0x04,0x04,0x04,0x04,0x04,0x04,0x04,0x00}, /* | */
    {0x08,0x04,0x04,0x02,0x04,0x04,0x08,0x00}, /* } */
    {0x00,0x00,0x08,0x15,0x02,0x00,0x00,0x00}, /* ~ */
};

typedef struct { unsigned char r, g, b; } rgb;
/* Series colours: the Tableau 10 palette (matplotlib's default cycle);
   after 10 series the colours repeat with another marker shape. */
static const rgb PALETTE[10] = {
    {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28}, {0x94, 0x67, 0xbd},
    {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f}, {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf},
};
static const rgb WHITE = {0xff, 0xff, 0xff}, INK = {0x20, 0x20, 0x20}, REF = {0x60, 0x60, 0x60},
                 GRID = {0xe6, 0xe6, 0xe6}, BORDER = {0xb0, 0xb0, 0xb0};

/* ---- drawing on an RGB canvas; box() clips to cx0..cx1, cy0..cy1 */
typedef struct { unsigned char *px; int w, h, cx0, cy0, cx1, cy1; } canvas;

static void clip_to(canvas *c, int x0, int y0, int x1, int y1) { c->cx0 = x0; c->cy0 = y0; c->cx1 = x1; c->cy1 = y1; }

static void box(canvas *c, int x0, int y0, int x1, int y1, rgb k) {
    if (x0 < c->cx0) x0 = c->cx0;
    if (y0 < c->cy0) y0 = c->cy0;
    if (x1 > c->cx1) x1 = c->cx1;
    if (y1 > c->cy1) y1 = c->cy1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            unsigned char *p = c->px + ((size_t)y * c->w + x) * 3;
            p[0] = k.r; p[1] = k.g; p[2] = k.b;
        }
}

/* Bresenham's line, each pixel stamped as a t x t square */
static void seg(canvas *c, int x0, int y0, int x1, int y1, int t, rgb k) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        box(c, x0 - (t - 1) / 2, y0 - (t - 1) / 2, x0 + t / 2, y0 + t / 2, k);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) { e += dy; x0 += sx; }
        if (e2 <= dx) { e += dx; y0 += sy; }
    }
}

/* shape 0 disc, 1 square, 2 diamond, 3 triangle; r is the half-size */
static void marker(canvas *c, int x, int y, int r, int shape, rgb k) {
    for (int v = -r; v <= r; v++)
        for (int u = -r; u <= r; u++) {
            int in = shape == 0 ? u * u + v * v <= r * r + r
                   : shape == 1 ? abs(u) < r && abs(v) < r
                   : shape == 2 ? abs(u) + abs(v) <= r
                   : 2 * abs(u) <= v + r;
            if (in) box(c, x + u, y + v, x + u, y + v, k);
        }
}

static int text_w(const char *s, int S) { size_t n = strlen(s); return n ? (int)n * 6 * S - S : 0; }

/* Text at scale S with its top-left corner at (x, y); vertical: turned a
   quarter counter-clockwise, read bottom to top, (x, y) its bottom-left. */
static void text(canvas *c, int x, int y, const char *s, int S, int vertical, rgb k) {
    for (int i = 0; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        const unsigned char *g = font5x8[(ch < 32 || ch > 126 ? '?' : ch) - 32];
        for (int r = 0; r < 8; r++)
            for (int q = 0; q < 5; q++) {
                if (!(g[r] >> (4 - q) & 1)) continue;
                int a = (i * 6 + q) * S, b = r * S;
                if (!vertical) box(c, x + a, y + b, x + a + S - 1, y + b + S - 1, k);
                else box(c, x + b, y - a - S + 1, x + b + S - 1, y - a, k);
            }
    }
}

/* Copy s for the font: UTF-8 sequences become one '?', control bytes '?'. */
static void clean(char *dst, size_t n, const char *s) {
    size_t j = 0;
    for (; *s && j + 1 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x80 && ch < 0xc0) continue;
        dst[j++] = ch < 32 || ch > 126 ? '?' : (char)ch;
    }
    dst[j] = 0;
}

/* ---- the table: one point per CSV row */
typedef struct { double x, y, e; int s, line; } point;
typedef struct { point *p; int n, cap; char *names[MAX_SERIES]; int ns; } table;

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) *--e = 0;
    return s;
}

/* Split at commas into cells[0..max-1] (trimmed); returns the number of cells. */
static int split(char *line, char **cells, int max) {
    int n = 0;
    for (char *s = line;; n++) {
        char *c = strchr(s, ',');
        if (c) *c = 0;
        if (n < max) cells[n] = trim(s);
        if (!c) return n + 1;
        s = c + 1;
    }
}

static int blank(const char *s) { return !*s || strspn(s, " \t\r\n") == strlen(s); }

static int number(const char *s, double *v) {
    char *end;
    *v = strtod(s, &end);
    return end != s && !*end && isfinite(*v);
}

typedef struct {
    const char *csv, *xcol, *ycol, *ecol, *scol, *title, *xlabel, *ylabel, *out;
    int logx, W, H, debug, nh;
    opt_list hline;         /* --hline VALUE:LABEL as given; parsed into hv, hl */
    double hv[MAX_HLINES];
    const char *hl[MAX_HLINES];
} opts;

#define F(x) offsetof(opts, x)
static const opt_spec plot_spec[] = {
    {"csv", OPT_STR, F(csv), NULL, 0, 0, NULL, "FILE", "the table", OPT_REQUIRED},
    {"x", OPT_STR, F(xcol), NULL, 0, 0, NULL, "COL", "numeric column for the horizontal axis", OPT_REQUIRED},
    {"y", OPT_STR, F(ycol), NULL, 0, 0, NULL, "COL", "numeric column for the vertical axis", OPT_REQUIRED},
    {"err", OPT_STR, F(ecol), NULL, 0, 0, NULL, "COL", "numeric column: error bars from y-err to y+err", 0},
    {"series", OPT_STR, F(scol), NULL, 0, 0, NULL, "COL", "text column: one line per distinct value (in order of first "
     "appearance, at most " STR(MAX_SERIES) "), each its own colour, and a legend in a corner of the plot that hides no "
     "marker, else right of it", 0},
    {"logx", OPT_BOOL, F(logx), NULL, 0, 0, NULL, NULL, "logarithmic x axis (every x must be > 0)", 0},
    {"title", OPT_STR, F(title), NULL, 0, 0, NULL, "T", "title above the plot (default none)", 0},
    {"xlabel", OPT_STR, F(xlabel), NULL, 0, 0, NULL, "L", "x axis label (default the --x column; \"\" for none)", 0},
    {"ylabel", OPT_STR, F(ylabel), NULL, 0, 0, NULL, "L", "y axis label (default the --y column; \"\" for none)", 0},
    {"hline", OPT_LIST, F(hline), NULL, 0, 0, NULL, "VALUE:LABEL", "dashed horizontal reference line, e.g. \"82.4:raw "
     "pixels\"; repeatable (at most " STR(OPT_LIST_MAX) ")", 0},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "FILE.png", "output, replaced atomically", OPT_REQUIRED},
    {"width", OPT_INT, F(W), "800", 200, 8192, NULL, "W", "image width in pixels", 0},
    {"height", OPT_INT, F(H), "500", 150, 8192, NULL, "H", "image height in pixels", 0},
    {"debug-layout", OPT_BOOL, F(debug), NULL, 0, 0, NULL, NULL, "also print the layout on stdout, for tests and scripts "
     "(below)", 0},
};
#undef F
static const opt_table plot_table = {
    "plot", "--csv FILE --x COL --y COL --out FILE.png [flags]",
    "Line chart of numeric columns of a CSV file (a header row, then comma-separated\n"
    "rows, no quoting; blank lines skipped): a marker per row, joined in x order.\n"
    "--debug-layout prints:\n"
    "    layout plot-area L T R B x-range X0 X1 y-range Y0 Y1 log-x 0|1\n"
    "    x-ticks V...   y-ticks V...   legend L T R B (with --series)\n"
    "    series #RRGGBB N NAME (a line per series)\n"
    "  The frame lies on pixel rows T, B and columns L, R; a point\n"
    "  (x, y) is drawn at column L + (x-X0)/(X1-X0)*(R-L) (log10\n"
    "  of x, X0, X1 under --logx), row B - (y-Y0)/(Y1-Y0)*(B-T).\n"
    "Exit status: 0 written; 1 the CSV cannot be read or has a bad row, or the PNG\n"
    "cannot be written; 2 bad flags, a column not in the header, x <= 0 with --logx.\n",
    plot_spec, OPT_N(plot_spec)};

/* Read o->csv into t. Returns 0, or the exit code after a message. */
static int read_csv(const opts *o, table *t) {
    FILE *f = fopen(o->csv, "r");
    if (!f) { fprintf(stderr, "genrep plot: --csv %s: cannot read: %s\n", o->csv, strerror(errno)); return 1; }
    char *line = NULL, *hdr = NULL, **cells = NULL, **names = NULL;
    size_t cap = 0;
    int rc = 0, ln = 1, nc = 0;
    ssize_t len = getline(&line, &cap, f);
    if (len < 0 || blank(line)) {
        fprintf(stderr, "genrep plot: %s: %s\n", o->csv, ferror(f) ? strerror(errno) : "empty; expected a header row");
        rc = 1; goto done;
    }
    hdr = strdup(strncmp(line, "\xef\xbb\xbf", 3) ? line : line + 3);   /* without a UTF-8 BOM */
    nc = split(line, NULL, 0);
    names = (char **)calloc((size_t)nc, sizeof *names);
    cells = (char **)calloc((size_t)nc, sizeof *cells);
    if (!hdr || !names || !cells) { fprintf(stderr, "genrep plot: out of memory\n"); rc = 1; goto done; }
    split(hdr, names, nc);
    const char *flag[4] = {"--x", "--y", "--err", "--series"}, *want[4] = {o->xcol, o->ycol, o->ecol, o->scol};
    int col[4] = {-1, -1, -1, -1};
    for (int k = 0; k < 4; k++) {
        if (!want[k]) continue;
        for (int j = 0; j < nc && col[k] < 0; j++)
            if (!strcmp(names[j], want[k])) col[k] = j;
        if (col[k] < 0) {
            fprintf(stderr, "genrep plot: %s %s: no such column in %s; its columns are:", flag[k], want[k], o->csv);
            for (int j = 0; j < nc; j++) fprintf(stderr, "%s %s", j ? "," : "", names[j]);
            fprintf(stderr, "\n");
            rc = 2; goto done;
        }
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        ln++;
        if (blank(line)) continue;
        int n = split(line, cells, nc);
        if (n != nc) {
            fprintf(stderr, "genrep plot: %s:%d: %d cells, but the header has %d columns\n", o->csv, ln, n, nc);
            rc = 1; goto done;
        }
        point p = {0, 0, 0, 0, ln};
        double *dst[3] = {&p.x, &p.y, &p.e};
        for (int k = 0; k < 3; k++)
            if (col[k] >= 0 && !number(cells[col[k]], dst[k])) {
                fprintf(stderr, "genrep plot: %s:%d: column %s (%s): '%s' is not a finite number\n", o->csv, ln,
                        names[col[k]], flag[k], cells[col[k]]);
                rc = 1; goto done;
            }
        if (o->logx && p.x <= 0) {
            fprintf(stderr, "genrep plot: %s:%d: --logx needs x > 0, but column %s holds %s\n", o->csv, ln,
                    names[col[0]], cells[col[0]]);
            rc = 2; goto done;
        }
        if (p.e < 0) {
            fprintf(stderr, "genrep plot: %s:%d: column %s (--err) holds %s; an error bar cannot be negative\n",
                    o->csv, ln, names[col[2]], cells[col[2]]);
            rc = 1; goto done;
        }
        if (col[3] >= 0) {
            const char *nm = cells[col[3]];
            while (p.s < t->ns && strcmp(t->names[p.s], nm)) p.s++;
            if (p.s == t->ns) {
                if (t->ns == MAX_SERIES) {
                    fprintf(stderr, "genrep plot: %s:%d: --series %s: more than %d distinct values; "
                            "is it the right column?\n",
                            o->csv, ln, o->scol, MAX_SERIES);
                    rc = 2; goto done;
                }
                if (!(t->names[t->ns++] = strdup(nm))) {
                    fprintf(stderr, "genrep plot: out of memory\n");
                    rc = 1; goto done;
                }
            }
        }
        if (t->n == t->cap) {
            int nc2 = t->cap ? 2 * t->cap : 256;
            point *np = (point *)realloc(t->p, sizeof *np * (size_t)nc2);
            if (!np) { fprintf(stderr, "genrep plot: out of memory\n"); rc = 1; goto done; }
            t->p = np; t->cap = nc2;
        }
        t->p[t->n++] = p;
    }
    if (ferror(f)) { fprintf(stderr, "genrep plot: %s: read error: %s\n", o->csv, strerror(errno)); rc = 1; goto done; }
    if (t->n == 0) { fprintf(stderr, "genrep plot: %s: a header but no data rows\n", o->csv); rc = 1; goto done; }
    if (!t->ns && !(t->names[t->ns++] = strdup(o->ycol))) { fprintf(stderr, "genrep plot: out of memory\n"); rc = 1; }
done:
    fclose(f);
    free(line); free(hdr); free(names); free(cells);
    return rc;
}

/* series, then x, then file order: the order the lines are drawn in */
static int point_cmp(const void *a, const void *b) {
    const point *p = (const point *)a, *q = (const point *)b;
    if (p->s != q->s) return p->s < q->s ? -1 : 1;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return p->line < q->line ? -1 : p->line > q->line;
}

static int double_cmp(const void *a, const void *b) {
    double u = *(const double *)a, v = *(const double *)b;
    return u < v ? -1 : u > v;
}

/* ---- axes: lo..hi in axis units (log10 of the value under log) map to pixels p0..p1 */
typedef struct { double lo, hi; int p0, p1, log; } axis;
typedef struct { int n; double v[MAX_TICKS]; char lab[MAX_TICKS][32]; } ticks;

static double ax_unit(const axis *a, double v) { return a->log ? log10(v) : v; }
static int ax_px(const axis *a, double v) {
    return (int)lround(a->p0 + (ax_unit(a, v) - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0));
}

/* lo..hi with a 5% margin each side; a single value gets a window around it */
static void pad_range(double *lo, double *hi, int log) {
    double d = *hi - *lo;
    if (d <= 1e-9 * fmax(fabs(*lo), fabs(*hi)) || d == 0) d = log ? 0.5 : *lo != 0 ? 0.1 * fabs(*lo) : 1.0;
    else d *= 0.05;
    *lo -= d; *hi += d;
}

/* 1, 2, 2.5 or 5 times a power of ten, nearest raw on a log scale */
static double nice_step(double raw) {
    double p = pow(10, floor(log10(raw))), m = raw / p;
    return p * (m < 1.5 ? 1 : m < 2.25 ? 2 : m < 3.5 ? 2.5 : m < 7.5 ? 5 : 10);
}

/* v with p significant digits: plainly for 1e-4 <= |v| < 1e6, else as 2.5e6 */
static void fmt_num(char *b, size_t n, double v, int p) {
    double a = fabs(v);
    char t[40], *e;
    snprintf(t, sizeof t, "%.*g", p, v);
    if (v == 0 || (a >= 1e-4 && a < 1e6) || !(e = strchr(t, 'e'))) {
        if ((e = strchr(t, 'e'))) snprintf(t, sizeof t, "%.*f", p + 4, v);   /* %g chose 1e+05 */
        if (strchr(t, '.')) {   /* no trailing zeros */
            char *z = t + strlen(t);
            while (z[-1] == '0') *--z = 0;
            if (z[-1] == '.') z[-1] = 0;
        }
        snprintf(b, n, "%s", t);
        return;
    }
    *e = 0;
    snprintf(b, n, "%.24se%d", t, atoi(e + 1));
}

/* The fewest significant digits that give back v to within tol */
static void fmt_close(char *b, size_t n, double v, double tol) {
    for (int p = 1; p <= 12; p++) {
        fmt_num(b, n, v, p);
        if (fabs(strtod(b, NULL) - v) <= tol) return;
    }
}

/* Ticks at the multiples of a nice step in lo..hi, about `target` of them,
   labelled with the fewest decimals that tell them apart. */
static int lin_ticks(ticks *t, double lo, double hi, int target) {
    double step = nice_step((hi - lo) / target);
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    t->n = 0;
    if (k1 - k0 + 1 > MAX_TICKS) return -1;
    for (double k = k0; k <= k1; k++) {
        double v = k * step;
        t->v[t->n++] = fabs(v) < 1e-9 * step ? 0.0 : v;
    }
    double amax = fmax(fabs(lo), fabs(hi));
    int d = 0;
    if (amax >= 1e6 || step < 1e-4) {
        for (int i = 0; i < t->n; i++) fmt_close(t->lab[i], sizeof t->lab[i], t->v[i], 1e-6 * step);
        return t->n;
    }
    for (; d < 10; d++) {   /* fewest decimals that give back every tick */
        int ok = 1;
        for (int i = 0; i < t->n && ok; i++) {
            char b[40];
            snprintf(b, sizeof b, "%.*f", d, t->v[i]);
            ok = fabs(strtod(b, NULL) - t->v[i]) <= 1e-6 * step;
        }
        if (ok) break;
    }
    for (int i = 0; i < t->n; i++) snprintf(t->lab[i], sizeof t->lab[i], "%.*f", d, t->v[i]);
    return t->n;
}

/* Log-axis candidates, densest first: cand 0 the data's x values (at most
   12 distinct), 1: 1-2-5 x 10^k, 2..: 10^k for k a multiple of 1, 2, 3, 5, ... */
static int log_ticks(ticks *t, const double *xs, int nx, double lo, double hi, int cand) {
    static const int stride[] = {1, 2, 3, 5, 10, 20, 50, 100};
    t->n = 0;
    if (cand == 0) {
        if (nx > 12) return 0;
        for (int i = 0; i < nx; i++) t->v[t->n++] = xs[i];
    } else if (cand == 1) {
        if (hi - lo > 20) return 0;
        static const double m[3] = {1, 2, 5};
        for (double k = floor(lo); k <= ceil(hi) && t->n < MAX_TICKS; k++)
            for (int j = 0; j < 3 && t->n < MAX_TICKS; j++) {
                double v = m[j] * pow(10, k), u = log10(v);
                if (u >= lo - 1e-12 && u <= hi + 1e-12) t->v[t->n++] = v;
            }
    } else if (cand - 2 < (int)(sizeof stride / sizeof stride[0])) {
        int s = stride[cand - 2];
        for (double k = ceil(lo / s) * s; k <= hi + 1e-12 && t->n < MAX_TICKS; k += s) t->v[t->n++] = pow(10, k);
    } else return -1;
    for (int i = 0; i < t->n; i++) fmt_close(t->lab[i], sizeof t->lab[i], t->v[i], 1e-9 * t->v[i]);
    return t->n;
}

/* The x tick labels (centred under their ticks, S-scaled) leave room between them. */
static int x_fits(const ticks *t, const axis *a, int S) {
    if (t->n < 2) return 0;
    int prev = -1000000;
    for (int i = 0; i < t->n; i++) {
        int w = text_w(t->lab[i], S), left = ax_px(a, t->v[i]) - w / 2;
        if (left < 1 || left < prev + 5 * S) return 0;
        prev = left + w;
    }
    return 1;
}

/* Linear ticks on a log axis (one less than a factor of ten wide, or too
   narrow for its powers of ten): only the positive ones can be drawn. */
static int lin_ticks_on(ticks *t, const axis *a, int target) {
    if (!a->log) return lin_ticks(t, a->lo, a->hi, target);
    int n = lin_ticks(t, pow(10, a->lo), pow(10, a->hi), target), k = 0;
    for (int i = 0; i < n; i++)
        if (t->v[i] > 0) { t->v[k] = t->v[i]; memcpy(t->lab[k++], t->lab[i], sizeof t->lab[i]); }
    return t->n = k;
}

/* x ticks: the densest candidate whose labels fit side by side */
static void x_choose(ticks *t, const axis *a, const double *xs, int nx, int S) {
    int target = (a->p1 - a->p0) / (8 * 6 * S);
    if (a->log)
        for (int c = 0; log_ticks(t, xs, nx, a->lo, a->hi, c) >= 0; c++)
            if (x_fits(t, a, S)) return;
    for (target = target > 10 ? 10 : target; target >= 2; target--)
        if (lin_ticks_on(t, a, target) >= 2 && x_fits(t, a, S)) return;
    lin_ticks_on(t, a, 3);   /* nothing fits: at least two ticks, labels may touch */
}

/* ---- output: PNG into a temp file, fsync, rename (never a half-written file) */
typedef struct { FILE *f; int err; } png_sink;
static void png_write_cb(void *ctx, void *data, int size) {
    png_sink *s = (png_sink *)ctx;
    if (!s->err && fwrite(data, 1, (size_t)size, s->f) != (size_t)size) s->err = errno ? errno : EIO;
}

static int png_write_atomic(const char *path, const unsigned char *px, int w, int h) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) { fprintf(stderr, "genrep plot: --out %s: cannot write: %s\n", path, strerror(errno)); return -1; }
    png_sink s = {f, 0};
    errno = 0;
    int ok = stbi_write_png_to_func(png_write_cb, &s, w, h, 3, px, w * 3) && !s.err;
    int err = s.err ? s.err : ENOMEM;   /* stb fails only when it cannot allocate */
    if (ok && (fflush(f) || fsync(fileno(f)))) { ok = 0; err = errno; }
    if (fclose(f) && ok) { ok = 0; err = errno; }
    if (ok && rename(tmp, path)) { ok = 0; err = errno; }
    if (!ok) {
        unlink(tmp);
        fprintf(stderr, "genrep plot: --out %s: cannot write: %s\n", path, strerror(err));
        return -1;
    }
    return 0;
}

/* How much of the data a box x0..x1, y0..y1 would hide: 16 per marker
   and 1 per sixteenth of a line inside it (where to put a legend or label). */
static long covers(const table *t, const axis *ax, const axis *ay, int x0, int y0, int x1, int y1) {
    long score = 0;
    for (int i = 0; i < t->n; i++) {
        const point *p = &t->p[i];
        int x = ax_px(ax, p->x), y = ax_px(ay, p->y);
        score += 16 * (x >= x0 && x <= x1 && y >= y0 && y <= y1);
        if (i + 1 == t->n || p[1].s != p->s) continue;
        int x2 = ax_px(ax, p[1].x), y2 = ax_px(ay, p[1].y);
        for (int q = 1; q < 16; q++) {
            int xq = x + (x2 - x) * q / 16, yq = y + (y2 - y) * q / 16;
            score += xq >= x0 && xq <= x1 && yq >= y0 && yq <= y1;
        }
    }
    return score;
}

/* ---- the chart */

/* Everything the drawing needs from the layout: text scale and spacings,
   cleaned texts, axes (ranges and pixel ends), ticks, the legend's box. */
typedef struct {
    int S, CH, pad, tick, gap, mr, lt, rowh, sw;   /* text scale; marker half-size, line thickness */
    char title[256], xl[256], yl[256], nm[MAX_SERIES][64];
    axis ax, ay;
    ticks tx, ty;
    int lg[4];                                     /* legend box (x0 y0 x1 y1), -1 ends: none */
    int L, R, T, B;                                /* the frame */
} chart;

/* Ranges, ticks, margins and the legend's place. 0, or the exit code after a message. */
static int layout(chart *ch, const opts *o, table *t) {
    const int W = o->W, H = o->H, S = W >= 480 && H >= 300 ? 2 : 1;  /* text scale */
    const int CH = 8 * S, pad = 6 * S, tick = 4 * S, gap = 3 * S;
    const int mr = 2 * S + 1;
    ch->S = S; ch->CH = CH; ch->pad = pad; ch->tick = tick; ch->gap = gap; ch->mr = mr; ch->lt = S;
    char *title = ch->title, *xl = ch->xl, *yl = ch->yl;
    clean(title, sizeof ch->title, o->title ? o->title : "");
    clean(xl, sizeof ch->xl, o->xlabel ? o->xlabel : o->xcol);
    clean(yl, sizeof ch->yl, o->ylabel ? o->ylabel : o->ycol);
    qsort(t->p, (size_t)t->n, sizeof *t->p, point_cmp);

    /* data ranges: x; y with the error bars and the reference lines */
    axis ax = {INFINITY, -INFINITY, 0, 0, o->logx}, ay = {INFINITY, -INFINITY, 0, 0, 0};
    for (int i = 0; i < t->n; i++) {
        const point *p = &t->p[i];
        ax.lo = fmin(ax.lo, ax_unit(&ax, p->x)); ax.hi = fmax(ax.hi, ax_unit(&ax, p->x));
        ay.lo = fmin(ay.lo, p->y - p->e); ay.hi = fmax(ay.hi, p->y + p->e);
    }
    for (int i = 0; i < o->nh; i++) { ay.lo = fmin(ay.lo, o->hv[i]); ay.hi = fmax(ay.hi, o->hv[i]); }
    pad_range(&ax.lo, &ax.hi, ax.log);
    pad_range(&ay.lo, &ay.hi, 0);
    if (!isfinite(ax.hi - ax.lo) || !isfinite(ay.hi - ay.lo)) {
        fprintf(stderr, "genrep plot: %s: values too large to plot (near the largest double)\n", o->csv);
        return 1;
    }

    /* vertical layout first: the y ticks depend on the plot's height */
    int top = pad + (title[0] ? CH + pad : 0);
    int bottom = tick + gap + CH + (xl[0] ? gap + CH : 0) + pad;
    ay.p0 = H - 1 - bottom; ay.p1 = top;
    ticks ty, tx;
    int target = (ay.p0 - ay.p1) / (4 * CH);   /* about one tick per 4 lines of text */
    for (target = target > 10 ? 10 : target < 3 ? 3 : target;; target--) {
        lin_ticks(&ty, ay.lo, ay.hi, target);   /* target 3 gives at least two ticks */
        int dense = 0;
        for (int i = 1; i < ty.n; i++) dense |= abs(ax_px(&ay, ty.v[i]) - ax_px(&ay, ty.v[i - 1])) < CH + 3 * S;
        if (!dense || target == 3) break;
    }
    int ylw = 0;
    for (int i = 0; i < ty.n; i++) ylw = ylw > text_w(ty.lab[i], S) ? ylw : text_w(ty.lab[i], S);
    const int left = pad + (yl[0] ? CH + 2 * gap : 0) + ylw + gap + tick;

    /* the legend's size: a row per series, a sample line with its marker, the name */
    char (*nm)[64] = ch->nm;
    const int rowh = CH + 2 * S, sw = 18 * S;
    int nw = 0;
    for (int s = 0; s < t->ns; s++) {
        clean(nm[s], sizeof nm[s], t->names[s]);
        if (text_w(nm[s], S) > nw) nw = text_w(nm[s], S);
    }
    ch->rowh = rowh; ch->sw = sw;
    const int lw = 4 * S + sw + 4 * S + nw + 4 * S, lh = 3 * S + t->ns * rowh + S;
    int lg[4] = {0, 0, -1, -1};   /* its box, when there is one */

    /* xs: the distinct x values, candidates for log ticks */
    double *xs = (double *)malloc(sizeof(double) * (size_t)t->n);
    if (!xs) { fprintf(stderr, "genrep plot: out of memory\n"); return 1; }
    int nx = 0;
    for (int i = 0; i < t->n; i++) xs[nx++] = t->p[i].x;
    qsort(xs, (size_t)nx, sizeof *xs, double_cmp);
    int u = 0;
    for (int i = 0; i < nx; i++) if (!u || xs[i] != xs[u - 1]) xs[u++] = xs[i];
    nx = u;
    /* Horizontal layout: the legend goes in the corner of the plot where it
       hides no marker (nor much line); failing that, right of the plot. */
    for (int outside = 0;; outside = 1) {
        int right = 2 * pad + (outside ? lw + pad : 0);
        for (int iter = 0; iter < 3; iter++) {   /* widen the right margin until the last label fits */
            ax.p0 = left; ax.p1 = W - 1 - right;
            x_choose(&tx, &ax, xs, nx, S);
            int over = tx.n ? ax_px(&ax, tx.v[tx.n - 1]) + text_w(tx.lab[tx.n - 1], S) / 2 - (W - 2) : 0;
            if (over <= 0) break;
            right += over;
        }
        if (!o->scol) break;
        if (outside) { lg[0] = ax.p1 + pad; lg[1] = ay.p1; break; }
        const int in = 6 * S, L = ax.p0, R = ax.p1, T = ay.p1, B = ay.p0;
        int cx[4] = {R - in - lw, L + in, R - in - lw, L + in}, cy[4] = {T + in, T + in, B - in - lh, B - in - lh};
        long best = -1;
        for (int k = 0; k < 4; k++) {   /* ties: top right, top left, bottom right, bottom left */
            int x0 = cx[k] - mr, y0 = cy[k] - mr, x1 = cx[k] + lw + mr, y1 = cy[k] + lh + mr;
            long score = x0 <= L || y0 <= T || x1 >= R || y1 >= B ? 1000 : covers(t, &ax, &ay, x0, y0, x1, y1);
            for (int i = 0; i < o->nh; i++) {
                int y = ax_px(&ay, o->hv[i]);
                score += (y >= y0 && y <= y1) * 4;
            }
            if (best < 0 || score < best) { best = score; lg[0] = cx[k]; lg[1] = cy[k]; }
        }
        if (best < 16) break;
    }
    free(xs);
    if (o->scol) { lg[2] = lg[0] + lw - 1; lg[3] = lg[1] + lh - 1; }
    const int L = ax.p0, R = ax.p1, T = ay.p1, B = ay.p0;
    if (R - L < 40 || B - T < 40) {
        fprintf(stderr, "genrep plot: --width %d --height %d leaves a %dx%d plot area after the labels; "
                "make the image larger\n",
                W, H, R - L, B - T);
        return 2;
    }

    ch->ax = ax; ch->ay = ay; ch->tx = tx; ch->ty = ty;
    memcpy(ch->lg, lg, sizeof lg);
    ch->L = L; ch->R = R; ch->T = T; ch->B = B;
    return 0;
}

/* Grid, reference lines, then the data, all inside the frame. */
static void draw_data(canvas *cp, const chart *ch, const opts *o, const table *t) {
    const int S = ch->S, mr = ch->mr, lt = ch->lt, L = ch->L, R = ch->R, T = ch->T, B = ch->B;
    const axis *ax = &ch->ax, *ay = &ch->ay;
    const ticks *tx = &ch->tx, *ty = &ch->ty;
    clip_to(cp, L + 1, T + 1, R - 1, B - 1);
    for (int i = 0; i < ty->n; i++) box(cp, L, ax_px(ay, ty->v[i]), R, ax_px(ay, ty->v[i]), GRID);
    for (int i = 0; i < tx->n; i++) box(cp, ax_px(ax, tx->v[i]), T, ax_px(ax, tx->v[i]), B, GRID);
    for (int i = 0; i < o->nh; i++) {
        int y = ax_px(ay, o->hv[i]);
        for (int x = L; x <= R; x += 10 * S) seg(cp, x, y, x + 6 * S - 1, y, S, REF);
    }
    for (int i = 0, j; i < t->n; i = j) {
        int s = t->p[i].s, shape = (s / 10) % 4;
        rgb k = PALETTE[s % 10];
        for (j = i; j < t->n && t->p[j].s == s; j++) {
            const point *p = &t->p[j];
            int x = ax_px(ax, p->x), y = ax_px(ay, p->y);
            if (p->e > 0) {
                int y0 = ax_px(ay, p->y - p->e), y1 = ax_px(ay, p->y + p->e);
                seg(cp, x, y0, x, y1, lt, k);
                seg(cp, x - 2 * S, y0, x + 2 * S, y0, lt, k);
                seg(cp, x - 2 * S, y1, x + 2 * S, y1, lt, k);
            }
            if (j > i) seg(cp, ax_px(ax, p[-1].x), ax_px(ay, p[-1].y), x, y, lt, k);
        }
        for (int q = i; q < j; q++) marker(cp, ax_px(ax, t->p[q].x), ax_px(ay, t->p[q].y), mr, shape, k);
    }
}

/* Labels of the reference lines: above the line at its right end, else
   wherever (left end, below) the label hides the least data. */
static void draw_hline_labels(canvas *cp, const chart *ch, const opts *o, const table *t) {
    const int S = ch->S, mr = ch->mr, L = ch->L, R = ch->R, T = ch->T, B = ch->B;
    const axis *ax = &ch->ax, *ay = &ch->ay;
    const int *lg = ch->lg;
    int hrect[MAX_HLINES][4];
    for (int i = 0; i < o->nh; i++) {
        char lab[128];
        clean(lab, sizeof lab, o->hl[i]);
        int y = ax_px(ay, o->hv[i]), w = text_w(lab, S);
        hrect[i][0] = 0; hrect[i][1] = 0; hrect[i][2] = -1; hrect[i][3] = -1;
        if (!lab[0]) continue;
        long best = -1;
        for (int k = 0; k < 4; k++) {
            int x0 = k & 1 ? L + 4 * S : R - 4 * S - w, y0 = k & 2 ? y + 3 * S : y - 3 * S - 7 * S;
            if (y0 < T + 2 * S || y0 + 7 * S > B - 2 * S) continue;
            long score = covers(t, ax, ay, x0 - mr, y0 - mr, x0 + w + mr, y0 + 7 * S + mr);
            for (int j = 0; j <= i; j++) {   /* the legend, then the labels placed so far */
                const int *r = j < i ? hrect[j] : lg;
                score += 1000 * (r[0] <= x0 + w && r[2] >= x0 && r[1] <= y0 + 7 * S && r[3] >= y0);
            }
            if (best < 0 || score < best) {
                best = score;
                hrect[i][0] = x0 - S; hrect[i][1] = y0 - S; hrect[i][2] = x0 + w + S; hrect[i][3] = y0 + 8 * S;
            }
        }
        if (best < 0) continue;   /* no room inside the plot */
        box(cp, hrect[i][0], hrect[i][1], hrect[i][2], hrect[i][3], WHITE);
        text(cp, hrect[i][0] + S, hrect[i][1] + S, lab, S, 0, REF);
    }

}

/* Frame, ticks and their labels, axis labels, title. */
static void draw_axes(canvas *cp, const chart *ch, const opts *o) {
    const int S = ch->S, CH = ch->CH, pad = ch->pad, tick = ch->tick, gap = ch->gap, L = ch->L, R = ch->R, T = ch->T, B = ch->B;
    const axis *ax = &ch->ax, *ay = &ch->ay;
    const ticks *tx = &ch->tx, *ty = &ch->ty;
    const int W = o->W, H = o->H;
    const char *xl = ch->xl, *yl = ch->yl, *title = ch->title;
    clip_to(cp, 0, 0, W - 1, H - 1);
    box(cp, L, T, R, T, INK); box(cp, L, B, R, B, INK);
    box(cp, L, T, L, B, INK); box(cp, R, T, R, B, INK);
    for (int i = 0; i < ty->n; i++) {
        int y = ax_px(ay, ty->v[i]);
        box(cp, L - tick, y, L - 1, y, INK);
        text(cp, L - tick - gap - text_w(ty->lab[i], S), y - 7 * S / 2, ty->lab[i], S, 0, INK);
    }
    for (int i = 0; i < tx->n; i++) {
        int x = ax_px(ax, tx->v[i]);
        box(cp, x, B + 1, x, B + tick, INK);
        text(cp, x - text_w(tx->lab[i], S) / 2, B + tick + gap, tx->lab[i], S, 0, INK);
    }
    if (ax->log && ax->hi - ax->lo <= 8)   /* minor ticks at 1..9 x 10^k */
        for (double e = floor(ax->lo); e <= ax->hi; e++)
            for (int m = 1; m <= 9; m++) {
                double v = log10(m) + e;
                int x = ax_px(ax, pow(10, v));
                if (v >= ax->lo && v <= ax->hi) box(cp, x, B + 1, x, B + tick / 2, INK);
            }
    if (xl[0]) text(cp, (L + R) / 2 - text_w(xl, S) / 2, B + tick + gap + CH + gap, xl, S, 0, INK);
    if (yl[0]) text(cp, pad, (T + B) / 2 + text_w(yl, S) / 2, yl, S, 1, INK);
    if (title[0]) {   /* bold: twice, one pixel apart */
        int x = (L + R) / 2 - text_w(title, S) / 2;
        text(cp, x, pad, title, S, 0, INK);
        text(cp, x + 1, pad, title, S, 0, INK);
    }
}

/* The legend: a row per series, a sample line with its marker, the name. */
static void draw_legend(canvas *cp, const chart *ch, const table *t) {
    const int S = ch->S, mr = ch->mr, lt = ch->lt, rowh = ch->rowh, sw = ch->sw;
    const int *lg = ch->lg;
    {
        box(cp, lg[0], lg[1], lg[2], lg[3], BORDER);
        box(cp, lg[0] + 1, lg[1] + 1, lg[2] - 1, lg[3] - 1, WHITE);
        for (int s = 0; s < t->ns; s++) {
            int y = lg[1] + 3 * S + s * rowh + 7 * S / 2, x = lg[0] + 4 * S;
            rgb k = PALETTE[s % 10];
            seg(cp, x, y, x + sw - 1, y, lt, k);
            marker(cp, x + sw / 2, y, mr, (s / 10) % 4, k);
            text(cp, x + sw + 4 * S, y - 7 * S / 2, ch->nm[s], S, 0, INK);
        }
    }

}

/* --debug-layout: the frame, ranges, ticks, legend and series (see --help). */
static void print_layout(const chart *ch, const opts *o, const table *t) {
    const int L = ch->L, R = ch->R, T = ch->T, B = ch->B;
    const axis *ax = &ch->ax, *ay = &ch->ay;
    const ticks *tx = &ch->tx, *ty = &ch->ty;
    const int *lg = ch->lg;
    {
        printf("layout plot-area %d %d %d %d x-range %.10g %.10g y-range %.10g %.10g log-x %d\n", L, T, R, B,
               ax->log ? pow(10, ax->lo) : ax->lo, ax->log ? pow(10, ax->hi) : ax->hi, ay->lo, ay->hi, ax->log);
        printf("x-ticks");
        for (int i = 0; i < tx->n; i++) printf(" %.10g", tx->v[i]);
        printf("\ny-ticks");
        for (int i = 0; i < ty->n; i++) printf(" %.10g", ty->v[i]);
        printf("\n");
        if (o->scol) printf("legend %d %d %d %d\n", lg[0], lg[1], lg[2], lg[3]);
        for (int s = 0; s < t->ns; s++) {
            int n = 0;
            for (int i = 0; i < t->n; i++) n += t->p[i].s == s;
            rgb k = PALETTE[s % 10];
            printf("series #%02x%02x%02x %d %s\n", k.r, k.g, k.b, n, t->names[s]);
        }
    }
}

static int render(const opts *o, table *t) {
    chart *ch = (chart *)xcalloc(1, sizeof *ch, "the chart layout");
    int rc = layout(ch, o, t);
    if (rc) { free(ch); return rc; }
    const int W = o->W, H = o->H;
    canvas c = {(unsigned char *)xmalloc((size_t)W * H * 3, "the image"), W, H, 0, 0, W - 1, H - 1};
    memset(c.px, 0xff, (size_t)W * H * 3);
    draw_data(&c, ch, o, t);
    draw_hline_labels(&c, ch, o, t);
    draw_axes(&c, ch, o);
    if (o->scol) draw_legend(&c, ch, t);
    if (o->debug) print_layout(ch, o, t);
    rc = png_write_atomic(o->out, c.px, W, H) ? 1 : 0;
    free(c.px);
    free(ch);
    if (!rc) printf("genrep plot: wrote %s (%dx%d, %d point%s in %d series)\n", o->out, W, H, t->n,
                    t->n == 1 ? "" : "s", t->ns);
    return rc;
}

/* --hline VALUE:LABEL values into o->hv, o->hl. 0 or -1 with a message. */
static int parse_hlines(opts *o) {
    for (o->nh = 0; o->nh < o->hline.n; o->nh++) {
        const char *v = o->hline.v[o->nh], *colon = strchr(v, ':');
        char num[64];
        size_t n = colon ? (size_t)(colon - v) : strlen(v);
        snprintf(num, sizeof num, "%.*s", (int)(n < sizeof num ? n : sizeof num - 1), v);
        if (n >= sizeof num || !number(trim(num), &o->hv[o->nh])) {
            fprintf(stderr, "genrep plot: --hline '%s': expected VALUE:LABEL with a finite number, "
                    "e.g. \"82.4:raw pixels\"\n", v);
            return -1;
        }
        o->hl[o->nh] = colon ? colon + 1 : "";
    }
    return 0;
}

int genrep_cmd_plot(int argc, char **argv) {
    opts o;
    int pr = opt_parse(&plot_table, &o, NULL, argc, argv);
    if (pr) return pr > 0 ? 0 : 2;
    if (parse_hlines(&o)) return 2;
    if (strlen(o.out) > 4000) { fprintf(stderr, "genrep plot: --out: path too long\n"); return 2; }
    table t = {0};
    int rc = read_csv(&o, &t);
    if (!rc) rc = render(&o, &t);
    for (int s = 0; s < t.ns; s++) free(t.names[s]);
    free(t.p);
    return rc;
}
