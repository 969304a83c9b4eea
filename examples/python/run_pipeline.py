#!/usr/bin/env python3
"""run_pipeline.py runs an alur pipeline on a local CSV file, from Python.

It does what `alur run --csv FILE --label COL` does, with the generated
Python client and nothing else:

1. OrchestratorService.UploadSource: the file's name, then chunks of at
   most 512 KiB (half the contract's 1 MiB cap).
2. StartRun with a PipelineSpec whose source is the upload's digest.
3. WatchRun: prints every event as it happens, until the run ends.
4. GetRun: prints the leaderboard of trials and the winner's test metrics.
5. Predict: sends the first rows of the file (without the label) to the
   run's model and prints each prediction beside the row's actual label.

    python3 examples/python/run_pipeline.py --server localhost:7000 \\
        --csv services/ingest/datasets/iris.csv --label species

Exit status: 0 when the run succeeds, 1 when it fails, is cancelled or a
call fails, 2 for bad arguments. Generate the Python code first
(examples/python/generate.py); ALUR_PY_GEN names another directory for it.
"""

import argparse
import csv
import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, os.environ.get("ALUR_PY_GEN") or str(HERE / "gen"))

try:
    import grpc
    from alur.data.v1 import table_pb2
    from alur.orchestrator.v1 import orchestrator_pb2 as orch_pb2
    from alur.orchestrator.v1 import orchestrator_pb2_grpc as orch_grpc
except ImportError as err:
    sys.exit(f"run_pipeline.py: {err}\nGenerate the Python code first: python3 examples/python/generate.py")

# UPLOAD_CHUNK is the size of each uploaded chunk: half the 1 MiB cap that
# the contract sets, so every message stays far below gRPC's 4 MiB limit.
UPLOAD_CHUNK = 512 << 10

# LOWER_IS_BETTER are the objective metrics that improve downwards
# (alur.orchestrator.v1.Objective.metric); every other metric improves upwards.
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})

# WATCH_RETRIES bounds how often the event stream is reopened after it
# breaks with UNAVAILABLE, the only code worth retrying.
WATCH_RETRIES = 5

ENDED = frozenset({
    orch_pb2.RUN_STATE_SUCCEEDED,
    orch_pb2.RUN_STATE_FAILED,
    orch_pb2.RUN_STATE_CANCELLED,
})


def upload_requests(path, chunk_size=UPLOAD_CHUNK):
    """upload_requests yields the UploadSource stream for the file at path:
    its base name first, then its bytes in chunks of at most chunk_size. The
    file is read as the stream is sent, so its size does not matter."""
    yield orch_pb2.UploadSourceRequest(name=os.path.basename(path))
    with open(path, "rb") as f:
        while True:
            chunk = f.read(chunk_size)
            if not chunk:
                return
            yield orch_pb2.UploadSourceRequest(chunk=chunk)


def build_spec(args, digest):
    """build_spec turns the command line into a PipelineSpec that reads the
    uploaded file named by digest."""
    spec = orch_pb2.PipelineSpec(
        name=args.name or os.path.basename(args.csv),
        label=args.label,
        max_trials=args.max_trials,
        seed=args.seed,
    )
    spec.source.upload = digest
    if args.task:
        spec.task = {"classification": table_pb2.TASK_CLASSIFICATION,
                     "regression": table_pb2.TASK_REGRESSION}[args.task]
    for name in filter(None, (a.strip() for a in args.algorithms.split(","))):
        spec.candidates.add(algorithm=name)
    if args.metric:
        spec.objective.metric = args.metric
    if args.target is not None:
        spec.objective.target = args.target
    return spec


def event_line(event):
    """event_line is one printed line for a RunEvent: the sequence number,
    the step (or "run") and what happened."""
    step = event.step or "run"
    message = event.message
    if event.step and message.startswith(event.step + ": "):
        message = message[len(event.step) + 2:]
    if not message:
        message = orch_pb2.RunState.Name(event.run_state)
    return f"{event.sequence:4d}  {step:<15} {message}"


def follow(stub, run_id, out, timeout):
    """follow prints the events of run run_id to out until the stream ends,
    which it does when the run ends. WatchRun replays the recorded events
    before new ones, so after a broken stream (UNAVAILABLE) it reopens it
    and skips the events already printed, by sequence number. The whole
    watch has a deadline of timeout seconds."""
    deadline = time.monotonic() + timeout
    seen = 0
    failures = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"run {run_id} did not end within {timeout:g}s")
        try:
            for resp in stub.WatchRun(orch_pb2.WatchRunRequest(run_id=run_id), timeout=remaining):
                event = resp.event
                if 0 < event.sequence <= seen:
                    continue
                seen = event.sequence
                failures = 0
                print(event_line(event), file=out, flush=True)
            return
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.UNAVAILABLE or failures >= WATCH_RETRIES:
                raise
            failures += 1
            time.sleep(0.2 * 2 ** failures)


