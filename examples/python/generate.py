#!/usr/bin/env python3
"""generate.py writes the Python protobuf and gRPC code of the alur contracts.

The generated code is not committed: the protos under proto/ are the
contract, and this script turns them into Python modules (by default in
examples/python/gen/, which the examples put on sys.path):

    python3 examples/python/generate.py [--out DIR]

It runs in two steps, so that it works with the grpc_tools of any age:

1. `buf build` compiles the protos into a FileDescriptorSet (buf is the
   project's pinned contract tool: `make tools` puts it in ./bin).
2. grpc_tools' protoc reads that descriptor set (--descriptor_set_in)
   instead of the .proto text and writes the *_pb2.py modules, plus a
   *_pb2_grpc.py module for each file that defines a service.

Compiling from descriptors matters on Debian 12, whose python3-grpc-tools
bundles a protoc too old to parse proto3 `optional` fields (such as
alur.orchestrator.v1.Objective.target): from a descriptor set it still
generates working code, in which such a field keeps its presence (HasField)
as the only member of a oneof named after it ("_target").
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_OUT = HERE / "gen"


def find_buf(explicit):
    """find_buf returns the buf executable: the one given, the repository's
    pinned ./bin/buf, or buf on PATH."""
    if explicit:
        return explicit
    pinned = REPO / "bin" / "buf"
    if os.access(pinned, os.X_OK):
        return str(pinned)
    found = shutil.which("buf")
    if found:
        return found
    sys.exit("generate.py: buf not found: run `make tools` (installs ./bin/buf) or pass --buf")


# OURS are the directories of the project's own .proto files: the alur
# contracts and the Open Inference Protocol the serve stage speaks.
OURS = ("alur/", "inference/")


def alur_files(descriptor_set):
    """alur_files returns the project's .proto files in a serialized
    FileDescriptorSet, and those among them that define services."""
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(descriptor_set)
    files = sorted(f.name for f in fds.file if f.name.startswith(OURS))
    services = sorted(f.name for f in fds.file if f.name.startswith(OURS) and f.service)
    return files, services


def protoc(args):
    """protoc runs grpc_tools' protoc with args. It calls protoc.main rather
    than `python3 -m grpc_tools.protoc`, whose command line adds an -I flag
    that protoc refuses alongside --descriptor_set_in."""
    from grpc_tools import protoc as grpc_protoc

    return grpc_protoc.main(["grpc_tools.protoc"] + args)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output directory (default: %(default)s)")
    parser.add_argument("--buf", default="", help="buf executable (default: ./bin/buf, then buf on PATH)")
    args = parser.parse_args(argv)

    try:
        import grpc_tools  # noqa: F401  (checked before any work is done)
    except ImportError:
        sys.exit("generate.py: grpc_tools is missing: apt-get install python3-grpc-tools (or pip install grpcio-tools)")

    out = pathlib.Path(args.out).resolve()
    buf = find_buf(args.buf)
    with tempfile.TemporaryDirectory() as tmp:
        descriptors = pathlib.Path(tmp) / "alur.fds"
        subprocess.run(
            [buf, "build", "--as-file-descriptor-set", "--exclude-source-info", "-o", str(descriptors)],
            cwd=REPO,
            check=True,
        )
        files, services = alur_files(descriptors.read_bytes())
        if not files:
            sys.exit("generate.py: buf build produced no alur/ files")
        # Start from a clean package so that a removed .proto leaves no module.
        shutil.rmtree(out / "alur", ignore_errors=True)
        shutil.rmtree(out / "inference", ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        base = ["--descriptor_set_in=" + str(descriptors)]
        if protoc(base + ["--python_out=" + str(out)] + files) != 0:
            sys.exit("generate.py: protoc --python_out failed")
        if protoc(base + ["--grpc_python_out=" + str(out)] + services) != 0:
            sys.exit("generate.py: protoc --grpc_python_out failed")
    print(f"generate.py: {len(files)} files, {len(services)} services -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
