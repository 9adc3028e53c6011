// Lowering of a built graph to an ONNX ModelProto (opset 18, IR version 8) with onnx-proto: toOnnx walks the
// graph in creation order and calls each node's LOWER rule (lower/rules.ts); the state of one lowering is
// lower/lowering.ts.
// Frozen weights sourced from files become external-data initializers that point into those files
// (location relative to `externalDir`, offset, length), so a checkpoint is never copied or inlined.
import fs from 'node:fs';
import path from 'node:path';
import { fmtShape } from './dims';
import { GraphError, type Tensor, topoOrder } from './graph';
import { type IOInfo, Lowering } from './lower/lowering';
import { onnx } from './lower/proto';
import { LOWER, type LowerTable, ruleFor } from './lower/rules';

export const OPSET = 18;
export const IR_VERSION = 8;
export { ONNX_DTYPE } from './lower/proto';
export type { IOInfo };

export interface OnnxModel {
  /** Serialized ModelProto (weights from files are external, not in here). */
  bytes: Uint8Array;
  inputs: IOInfo[];
  outputs: IOInfo[];
  /** Directory that external-data `location`s are relative to; null when there is no external data. */
  externalDir: string | null;
  nodeCount: number;
}

export interface LowerOptions {
  /** Base directory for external data; default: the deepest directory holding every weight file. */
  externalDir?: string;
  name?: string;
}

/** Deepest common directory of some absolute paths. */
function commonDir(files: string[]): string {
  let parts = path.dirname(files[0]).split(path.sep);
  for (const f of files.slice(1)) {
    const p = path.dirname(f).split(path.sep);
    let i = 0;
    while (i < parts.length && i < p.length && parts[i] === p[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(path.sep) || path.sep;
}

/**
 * Lower the graph reachable from `outputs` to ONNX. Output names are the keys of `outputs`. `table` is the
 * LOWER table (a parameter so tests can plant a broken one).
 */
export function toOnnx(
  outputs: Record<string, Tensor>,
  opts: LowerOptions = {},
  table: LowerTable = LOWER,
): OnnxModel {
  const outEntries = Object.entries(outputs);
  if (outEntries.length === 0) throw new GraphError('toOnnx: no outputs');

  // The reachable subgraph.
  const order = topoOrder(outEntries.map(([, root]) => root));

  // Creation order is a topological order (a node is built after its inputs) and it is the order the user
  // and grad() built things: forward, then the backward layer by layer, each weight gradient right after the
  // values it needs. ORT's sequential executor keeps it, so activations die early (what recompute() needs).
  order.sort((p, q) => p.id - q.id);

  // External data: locations relative to one directory.
  const files = order.flatMap((t) => {
    const src = t.op === 'weight' ? (t.attrs.source as { file?: string }) : undefined;
    return src?.file ? [fs.realpathSync(src.file)] : [];
  });
  const L = new Lowering(order, files.length ? path.resolve(opts.externalDir ?? commonDir(files)) : null);

  const names = new Map<number, string>();
  // Every value's shape as the graph knows it (named dims such as 'batch*seq' as dim_params): ORT's own
  // inference loses derived dims (a Reshape to [-1, h] has an unknown first dim), and its allocation planner
  // then scans the whole free list of never-reusable buffers for every output — quadratic in the graph
  // (qwen2-0.6b backward session creation 14–18 s → ~1 s). With the dims named, reuse matches early.
  const valueTypes = new Map<string, ReturnType<Lowering['typeProto']>>();
  const outputNameOf = new Map<number, string>();
  for (const [name, t] of outEntries)
    if (!outputNameOf.has(t.id) && t.op !== 'input') outputNameOf.set(t.id, name);

  for (const t of order) {
    const name =
      outputNameOf.get(t.id) ?? (t.op === 'input' || t.op === 'weight' ? t.name! : `${t.op}_${t.id}`);
    const sc = t.scope ? `${t.scope}: ` : '';
    const rule = ruleFor(table, t.op);
    if (!rule) throw new GraphError(`${sc}cannot lower op '${t.op}' to ONNX: no LOWER rule (lower/rules.ts)`);
    const out: unknown = rule(L, {
      t,
      x: t.inputs.map((i) => names.get(i.id)!),
      a: t.attrs,
      name,
      scope: t.scope,
    });
    // One tensor, one ONNX value: a rule must return the name of a value it (or an earlier rule) defined.
    if (typeof out !== 'string' || !L.defined.has(out)) {
      const got = Array.isArray(out)
        ? `${out.length} outputs`
        : typeof out === 'string'
          ? `undefined value '${out}'`
          : String(out);
      throw new GraphError(`${sc}LOWER '${t.op}' returned ${got} for 1 tensor`);
    }
    names.set(t.id, out);
    if (!valueTypes.has(out)) valueTypes.set(out, L.typeProto(t.dtype, t.shape));
  }

  // Outputs: a tensor already named as an output keeps that name; inputs or duplicates go through Identity.
  const outputs_ = [];
  const outputInfo: IOInfo[] = [];
  for (const [name, t] of outEntries) {
    const have = names.get(t.id)!;
    if (have !== name) L.emit('Identity', [have], [], name);
    outputs_.push({ name, type: L.typeProto(t.dtype, t.shape) });
    outputInfo.push({ name, dtype: t.dtype, shape: [...t.shape] });
  }

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'embedsmith',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: opts.name ?? 'embedsmith',
      node: L.nodes,
      initializer: L.initializers,
      input: L.inputs,
      output: outputs_,
      valueInfo: valueInfoOf(L, valueTypes, new Set(outEntries.map(([n]) => n))),
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  return {
    bytes,
    inputs: L.inputInfo,
    outputs: outputInfo,
    externalDir: L.externalDir,
    nodeCount: L.nodes.length,
  };
}

/** value_info for node outputs only (graph inputs, initializers and outputs carry their types already). */
function valueInfoOf(
  L: Lowering,
  types: Map<string, ReturnType<Lowering['typeProto']>>,
  outputs: Set<string>,
) {
  const produced = new Set(L.nodes.flatMap((n) => n.output ?? []));
  return [...types]
    .filter(([name]) => produced.has(name) && !outputs.has(name))
    .map(([name, type]) => ({ name, type }));
}

export { fmtShape };
