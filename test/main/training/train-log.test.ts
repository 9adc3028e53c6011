import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTrainLog } from '../../../src/main/training/train-log';
import { tmpDir } from '../../helpers/tmp';

const line = (step: number, loss: number) =>
  JSON.stringify({ step, totalSteps: 90, loss, lr: 1e-3 * step, gradNorm: 0.5 + step / 100 });

describe('readTrainLog', () => {
  it('reads every step of a finished run, newest line per step after a resume, skipping a torn line', () => {
    const dir = tmpDir();
    const lines = Array.from({ length: 90 }, (_, i) => line(i + 1, 3 - i / 45));
    // A resume from step 60 re-logs 61–90 with other losses; a kill left half a line at the end.
    const resumed = Array.from({ length: 30 }, (_, i) => line(61 + i, 1 - i / 100));
    fs.writeFileSync(
      path.join(dir, 'train.log.jsonl'),
      `${lines.join('\n')}\n${resumed.join('\n')}\n{"step":91,"lo`,
    );
    const s = readTrainLog(dir);
    expect(s.map((x) => x.step)).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
    expect(s[60]).toEqual({ step: 61, loss: 1, lr: 1e-3 * 61, gradNorm: 0.5 + 61 / 100 });
    expect(s[0].loss).toBe(3);
  });

  it('keeps at most maxPoints, the last step included; no log → no steps', () => {
    const dir = tmpDir();
    fs.writeFileSync(
      path.join(dir, 'train.log.jsonl'),
      `${Array.from({ length: 1000 }, (_, i) => line(i + 1, 1)).join('\n')}\n`,
    );
    const s = readTrainLog(dir, 100);
    expect(s).toHaveLength(100);
    expect(s.at(-1)?.step).toBe(1000);
    expect(readTrainLog(tmpDir())).toEqual([]);
  });
});
