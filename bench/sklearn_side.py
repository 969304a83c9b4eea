#!/usr/bin/python3
"""Peer side of alur's benchmark (bench/cmd/alurbench runs it): scikit-learn
and XGBoost on the same file, rows and split as alur.

It reads the same CSV file alur read, uses the same split column, prepares
the features the way alur's preparation does (median imputation and
standard scaling of numbers, most-frequent imputation and one-hot encoding
of categories, fitted on the train rows only), then fits and scores every
requested peer model with the given number of threads.

Threads: --threads N sets n_jobs (random forest, k-NN), XGBoost's nthread
and, before numpy is imported, OMP_NUM_THREADS / OPENBLAS_NUM_THREADS /
MKL_NUM_THREADS (scikit-learn's OpenMP code: histogram gradient boosting,
k-NN distances; BLAS: logistic regression). The harness also sets those
variables in the environment it starts the script with, so the OpenMP
runtime reads them when it loads.

Output: one JSON object per line on stdout, with a "kind" of
  "info"        library versions, CPU count and threads,
  "unavailable" scikit-learn or pandas cannot be imported (exit status 0),
  "load"        pandas.read_csv seconds and the file size,
  "prepare"     seconds to fit the preparation on train and apply it to both,
  "algorithm"   fit and predict seconds and test accuracy of one model, with
                the process's resident memory when the fit starts (the
                data loaded and prepared; the peak is reset to it there)
                and its peak resident memory (VmHWM) after the fit, when
                --peak-memory is given,
  "skipped"     a model with no counterpart here, whose library is
                missing, or that failed (the others still run).
Timings are wall-clock seconds, the best of --repeat runs (--repeat-small
for a timing whose first run took under 2 s). Progress goes
to stderr.

Only Debian's packages are used (python3-sklearn, python3-pandas,
python3-xgboost); nothing is installed here (scripts/bench.sh does).
"""

import argparse
import json
import os
import sys
import time

# Model keys understood by --models. "xgboost" is XGBoost 1.7's
# XGBClassifier with its defaults spelled out; "gradient_boosting_xgb" is
# scikit-learn's HistGradientBoosting given XGBoost's settings.
MODELS = ("logistic_regression,random_forest,gradient_boosting,"
          "decision_tree,naive_bayes,knn,xgboost")

# XGBoost's defaults (1.7), given explicitly so that a different build
# cannot change what is measured: histogram method, depth-wise trees of
# depth 6, learning rate 0.3, 100 rounds, 256 bins, L2 penalty 1,
# min_child_weight 1.
XGB_DEFAULTS = dict(tree_method="hist", max_depth=6, learning_rate=0.3,
                    n_estimators=100, max_bin=256, reg_lambda=1.0,
                    min_child_weight=1.0)


def emit(**fields):
    """Print one JSON line on stdout and flush it, so a partial run still
    leaves its finished results behind."""
    print(json.dumps(fields), flush=True)


def note(msg):
    print("sklearn_side: " + msg, file=sys.stderr, flush=True)


def proc_status(field):
    """A memory field of /proc/self/status (VmHWM: peak resident memory,
    VmRSS: resident memory now) in bytes, or 0 where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak():
    """Reset the process's peak resident memory to its current resident
    memory (Linux: writing 5 to clear_refs), so that VmHWM after a fit is
    the fit's peak, not that of reading the CSV file; returns the resident
    memory then."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return proc_status("VmRSS")


# A timing under SMALL_SECONDS counts as small: it gets --repeat-small runs.
SMALL_SECONDS = 2.0


def runs_for(args, first):
    """How many runs a timing gets in all, given its first took first s."""
    if first < SMALL_SECONDS:
        return max(args.repeat, args.repeat_small)
    return args.repeat


