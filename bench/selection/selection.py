#!/usr/bin/python3
"""Model selection benchmark: the model `alur run` hands over against the best
of scikit-learn's single models picked with hindsight on the same test rows.

    selection.py --alur BIN --peer SKLEARN_PEER_PY [--out DIR] [--sets a,b] [--json]

1. Writes a suite of small data sets (each at most about 5,000 rows) as CSV
   files into --out: the three data sets bundled with the ingest service,
   scikit-learn's bundled digits and diabetes, and make_classification /
   make_regression variants with label noise, class imbalance, a categorical
   column, missing values, an id column and integer class codes as labels.
   Every file gets a `split` column: a stratified (classification) 80/20
   train/test split, train_test_split(test_size=0.2, random_state=42).
2. Starts `alur dev` on loopback ports chosen by the system, with a fresh
   data directory, and runs the default `alur run --csv F --label L
   --split-column split --json` on each file: no spec, no task, no metric.
3. Runs the scikit-learn peer script on the same file and split, and takes
   the best test score over its algorithms (accuracy or R2): the best
   single model picked with hindsight.
4. Prints one row per set and a summary: sets at or above the hindsight
   best, and the mean gap (in test rows for classification, in R2 for
   regression).

A run whose task differs from the set's (for example integer class codes
read as a regression target) counts as below the hindsight best.
Needs Debian's python3-sklearn and python3-pandas (run with /usr/bin/python3).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

SEED = 42


def add_split(df, label, classification):
    """add_split appends the `split` column both sides read."""
    strat = df[label] if classification else None
    idx = np.arange(len(df))
    _, test_idx = train_test_split(idx, test_size=0.2, random_state=SEED, stratify=strat)
    split = np.array(["train"] * len(df), dtype=object)
    split[test_idx] = "test"
    df = df.copy()
    df["split"] = split
    return df


def frame(X, names=None):
    names = names or [f"x{i}" for i in range(X.shape[1])]
    return pd.DataFrame(X, columns=names)


def suite(bundled_dir):
    """suite yields (name, DataFrame, label, task, note) for every set."""
    rng = np.random.default_rng(SEED)
    for name, label in (("iris", "species"), ("wine", "class"), ("breast_cancer", "class")):
        yield name, pd.read_csv(os.path.join(bundled_dir, name + ".csv")), label, "classification", "bundled"

    d = skd.load_digits()
    df = frame(d.data, [f"px{i}" for i in range(d.data.shape[1])])
    df["digit"] = d.target  # integers 0..9
    yield "digits", df, "digit", "classification", "sklearn; integer class codes 0-9"

    d = skd.load_diabetes()
    df = frame(d.data, list(d.feature_names))
    df["progression"] = d.target
    yield "diabetes", df, "progression", "regression", "sklearn"

    X, y = skd.make_classification(n_samples=2000, n_features=20, n_informative=6, n_redundant=4,
                                   n_classes=3, flip_y=0.1, class_sep=0.8, random_state=1)
    df = frame(X)
    df["label"] = np.array(["a", "b", "c"])[y]
    yield "clf_noisy", df, "label", "classification", "3 classes, 10% label noise"

    X, y = skd.make_classification(n_samples=3000, n_features=15, n_informative=5, n_redundant=2,
                                   weights=[0.92, 0.08], flip_y=0.02, random_state=2)
    df = frame(X)
    df["label"] = np.array(["no", "yes"])[y]
    yield "clf_imbalanced", df, "label", "classification", "2 classes, 8% minority"

    X, y = skd.make_classification(n_samples=2500, n_features=10, n_informative=5, n_redundant=1,
                                   n_classes=4, n_clusters_per_class=1, random_state=3)
    df = frame(X)
    # a categorical column that carries signal (a noisy copy of the class)
    cat = np.where(rng.random(len(y)) < 0.6, y, rng.integers(0, 4, len(y)))
    df["region"] = np.array(["north", "south", "east", "west"])[cat]
    for c in ("x0", "x3", "x7", "region"):
        df.loc[rng.random(len(df)) < 0.1, c] = np.nan
    df["label"] = np.array(["k1", "k2", "k3", "k4"])[y]
    yield "clf_cat_missing", df, "label", "classification", "categorical + 10% missing in 4 columns"

    X, y = skd.make_classification(n_samples=1500, n_features=12, n_informative=6, n_redundant=2,
                                   n_classes=5, n_clusters_per_class=1, flip_y=0.03, random_state=4)
    df = frame(X)
    df.insert(0, "customer_id", rng.permutation(np.arange(100000, 100000 + len(df))))
    df["segment"] = y + 1  # integer class codes 1..5
    yield "clf_id_intcodes", df, "segment", "classification", "id column; integer class codes 1-5"

    X, y = skd.make_moons(n_samples=2000, noise=0.3, random_state=5)
    df = frame(np.hstack([X, rng.normal(size=(len(X), 4))]))
    df["label"] = np.array(["left", "right"])[y]
    yield "moons", df, "label", "classification", "non-linear boundary, 4 noise features"

    X, y = skd.make_classification(n_samples=600, n_features=30, n_informative=8, n_redundant=6,
                                   n_classes=2, flip_y=0.05, random_state=6)
    df = frame(X)
    df["label"] = np.array(["neg", "pos"])[y]
    yield "clf_small_wide", df, "label", "classification", "600 rows x 30 features"

    X, y = skd.make_regression(n_samples=1500, n_features=15, n_informative=8, noise=25.0, random_state=7)
    df = frame(X)
    df["y"] = y
    yield "reg_linear_noisy", df, "y", "regression", "linear, noise 25"

    X, y = skd.make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=8)
    df = frame(X)
    df["kind"] = np.array(["p", "q", "r"])[rng.integers(0, 3, len(df))]
    y = y + np.select([df["kind"] == "p", df["kind"] == "q"], [2.0, -2.0], 0.0)
    for c in ("x1", "x4", "kind"):
        df.loc[rng.random(len(df)) < 0.08, c] = np.nan
    df["y"] = y
    yield "reg_friedman_cat", df, "y", "regression", "non-linear, categorical, 8% missing"


# MLBENCH are real data sets of the UCI repository as R's mlbench package
# ships them (Debian's r-cran-mlbench): (name, label, task). Sets above 5,000
# rows are cut to a sample of 5,000 with the suite's seed; rows without a
# label and classes of fewer than 5 rows are dropped.
MLBENCH = (
    ("BreastCancer", "Class", "classification"), ("DNA", "Class", "classification"),
    ("Glass", "Type", "classification"), ("HouseVotes84", "Class", "classification"),
    ("Ionosphere", "Class", "classification"), ("LetterRecognition", "lettr", "classification"),
    ("PimaIndiansDiabetes", "diabetes", "classification"), ("PimaIndiansDiabetes2", "diabetes", "classification"),
    ("Satellite", "classes", "classification"), ("Shuttle", "Class", "classification"),
    ("Sonar", "Class", "classification"), ("Soybean", "Class", "classification"),
    ("Vehicle", "Class", "classification"), ("Vowel", "Class", "classification"),
    ("Zoo", "type", "classification"),
    ("BostonHousing", "medv", "regression"), ("Ozone", "V4", "regression"), ("Servo", "Class", "regression"),
)


def real_suite(work):
    """real_suite yields (name, DataFrame, label, task, note) for the UCI
    sets of R's mlbench package, exported with Rscript into work."""
    script = "suppressMessages(library(mlbench))\n" + "".join(
        f'data({n}); write.csv({n}, "{os.path.join(work, n)}.csv", row.names=FALSE, na="")\n' for n, _, _ in MLBENCH)
    subprocess.run(["Rscript", "-e", script], check=True)
    for name, label, task in MLBENCH:
        df = pd.read_csv(os.path.join(work, name + ".csv"))
        df = df[df[label].notna()].reset_index(drop=True)
        for c in df.columns:
            if df[c].dtype == bool:  # R's TRUE/FALSE: text, as a user's file has it
                df[c] = df[c].map({True: "yes", False: "no"})
        note = "UCI, R mlbench"
        if len(df) > 5000:
            keep, _ = train_test_split(np.arange(len(df)), train_size=5000, random_state=SEED)
            note += f"; 5000 of {len(df)} rows"
            df = df.iloc[np.sort(keep)].reset_index(drop=True)
        if task == "classification":
            # a stratified split needs every class twice; keep classes of 5+ rows
            counts = df[label].value_counts()
            rare = counts[counts < 5].index
            if len(rare):
                note += f"; {len(rare)} classes under 5 rows dropped"
                df = df[~df[label].isin(rare)].reset_index(drop=True)
        yield "uci_" + name.lower(), df, label, task, note


