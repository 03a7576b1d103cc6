/* trainer/main.c: `genrep`, the reference trainer CLI. Dispatches subcommands. */
#include "trainer.h"
#include <stdio.h>
#include <string.h>

static int cmd_info(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("genrep.h %s\n", GENREP_VERSION);
    printf("isa      %s\n", genrep_isa_name(genrep_get_isa()));
    printf("threads  %d\n", genrep_num_threads());
    return 0;
}

int genrep_cmd_train(int argc, char **argv);
int genrep_cmd_gan_train(int argc, char **argv);
int genrep_cmd_probe(int argc, char **argv);
int genrep_cmd_views(int argc, char **argv);
int genrep_cmd_steer_train(int argc, char **argv);
int genrep_cmd_aug_grid(int argc, char **argv);
int genrep_cmd_embed(int argc, char **argv);
int genrep_cmd_gan_eval(int argc, char **argv);
int genrep_cmd_plot(int argc, char **argv);
int genrep_cmd_stats(int argc, char **argv);

static const struct { const char *name; genrep_cmd_fn fn; const char *help; } commands[] = {
    {"gan-train", genrep_cmd_gan_train, "train a DCGAN or class-conditional GAN on Fashion-MNIST (the shipped generators)"},
    {"train", genrep_cmd_train, "train an encoder contrastively on generator views (or real data: Fashion-MNIST, an image folder)"},
    {"probe", genrep_cmd_probe, "linear probe + kNN of a frozen encoder on real Fashion-MNIST or image folders"},
    {"steer-train", genrep_cmd_steer_train, "learn latent walks (shift, zoom, rotate, brightness, contrast) through a frozen generator"},
    {"aug-grid", genrep_cmd_aug_grid, "PNG grid of SimCLR-augmented views of real Fashion-MNIST images"},
    {"views", genrep_cmd_views, "the figure of views: anchors and their latent / pixel views as one PNG"},
    {"gan-eval", genrep_cmd_gan_eval, "quality of generators: classifier accuracy and Frechet distance (or --train-classifier)"},
    {"embed", genrep_cmd_embed, "features of a folder of your images from a trained encoder (default: the shipped one), to CSV (+ nearest neighbours)"},
    {"plot", genrep_cmd_plot, "line chart (PNG) of CSV columns: series, error bars, reference lines, log x"},
    {"stats", genrep_cmd_stats, "the reproduction statistics of a runs CSV: summaries, t-tests, fits, Holm (markdown)"},
    {"info", cmd_info, "print version, the kernel path (ISA) in use and the thread count"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: genrep <command> [flags]   (genrep <command> --help for its flags)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nenvironment: GENREP_ISA=scalar|avx2|avx512 forces a kernel path; OMP_NUM_THREADS sets threads.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "genrep: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
