/* parts/steer_decl.h: development fragment of genrep.h (declarations), inlined before release */

/* --------------------------------------------------------------- [STEER] */
/* Steered latent views (GenRep section 3.2, after "On the steerability of
   GANs", Jahanian et al. 2020): one learned linear walk w_t in latent
   space per image transform t, trained through a FROZEN generator so that
   G(z + alpha*w_t) looks like edit_t(G(z), alpha). At view time
   (GENREP_VIEW_STEER) every walk gets its own alpha ~ U(-alpha_max_t,
   alpha_max_t) and the steps are summed.

   Edits work on (N,C,H,W) images in the generator's range [-1,1] and
   return the edited image and a validity mask of the same shape (1 where
   the edited pixel came from inside the source image; 0 elsewhere, where
   the image value is 0 too). Alpha units, one alpha per image:
     SHIFTX      pixels, content moves right for alpha > 0 (fractional
                 alphas are sampled bilinearly)
     SHIFTY      pixels, content moves down for alpha > 0
     ZOOM        log2 of the magnification about the image centre
                 ((H-1)/2, (W-1)/2): 1 = twice as large, -1 = half size
                 (the border that zooming out uncovers is masked)
     ROTATE      degrees, counter-clockwise as seen on screen, about the
                 centre
     BRIGHTNESS  added to every pixel (mask all ones)
     CONTRAST    log2 of the factor applied about each image's mean over
                 (C,H,W): out = m + 2^alpha (x - m) (mask all ones)
   Geometric edits map each output pixel back to a source point and sample
   it bilinearly; the point counts as inside when it lies in
   [0, H-1] x [0, W-1] (coordinates within 1e-6 of an integer are snapped
   to it, so integer shifts and quarter turns are exact copies). Edits are
   deterministic and forward only: the training target needs no gradient. */

typedef enum {
    GENREP_STEER_SHIFTX = 0,
    GENREP_STEER_SHIFTY,
    GENREP_STEER_ZOOM,
    GENREP_STEER_ROTATE,
    GENREP_STEER_BRIGHTNESS,
    GENREP_STEER_CONTRAST,
    GENREP_STEER_N_KINDS
} genrep_steer_kind;

/* "shiftx", "shifty", "zoom", "rotate", "brightness", "contrast". */
GENREP_API const char *genrep_steer_name(genrep_steer_kind k);
GENREP_API genrep_status genrep_steer_parse(genrep_steer_kind *k, const char *s);
/* Default alpha range (training and views) for 28x28 images: shift 4 px,
   zoom 0.75 (x0.59 .. x1.68), rotate 30 degrees, brightness 0.4, contrast 0.75. */
GENREP_API float genrep_steer_default_alpha_max(genrep_steer_kind k);

/* out (N,C,H,W) = edit_kind(inp, alpha[n]) for each image n; mask (same
   shape, may be NULL) = 1 where valid else 0. out may not alias inp. */
GENREP_API genrep_status genrep_steer_edit(float *out, float *mask, const float *inp, const float *alpha,
                                           genrep_steer_kind kind, int N, int C, int H, int W);

/* Walk training state. The trained parameters are the unit walks U (T,D):
   the latent step for alpha = alpha_max_t, so z' = z + (alpha/alpha_max_t)
   U_t. Adam then sees every transform on the same scale whatever its
   units (the reference code feeds alpha/alpha_max to the graph too);
   genrep_steer_walks converts to walks per alpha unit, W_t = U_t /
   alpha_max_t, which is what GENREP_VIEW_STEER takes. */
#define GENREP_STEER_MAX_WALKS 16
typedef struct {
    int   T, D, max_batch;
    genrep_steer_kind kinds[GENREP_STEER_MAX_WALKS];
    float alpha_max[GENREP_STEER_MAX_WALKS];   /* > 0, alpha units */
    float truncation;                          /* anchors, default 1 */
    float *unit, *grad, *m, *v;                /* (T,D) each: U, dL/dU, Adam moments */
    /* scratch for one batch (max_batch rows) */
    float *z, *zs, *dz;                        /* (B,D) */
    float *alpha;                              /* (B) */
    int32_t *t, *y;                            /* (B) transform, class */
    float *target, *mask, *dout;               /* (B,1,28,28) */
} genrep_steer;

/* Allocate for T <= GENREP_STEER_MAX_WALKS walks of a D-dim latent and
   batches up to max_batch; U ~ N(0, 0.1) per coordinate from seed (as
   the reference). alpha_max NULL = the defaults above. */
GENREP_API genrep_status genrep_steer_create(genrep_steer *s, const genrep_steer_kind *kinds,
                                             const float *alpha_max, int T, int D, int max_batch,
                                             uint64_t seed);
GENREP_API void genrep_steer_free(genrep_steer *s);
/* walks (T,D) = U_t / alpha_max_t (per alpha unit). */
GENREP_API void genrep_steer_walks(float *walks, const genrep_steer *s);

/* The loss of batch number `step` and its gradient s->grad = dL/dU
   (overwritten). The batch: anchors z (B,D) = genrep_latent_anchors(seed,
   first = step*B) (classes likewise for a conditional g); per sample a
   transform t uniform over the T walks and alpha = alpha_max_t * U(-1,1)
   from Philox (seed, sample index). target, mask = edit_t(G(z), alpha);
   L = sum(mask * (G(z + alpha/alpha_max_t U_t) - target)^2) / sum(mask)
   over the batch; dL/dU_t = sum over samples of t of alpha/alpha_max_t *
   dL/dz'. g runs in eval mode and stays frozen (its own gradient slab is
   zeroed and gets junk; its parameters are untouched). B <= max_batch and
   B <= g->max_batch; g->cfg.zdim == D; g's images must be (1,28,28). */
GENREP_API genrep_status genrep_steer_loss_grad(genrep_steer *s, float *loss, genrep_gen *g, int B,
                                                uint64_t seed, int64_t step);
/* loss_grad, then Adam on U (Adam step count step + 1). */
GENREP_API genrep_status genrep_steer_train_step(genrep_steer *s, float *loss, genrep_gen *g, int B,
                                                 const genrep_adam_config *cfg, uint64_t seed, int64_t step);
/* Held-out check per walk t: on B anchors with sample indices from
   first, alpha = alpha_max_t * U(-1,1), the masked MSE against
   edit_t(G(z), alpha) of the walked image G(z + alpha w_t) (loss_walk[t])
   and of the unmoved image G(z) (loss_still[t], what doing nothing
   scores). Either output may be NULL. */
GENREP_API genrep_status genrep_steer_eval(genrep_steer *s, float *loss_walk, float *loss_still, genrep_gen *g,
                                           int B, uint64_t seed, uint64_t first);
