#!/usr/bin/python3
"""scikit-learn side of alur's benchmark (bench/cmd/alurbench runs it).

It reads the same CSV file alur read, uses the same split column, prepares
the features the way alur's preparation does (median imputation and
standard scaling of numbers, most-frequent imputation and one-hot encoding
of categories, fitted on the train rows only), then fits and scores the
scikit-learn counterpart of every requested alur algorithm.

Output: one JSON object per line on stdout, with a "kind" of
  "info"        library versions and CPU count,
  "unavailable" scikit-learn or pandas cannot be imported (exit status 0),
  "load"        pandas.read_csv seconds and the file size,
  "prepare"     seconds to fit the preparation on train and apply it to both,
  "algorithm"   fit and predict seconds and test accuracy of one model,
  "skipped"     an algorithm with no scikit-learn counterpart here, or
                one that failed (the others still run).
Timings are wall-clock seconds, the best of --repeat runs. Progress goes
to stderr.

Only Debian's packages are used (python3-sklearn, python3-pandas); nothing
is installed.
"""

import argparse
import json
import os
import sys
import time


def emit(**fields):
    """Print one JSON line on stdout and flush it, so a partial run still
    leaves its finished results behind."""
    print(json.dumps(fields), flush=True)


def note(msg):
    print("sklearn_side: " + msg, file=sys.stderr, flush=True)


def best_of(repeat, fn):
    """Run fn() repeat times; return (best seconds, last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", required=True, help="the CSV file alur read")
    ap.add_argument("--label", default="label", help="label column")
    ap.add_argument("--split-column", default="split",
                    help='column marking rows "train" or "test"')
    ap.add_argument("--algorithms", default="logistic_regression,random_forest,"
                    "gradient_boosting,decision_tree,naive_bayes,knn",
                    help="comma-separated alur algorithm names")
    ap.add_argument("--repeat", type=int, default=1,
                    help="take the best of this many runs of every timing")
    ap.add_argument("--seed", type=int, default=0,
                    help="random_state of the randomised models")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    try:
        import numpy as np
        import pandas as pd
        import sklearn
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import (HistGradientBoostingClassifier,
                                      RandomForestClassifier)
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import accuracy_score
        from sklearn.naive_bayes import GaussianNB
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler
        from sklearn.tree import DecisionTreeClassifier
    except ImportError as exc:
        emit(kind="unavailable", reason="cannot import %s (install Debian's "
             "python3-sklearn and python3-pandas)" % exc.name)
        return 0

    emit(kind="info", sklearn=sklearn.__version__, pandas=pd.__version__,
         numpy=np.__version__, python=sys.version.split()[0],
         cpus=os.cpu_count())

    size = os.path.getsize(args.csv)
    load_s, df = best_of(args.repeat, lambda: pd.read_csv(args.csv))
    emit(kind="load", seconds=load_s, bytes=size)

    for col in (args.label, args.split_column):
        if col not in df.columns:
            note("column %r is not in %s" % (col, args.csv))
            return 2
    split = df[args.split_column].astype(str).str.strip().str.lower()
    train_mask = (split == "train").to_numpy()
    test_mask = (split == "test").to_numpy()
    labelled = df[args.label].notna().to_numpy()
    train_mask &= labelled
    test_mask &= labelled
    y = df[args.label].astype(str).to_numpy()
    features = df.drop(columns=[args.label, args.split_column])
    # alur reads true/false columns as BOOLEAN, a number; pandas reads them
    # as bool, or as object when a value is missing.
    for c in features.columns:
        col = features[c]
        if pd.api.types.is_bool_dtype(col) or (
                col.dtype == object
                and set(col.dropna().unique()) <= {True, False}
                and col.notna().any()):
            features[c] = col.map({True: 1.0, False: 0.0})
    numeric = [c for c in features.columns
               if pd.api.types.is_numeric_dtype(features[c])]
    categorical = [c for c in features.columns if c not in numeric]
    X_train_raw, X_test_raw = features[train_mask], features[test_mask]
    y_train, y_test = y[train_mask], y[test_mask]

    def one_hot():
        """A dense OneHotEncoder keeping the 100 most frequent categories,
        as alur's max_categories does; the dense flag was renamed in
        scikit-learn 1.2."""
        try:
            return OneHotEncoder(handle_unknown="ignore", max_categories=100,
                                 sparse_output=False)
        except TypeError:
            return OneHotEncoder(handle_unknown="ignore", max_categories=100,
                                 sparse=False)

    # The same preparation as alur's prep.Fit: ColumnTransformer of
    # SimpleImputer(median) + StandardScaler for numbers and
    # SimpleImputer(most_frequent) + OneHotEncoder for categories.
    transformers = []
    if numeric:
        transformers.append(("num", make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        transformers.append(("cat", make_pipeline(
            SimpleImputer(strategy="most_frequent"), one_hot()), categorical))

    def prepare():
        ct = ColumnTransformer(transformers)
        return ct.fit_transform(X_train_raw), ct.transform(X_test_raw)

    prep_s, (X_train, X_test) = best_of(args.repeat, prepare)
    X_train = np.ascontiguousarray(X_train, dtype=np.float64)
    X_test = np.ascontiguousarray(X_test, dtype=np.float64)
    emit(kind="prepare", seconds=prep_s, train_rows=len(y_train),
         test_rows=len(y_test), features=X_train.shape[1])

    seed = args.seed
    counterparts = {
        "logistic_regression": [
            ("", lambda: LogisticRegression(max_iter=1000))],
        "random_forest": [
            ("n_jobs=1", lambda: RandomForestClassifier(
                n_estimators=100, random_state=seed, n_jobs=1)),
            ("n_jobs=-1", lambda: RandomForestClassifier(
                n_estimators=100, random_state=seed, n_jobs=-1))],
        "gradient_boosting": [
            ("", lambda: HistGradientBoostingClassifier(
                max_iter=100, random_state=seed))],
        "decision_tree": [
            ("", lambda: DecisionTreeClassifier(random_state=seed))],
        "naive_bayes": [("", GaussianNB)],
        "knn": [("", lambda: KNeighborsClassifier(n_neighbors=5))],
    }
    for name in [a.strip() for a in args.algorithms.split(",") if a.strip()]:
        if name not in counterparts:
            emit(kind="skipped", name=name,
                 reason="no scikit-learn counterpart in this script")
            continue
        for variant, make in counterparts[name]:
            note("fitting %s %s" % (name, variant))
            fit_s, predict_s, acc = float("inf"), float("inf"), None
            try:
                for _ in range(args.repeat):
                    model = make()
                    start = time.perf_counter()
                    model.fit(X_train, y_train)
                    fit_s = min(fit_s, time.perf_counter() - start)
                    start = time.perf_counter()
                    pred = model.predict(X_test)
                    predict_s = min(predict_s, time.perf_counter() - start)
                    acc = accuracy_score(y_test, pred)
                    del model
            except Exception as exc:  # report it, go on with the others
                emit(kind="skipped", name=name,
                     reason=("%s " % variant if variant else "")
                     + "failed: %s" % exc)
                continue
            emit(kind="algorithm", name=name, variant=variant,
                 fit_seconds=fit_s, predict_seconds=predict_s,
                 accuracy=float(acc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
