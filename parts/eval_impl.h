/* parts/eval_impl.h: development fragment of genrep.h (implementation), inlined before release */

/* ---------------------------------------------------------------- [EVAL] */
GENREP_API genrep_status genrep_mean_cov(double *mu, double *cov, const float *x, int N, int D) {
    GENREP__CHECK_PTR(mu); GENREP__CHECK_PTR(cov); GENREP__CHECK_PTR(x);
    if (N < 2 || D < 1)
        return genrep__fail(GENREP_ERR_ARG, "genrep_mean_cov: need N >= 2 and D >= 1, got N %d, D %d", N, D);
    const size_t d = (size_t)D;
    for (size_t i = 0; i < d; i++) mu[i] = 0.0;
    for (size_t n = 0; n < (size_t)N; n++)
        for (size_t i = 0; i < d; i++) mu[i] += (double)x[n * d + i];
    for (size_t i = 0; i < d; i++) mu[i] /= (double)N;
    /* upper triangle of sum_n r r^T, r = x_n - mu (two-pass: no cancellation) */
    for (size_t i = 0; i < d * d; i++) cov[i] = 0.0;
    GENREP__OMP(omp parallel for schedule(dynamic, 4) if ((size_t)N * d * d > 262144))
    for (int ii = 0; ii < D; ii++) {
        size_t i = (size_t)ii;
        double *ci = cov + i * d;
        for (size_t n = 0; n < (size_t)N; n++) {
            const float *xn = x + n * d;
            double ri = (double)xn[i] - mu[i];
            for (size_t j = i; j < d; j++) ci[j] += ri * ((double)xn[j] - mu[j]);
        }
    }
    for (size_t i = 0; i < d; i++)
        for (size_t j = i; j < d; j++) {
            cov[i * d + j] /= (double)(N - 1);
            cov[j * d + i] = cov[i * d + j];
        }
    return GENREP_OK;
}

