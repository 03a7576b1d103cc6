#!/usr/bin/env python3
"""Summarise bench_gemm JSON (from run_gemm.sh) into the markdown table of
RESULTS.md: median GFLOP/s per shape, path and thread count, and ratios of
genrep (AVX-512, 2 threads) to OpenBLAS measured in the same process.
Usage: python3 bench/gemm_table.py build/bench/gemm_default.json build/bench/gemm_skylakex.json"""
import json, re, sys

SHAPES = ["1024^3", "2048^3", "64x25088x576", "128x6272x1152"]
ISA = {0: "scalar", 1: "avx2", 2: "avx512"}


def medians(path, agg="median"):
    out = {}
    for b in json.load(open(path))["benchmarks"]:
        if b.get("aggregate_name") != agg:
            continue
        name = b["run_name"]
        g = b.get("GFLOPS")
        m = re.match(r"BM_genrep_sgemm/isa:(\d)/threads:(\d)/shape:(\d)", name)
        if m:
            out[("genrep " + ISA[int(m[1])], int(m[2]), SHAPES[int(m[3])])] = g
            continue
        m = re.match(r"BM_openblas_sgemm/threads:(\d)/shape:(\d)", name)
        if m:
            out[("openblas", int(m[1]), SHAPES[int(m[2])])] = g
    return out


def main():
    for agg, title in (("median", "Median"), ("max", "Best repetition (max)")):
        table(medians(sys.argv[1], agg), medians(sys.argv[2], agg), title)
        print()


def table(d, s, title):
    cols = [("genrep avx512", 1, d), ("genrep avx512", 2, d), ("genrep avx2", 1, d), ("genrep avx2", 2, d),
            ("genrep scalar", 2, d), ("openblas", 1, d), ("openblas", 2, d), ("openblas", 1, s), ("openblas", 2, s)]
    head = ["genrep AVX-512 1T", "genrep AVX-512 2T", "genrep AVX2 1T", "genrep AVX2 2T", "genrep scalar 2T",
            "OpenBLAS Haswell 1T", "OpenBLAS Haswell 2T", "OpenBLAS SkylakeX 1T", "OpenBLAS SkylakeX 2T"]
    print("%s GFLOP/s (higher is better):\n" % title)
    print("| shape (MxNxK) | " + " | ".join(head) + " |")
    print("|---" * (len(head) + 1) + "|")
    for sh in SHAPES:
        row = []
        for name, nt, src in cols:
            v = src.get((name, nt, sh))
            row.append("-" if v is None else "%.0f" % v)
        print("| %s | %s |" % (sh, " | ".join(row)))
    print("\nRatios, each measured within one process (same run, interleaved repetitions):\n")
    print("| shape | genrep/OpenBLAS-Haswell 1T | 2T | genrep/OpenBLAS-SkylakeX 1T | 2T |")
    print("|---|---|---|---|---|")
    for sh in SHAPES:
        r = []
        for src in (d, s):
            for nt in (1, 2):
                g, o = src.get(("genrep avx512", nt, sh)), src.get(("openblas", nt, sh))
                r.append("-" if not g or not o else "%.2f" % (g / o))
        print("| %s | %s |" % (sh, " | ".join(r)))


if __name__ == "__main__":
    main()
