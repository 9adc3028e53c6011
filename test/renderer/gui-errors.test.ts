import { describe, expect, it } from 'vitest';
import { guiError } from '../../src/renderer/src/gui-errors';

// Server messages are written for the CLI; the app shows the control or button instead (issue #17.8).
describe('guiError', () => {
  it('names the field instead of the flag, and says which fields to highlight', () => {
    const g = guiError(
      '--batch-size 4096: the train split has 40 rows, fewer than --batch-size 4096; lower --batch-size',
    );
    expect(g.text).toBe(
      '"Batch size" 4096: the train split has 40 rows, fewer than "Batch size" 4096; lower Batch size',
    );
    expect(g.fields).toEqual(['batchSize']);
  });

  it('maps zod issues (`path: message`) to the field and its label', () => {
    const g = guiError(
      'invalid request: temperature: must be above 0; chunkSize: is larger than the batch size 8',
    );
    expect(g.fields.sort()).toEqual(['chunkSize', 'temperature']);
    expect(g.text).toBe('Temperature τ: must be above 0; GradCache chunk: is larger than the batch size 8');
    // Paths that are not training fields stay as they are.
    expect(guiError('invalid request: limit: Too big').text).toBe('limit: Too big');
  });

  it('says the button instead of the command', () => {
    expect(guiError('dataset x has no train split; run `embedsmith datasets split x` first').text).toBe(
      'dataset x has no train split; run "Assign splits" on the Datasets screen first',
    );
    expect(guiError('line 3 is not JSON; pass --skip-invalid to import the rest').text).toBe(
      'line 3 is not JSON; tick "Skip invalid lines" to import the rest',
    );
    expect(
      guiError('dataset d has no mined negatives; run `embedsmith mine --dataset d --model DIR` first').text,
    ).toContain('"Mine" on the Curate screen');
  });

  it('never shows a raw ENOENT of an internal temp file', () => {
    const t = guiError(
      "ENOENT: no such file or directory, rename '/w/exports/run-a.tmp-123' -> '/w/exports/run-a'",
    ).text;
    expect(t).not.toMatch(/ENOENT|tmp-123/);
    expect(t).toMatch(/temporary file/);
    expect(guiError("ENOENT: no such file or directory, open '/data/in.jsonl'").text).toBe(
      '/data/in.jsonl does not exist; check the path',
    );
  });

  it("an export path refusal names the output field, not the Train form's run folder", () => {
    const g = guiError('/w/exports: output folder does not exist; create it or choose another --out');
    expect(g.text).toBe('/w/exports: output folder does not exist; create it or choose another output path');
    expect(g.fields).toEqual([]);
  });
});
