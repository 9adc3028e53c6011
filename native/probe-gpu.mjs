#!/usr/bin/env node
// Lists the GPUs (nvidia-smi) and the execution providers onnxruntime-node offers here; with
// `--session EP` it also runs a one-node ONNX model (Add) on that provider, so a broken CUDA install
// shows up as an error now rather than as a silent CPU fallback during training.
//   node native/probe-gpu.mjs                 # GPUs + providers
//   node native/probe-gpu.mjs --session cuda  # … and prove the CUDA provider loads and runs
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const args = process.argv.slice(2);
const sessionEp = args.includes('--session') ? args[args.indexOf('--session') + 1] : null;
const json = args.includes('--json');

function gpus() {
  try {
    const out = execFileSync(
      'nvidia-smi',
      ['--query-gpu=index,name,memory.total,driver_version,compute_cap', '--format=csv,noheader,nounits'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return {
      gpus: out
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [index, name, memMiB, driver, computeCap] = l.split(',').map((s) => s.trim());
          return { index: Number(index), name, memoryMiB: Number(memMiB), driver, computeCap };
        }),
      error: null,
    };
  } catch (e) {
    return {
      gpus: [],
      error:
        e.code === 'ENOENT' ? 'nvidia-smi not found (no NVIDIA driver)' : String(e.message).split('\n')[0],
    };
  }
}

/** A model computing y = a + b (float32 [n]), encoded with onnx-proto (opset 18). */
function addModel() {
  const onnx = require('onnx-proto').onnx;
  const vi = (name) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'n' }] } } },
    });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 18 }],
    producerName: 'embedsmith-probe',
    graph: {
      name: 'probe',
      node: [{ opType: 'Add', input: ['a', 'b'], output: ['y'] }],
      input: [vi('a'), vi('b')],
      output: [vi('y')],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

async function trySession(ep) {
  const t0 = Date.now();
  const s = await ort.InferenceSession.create(addModel(), { executionProviders: [ep] });
  const a = new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [3]);
  const b = new ort.Tensor('float32', Float32Array.from([10, 20, 30]), [3]);
  const y = (await s.run({ a, b })).y.data;
  await s.release();
  if (Array.from(y).join(',') !== '11,22,33') throw new Error(`wrong result ${Array.from(y)}`);
  return { ep, ok: true, ms: Date.now() - t0 };
}

const report = { ...gpus(), providers: ort.listSupportedBackends(), session: null };
if (sessionEp) {
  try {
    report.session = await trySession(sessionEp);
  } catch (e) {
    report.session = { ep: sessionEp, ok: false, error: String(e.message ?? e).split('\n')[0] };
  }
}
if (json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(report.gpus.length ? 'GPUs:' : `GPUs: none (${report.error})`);
  for (const g of report.gpus)
    console.log(`  [${g.index}] ${g.name}, ${g.memoryMiB} MiB, driver ${g.driver}, compute ${g.computeCap}`);
  console.log('onnxruntime-node execution providers:');
  for (const p of report.providers)
    console.log(`  ${p.name}${p.bundled ? ' (bundled)' : ' (needs its libraries: npm run cuda:install)'}`);
  if (report.session)
    console.log(
      report.session.ok
        ? `session on ${report.session.ep}: ok (${report.session.ms} ms)`
        : `session on ${report.session.ep}: FAILED: ${report.session.error}`,
    );
}
process.exit(report.session && !report.session.ok ? 1 : 0);
