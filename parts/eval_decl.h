/* parts/eval_decl.h: development fragment of genrep.h (declarations), inlined before release */

/* ---------------------------------------------------------------- [EVAL] */
/* Sample-quality statistics in double precision: feature means and
   covariances, a symmetric eigen-solver, and the Frechet distance between
   two Gaussians (the FID formula, here in a classifier's feature space):
       FD = |mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2)).
   The trace of the matrix square root is computed without a non-symmetric
   sqrtm: with S = C1^(1/2) (symmetric, from C1's eigen-decomposition),
   C1 C2 is similar to S C2 S, which is symmetric PSD, so
       tr((C1 C2)^(1/2)) = sum_i sqrt(max(lambda_i(S C2 S), 0)).
   Sizes are meant for feature dims up to a few hundred (cyclic Jacobi is
   O(D^3) per sweep). */

/* mu (D) = mean of the rows of x (N, D); cov (D, D) = unbiased covariance
   (divides by N - 1, as numpy.cov). N >= 2. Accumulates in double. */
GENREP_API genrep_status genrep_mean_cov(double *mu, double *cov, const float *x, int N, int D);

/* Eigen-decomposition of the symmetric a (n, n), row-major, destroyed:
   a = V diag(w) V^T with w (n) ascending and V (n, n) holding the
   eigenvectors as COLUMNS (v may be NULL: eigenvalues only). Cyclic
   Jacobi rotations until the off-diagonal Frobenius norm is below 1e-14
   of the whole matrix's (at most 100 sweeps, else GENREP_ERR_ARG, which
   does not happen for finite symmetric input; non-finite input gives
   GENREP_ERR_NONFINITE). */
GENREP_API genrep_status genrep_sym_eig(double *w, double *v, double *a, int n);

/* Doubles of workspace genrep_frechet_distance needs for dimension D. */
GENREP_API size_t genrep_frechet_workspace(int D);
/* *fd = Frechet distance between N(mu1, c1) and N(mu2, c2), D dims;
   c1, c2 (D, D) symmetric PSD (small negative eigenvalues from round-off
   are clamped to 0). ws: genrep_frechet_workspace(D) doubles. */
GENREP_API genrep_status genrep_frechet_distance(double *fd, const double *mu1, const double *c1,
                                                 const double *mu2, const double *c2, int D, double *ws);
