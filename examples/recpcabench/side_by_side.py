#!/usr/bin/env python3
"""Side-by-side timing of recpca.Fit (the recpcabench command) and
scikit-learn's PCA on the same machine, alternating runs so that both see the
same load.

    go build -o /some/dir/recpcabench ./examples/recpcabench
    python3 examples/recpcabench/side_by_side.py --bin /some/dir/recpcabench \
        --data ../shared/data/amazon-beauty --reps 5
    python3 examples/recpcabench/side_by_side.py --bin /some/dir/recpcabench \
        --case synthetic --reps 3 --match-tol

beauty: the item embeddings of the dataset folder (rows 1.., row 0 is
padding), PCA to 64 with svd_solver full and randomized (scikit-learn's
default choice for this shape); Rec-PCA includes building the co-occurrence
graph. synthetic: an n x D float32 matrix with column j scaled by
1/(1+j/32), drawn by numpy (the Go side draws the same distribution with its
own generator), randomized PCA to 64. Prints one row per method with the
median and range of the fit times, the ratio of medians to Rec-PCA, and the
load average before and after. It also prints the solver that scikit-learn's
default PCA(n_components=d) picks for the shape (svd_solver="auto").

--match-tol first fits scikit-learn's randomized PCA once (untimed), takes its
largest relative Ritz residual and passes it to the Go command as -tol, so
that both stop at the same accuracy (recpca's -tol bounds that residual for
the PCA and the Rec-PCA solve alike).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from sklearn.decomposition import PCA


def time_sklearn(x, solver, d):
    t0 = time.perf_counter()
    p = PCA(n_components=d, svd_solver=solver, random_state=0).fit(x)
    return time.perf_counter() - t0, p


def ritz_residual(x, p):
    """Largest ||C w - theta w|| / ||C|| over the fitted components w
    (C the covariance, ||C|| its top Ritz value): the quantity that
    recpca's Options.Tol bounds for PCA."""
    w = p.components_.astype(np.float64)  # d x D, orthonormal rows
    xc = x - p.mean_.astype(x.dtype)
    cw = (xc.T @ (xc @ w.T.astype(x.dtype))).astype(np.float64) / x.shape[0]  # D x d
    theta = np.einsum("ij,ji->i", w, cw)
    r = np.linalg.norm(cw - w.T * theta, axis=0)
    return float(r.max() / theta.max())


def time_go(args):
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["fit_seconds"][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="built recpcabench command")
    ap.add_argument("--case", default="beauty", choices=["beauty", "synthetic"])
    ap.add_argument("--data", default="../shared/data/amazon-beauty")
    ap.add_argument("--emb", default="item_emb_use_lite_512.npy")
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--dim", type=int, default=4096)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--go-args", default="", help="extra flags for the Go command")
    ap.add_argument("--match-tol", action="store_true",
                    help="pass scikit-learn randomized PCA's Ritz residual to Go as -tol")
    a = ap.parse_args()

    go = [a.bin, "-case", a.case, "-d", str(a.d), "-reps", "1"] + a.go_args.split()
    if a.case == "beauty":
        x = np.load(os.path.join(a.data, a.emb))[1:]
        go += ["-data", a.data, "-emb", a.emb]
        solvers = ["full", "randomized"]
    else:
        rng = np.random.default_rng(3)
        x = np.empty((a.n, a.dim), dtype=np.float32)
        scale = (1 / (1 + np.arange(a.dim) / 32)).astype(np.float32)
        for lo in range(0, a.n, 4096):
            hi = min(lo + 4096, a.n)
            x[lo:hi] = rng.standard_normal((hi - lo, a.dim), dtype=np.float32) * scale
        go += ["-n", str(a.n), "-dim", str(a.dim)]
        solvers = ["randomized"]
    print(f"case {a.case}: {x.shape[0]} x {x.shape[1]} -> {a.d} ({x.dtype}); "
          f"load before {os.getloadavg()}; cpus {os.cpu_count()}", flush=True)
    import sklearn
    if a.case == "beauty":
        choice = PCA(n_components=a.d).fit(x)._fit_svd_solver  # untimed
    else:
        # The rule of PCA._fit for svd_solver="auto" (scikit-learn 1.2).
        choice = "randomized" if max(x.shape) > 500 and 1 <= a.d < 0.8 * min(x.shape) else "full"
    print(f"scikit-learn {sklearn.__version__}: PCA(n_components={a.d}) picks svd_solver={choice!r} "
          "for this shape", flush=True)
    if a.match_tol:
        _, p = time_sklearn(x, "randomized", a.d)
        tol = ritz_residual(x, p)
        go += ["-tol", f"{tol:.3g}"]
        print(f"matched accuracy: Go runs with -tol {tol:.3g} (scikit-learn randomized's residual)", flush=True)

    times = {"rec-pca (Go, graph included)": []}
    for s in solvers:
        times[f"sklearn PCA {s}"] = []
    for r in range(a.reps):
        # Alternate the order each repetition.
        order = list(times) if r % 2 == 0 else list(reversed(times))
        for name in order:
            if name.startswith("rec-pca"):
                t = time_go(go)
            else:
                t, p = time_sklearn(x, name.split()[-1], a.d)
                if r == 0:
                    print(f"{name}: largest relative Ritz residual {ritz_residual(x, p):.2g} "
                          "(recpca's -tol bounds the same quantity)", flush=True)
            times[name].append(t)
            print(f"rep {r} {name}: {t:.3f} s", flush=True)

    ref = statistics.median(times["rec-pca (Go, graph included)"])
    print(f"\nload after {os.getloadavg()}")
    print(f"{'method':32s} {'median s':>9s} {'min s':>7s} {'max s':>7s} {'time / rec-pca':>15s}")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:32s} {m:9.3f} {min(ts):7.3f} {max(ts):7.3f} {m / ref:15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
