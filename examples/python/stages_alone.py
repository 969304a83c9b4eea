#!/usr/bin/env python3
"""stages_alone.py calls alur's stage services directly, without the
orchestrator, to show that each stage is a plain stateless service that any
client can use on its own:

1. TrainService.ListAlgorithms: the algorithms and their hyperparameters.
2. IngestService.ListBundled: the datasets that ship with alur.
3. IngestService.Read streams a bundled dataset as columnar batches, and the
   script forwards that stream, message by message, into PrepService.Profile
   (a client stream), then prints the profile. The table flows through this
   client by value; neither stage knows about the other.

    python3 examples/python/stages_alone.py --ingest localhost:7001 \\
        --prep localhost:7002 --train localhost:7003 --dataset iris

Exit status: 0 on success, 1 when a call fails. Generate the Python code
first (examples/python/generate.py); ALUR_PY_GEN names another directory.
"""

import argparse
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, os.environ.get("ALUR_PY_GEN") or str(HERE / "gen"))

try:
    import grpc
    from alur.data.v1 import profile_pb2, table_pb2
    from alur.ingest.v1 import ingest_pb2, ingest_pb2_grpc
    from alur.prep.v1 import prep_pb2, prep_pb2_grpc
    from alur.train.v1 import train_pb2, train_pb2_grpc
except ImportError as err:
    sys.exit(f"stages_alone.py: {err}\nGenerate the Python code first: python3 examples/python/generate.py")


def profile_requests(read_stream, label):
    """profile_requests turns an IngestService.Read answer stream into a
    PrepService.Profile request stream: the options first, then the schema
    and every batch as they arrive. The closing summary (row count and
    digest) is ingest's own and is not forwarded."""
    yield prep_pb2.ProfileRequest(options=prep_pb2.ProfileOptions(label=label))
    for resp in read_stream:
        part = resp.WhichOneof("part")
        if part == "schema":
            yield prep_pb2.ProfileRequest(schema=resp.schema)
        elif part == "batch":
            yield prep_pb2.ProfileRequest(batch=resp.batch)


def column_line(col):
    """column_line summarises one ColumnProfile in a line: numbers by their
    range and mean, categories by their most frequent values."""
    kind = table_pb2.ColumnType.Name(col.type).removeprefix("COLUMN_TYPE_").lower()
    head = f"  {col.name:<22} {kind:<12} missing {col.missing:<4}"
    if col.type == table_pb2.COLUMN_TYPE_CATEGORICAL:
        top = ", ".join(f"{c.value} ({c.count})" for c in col.top_categories[:5])
        return f"{head} {col.distinct} values: {top}"
    return f"{head} min {col.min:g}  mean {col.mean:.4g}  max {col.max:g}  std {col.std:.4g}"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Call alur's ingest, prep and train services directly.")
    parser.add_argument("--ingest", default="localhost:7001", help="ingest address (default: %(default)s)")
    parser.add_argument("--prep", default="localhost:7002", help="prep address (default: %(default)s)")
    parser.add_argument("--train", default="localhost:7003", help="train address (default: %(default)s)")
    parser.add_argument("--dataset", default="iris", help="bundled dataset to profile (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=60, help="deadline of each call, in seconds")
    args = parser.parse_args(argv)

    with grpc.insecure_channel(args.train) as train_ch, \
            grpc.insecure_channel(args.ingest) as ingest_ch, \
            grpc.insecure_channel(args.prep) as prep_ch:
        train = train_pb2_grpc.TrainServiceStub(train_ch)
        ingest = ingest_pb2_grpc.IngestServiceStub(ingest_ch)
        prep = prep_pb2_grpc.PrepServiceStub(prep_ch)
        rpc = "TrainService.ListAlgorithms"
        try:
            algos = train.ListAlgorithms(train_pb2.ListAlgorithmsRequest(), timeout=args.timeout)
            print(f"{len(algos.algorithms)} algorithms (train at {args.train}):")
            for a in algos.algorithms:
                tasks = ", ".join(table_pb2.Task.Name(t).removeprefix("TASK_").lower() for t in a.tasks)
                params = ", ".join(f"{p.name}={p.default_value:g}" for p in a.params)
                print(f"  {a.name:<22} {tasks:<28} {params}")

            rpc = "IngestService.ListBundled"
            bundled = ingest.ListBundled(ingest_pb2.ListBundledRequest(), timeout=args.timeout)
            print(f"\n{len(bundled.datasets)} bundled datasets (ingest at {args.ingest}):")
            labels = {}
            for d in bundled.datasets:
                labels[d.name] = d.label
                print(f"  {d.name:<14} {d.rows:>4} rows, label {d.label:<8} {d.description}")
            if args.dataset not in labels:
                print(f"stages_alone.py: no bundled dataset {args.dataset!r}", file=sys.stderr)
                return 1

            rpc = "IngestService.Read -> PrepService.Profile"
            table = ingest.Read(ingest_pb2.ReadRequest(bundled=args.dataset), timeout=args.timeout)
            profile = prep.Profile(profile_requests(table, labels[args.dataset]), timeout=args.timeout).profile
        except grpc.RpcError as err:
            print(f"stages_alone.py: {rpc}: {err.code().name}: {err.details()}", file=sys.stderr)
            return 1

    print(f"\nProfile of {args.dataset} (prep at {args.prep}): {profile.row_count} rows, "
          f"{profile.duplicate_rows} duplicate rows")
    for col in profile.columns:
        print(column_line(col))
    for f in profile.findings:
        severity = profile_pb2.Severity.Name(f.severity).removeprefix("SEVERITY_").lower()
        print(f"  {severity}: {f.message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