def leaderboard(run):
    """leaderboard returns the run's trials best first: successful trials by
    score (ascending for log_loss, rmse and mae, descending otherwise); among
    equal scores the run's chosen trial first (the orchestrator breaks ties
    by validation log loss), then trial number; then the failed trials in
    trial order."""
    lower = run.metric in LOWER_IS_BETTER
    ok = [t for t in run.trials if not t.error]
    failed = [t for t in run.trials if t.error]
    ok.sort(key=lambda t: (t.score if lower else -t.score, t.number != run.best_trial, t.number))
    failed.sort(key=lambda t: t.number)
    return ok + failed


def format_params(params):
    """format_params writes hyperparameters as "name=value" pairs sorted by
    name, with %g numbers."""
    return ", ".join(f"{k}={params[k]:g}" for k in sorted(params))


def report(run, out):
    """report prints the outcome of a finished run: the leaderboard, the
    winner's test metrics and the learning-curve verdict."""
    print(f"\nRun {run.id}: {orch_pb2.RunState.Name(run.state)}, "
          f"{run.dataset_rows} rows, objective {run.metric or '-'}", file=out)
    if run.error:
        print(f"error: {run.error}", file=out)
    if run.trials:
        print(f"\nLeaderboard (validation {run.metric}):", file=out)
        print(f"  {'rank':>4}  {'trial':>5}  {'algorithm':<22} {'score':>8}  {'fit s':>7}  params", file=out)
        for rank, t in enumerate(leaderboard(run), 1):
            best = "*" if t.number == run.best_trial else " "
            if t.error:
                print(f"  {'-':>4}  {t.number:>5}  {t.algorithm:<22} {'failed':>8}  {'':>7}  {t.error}", file=out)
                continue
            print(f"{best} {rank:>4}  {t.number:>5}  {t.algorithm:<22} {t.score:>8.4f}  "
                  f"{t.fit_seconds:>7.3f}  {format_params(t.params)}", file=out)
    if run.HasField("test_metrics"):
        metrics = run.test_metrics
        print(f"\nTest metrics of trial {run.best_trial} ({metrics.num_samples} rows):", file=out)
        kind = metrics.WhichOneof("kind")
        if kind == "classification":
            c = metrics.classification
            for name in ("accuracy", "precision_macro", "recall_macro", "f1_macro",
                         "f1_weighted", "log_loss", "roc_auc"):
                print(f"  {name:<18} {getattr(c, name):.4f}", file=out)
            for pc in c.per_class:
                print(f"  class {pc.label:<12} precision {pc.precision:.3f}  recall {pc.recall:.3f}  "
                      f"f1 {pc.f1:.3f}  support {pc.support}", file=out)
        elif kind == "regression":
            r = metrics.regression
            for name in ("rmse", "mae", "r2"):
                print(f"  {name:<18} {getattr(r, name):.4f}", file=out)
        if run.spec.objective.HasField("target"):
            print(f"  objective met      {'yes' if run.objective_met else 'no'} "
                  f"(target {run.spec.objective.target:g})", file=out)
    if run.learning_curve_verdict:
        print(f"\nLearning curve: {run.learning_curve_verdict}", file=out)


def predict_request(run_id, path, label, n):
    """predict_request builds a PredictRequest for the first n rows of the
    CSV file at path, every column but the label, as raw text (the server
    parses it with the run's schema and applies its fitted preparation).
    It returns the request and the rows' actual labels ("" when the file
    has no label column)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        keep = [i for i, name in enumerate(header) if name != label]
        at = header.index(label) if label in header else -1
        req = orch_pb2.PredictRequest(run_id=run_id)
        req.rows.columns.extend(header[i] for i in keep)
        actual = []
        for row in reader:
            if len(actual) == n:
                break
            if not row:
                continue
            req.rows.rows.add(values=[row[i] if i < len(row) else "" for i in keep])
            actual.append(row[at] if 0 <= at < len(row) else "")
    return req, actual


def prediction_line(pred, class_names, actual):
    """prediction_line is one printed line for a Prediction: the class and
    its probability (classification) or the value (regression), then the
    row's actual label."""
    if class_names:
        p = max(pred.probabilities) if pred.probabilities else float("nan")
        answer = f"{pred.label:<16} p={p:.4f}"
    else:
        answer = f"{pred.value:<16.6g}"
    return f"  {answer}  (actual {actual or '?'})"