def best_of(args, fn):
    """Run fn() --repeat times (--repeat-small when the first run was
    short); return (best seconds, last result)."""
    best, result, runs, i = float("inf"), None, args.repeat, 0
    while i < runs:
        start = time.perf_counter()
        result = fn()
        took = time.perf_counter() - start
        best = min(best, took)
        if i == 0:
            runs = runs_for(args, took)
        i += 1
    return best, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", required=True, help="the CSV file alur read")
    ap.add_argument("--label", default="label", help="label column")
    ap.add_argument("--split-column", default="split",
                    help='column marking rows "train" or "test"')
    ap.add_argument("--models", "--algorithms", dest="models", default=MODELS,
                    help="comma-separated model keys")
    ap.add_argument("--repeat", type=int, default=1,
                    help="take the best of this many runs of every timing")
    ap.add_argument("--repeat-small", type=int, default=1,
                    help="runs of a timing whose first run took under 2 s")
    ap.add_argument("--seed", type=int, default=0,
                    help="random_state of the randomised models")
    ap.add_argument("--threads", type=int, default=0,
                    help="threads of every model; 0 means all CPUs")
    ap.add_argument("--peak-memory", action="store_true",
                    help="report VmHWM before and after each fit")
    ap.add_argument("--skip-load", action="store_true",
                    help="do not report the CSV load time")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    threads = args.threads if args.threads > 0 else (os.cpu_count() or 1)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)

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
        from sklearn.preprocessing import (LabelEncoder, OneHotEncoder,
                                           StandardScaler)
        from sklearn.tree import DecisionTreeClassifier
    except ImportError as exc:
        emit(kind="unavailable", reason="cannot import %s (install Debian's "
             "python3-sklearn and python3-pandas)" % exc.name)
        return 0
    try:
        import xgboost
        xgb_version = xgboost.__version__
    except ImportError:
        xgboost, xgb_version = None, ""

    emit(kind="info", sklearn=sklearn.__version__, pandas=pd.__version__,
         numpy=np.__version__, python=sys.version.split()[0],
         xgboost=xgb_version, cpus=os.cpu_count(), threads=threads)

    size = os.path.getsize(args.csv)
    if args.skip_load:
        start = time.perf_counter()
        df = pd.read_csv(args.csv)
        load_s = time.perf_counter() - start
    else:
        load_s, df = best_of(args, lambda: pd.read_csv(args.csv))
    if not args.skip_load:
        emit(kind="load", seconds=load_s, bytes=size, threads=1)

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
    del df, features

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

    # The same preparation as alur's dataprep.Fit: ColumnTransformer of
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

    prep_s, (X_train, X_test) = best_of(args, prepare)
    X_train = np.ascontiguousarray(X_train, dtype=np.float64)
    X_test = np.ascontiguousarray(X_test, dtype=np.float64)
    del X_train_raw, X_test_raw
    emit(kind="prepare", seconds=prep_s, train_rows=len(y_train),
         test_rows=len(y_test), features=X_train.shape[1])
    # XGBoost wants classes 0..K-1.
    enc = LabelEncoder().fit(y_train)
    yi_train = enc.transform(y_train)

    seed = args.seed
    xgb_settings = dict(learning_rate=0.3, max_iter=100, max_depth=6,
                        max_leaf_nodes=64, l2_regularization=1.0,
                        min_samples_leaf=1, early_stopping=False,
                        random_state=seed)
    counterparts = {
        "logistic_regression": ("sklearn", lambda: LogisticRegression(
            max_iter=1000)),
        "random_forest": ("sklearn", lambda: RandomForestClassifier(
            n_estimators=100, random_state=seed, n_jobs=threads)),
        "gradient_boosting": ("sklearn", lambda: HistGradientBoostingClassifier(
            max_iter=100, random_state=seed)),
        "gradient_boosting_xgb": ("sklearn", lambda:
                                  HistGradientBoostingClassifier(
                                      **xgb_settings)),
        "decision_tree": ("sklearn", lambda: DecisionTreeClassifier(
            random_state=seed)),
        "naive_bayes": ("sklearn", GaussianNB),
        "knn": ("sklearn", lambda: KNeighborsClassifier(
            n_neighbors=5, n_jobs=threads)),
        "xgboost": ("xgboost", lambda: xgboost.XGBClassifier(
            n_jobs=threads, random_state=seed, **XGB_DEFAULTS)),
    }
    for name in [a.strip() for a in args.models.split(",") if a.strip()]:
        if name not in counterparts:
            emit(kind="skipped", name=name,
                 reason="no peer model with this key in this script")
            continue
        peer, make = counterparts[name]
        if peer == "xgboost" and xgboost is None:
            emit(kind="skipped", name=name, peer=peer,
                 reason="cannot import xgboost (install Debian's "
                 "python3-xgboost)")
            continue
        labels = yi_train if peer == "xgboost" else y_train
        note("fitting %s (%s, %d threads)" % (name, peer, threads))
        fit_s, predict_s, acc = float("inf"), float("inf"), None
        before = after = 0
        try:
            runs, i = args.repeat, 0
            while i < runs:
                model = make()
                before = reset_peak() if args.peak_memory else 0
                start = time.perf_counter()
                model.fit(X_train, labels)
                fit_s = min(fit_s, time.perf_counter() - start)
                after = proc_status("VmHWM") if args.peak_memory else 0
                start = time.perf_counter()
                pred = model.predict(X_test)
                predict_s = min(predict_s, time.perf_counter() - start)
                if peer == "xgboost":
                    pred = enc.inverse_transform(np.asarray(pred, dtype=int))
                acc = accuracy_score(y_test, pred)
                del model
                if i == 0 and not args.peak_memory:
                    runs = runs_for(args, fit_s + predict_s)
                i += 1
        except Exception as exc:  # report it, go on with the others
            emit(kind="skipped", name=name, peer=peer,
                 reason="failed: %s" % exc)
            continue
        line = dict(kind="algorithm", name=name, peer=peer, threads=threads,
                    fit_seconds=fit_s, predict_seconds=predict_s,
                    accuracy=float(acc))
        if args.peak_memory:
            line.update(peak_rss_before=before, peak_rss_after=after)
        emit(**line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
