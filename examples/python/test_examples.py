"""Unit tests of the examples' helpers; they need the generated code
(examples/python/generate.py, or ALUR_PY_GEN) but no server:

    python3 -m unittest discover -s examples/python
"""

import argparse
import io
import os
import tempfile
import unittest

import run_pipeline
import serve_infer
import stages_alone
from run_pipeline import orch_pb2
from stages_alone import ingest_pb2, table_pb2


def trial(number, score, algorithm="knn", error=""):
    return orch_pb2.Trial(number=number, score=score, algorithm=algorithm, error=error)


class UploadRequestsTest(unittest.TestCase):
    def test_chunks(self):
        cases = [
            # (file size, chunk size)
            (0, 7),
            (1, 7),
            (6, 7),
            (7, 7),
            (8, 7),
            (50, 7),
            (run_pipeline.UPLOAD_CHUNK * 2 + 3, run_pipeline.UPLOAD_CHUNK),
        ]
        for size, chunk in cases:
            with self.subTest(size=size, chunk=chunk):
                data = bytes(i % 251 for i in range(size))
                with tempfile.TemporaryDirectory() as tmp:
                    path = os.path.join(tmp, "data.csv")
                    with open(path, "wb") as f:
                        f.write(data)
                    reqs = list(run_pipeline.upload_requests(path, chunk))
                self.assertEqual(reqs[0].WhichOneof("part"), "name")
                self.assertEqual(reqs[0].name, "data.csv")
                chunks = [r.chunk for r in reqs[1:]]
                self.assertTrue(all(r.WhichOneof("part") == "chunk" for r in reqs[1:]))
                self.assertEqual(b"".join(chunks), data)
                self.assertEqual(len(chunks), -(-size // chunk))
                self.assertTrue(all(0 < len(c) <= chunk for c in chunks))

    def test_chunk_size_within_contract(self):
        # The contract caps a chunk at 1 MiB; the example stays at half.
        self.assertLessEqual(run_pipeline.UPLOAD_CHUNK, 512 << 10)


class LeaderboardTest(unittest.TestCase):
    def test_order(self):
        cases = [
            ("accuracy", [trial(1, 0.9), trial(2, 0.95), trial(3, 0.9)], [2, 1, 3]),
            ("rmse", [trial(1, 3.5), trial(2, 1.25), trial(3, 2.0)], [2, 3, 1]),
            ("log_loss", [trial(1, 0.2), trial(2, 0.1)], [2, 1]),
            ("r2", [trial(1, 0.0, error="boom"), trial(2, -0.5), trial(3, 0.7)], [3, 2, 1]),
            ("", [trial(2, 0.0, error="x"), trial(1, 0.0, error="y")], [1, 2]),
            ("accuracy", [], []),
        ]
        for metric, trials, want in cases:
            with self.subTest(metric=metric, want=want):
                run = orch_pb2.Run(metric=metric, trials=trials)
                self.assertEqual([t.number for t in run_pipeline.leaderboard(run)], want)
        # Among equal scores the run's chosen trial comes first.
        run = orch_pb2.Run(metric="accuracy", best_trial=3,
                           trials=[trial(1, 0.9), trial(2, 0.8), trial(3, 0.9)])
        self.assertEqual([t.number for t in run_pipeline.leaderboard(run)], [3, 1, 2])

    def test_lower_is_better_metrics(self):
        for metric, lower in [("log_loss", True), ("rmse", True), ("mae", True),
                              ("accuracy", False), ("f1_macro", False), ("roc_auc", False), ("r2", False)]:
            with self.subTest(metric=metric):
                self.assertEqual(metric in run_pipeline.LOWER_IS_BETTER, lower)


class FormatTest(unittest.TestCase):
    def test_format_params(self):
        cases = [
            ({}, ""),
            ({"k": 5.0}, "k=5"),
            ({"max_depth": 8.0, "C": 0.1, "alpha": 1e-06}, "C=0.1, alpha=1e-06, max_depth=8"),
        ]
        for params, want in cases:
            with self.subTest(params=params):
                self.assertEqual(run_pipeline.format_params(params), want)

    def test_event_line(self):
        cases = [
            (orch_pb2.RunEvent(sequence=1, message="run started", run_state=orch_pb2.RUN_STATE_RUNNING),
             "   1  run             run started"),
            (orch_pb2.RunEvent(sequence=12, step="train/3", message="train/3: done in 4ms"),
             "  12  train/3         done in 4ms"),
            (orch_pb2.RunEvent(sequence=7, step="test", run_state=orch_pb2.RUN_STATE_SUCCEEDED),
             "   7  test            RUN_STATE_SUCCEEDED"),
        ]
        for event, want in cases:
            with self.subTest(want=want):
                self.assertEqual(run_pipeline.event_line(event), want)

    def test_report(self):
        run = orch_pb2.Run(id="r1", state=orch_pb2.RUN_STATE_SUCCEEDED, metric="accuracy",
                           trials=[trial(1, 0.9, "knn"), trial(2, 0.97, "logistic_regression")],
                           best_trial=2, dataset_rows=150)
        run.test_metrics.num_samples = 30
        run.test_metrics.classification.accuracy = 0.9333
        out = io.StringIO()
        run_pipeline.report(run, out)
        text = out.getvalue()
        self.assertIn("Run r1: RUN_STATE_SUCCEEDED, 150 rows, objective accuracy", text)
        board = [line for line in text.splitlines() if "knn" in line or "logistic_regression" in line]
        self.assertEqual(len(board), 2)
        self.assertTrue(board[0].startswith("*") and "logistic_regression" in board[0] and "0.9700" in board[0])
        self.assertIn("accuracy           0.9333", text)


class BuildSpecTest(unittest.TestCase):
    def args(self, **kw):
        base = dict(csv="dir/sales.csv", label="y", name="", task=None, algorithms="", metric="",
                    target=None, max_trials=0, seed=42)
        base.update(kw)
        return argparse.Namespace(**base)

    def test_spec(self):
        spec = run_pipeline.build_spec(self.args(), "d" * 64)
        self.assertEqual(spec.source.upload, "d" * 64)
        self.assertEqual(spec.name, "sales.csv")
        self.assertEqual(spec.label, "y")
        self.assertEqual(spec.task, table_pb2.TASK_UNSPECIFIED)
        self.assertEqual(len(spec.candidates), 0)
        self.assertFalse(spec.HasField("objective"))

    def test_options(self):
        spec = run_pipeline.build_spec(
            self.args(name="n", task="regression", algorithms=" ridge, ,knn", metric="rmse",
                      target=0.0, max_trials=5, seed=7), "abc")
        self.assertEqual(spec.name, "n")
        self.assertEqual(spec.task, table_pb2.TASK_REGRESSION)
        self.assertEqual([c.algorithm for c in spec.candidates], ["ridge", "knn"])
        self.assertEqual(spec.objective.metric, "rmse")
        # A target of 0 must still be sent: Objective.target has presence.
        self.assertTrue(spec.objective.HasField("target"))
        self.assertEqual(spec.objective.target, 0.0)
        decoded = orch_pb2.PipelineSpec.FromString(spec.SerializeToString())
        self.assertTrue(decoded.objective.HasField("target"))
        self.assertEqual((spec.max_trials, spec.seed), (5, 7))


class ProfileRequestsTest(unittest.TestCase):
    def test_forwarding(self):
        schema = table_pb2.Schema(fields=[table_pb2.Field(name="x", type=table_pb2.COLUMN_TYPE_NUMERIC)])
        stream = [
            ingest_pb2.ReadResponse(schema=schema),
            ingest_pb2.ReadResponse(batch=table_pb2.TableBatch(row_offset=0, num_rows=2)),
            ingest_pb2.ReadResponse(batch=table_pb2.TableBatch(row_offset=2, num_rows=1)),
            ingest_pb2.ReadResponse(summary=table_pb2.TableSummary(row_count=3)),
        ]
        reqs = list(stages_alone.profile_requests(iter(stream), "y"))
        self.assertEqual([r.WhichOneof("part") for r in reqs], ["options", "schema", "batch", "batch"])
        self.assertEqual(reqs[0].options.label, "y")
        self.assertEqual(reqs[1].schema, schema)
        self.assertEqual([r.batch.row_offset for r in reqs[2:]], [0, 2])

    def test_column_line(self):
        num = stages_alone.profile_pb2.ColumnProfile(
            name="x", type=table_pb2.COLUMN_TYPE_NUMERIC, min=1, max=4, mean=2.5, std=1.25)
        self.assertEqual(stages_alone.column_line(num).split(),
                         "x numeric missing 0 min 1 mean 2.5 max 4 std 1.25".split())
        cat = stages_alone.profile_pb2.ColumnProfile(
            name="c", type=table_pb2.COLUMN_TYPE_CATEGORICAL, distinct=2, missing=1,
            top_categories=[stages_alone.profile_pb2.CategoryCount(value="a", count=3)])
        self.assertEqual(stages_alone.column_line(cat).split(),
                         "c categorical missing 1 2 values: a (3)".split())


class PredictTest(unittest.TestCase):
    def test_predict_request_drops_the_label(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "d.csv")
            with open(path, "w", encoding="utf-8") as f:
                f.write("\ufeffa,species,b\n1,x,2\n3,y,4\n\n5,z,6\n")
            req, actual = run_pipeline.predict_request("r1", path, "species", 2)
        self.assertEqual(req.run_id, "r1")
        self.assertEqual(list(req.rows.columns), ["a", "b"])
        self.assertEqual([list(r.values) for r in req.rows.rows], [["1", "2"], ["3", "4"]])
        self.assertEqual(actual, ["x", "y"])

    def test_prediction_line(self):
        from alur.eval.v1 import eval_pb2
        cls = eval_pb2.Prediction(label="setosa", probabilities=[0.9, 0.1])
        self.assertEqual(run_pipeline.prediction_line(cls, ["setosa", "other"], "setosa"),
                         "  setosa           p=0.9000  (actual setosa)")
        reg = eval_pb2.Prediction(value=12.5)
        self.assertEqual(run_pipeline.prediction_line(reg, [], ""), "  12.5              (actual ?)")


if __name__ == "__main__":
    unittest.main()


class ServeInferTest(unittest.TestCase):
    def test_parse_row(self):
        self.assertEqual(serve_infer.parse_row("a=1, b = x"), {"a": "1", "b": "x"})
        with self.assertRaises(ValueError):
            serve_infer.parse_row("a")

    def test_infer_request(self):
        meta = serve_infer.pb.ModelMetadataResponse(inputs=[
            serve_infer.pb.ModelMetadataResponse.TensorMetadata(name="x", datatype="FP64"),
            serve_infer.pb.ModelMetadataResponse.TensorMetadata(name="color", datatype="BYTES"),
            serve_infer.pb.ModelMetadataResponse.TensorMetadata(name="flag", datatype="BOOL"),
        ])
        rows = [{"x": "1.5", "color": "red", "flag": "yes"}, {"x": "", "color": "", "flag": "0"}]
        req = serve_infer.infer_request("churn", "production", meta.inputs, rows)
        self.assertEqual((req.model_name, req.model_version), ("churn", "production"))
        x, color, flag = req.inputs
        self.assertEqual(list(x.shape), [2])
        self.assertEqual(x.contents.fp64_contents[0], 1.5)
        self.assertNotEqual(x.contents.fp64_contents[1], x.contents.fp64_contents[1])  # NaN: missing
        self.assertEqual(list(color.contents.bytes_contents), [b"red", b""])
        self.assertEqual(list(flag.contents.bool_contents), [True, False])
