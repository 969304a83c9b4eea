#!/usr/bin/env python3
"""serve_infer.py asks alur's serve stage for predictions over the Open
Inference Protocol (the gRPC API of KServe, Triton and MLServer), with
grpcio and the generated inference protos alone:

1. ServerReady: is the stage ready (has it reached the orchestrator)?
2. ModelMetadata: the model's raw input columns and its outputs.
3. ModelInfer: rows sent as one FP64 tensor per numeric column (BYTES for
   categorical ones), answered with a label and the class probabilities.

    python3 examples/python/serve_infer.py --server localhost:7005 \\
        --model iris --version production \\
        --row sepal_length_cm=5.1,sepal_width_cm=3.5,petal_length_cm=1.4,petal_width_cm=0.2

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
    from inference import grpc_service_pb2 as pb
    from inference import grpc_service_pb2_grpc as pb_grpc
except ImportError as err:
    sys.exit(f"serve_infer.py: {err}\nGenerate the Python code first: python3 examples/python/generate.py")


def parse_row(text):
    """parse_row reads "col=value,col=value" into a dict of strings."""
    row = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r}: want column=value")
        row[name.strip()] = value.strip()
    return row


def infer_request(model, version, inputs, rows):
    """infer_request builds a ModelInferRequest: one tensor of shape [n] per
    input the model's metadata lists, FP64 or BYTES as it says."""
    req = pb.ModelInferRequest(model_name=model, model_version=version)
    for meta in inputs:
        values = [row.get(meta.name, "") for row in rows]
        tensor = req.inputs.add(name=meta.name, datatype=meta.datatype, shape=[len(rows)])
        if meta.datatype == "BYTES":
            tensor.contents.bytes_contents.extend(v.encode() for v in values)
        elif meta.datatype == "BOOL":
            tensor.contents.bool_contents.extend(v.lower() in ("1", "true", "yes") for v in values)
        else:
            tensor.datatype = "FP64"
            tensor.contents.fp64_contents.extend(float(v) if v else float("nan") for v in values)
    return req


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="localhost:7005", help="serve stage address (default: %(default)s)")
    parser.add_argument("--model", required=True, help="registered model name")
    parser.add_argument("--version", default="", help="version number or alias (default: the newest)")
    parser.add_argument("--row", action="append", required=True, help="a row as col=value,col=value (repeatable)")
    args = parser.parse_args(argv)
    rows = [parse_row(r) for r in args.row]

    with grpc.insecure_channel(args.server) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        try:
            ready = stub.ServerReady(pb.ServerReadyRequest(), timeout=10, wait_for_ready=True)
            if not ready.ready:
                print(f"serve_infer.py: {args.server} is not ready yet", file=sys.stderr)
                return 1
            meta = stub.ModelMetadata(pb.ModelMetadataRequest(name=args.model, version=args.version), timeout=30)
            print(f"Model {meta.name} version {', '.join(meta.versions)} ({meta.platform})")
            print("  inputs:  " + ", ".join(f"{t.name} {t.datatype}" for t in meta.inputs))
            print("  outputs: " + ", ".join(f"{t.name} {t.datatype}" for t in meta.outputs))
            resp = stub.ModelInfer(infer_request(args.model, args.version, meta.inputs, rows), timeout=30)
        except grpc.RpcError as err:
            print(f"serve_infer.py: {err.code().name}: {err.details()}", file=sys.stderr)
            return 1
    outputs = {o.name: o for o in resp.outputs}
    labels = [b.decode() for b in outputs["label"].contents.bytes_contents] if "label" in outputs else []
    if "probabilities" in outputs:
        probs = outputs["probabilities"]
        width = probs.shape[1]
        classes = probs.parameters["classes"].string_param.split(",")
        for i, label in enumerate(labels):
            p = probs.contents.fp64_contents[i * width:(i + 1) * width]
            print(f"{label}\t" + "  ".join(f"{c} {v:.3f}" for c, v in zip(classes, p)))
    elif "prediction" in outputs:
        for v in outputs["prediction"].contents.fp64_contents:
            print(f"{v:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