GENREP_API genrep_status genrep_sym_eig(double *w, double *v, double *a, int n) {
    GENREP__CHECK_PTR(w); GENREP__CHECK_PTR(a);
    if (n < 1) return genrep__fail(GENREP_ERR_ARG, "genrep_sym_eig: n must be >= 1, got %d", n);
    const size_t N = (size_t)n;
    if (v)
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++) v[i * N + j] = i == j ? 1.0 : 0.0;
    double frob2 = 0.0;
    for (size_t i = 0; i < N * N; i++) frob2 += a[i] * a[i];
    if (!(frob2 == frob2) || frob2 > 1e300)
        return genrep__fail(GENREP_ERR_NONFINITE, "genrep_sym_eig: matrix (%d x %d) is not finite", n, n);
    int converged = 0;
    for (int sweep = 0; sweep < 100 && !converged; sweep++) {
        double off = 0.0;
        for (size_t p = 0; p < N; p++)
            for (size_t q = p + 1; q < N; q++) off += 2.0 * a[p * N + q] * a[p * N + q];
        /* off-diagonal Frobenius norm below 1e-14 of the whole matrix's */
        if (off <= 1e-28 * frob2) { converged = 1; break; }
        for (size_t p = 0; p < N; p++)
            for (size_t q = p + 1; q < N; q++) {
                double apq = a[p * N + q];
                if (apq == 0.0) continue;
                /* rotation J (J_pp = J_qq = c, J_pq = s, J_qp = -s) with
                   (J^T A J)_pq = 0: cot 2phi = (a_qq - a_pp) / (2 a_pq), t = tan phi
                   the smaller root of t^2 + 2 t theta - 1 = 0 (|phi| <= pi/4) */
                double theta = (a[q * N + q] - a[p * N + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (size_t k = 0; k < N; k++) { /* A J: columns p, q */
                    double akp = a[k * N + p], akq = a[k * N + q];
                    a[k * N + p] = c * akp - s * akq;
                    a[k * N + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < N; k++) { /* J^T (A J): rows p, q */
                    double apk = a[p * N + k], aqk = a[q * N + k];
                    a[p * N + k] = c * apk - s * aqk;
                    a[q * N + k] = s * apk + c * aqk;
                }
                a[p * N + q] = a[q * N + p] = 0.0; /* exact zero by construction */
                if (v)
                    for (size_t k = 0; k < N; k++) {
                        double vkp = v[k * N + p], vkq = v[k * N + q];
                        v[k * N + p] = c * vkp - s * vkq;
                        v[k * N + q] = s * vkp + c * vkq;
                    }
            }
    }
    if (!converged) {
        double off = 0.0;
        for (size_t p = 0; p < N; p++)
            for (size_t q = p + 1; q < N; q++) off += 2.0 * a[p * N + q] * a[p * N + q];
        if (off > 1e-28 * frob2)
            return genrep__fail(GENREP_ERR_ARG, "genrep_sym_eig: no convergence after 100 sweeps (n %d)", n);
    }
    for (size_t i = 0; i < N; i++) w[i] = a[i * N + i];
    /* ascending order, eigenvector columns moved along (selection sort, n swaps) */
    for (size_t i = 0; i < N; i++) {
        size_t m = i;
        for (size_t j = i + 1; j < N; j++)
            if (w[j] < w[m]) m = j;
        if (m == i) continue;
        double tw = w[i]; w[i] = w[m]; w[m] = tw;
        if (v)
            for (size_t k = 0; k < N; k++) {
                double tv = v[k * N + i]; v[k * N + i] = v[k * N + m]; v[k * N + m] = tv;
            }
    }
    return GENREP_OK;
}

GENREP_API size_t genrep_frechet_workspace(int D) {
    size_t d = D > 0 ? (size_t)D : 0;
    return 4 * d * d + d;
}

GENREP_API genrep_status genrep_frechet_distance(double *fd, const double *mu1, const double *c1,
                                                 const double *mu2, const double *c2, int D, double *ws) {
    GENREP__CHECK_PTR(fd); GENREP__CHECK_PTR(mu1); GENREP__CHECK_PTR(c1);
    GENREP__CHECK_PTR(mu2); GENREP__CHECK_PTR(c2); GENREP__CHECK_PTR(ws);
    if (D < 1) return genrep__fail(GENREP_ERR_ARG, "genrep_frechet_distance: D must be >= 1, got %d", D);
    const size_t d = (size_t)D;
    double *S = ws, *V = S + d * d, *A = V + d * d, *T = A + d * d, *w = T + d * d;
    /* S = C1^(1/2) = V diag(sqrt(max(w, 0))) V^T */
    memcpy(A, c1, d * d * sizeof(double));
    genrep_status st = genrep_sym_eig(w, V, A, D);
    if (st) return st;
    for (size_t i = 0; i < d; i++) w[i] = w[i] > 0.0 ? sqrt(w[i]) : 0.0;
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++) acc += V[i * d + k] * w[k] * V[j * d + k];
            S[i * d + j] = acc;
        }
    /* A = S C2 S (symmetric up to round-off: symmetrise before the solver) */
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++) acc += S[i * d + k] * c2[k * d + j];
            T[i * d + j] = acc;
        }
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++) acc += T[i * d + k] * S[k * d + j];
            A[i * d + j] = acc;
        }
    for (size_t i = 0; i < d; i++)
        for (size_t j = i + 1; j < d; j++) A[i * d + j] = A[j * d + i] = 0.5 * (A[i * d + j] + A[j * d + i]);
    st = genrep_sym_eig(w, NULL, A, D);
    if (st) return st;
    double tr_sqrt = 0.0, tr1 = 0.0, tr2 = 0.0, dmu = 0.0;
    for (size_t i = 0; i < d; i++) {
        tr_sqrt += w[i] > 0.0 ? sqrt(w[i]) : 0.0;
        tr1 += c1[i * d + i];
        tr2 += c2[i * d + i];
        dmu += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
    }
    *fd = dmu + tr1 + tr2 - 2.0 * tr_sqrt;
    return GENREP_OK;
}
