// onnx-check.js runs every exported pipeline in a directory through
// onnxruntime-node and compares its answers with alur's: labels equal,
// probabilities within 1e-5 (for a regressor, predictions within 1e-5).
// Usage: node scripts/onnx-check.js DIR
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const TOLERANCE = 1e-5;

async function check(dir, file) {
  const fx = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const session = await ort.InferenceSession.create(path.join(dir, fx.model));
  const feeds = {};
  for (const [name, values] of Object.entries(fx.inputs)) {
    feeds[name] = new ort.Tensor('float64', Float64Array.from(values, (v) => (v === null ? NaN : v)), [fx.rows, 1]);
  }
  for (const [name, values] of Object.entries(fx.strings)) {
    feeds[name] = new ort.Tensor('string', values, [fx.rows, 1]);
  }
  const out = await session.run(feeds);
  let worst = 0;
  const problems = [];
  if (fx.predictions) {
    const pred = out.prediction.data;
    if (pred.length !== fx.predictions.length) {
      problems.push(`${pred.length} predictions, alur has ${fx.predictions.length}`);
    } else {
      for (let i = 0; i < pred.length; i++) {
        worst = Math.max(worst, Math.abs(pred[i] - fx.predictions[i]));
      }
      if (!(worst <= TOLERANCE)) {
        problems.push(`predictions differ by up to ${worst}, over ${TOLERANCE}`);
      }
    }
    return report(fx, worst, problems, 'Δy');
  }
  const labels = out.label.data;
  const probs = out.probabilities.data;
  for (let i = 0; i < fx.rows; i++) {
    if (labels[i] !== fx.labels[i]) {
      problems.push(`row ${i}: label ${labels[i]}, alur says ${fx.labels[i]}`);
    }
  }
  if (probs.length !== fx.probabilities.length) {
    problems.push(`${probs.length} probabilities, alur has ${fx.probabilities.length}`);
  } else {
    for (let i = 0; i < probs.length; i++) {
      worst = Math.max(worst, Math.abs(probs[i] - fx.probabilities[i]));
    }
    if (!(worst <= TOLERANCE)) {
      problems.push(`probabilities differ by up to ${worst}, over ${TOLERANCE}`);
    }
  }
  return report(fx, worst, problems, 'Δp');
}

// report prints one pipeline's result and says whether it passed.
function report(fx, worst, problems, what) {
  const status = problems.length ? 'FAIL' : 'ok  ';
  console.log(`${status} ${fx.model.padEnd(48)} ${fx.rows} rows, max |${what}| ${worst.toExponential(2)}`);
  for (const p of problems.slice(0, 5)) {
    console.log(`     ${p}`);
  }
  return problems.length === 0;
}

async function main() {
  const dir = process.argv[2];
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) {
    throw new Error(`no fixtures in ${dir}`);
  }
  let ok = true;
  for (const f of files) {
    ok = (await check(dir, f)) && ok;
  }
  if (!ok) {
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
