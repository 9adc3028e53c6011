// `embedsmith eval` on sources people have (SemEval STS layout), with MTEB-shaped result files and result
// names that stay unique per source. The hashed bag-of-words model is real and needs no weights.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/main/cli/index';
import { tmpDir } from '../../helpers/tmp';

let stdout = '';
let stderr = '';
beforeEach(() => {
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

const EN = [
  ['a man is playing a guitar', 'a man plays the guitar', '4.8'],
  ['a woman is slicing onions', 'a woman cuts an onion', '4.2'],
  ['the cat sleeps', 'rockets reach orbit', '0.0'],
  ['two dogs run in a field', 'dogs are running outside', '3.6'],
  ['he reads a book', '', '1.0'],
];
const AR = [
  ['رجل يعزف على الغيتار', 'رجل يعزف الغيتار', '4.8'],
  ['امرأة تقطع البصل', 'امرأة تقطع بصلة', '4.4'],
  ['القط نائم', 'الصواريخ تصل إلى المدار', '0.2'],
];

/** The official STS 2017 layout: inputs in STS2017.eval.v1.1/, gold scores in STS2017.gs/. */
function sts17(root: string): string {
  const inDir = path.join(root, 'STS2017.eval.v1.1');
  const gsDir = path.join(root, 'STS2017.gs');
  fs.mkdirSync(inDir, { recursive: true });
  fs.mkdirSync(gsDir, { recursive: true });
  const write = (key: string, rows: string[][]) => {
    fs.writeFileSync(
      path.join(inDir, `STS.input.${key}.txt`),
      rows.map((r) => `${r[0]}\t${r[1]}\n`).join(''),
    );
    fs.writeFileSync(path.join(gsDir, `STS.gs.${key}.txt`), rows.map((r) => `${r[2]}\n`).join(''));
  };
  write('track1.ar-ar', AR);
  write('track5.en-en', EN);
  return inDir;
}

const evalArgs = (home: string, ...rest: string[]) => [
  'eval',
  '--home',
  home,
  '--model',
  'builtin:hashbow-64',
  '--json',
  ...rest,
];

describe('embedsmith eval: sources, MTEB result files, unique names', () => {
  it('SemEval STS17 layout: one task, one scores.test[] entry per subset with its hf_subset and languages', async () => {
    const home = tmpDir();
    const dir = sts17(tmpDir());
    expect(await main(evalArgs(home, '--task', `sts:${dir}`)), stderr).toBe(0);
    const run = JSON.parse(stdout).runs[0];
    expect(run.results.map((r: { hf_subset: string }) => r.hf_subset).sort()).toEqual(['ar-ar', 'en-en']);
    const files = new Set(run.results.map((r: { result_path: string }) => r.result_path));
    expect(files.size).toBe(1);
    const doc = JSON.parse(fs.readFileSync([...files][0] as string, 'utf8'));
    const entries = doc.scores.test as { hf_subset: string; languages: string[]; main_score: number }[];
    expect(entries.map((e) => [e.hf_subset, e.languages]).sort()).toEqual([
      ['ar-ar', ['ara-Arab']],
      ['en-en', ['eng-Latn']],
    ]);
    for (const e of entries) expect(Number.isFinite(e.main_score)).toBe(true);
    // The empty sentence of the en-en track is warned about, once, with its count.
    expect(stderr.match(/warning: .*1 empty text/g)?.length).toBe(1);
  });

  it('SemEval gold with empty lines: those pairs are not scored (the official scorer skips them)', async () => {
    const home = tmpDir();
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'STS.input.headlines.txt'), EN.map((r) => `${r[0]}\t${r[1]}\n`).join(''));
    fs.writeFileSync(path.join(dir, 'STS.gs.headlines.txt'), '4.8\n\n0\n3.6\n\n');
    expect(await main(evalArgs(home, '--task', `sts:${path.join(dir, 'STS.input.headlines.txt')}`))).toBe(0);
    const r = JSON.parse(stdout).runs[0].results[0];
    expect(r.hf_subset).toBe('default');
    // Without the 2 unscored pairs, the empty sentence (pair 5) is not embedded: no warning.
    expect(stderr).not.toContain('empty text');
  });

  it('--language sets the languages where the source cannot tell; a malformed tag is a usage error', async () => {
    const home = tmpDir();
    const file = path.join(tmpDir(), 'pairs.tsv');
    fs.writeFileSync(
      file,
      `sentence1\tsentence2\tscore\n${EN.slice(0, 4)
        .map((r) => r.join('\t'))
        .join('\n')}\n`,
    );
    expect(await main(evalArgs(home, '--task', `sts:${file}`, '--language', 'eng-Latn'))).toBe(0);
    const r = JSON.parse(stdout).runs[0].results[0];
    const doc = JSON.parse(fs.readFileSync(r.result_path, 'utf8'));
    expect(doc.scores.test[0].languages).toEqual(['eng-Latn']);
    expect(await main(evalArgs(home, '--task', `sts:${file}`, '--language', 'english'))).toBe(2);
    expect(stderr).toContain('--language english');
    // Per source: `::TAG` on the --task value wins over --language.
    stdout = '';
    const fr = path.join(tmpDir(), 'fr', 'pairs.tsv');
    fs.mkdirSync(path.dirname(fr));
    fs.copyFileSync(file, fr);
    expect(
      await main(evalArgs(home, '--task', `sts:${fr}::fra-Latn`, '--language', 'eng-Latn')),
      stderr,
    ).toBe(0);
    const rf = JSON.parse(stdout).runs[0].results[0];
    expect(JSON.parse(fs.readFileSync(rf.result_path, 'utf8')).scores.test[0].languages).toEqual([
      'fra-Latn',
    ]);
    expect(await main(evalArgs(home, '--task', `sts:${fr}::french`))).toBe(2);
  });

  it('two sources with the same default name: refused (in one run and across runs) until --name tells them apart', async () => {
    const home = tmpDir();
    const root = tmpDir();
    const mk = (sub: string) => {
      const f = path.join(root, sub, 'data', 'pairs.tsv');
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(
        f,
        `sentence1\tsentence2\tscore\n${EN.slice(0, 4)
          .map((r) => r.join('\t'))
          .join('\n')}\n`,
      );
      return f;
    };
    // Both default to the name "a-pairs" / "a-pairs": last two meaningful components ("data" is skipped).
    const a = mk('x/a');
    const b = mk('y/a');
    expect(await main(evalArgs(home, '--task', `sts:${a}`, '--task', `sts:${b}`))).toBe(2);
    expect(stderr).toContain('would both be stored as task');
    expect(await main(evalArgs(home, '--task', `sts:${a}`))).toBe(0);
    stderr = '';
    expect(await main(evalArgs(home, '--task', `sts:${b}`))).toBe(2);
    expect(stderr).toContain('already holds STS results from');
    expect(stderr).toContain('--name');
    // The same source again is fine (a re-run or another model), and --name separates b.
    expect(await main(evalArgs(home, '--task', `sts:${a}`))).toBe(0);
    expect(await main(evalArgs(home, '--task', `sts:${b}`, '--name', 'a-pairs-y'))).toBe(0);
    // The same file as another task type under the same name would replace the STS entry: refused too.
    stderr = '';
    const sick = path.join(root, 'sick.tsv');
    fs.writeFileSync(sick, 'sentence1\tsentence2\tlabel\na b\ta b\t1\nc d\te f\t0\n');
    expect(await main(evalArgs(home, '--task', `sts:${sick}`, '--name', 'sick'))).toBe(0);
    expect(await main(evalArgs(home, '--task', `pairclf:${sick}`, '--name', 'sick'))).toBe(2);
    expect(stderr).toContain('already holds STS results');
  });

  it('a corpus id repeated with another text is refused naming file:line before the model is opened', async () => {
    const d = tmpDir();
    fs.mkdirSync(path.join(d, 'qrels'));
    fs.writeFileSync(
      path.join(d, 'corpus.jsonl'),
      '{"_id":"a","text":"x"}\n{"_id":"b","text":"y"}\n{"_id":"a","text":"z"}\n',
    );
    fs.writeFileSync(path.join(d, 'queries.jsonl'), '{"_id":"q","text":"x"}\n');
    fs.writeFileSync(path.join(d, 'qrels/test.tsv'), 'q\ta\t1\n');
    // The model folder does not exist: had the model been opened first, that would be the error.
    const args = ['eval', '--home', tmpDir(), '--model', path.join(d, 'no-model'), '--task', `beir:${d}`];
    expect(await main(args)).toBe(1);
    expect(stderr).toContain(`${path.join(d, 'corpus.jsonl')}:3: corpus id "a" repeats line 1`);
    expect(stderr).not.toContain('no-model');
  });
});