def run_alur(alur, server, path, label):
    t0 = time.perf_counter()
    p = subprocess.run([alur, "run", "--server", server, "--timeout", "5m", "--csv", path,
                        "--label", label, "--split-column", "split", "--json"],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0 and not p.stdout.strip():
        return {"error": (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1], "wall": wall}
    run = json.loads(p.stdout)
    out = {"wall": wall, "state": run.get("state"), "task": run.get("task", ""), "error": run.get("error")}
    best = run.get("bestTrial", 0)
    for t in run.get("trials", []):
        if t.get("number") == best:
            out["model"] = t.get("algorithm")
    tm = run.get("testMetrics", {})
    if "classification" in tm:
        out["accuracy"] = tm["classification"].get("accuracy", 0.0)
    if "regression" in tm:
        out["r2"] = tm["regression"].get("r2", 0.0)
    out["test_rows"] = int(tm.get("numSamples", 0))
    out["trials"] = len(run.get("trials", []))
    return out


def run_peer(peer, path, label, task):
    t0 = time.perf_counter()
    args = ["/usr/bin/python3", peer, path, "--label", label, "--split-column", "split"]
    if task == "regression":
        args += ["--task", "regression"]
    p = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1], "wall": wall}
    key = "accuracy" if task == "classification" else "r2"
    scores, test_rows = {}, 0
    for line in p.stdout.splitlines():
        rec = json.loads(line)
        if "algorithm" in rec:
            scores[rec["algorithm"]] = rec[key]
        elif "test" in rec:
            test_rows = rec["test"]
    best = max(scores, key=lambda a: scores[a])
    return {"wall": wall, "best": best, "score": scores[best], "scores": scores, "test_rows": test_rows}


