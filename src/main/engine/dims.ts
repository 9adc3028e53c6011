// Symbolic dimensions. A dim is a static size (number) or a name for a size known only when the graph runs
// ('batch', 'seq'). Reshapes and concats derive new dims from old ones; they are kept as canonical strings
// ('batch*seq', '(seq+seq)') so that equality is string equality and the ONNX lowering can rebuild the value
// at run time from the Shape of an input that carries each named atom.

export type Dim = number | string;
export type Shape = readonly Dim[];

export const isStatic = (d: Dim): d is number => typeof d === 'number';
export const allStatic = (s: Shape): s is readonly number[] => s.every(isStatic);
export const fmtShape = (s: Shape) => `[${s.join(',')}]`;

/** Split at depth-0 occurrences of `ch`. */
export function splitTop(s: string, ch: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ch && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

interface Prod {
  coef: number;
  factors: string[];
}

function toProd(d: Dim): Prod {
  if (typeof d === 'number') return { coef: d, factors: [] };
  let coef = 1;
  const factors: string[] = [];
  for (const p of splitTop(d, '*')) {
    if (/^\d+$/.test(p)) coef *= Number(p);
    else factors.push(p);
  }
  return { coef, factors };
}

function fromProd(p: Prod): Dim {
  if (p.factors.length === 0) return p.coef;
  const f = [...p.factors].sort().join('*');
  return p.coef === 1 ? f : `${p.coef}*${f}`;
}

export function dimMul(a: Dim, b: Dim): Dim {
  const pa = toProd(a);
  const pb = toProd(b);
  return fromProd({ coef: pa.coef * pb.coef, factors: [...pa.factors, ...pb.factors] });
}

export const dimProd = (dims: Shape): Dim => dims.reduce<Dim>((acc, d) => dimMul(acc, d), 1);

export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  const terms = (d: Dim) =>
    typeof d === 'string' && /^\(.*\)$/.test(d) ? splitTop(d.slice(1, -1), '+') : [String(d)];
  return `(${[...terms(a), ...terms(b)].join('+')})`;
}

/** num / den for products of dims, or null when it does not divide exactly. */
export function dimDiv(num: Dim, den: Dim): Dim | null {
  const pn = toProd(num);
  const pd = toProd(den);
  if (pd.coef === 0 || pn.coef % pd.coef !== 0) return null;
  const rest = [...pn.factors];
  for (const f of pd.factors) {
    const i = rest.indexOf(f);
    if (i < 0) return null;
    rest.splice(i, 1);
  }
  return fromProd({ coef: pn.coef / pd.coef, factors: rest });
}

/** Named atoms a dim depends on ('batch*seq' → ['batch', 'seq']). */
export function dimAtoms(d: Dim): string[] {
  if (typeof d === 'number') return [];
  return d.split(/[()*+]/).filter((a) => a !== '' && !/^-?\d+$/.test(a));
}

/** Parsed form used by the lowering to rebuild a dim's value at run time. */
export type DimExpr =
  | { k: 'num'; v: number }
  | { k: 'atom'; name: string }
  | { k: 'mul'; parts: DimExpr[] }
  | { k: 'add'; parts: DimExpr[] };

export function parseDim(d: Dim): DimExpr {
  if (typeof d === 'number') return { k: 'num', v: d };
  const s = d.trim();
  const sum = splitTop(s, '+');
  if (sum.length > 1) return { k: 'add', parts: sum.map(parseDim) };
  const prod = splitTop(s, '*');
  if (prod.length > 1) return { k: 'mul', parts: prod.map(parseDim) };
  if (s.startsWith('(') && s.endsWith(')')) return parseDim(s.slice(1, -1));
  if (/^-?\d+$/.test(s)) return { k: 'num', v: Number(s) };
  return { k: 'atom', name: s };
}
