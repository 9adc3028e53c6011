// Bitext mining: two line-aligned files of translations (Tatoeba, FLORES).
import path from 'node:path';
import { UserError } from '../../errors';
import type { BitextTask } from '../tasks';
import { dominantScript, type FileTaskOptions } from './meta';
import { lines, readText, safeName } from './read';

/** Bitext: two line-aligned files (Tatoeba: tatoeba.xxx-eng.xxx is sentence1, tatoeba.xxx-eng.eng sentence2). */
export function loadBitext(srcFile: string, tgtFile: string, opts: FileTaskOptions = {}): BitextTask {
  const read = (f: string) => {
    const ls = lines(readText(f, 'parallel text file'));
    if (ls.length && ls[ls.length - 1] === '') ls.pop();
    return ls;
  };
  let s1 = read(srcFile);
  let s2 = read(tgtFile);
  if (s1.length !== s2.length)
    throw new UserError(
      `${srcFile} has ${s1.length} lines but ${tgtFile} has ${s2.length}; bitext files must be line-aligned`,
    );
  if (s1.length === 0) throw new UserError(`${srcFile}: no sentences`);
  if (opts.limit !== undefined) {
    s1 = s1.slice(0, opts.limit);
    s2 = s2.slice(0, opts.limit);
  }
  const ext = (f: string) => path.extname(f).slice(1);
  return {
    type: 'BitextMining',
    name: opts.name ?? safeName(path.basename(srcFile).replace(/\.[^.]+$/, '')),
    split: opts.split ?? 'test',
    hfSubset: `${ext(srcFile)}-${ext(tgtFile)}`,
    languages:
      opts.languages ??
      [
        [ext(srcFile), s1],
        [ext(tgtFile), s2],
      ]
        .filter(([code]) => /^[a-z]{3}$/.test(code as string))
        .map(([code, lines]) => {
          const script = dominantScript(lines as string[]);
          return script ? `${code}-${script}` : (code as string);
        }),
    source: `${path.resolve(srcFile)},${path.resolve(tgtFile)}`,
    instruction: opts.instruction,
    sentence1: s1,
    sentence2: s2,
  };
}
