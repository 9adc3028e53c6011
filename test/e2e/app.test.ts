// End to end in real Chromium against `embedsmith serve` on a temp workspace: create a dataset, fill it,
// review with the keyboard, watch filters and counts change, export. Saves a PNG of every screen under
// test-output/screens/.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRenderer } from '../../src/main/serve/renderer-build';
import { type LlmServer, startLlmServer } from '../helpers/llm-server';
import { REPO_ROOT } from '../helpers/tmp';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(REPO_ROOT, 'test-output/screens');
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(
    `skipping the Chromium end-to-end test: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`,
  );

/** Starts `embedsmith serve` and resolves with the printed URL. */
export async function startServe(home: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin/embedsmith.mjs'), 'serve', '--home', home, '--port', '0', '--no-build'],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => {
    err += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`serve printed no URL in 30 s; stderr: ${err}`)), 30_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /^(http:\/\/\S+\?token=\S+)$/m.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { url, proc };
}

/** 40 paper-layout lines over four kinds and three languages. */
function writeFixture(file: string) {
  const langs = ['English', 'French', 'German'];
  const lines: string[] = [];
  for (let i = 0; i < 40; i++) {
    const language = langs[i % 3];
    if (i % 4 === 0)
      lines.push(
        JSON.stringify({
          kind: 'short-long',
          language,
          instruction: 'Given a cooking question, retrieve recipes that answer it.',
          user_query: `how long to bake bread number ${i}`,
          positive_document: `Bake loaf ${i} at 220C for 35 minutes until the crust is deep brown and hollow-sounding.`,
          hard_negative_document: `Bread ${i} keeps for three days wrapped in a cloth at room temperature.`,
        }),
      );
    else if (i % 4 === 1)
      lines.push(
        JSON.stringify({
          kind: 'long-short',
          language,
          instruction: 'Classify the sentiment of a product review.',
          input_text: `Review ${i}: the kettle boils quickly, is quiet and the handle stays cool.`,
          label: 'positive',
          misleading_label: 'negative',
        }),
      );
    else if (i % 4 === 2)
      lines.push(
        JSON.stringify({
          kind: 'sts',
          language,
          S1: `A man plays guitar ${i}.`,
          S2: `Someone is playing a guitar ${i}.`,
          S3: `A man plays football ${i}.`,
        }),
      );
    else
      lines.push(
        JSON.stringify({
          kind: 'short-short',
          language,
          instruction: 'Retrieve titles of related news.',
          input: `Storm hits coast, day ${i}`,
          positive_document: `Coastal towns clean up after storm ${i}`,
        }),
      );
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

describe.skipIf(!haveChromium)('app in Chromium (embedsmith serve)', () => {
  let browser: BrowserContext;
  let page: Page;
  let serve: { url: string; proc: ChildProcess };
  let home: string;
  let work: string;
  let profile: string;
  let llm: LlmServer;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await buildRenderer();
    home = fs.mkdtempSync(path.join(REPO_ROOT, 'test-output', 'e2e-home-'));
    work = fs.mkdtempSync(path.join(REPO_ROOT, 'test-output', 'e2e-work-'));
    serve = await startServe(home);
    // Every 6th answer is not JSON, so rejections and raw answers show up.
    llm = await startLlmServer({
      script: (c) => (c.n % 6 === 5 ? { content: 'Sorry, I cannot help with that.' } : undefined),
    });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-chromium-'));
    // A fresh user-data-dir per run.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      viewport: { width: 1400, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    serve?.proc.kill('SIGTERM');
    await llm?.close();
    for (const d of [home, work, profile]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
  const navTo = (name: string) =>
    page.getByRole('navigation').getByRole('button', { name, exact: true }).click();
  const count = async (id: string) =>
    Number(((await page.getByTestId(id).textContent()) ?? '').replace(/[^0-9]/g, ''));

  it('creates, generates, imports, reviews with the keyboard, filters and exports', async () => {
    const fixture = path.join(work, 'examples.jsonl');
    writeFixture(fixture);

    await page.goto(serve.url);
    await page.locator('h1', { hasText: /^Datasets/ }).waitFor();
    // The token went into an HttpOnly cookie and out of the address bar.
    expect(page.url()).not.toContain('token=');
    await page.getByText('No datasets yet').waitFor();
    await shot('datasets-empty');

    for (const name of ['e2e-import', 'e2e-gen']) {
      await page.getByLabel('new dataset name').fill(name);
      await page.getByRole('button', { name: 'Create dataset' }).click();
      await page.getByTestId('datasets-table').getByText(name).waitFor();
    }

    // Import through the form (a path on the serving machine) into e2e-import.
    await page.getByTestId('datasets-table').getByText('e2e-import').click();
    await page.getByPlaceholder('/data/train.jsonl').fill(fixture);
    await page.getByLabel('import status').selectOption('accepted');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByTestId('jobs').getByText('done').waitFor({ timeout: 20_000 });
    await page.getByText('e2e-import: distribution').waitFor();
    await expect.poll(() => page.locator('.chart-seg').count()).toBeGreaterThan(4);
    await page.getByTestId('jobs').getByText('inserted').waitFor();
    expect(
      await page.getByTestId('datasets-table').locator('tr', { hasText: 'e2e-import' }).textContent(),
    ).toContain('40');
    // Train and test splits for the training and evaluation below.
    await page.getByLabel('split ratios').fill('0.5,0,0.5');
    await page.getByRole('button', { name: 'Assign splits' }).click();
    await page.getByText('split e2e-import: 40 rows assigned').waitFor();
    await shot('datasets');

    // Generate 20 examples into e2e-gen from the local OpenAI-compatible server; some answers are broken.
    await page.getByTestId('datasets-table').getByText('e2e-gen').click();
    await navTo('Generate');
    await page.locator('h1', { hasText: /^Generate/ }).waitFor();
    await page.getByLabel('base URL').fill(llm.url);
    await page.getByLabel('models').fill('test-model');
    await page.getByLabel('count').fill('20');
    await page.getByLabel('languages').fill('en,fr');
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByTestId('plan').waitFor();
    await page.getByRole('button', { name: 'Start' }).click();
    await page.getByTestId('run-state').getByText('done').waitFor({ timeout: 30_000 });
    await expect
      .poll(async () => (await page.getByTestId('runs-table').textContent()) ?? '')
      .toContain('20 / 20');
    await page.getByTestId('failures').waitFor();
    await shot('generate');

    // Train 3 steps of a LoRA adapter on the tiny BERT of the parity fixtures.
    await page.getByLabel('current dataset').selectOption('e2e-import');
    await navTo('Train');
    await page.locator('h1', { hasText: /^Train/ }).waitFor();
    await page.getByLabel('base model').fill(path.join(REPO_ROOT, 'test/fixtures/parity/bert'));
    await page.getByLabel('max steps').fill('3');
    await page.getByLabel('batch size').fill('4');
    await page.getByLabel('chunk size').fill('4');
    await page.getByLabel('max length').fill('64');
    // A learning rate big enough that 3 steps move the zero-initialised LoRA B weights visibly.
    await page.getByLabel('learning rate').fill('0.01');
    await page.getByLabel('warmup').fill('0');
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.getByTestId('train-runs').getByText('done').waitFor({ timeout: 45_000 });
    const adapterText = await page.locator('.attrs span', { hasText: /^adapter / }).textContent();
    const adapter = (adapterText ?? '').replace(/^adapter\s*/, '');
    expect(fs.existsSync(path.join(adapter, 'adapter_config.json'))).toBe(true);
    await shot('train');

    // Evaluate the base model and the adapter on the imported dataset's test split.
    await navTo('Evaluate');
    await page.locator('h1', { hasText: /^Evaluate/ }).waitFor();
    await page.getByLabel('model').fill(path.join(REPO_ROOT, 'test/fixtures/parity/bert'));
    await page.getByLabel('adapters').fill(adapter);
    await page.getByLabel('tasks').fill('dataset:e2e-import');
    await page.getByRole('main').getByRole('button', { name: 'Evaluate', exact: true }).click();
    await page.getByTestId('jobs').getByText('done').waitFor({ timeout: 45_000 });
    await page.getByTestId('comparison').waitFor();
    // A base row and an adapter row with deltas against it.
    await expect.poll(() => page.getByTestId('comparison').locator('tbody tr').count()).toBe(2);
    expect(await page.getByTestId('comparison').getByText('base').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('comparison').locator('.delta').count()).toBeGreaterThan(0);
    await shot('evaluate');

    // Curate the generated examples with the keyboard.
    await page.getByLabel('current dataset').selectOption('e2e-gen');
    await navTo('Curate');
    await page.getByTestId('curate-rows').locator('.vrow').first().waitFor();
    await expect.poll(() => count('count-total')).toBeGreaterThanOrEqual(20);
    const total = await count('count-total');
    const firstId = await page.getByTestId('curate-rows').locator('.vrow').first().getAttribute('data-id');
    expect(await count('count-unreviewed')).toBe(total);
    await page.keyboard.press('a'); // accept the 1st, move to the 2nd
    await page.keyboard.press('a'); // accept the 2nd
    await page.keyboard.press('j'); // skip the 3rd
    await page.keyboard.press('r'); // reject the 4th …
    await page.getByTestId('reasons').waitFor();
    await page.keyboard.press('2'); // … as off-task
    await expect.poll(() => count('count-accepted')).toBe(2);
    await expect.poll(() => count('count-rejected')).toBe(1);
    // Undo the rejection, then reject again with another reason.
    await page.keyboard.press('u');
    await expect.poll(() => count('count-rejected')).toBe(0);
    await page.keyboard.press('r');
    await page.keyboard.press('1');
    await expect.poll(() => count('count-rejected')).toBe(1);
    // Back to the first (accepted) example and edit its query with the keyboard.
    for (let i = 0; i < 4; i++) await page.keyboard.press('k');
    await page.getByTestId('detail').getByText(`#${firstId}`, { exact: true }).waitFor();
    await page.keyboard.press('e');
    const q = page.getByLabel('edit query');
    await q.waitFor();
    await q.fill('edited query from the e2e test');
    await q.press('Control+Enter');
    await page.getByTestId('detail').getByText('edited query from the e2e test').waitFor();
    await shot('curate');

    // Filters change the list and the counts.
    await page.getByLabel('status').selectOption('accepted');
    await expect.poll(() => count('count-total')).toBe(2);
    await expect.poll(() => page.getByTestId('curate-rows').locator('.vrow').count()).toBe(2);
    await page.getByLabel('status').selectOption('rejected');
    await expect.poll(() => count('count-total')).toBe(1);
    await page.getByLabel('reject reason').selectOption('wrong-language');
    await expect.poll(() => count('count-total')).toBe(1);
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => count('count-total')).toBe(total);
    await page.getByLabel('language').selectOption({ index: 1 });
    await expect.poll(() => count('count-total')).toBeLessThan(total);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('search').fill('edited');
    await expect.poll(() => count('count-total')).toBe(1);
    await page.getByLabel('search').fill('');
    await page.keyboard.press('Escape');
    await expect.poll(() => count('count-total')).toBe(total);

    // Bulk: reject everything still unreviewed.
    await page.getByLabel('status').selectOption('unreviewed');
    await expect.poll(() => count('count-total')).toBe(total - 3);
    await page.getByRole('button', { name: 'Reject all…' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => count('count-total')).toBe(0);
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => count('count-rejected')).toBe(total - 2);
    // Hard-negative review: score every positive and negative with the built-in model, hardest first.
    await page.getByRole('button', { name: 'Hard negatives' }).click();
    await page.getByTestId('hard-negatives').waitFor();
    await page.getByRole('button', { name: 'Score positives and negatives' }).click();
    await page.getByTestId('jobs').getByText('done').waitFor({ timeout: 30_000 });
    await page.getByTestId('scores').locator('tbody tr').first().waitFor();
    await page.getByTestId('score-detail').getByText('Negatives by score').waitFor();
    await shot('curate-hard-negatives');
    await page.getByRole('button', { name: 'Examples' }).click();

    // Dark theme.
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await page.getByTestId('curate-rows').locator('.vrow').first().waitFor();
    await shot('curate-dark');
    await page.getByRole('button', { name: 'Light theme' }).click();

    // Export the accepted rows.
    await navTo('Export');
    const out = path.join(work, 'accepted.jsonl');
    await page.getByPlaceholder('/path/out.jsonl').fill(out);
    await page.locator('form').getByRole('button', { name: 'Export' }).click();
    await page.getByTestId('jobs').getByText('done').waitFor({ timeout: 20_000 });
    await shot('export');
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.includes('edited query from the e2e test'))).toBe(true);

    expect(consoleErrors).toEqual([]);
  }, 90_000);
});