def start_alur(alur, data_dir):
    """start_alur runs `alur dev` on free loopback ports and returns the
    process and the orchestrator's address."""
    # no dashboard, no serving stage: nothing on a fixed port
    args = [alur, "dev", "--data-dir", data_dir, "--http", "", "--serve-addr", "", "--serve-http", ""]
    for flag in ("--addr", "--ingest-addr", "--prep-addr", "--train-addr", "--eval-addr"):
        args += [flag, "127.0.0.1:0"]
    env = dict(os.environ, ALUR_LOG_LEVEL="error")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    addr = None
    for line in proc.stdout:
        f = line.split()
        if len(f) == 2 and f[0] == "orchestrator":
            addr = f[1]
        if f and f[0] == "data":
            break
    if addr is None:
        proc.kill()
        sys.exit("selection: alur dev did not start")
    return proc, addr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alur", required=True, help="the alur CLI binary")
    ap.add_argument("--peer", required=True, help="the scikit-learn peer script")
    ap.add_argument("--bundled", required=True, help="directory of the bundled CSV files")
    ap.add_argument("--out", help="directory for the CSV files (default: a temporary one)")
    ap.add_argument("--sets", help="comma-separated subset of the suite")
    ap.add_argument("--json", action="store_true", help="also print one JSON object per set")
    ap.add_argument("--real", action="store_true", help="run the UCI sets of R's mlbench package "
                    "(needs Rscript and r-cran-mlbench) instead of the suite")
    ap.add_argument("--sim", help="the selectsim binary: also measure, in process, the selection rules "
                                  "of ml/selection (task inference, CV ranking, ensemble, search)")
    a = ap.parse_args()

    out = a.out or tempfile.mkdtemp(prefix="alur-selection-")
    os.makedirs(out, exist_ok=True)
    wanted = set(a.sets.split(",")) if a.sets else None
    sets = []
    sets_of = real_suite(tempfile.mkdtemp(prefix="alur-mlbench-")) if a.real else suite(a.bundled)
    for name, df, label, task, note in sets_of:
        if wanted and name not in wanted:
            continue
        assert len(df) <= 5000, name
        df = add_split(df, label, task == "classification")
        path = os.path.join(out, name + ".csv")
        df.to_csv(path, index=False)
        sets.append((name, path, label, task, note, len(df)))
    print(f"suite: {len(sets)} sets in {out}", file=sys.stderr)

    data_dir = tempfile.mkdtemp(prefix="alur-selection-data-")
    proc, server = start_alur(a.alur, data_dir)
    results = []
    try:
        for name, path, label, task, note, rows in sets:
            print(f"  {name}: alur ...", file=sys.stderr, flush=True)
            al = run_alur(a.alur, server, path, label)
            print(f"  {name}: scikit-learn ...", file=sys.stderr, flush=True)
            pe = run_peer(a.peer, path, label, task)
            results.append(score_row(name, task, note, rows, al, pe))
            if a.sim:
                print(f"  {name}: selectsim ...", file=sys.stderr, flush=True)
                results[-1]["sim"] = run_sim(a.sim, path, label)
            if a.json:
                print(json.dumps(results[-1]), flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    print_table(results)
    if a.sim:
        print_sim(results)


def run_sim(sim, path, label):
    t0 = time.perf_counter()
    p = subprocess.run([sim, "--csv", path, "--label", label], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1], "wall": wall}
    out = json.loads(p.stdout)
    out["wall"] = wall
    return out


