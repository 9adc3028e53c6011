// The official SemEval STS layout (STS12–17, STS22): STS.input.X.txt with its STS.gs.X.txt gold scores.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../../errors';
import type { StsTask } from '../tasks';
import { type FileTaskOptions, pairLanguages, taskMeta } from './meta';
import { lines, readText } from './read';

const SEMEVAL_INPUT = /^STS\.input\.(.+)\.txt$/;

/** The gold file of `STS.input.X.txt`: `STS.gs.X.txt` beside it, or in a sibling folder (STS2017.gs/). */
function semEvalGold(input: string, key: string): string {
  const dir = path.dirname(input);
  const name = `STS.gs.${key}.txt`;
  const candidates = [
    path.join(dir, name),
    ...fs
      .readdirSync(path.dirname(dir))
      .map((d) => path.join(path.dirname(dir), d, name))
      .filter((f) => f !== path.join(dir, name)),
  ];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found)
    throw new UserError(`${input}: no ${name} beside it or in a sibling folder; put the gold file there`);
  return found;
}

function readSemEvalPairs(input: string, key: string) {
  const gold = semEvalGold(input, key);
  const inLines = lines(readText(input, 'SemEval STS input'));
  const gsLines = lines(readText(gold, 'SemEval STS gold'));
  while (inLines.length && inLines.at(-1) === '') inLines.pop();
  while (gsLines.length && gsLines.at(-1) === '') gsLines.pop();
  if (gsLines.length > inLines.length)
    throw new UserError(
      `${gold} has ${gsLines.length} lines but ${input} has ${inLines.length}; they must be line-aligned`,
    );
  const pairs: { s1: string; s2: string; score: number }[] = [];
  inLines.forEach((l, i) => {
    const g = (gsLines[i] ?? '').trim();
    // The official scorer skips pairs without a gold score (empty gs line).
    if (!g) return;
    const score = Number(g);
    if (!Number.isFinite(score))
      throw new UserError(`${gold}:${i + 1}: score "${g}" is not a number; fix that line`);
    const f = l.split('\t');
    if (f.length < 2) throw new UserError(`${input}:${i + 1}: expected "sentence1<TAB>sentence2"`);
    pairs.push({ s1: f[0], s2: f[1], score });
  });
  if (!pairs.length) throw new UserError(`${input}: no scored sentence pairs (is ${gold} empty?)`);
  return pairs;
}

/** True for an `STS.input.*.txt` file or a folder holding some (the official SemEval STS layout). */
export function isSemEvalSts(p: string): boolean {
  if (fs.existsSync(p) && fs.statSync(p).isDirectory())
    return fs.readdirSync(p).some((f) => SEMEVAL_INPUT.test(f));
  return SEMEVAL_INPUT.test(path.basename(p));
}

/**
 * The official SemEval STS layout: `STS.input.X.txt` (sentence1<TAB>sentence2[<TAB>…]) with `STS.gs.X.txt`
 * (one score per line, empty = unscored). A file is one task; a folder of language-pair files (STS17's
 * `track1.ar-ar`, `track4a.en-es`) is one task with a subset per pair (hf_subset "ar-ar", languages
 * ["ara-Arab"]), a folder of domain files (STS12–16's headlines, …) one task of all pairs, as MTEB has them.
 */
export function loadSemEvalSts(
  p: string,
  opts: FileTaskOptions & { minScore?: number; maxScore?: number } = {},
): StsTask[] {
  const isDir = fs.statSync(p).isDirectory();
  const files = isDir
    ? fs
        .readdirSync(p)
        .filter((f) => SEMEVAL_INPUT.test(f))
        .sort()
        .map((f) => path.join(p, f))
    : [p];
  const keyOf = (f: string) => (SEMEVAL_INPUT.exec(path.basename(f)) as RegExpExecArray)[1];
  const pairOf = (key: string) => /(?:^|\.)([a-z]{2,3}-[a-z]{2,3})$/.exec(key)?.[1] ?? null;
  const base = { type: 'STS' as const, minScore: opts.minScore ?? 0, maxScore: opts.maxScore ?? 5 };
  const limit = (x: StsTask['pairs']) => (opts.limit !== undefined ? x.slice(0, opts.limit) : x);
  if (files.every((f) => pairOf(keyOf(f))))
    return files.map((f) => {
      const pairs = limit(readSemEvalPairs(f, keyOf(f)));
      const sub = pairOf(keyOf(f)) as string;
      const meta = taskMeta(f, opts, {
        nameFrom: isDir ? p : path.dirname(f),
        languages: () => pairLanguages(sub),
      });
      return { ...base, ...meta, hfSubset: sub, pairs };
    });
  const pairs = limit(files.flatMap((f) => readSemEvalPairs(f, keyOf(f))));
  const meta = taskMeta(p, opts, { nameFrom: isDir ? p : path.dirname(p) });
  return [{ ...base, ...meta, pairs }];
}
