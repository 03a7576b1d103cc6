// Quick start: fit a linear classifier to two Gaussian blobs with genrep.h's
// layers (linear -> softmax cross-entropy -> SGD), checking every status.
#define GENREP_IMPLEMENTATION
#include "genrep.h"
#include <stdio.h>

#define B 64 // batch
#define D 2  // input features
#define V 2  // classes

int main(void) {
    float x[B * D], logits[B * V], probs[B * V], dlogits[B * V], loss = 0;
    int32_t y[B];
    float w[V * D + V] = {0}, g[V * D + V], mom[V * D + V] = {0}; // weight (V,D), bias (V)
    genrep_sgd_config sgd = {0.5f, 0.9f, 0.0f, 0};                  // lr, momentum, wd, nesterov
    genrep_rng rng;
    genrep_rng_init(&rng, 1234, 0); // Philox stream (seed 1234, stream 0)
    for (int step = 1; step <= 50; step++) {
        for (int b = 0; b < B; b++) { // class c is centred at (2c-1, 2c-1)
            y[b] = (int32_t)genrep_rng_below(&rng, V);
            for (int d = 0; d < D; d++) x[b * D + d] = (2.0f * y[b] - 1.0f) + genrep_rng_normal(&rng);
        }
        genrep_status st = genrep_linear_forward(logits, x, w, w + V * D, B, D, V);
        if (!st) st = genrep_softmax_xent_forward(&loss, probs, logits, y, B, V);
        for (int i = 0; i < V * D + V; i++) g[i] = 0.0f; // backward accumulates (+=)
        for (int i = 0; i < B * V; i++) dlogits[i] = 0.0f;
        if (!st) st = genrep_softmax_xent_backward(dlogits, probs, y, B, V, 1.0f);
        if (!st) st = genrep_linear_backward(NULL, g, g + V * D, dlogits, x, w, B, D, V);
        if (!st) st = genrep_sgd_step(w, mom, g, V * D + V, &sgd, step);
        if (st) { fprintf(stderr, "error: %s: %s\n", genrep_status_str(st), genrep_last_error()); return 1; }
        if (step % 10 == 0) printf("step %2d  loss %.4f\n", step, loss);
    }
    return loss < 0.4f ? 0 : 1; // two blobs 2.8 sigma apart: the loss ends near 0.2
}