def print_sim(results):
    print()
    print("In process, the rules of ml/selection (selectsim): the task inferred, 5-fold CV ranking of the "
          "defaults, + ensemble selection, + a successive-halving search. strict: the ensemble kept when its "
          "cross-fitted score is higher, the choice refitted on all train rows; bagged (the orchestrator's "
          "rule): the ensemble kept when selection.Better ranks it first (equal scores go to the lower log "
          "loss), the choice handed over as the average of its fold models (k-fold bagging; linear models "
          "and naive Bayes refitted), on one repetition of the folds (the orchestrator repeats them when its "
          "budget allows; selectsim --repeats 2 measures that). Gaps to scikit-learn's hindsight best.")
    print()
    print("| set | task inferred | defaults hindsight | cv choice: test | +ensemble strict / bagged | "
          "+search strict / bagged | bagged choice | gap strict / bagged | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for r in results:
        sm, pe = r.get("sim", {}), r["sklearn"]
        if "error" in sm or "score" not in pe:
            print(f"| {r['set']} | {sm.get('error', pe.get('error'))} | | | | | | | |")
            continue
        hind = max(sm["defaults"].values())
        wrong = sm["task"] != r["task"]
        gaps = []
        for rule in ("search", "search_bagged"):
            diff = pe["score"] - sm[rule]["test"]
            if wrong:
                gap, ok, close = None, False, False
            elif r["task"] == "classification":
                gap = round(diff * sm["test_rows"])
                ok, close = gap <= 0, diff <= 0.01 + 1e-9
            else:
                gap = round(diff, 4)
                ok, close = gap <= 0, diff <= 0.01 + 1e-9
            s = summary.setdefault((rule, r["task"]), {"n": 0, "ok": 0, "close": 0, "gaps": []})
            s["n"] += 1
            s["ok"] += ok
            s["close"] += close
            if gap is not None:
                s["gaps"].append(gap)
            gaps.append("n/a" if gap is None else (f"{gap:+d}" if r["task"] == "classification" else f"{gap:+.4f}"))
        print(f"| {r['set']} | {sm['task']}{' (wrong)' if wrong else ''} | {hind:.4f} | "
              f"{sm['cv']['model']}: {sm['cv']['test']:.4f} | "
              f"{sm['ensemble']['test']:.4f} / {sm['ensemble_bagged']['test']:.4f} | "
              f"{sm['search']['test']:.4f} / {sm['search_bagged']['test']:.4f} | {sm['search_bagged']['model']} | "
              f"{gaps[0]} / {gaps[1]} | {sm['wall']:.1f} |")
    print()
    for (rule, task), s in summary.items():
        mean = sum(s["gaps"]) / len(s["gaps"]) if s["gaps"] else float("nan")
        print(f"selectsim {rule.replace('_', ' ')}, {task}: {s['ok']}/{s['n']} at or above the hindsight best, "
              f"{s['close']}/{s['n']} within {'1 point' if task == 'classification' else '0.01 R2'}, "
              f"mean gap {mean:+.2f} {'test rows' if task == 'classification' else 'R2'}")


def score_row(name, task, note, rows, al, pe):
    r = {"set": name, "task": task, "note": note, "rows": rows, "alur": al, "sklearn": pe}
    key = "accuracy" if task == "classification" else "r2"
    want = "TASK_CLASSIFICATION" if task == "classification" else "TASK_REGRESSION"
    if al.get("error") or pe.get("error") or al.get("task") != want or key not in al:
        r["ok"], r["gap"] = False, None
        r["why"] = al.get("error") or pe.get("error") or f"alur ran {al.get('task')}"
        return r
    diff = pe["score"] - al[key]
    if task == "classification":
        # in test rows: accuracy times the number of test rows is a count
        r["gap"] = round(diff * pe["test_rows"])
        r["ok"] = r["gap"] <= 0
        r["close"] = diff <= 0.01 + 1e-9  # within 1 point of accuracy
    else:
        r["gap"] = round(diff, 4)
        r["ok"] = r["gap"] <= 0
        r["close"] = diff <= 0.01 + 1e-9  # within 0.01 R2
    return r


def print_table(results):
    print("| set | task | rows | alur model | alur test | sklearn best (hindsight) | gap | alur s | sklearn s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        al, pe = r["alur"], r["sklearn"]
        key = "accuracy" if r["task"] == "classification" else "r2"
        alscore = f"{al[key]:.4f}" if key in al else ""
        if r["gap"] is None:
            other = "".join(f" {k} {al[k]:.4f}" for k in ("accuracy", "r2") if k in al)
            alscore = f"({r.get('why', '')}{other})"
        pescore = f"{pe['score']:.4f} {pe['best']}" if "score" in pe else pe.get("error", "")
        gap = "n/a" if r["gap"] is None else (f"{r['gap']:+d} rows" if r["task"] == "classification" else f"{r['gap']:+.4f} R2")
        print(f"| {r['set']} | {r['task']} | {r['rows']} | {al.get('model', '-')} | {alscore} | {pescore} | {gap} | "
              f"{al['wall']:.1f} | {pe['wall']:.1f} |")
    print()
    for task, unit in (("classification", "test rows"), ("regression", "R2")):
        rs = [r for r in results if r["task"] == task]
        if not rs:
            continue
        ok = sum(1 for r in rs if r["ok"])
        close = sum(1 for r in rs if r.get("close"))
        gaps = [r["gap"] for r in rs if r["gap"] is not None]
        mean = sum(gaps) / len(gaps) if gaps else float("nan")
        print(f"{task}: {ok}/{len(rs)} sets at or above the hindsight best, "
              f"{close}/{len(rs)} within {'1 point' if task == 'classification' else '0.01 R2'}; "
              f"mean gap {mean:+.2f} {unit} over {len(gaps)} comparable sets "
              f"({len(rs) - len(gaps)} not comparable); "
              f"alur {sum(r['alur']['wall'] for r in rs):.0f} s, scikit-learn {sum(r['sklearn']['wall'] for r in rs):.0f} s")
    print("gap: hindsight best minus alur (positive: alur below; classification in test rows)")


if __name__ == "__main__":
    main()
