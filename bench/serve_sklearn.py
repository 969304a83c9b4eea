#!/usr/bin/python3
"""scikit-learn side of the serve benchmark (bench/cmd/servebench runs it).

It reads the benchmark's CSV file, standardises the features, fits the
scikit-learn counterparts of the served models (logistic regression, a
100-tree random forest, 100 rounds of histogram gradient boosting without
early stopping) and times predict_proba in process: one row at a time
(p50 and p99 of many calls) and 1,000 rows at a time (rows per second).

Output: one JSON object per model on stdout, {"model", "p50_ms",
"p99_ms", "rows_per_s"}. Nothing is printed when scikit-learn is missing.
Only Debian's packages are used (python3-sklearn, python3-pandas).
"""

import argparse
import json
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", required=True)
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    try:
        import numpy as np
        import pandas as pd
        from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
    except ImportError as err:
        print(f"serve_sklearn: {err}", file=sys.stderr)
        return 0
    df = pd.read_csv(args.csv)
    y = df["label"].astype(str).to_numpy()
    X = StandardScaler().fit_transform(df.drop(columns=["label", "split"]).to_numpy(dtype=float))
    models = {
        "logistic": LogisticRegression(max_iter=1000),
        "forest100": RandomForestClassifier(n_estimators=100, random_state=1, n_jobs=1),
        "boosting100": HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=1),
    }
    rng = np.random.default_rng(1)
    for name, model in models.items():
        model.fit(X, y)
        lat = []
        for i in rng.integers(0, len(X), args.single):
            row = X[i : i + 1]
            t = time.perf_counter()
            model.predict_proba(row)
            lat.append(time.perf_counter() - t)
        lat.sort()
        total = 0.0
        for i in rng.integers(0, len(X) - 1000, args.batch):
            rows = X[i : i + 1000]
            t = time.perf_counter()
            model.predict_proba(rows)
            total += time.perf_counter() - t
        print(json.dumps({
            "model": name,
            "p50_ms": lat[len(lat) // 2] * 1e3,
            "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3,
            "rows_per_s": args.batch * 1000 / total,
        }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