def describe_error(rpc, err):
    """describe_error is a one-line account of a failed call: the RPC, the
    status code and the server's message (which names the bad field for
    INVALID_ARGUMENT)."""
    return f"{rpc}: {err.code().name}: {err.details()}"


def run(args, out=sys.stdout):
    """run uploads, starts, follows and reports one run; it returns the
    process exit status."""
    with grpc.insecure_channel(args.server) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=args.timeout)
        except grpc.FutureTimeoutError:
            print(f"run_pipeline.py: cannot reach the orchestrator at {args.server}", file=sys.stderr)
            return 1
        stub = orch_grpc.OrchestratorServiceStub(channel)
        rpc = "UploadSource"
        try:
            uploaded = stub.UploadSource(upload_requests(args.csv), timeout=args.timeout)
            digest = uploaded.artifact.digest
            print(f"Uploaded {args.csv} ({uploaded.artifact.size} bytes) as {digest}", file=out)
            rpc = "StartRun"
            started = stub.StartRun(orch_pb2.StartRunRequest(spec=build_spec(args, digest)),
                                    timeout=args.timeout).run
            print(f"Run {started.id} started: label {args.label}", file=out, flush=True)
            rpc = "WatchRun"
            follow(stub, started.id, out, args.watch_timeout)
            rpc = "GetRun"
            final = stub.GetRun(orch_pb2.GetRunRequest(run_id=started.id), timeout=args.timeout).run
        except grpc.RpcError as err:
            print(f"run_pipeline.py: {describe_error(rpc, err)}", file=sys.stderr)
            return 1
        except TimeoutError as err:
            print(f"run_pipeline.py: {err}", file=sys.stderr)
            return 1
    if final.state not in ENDED:
        print(f"run_pipeline.py: the event stream ended while run {final.id} is "
              f"{orch_pb2.RunState.Name(final.state)}", file=sys.stderr)
        return 1
    report(final, out)
    if final.state != orch_pb2.RUN_STATE_SUCCEEDED:
        reason = final.error or "cancelled by a client"
        print(f"run_pipeline.py: run {final.id} {orch_pb2.RunState.Name(final.state)}: {reason}",
              file=sys.stderr)
        return 1
    if args.predict_rows > 0:
        req, actual = predict_request(final.id, args.csv, args.label, args.predict_rows)
        with grpc.insecure_channel(args.server) as channel:
            try:
                resp = orch_grpc.OrchestratorServiceStub(channel).Predict(req, timeout=args.timeout)
            except grpc.RpcError as err:
                print(f"run_pipeline.py: {describe_error('Predict', err)}", file=sys.stderr)
                return 1
        print(f"\nPredictions for the first {len(actual)} rows of {os.path.basename(args.csv)}:", file=out)
        for pred, want in zip(resp.predictions, actual):
            print(prediction_line(pred, resp.class_names, want), file=out)
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Upload a CSV file to alur, run a pipeline on it and print the results.")
    parser.add_argument("--server", default=os.environ.get("ALUR_SERVER", "localhost:7000"),
                        help="orchestrator address (default: $ALUR_SERVER or localhost:7000)")
    parser.add_argument("--csv", required=True, help="local CSV file to upload")
    parser.add_argument("--label", required=True, help="column to predict")
    parser.add_argument("--name", default="", help="run name (default: the file's base name)")
    parser.add_argument("--task", choices=("classification", "regression"),
                        help="learning task (default: inferred from the label)")
    parser.add_argument("--algorithms", default="",
                        help="comma-separated algorithms to try (default: every one that fits the task)")
    parser.add_argument("--metric", default="", help="objective metric (default: accuracy or r2)")
    parser.add_argument("--target", type=float, help="stop once the validation score reaches this value")
    parser.add_argument("--max-trials", type=int, default=0, help="cap on trained models (0 means 20)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the split and the algorithms")
    parser.add_argument("--predict-rows", type=int, default=3,
                        help="predict this many of the file's first rows with the run's model (0: none)")
    parser.add_argument("--timeout", type=float, default=60,
                        help="deadline of each call but WatchRun, in seconds (default: %(default)s)")
    parser.add_argument("--watch-timeout", type=float, default=3600,
                        help="deadline of following the run, in seconds (default: %(default)s)")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.csv):
        parser.error(f"--csv {args.csv}: no such file")
    if args.timeout <= 0 or args.watch_timeout <= 0:
        parser.error("--timeout and --watch-timeout must be positive")
    return args


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
