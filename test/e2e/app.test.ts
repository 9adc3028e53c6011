// End to end in real Chromium against `embedsmith serve` on a temp workspace. First the whole job with no
// CLI: load the demo, generate from the local test LLM server, review, mine, train with mined negatives,
// cancel and resume, evaluate base vs the run's adapter, export every artefact. Then a dataset of one's own:
// import, review with the keyboard, filters and counts, hard negatives, export. Saves a PNG of every screen,
// light and dark at 1280×800, under test-output/screens/ (gitignored).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { buildRenderer } from '../../src/main/serve/renderer-build';
import { type LlmServer, startLlmServer } from '../helpers/llm-server';
import { REPO_ROOT } from '../helpers/tmp';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(REPO_ROOT, 'test-output/screens');
const haveChromium = fs.existsSync(CHROMIUM);
/** expect.poll with room for a busy machine (its default gives up after one second). */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 60_000 });
if (!haveChromium)
  console.warn(
    `skipping the Chromium end-to-end test: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`,
  );

/** Starts `embedsmith serve` and resolves with the printed URL. */
export async function startServe(
  home: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin/embedsmith.mjs'), 'serve', '--home', home, '--port', '0', '--no-build'],
    {
      cwd: REPO_ROOT,
      env,
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
    // No provider key in the server's environment: the failed-Start check below depends on it.
    const { OPENAI_API_KEY: _k, ...env } = process.env;
    // The server's file browser is rooted at the serving user's home: put the workspace under it.
    serve = await startServe(home, { ...env, HOME: path.join(REPO_ROOT, 'test-output') });
    // Every 6th answer is not JSON, so rejections and raw answers show up.
    llm = await startLlmServer({
      script: (c) => (c.n % 6 === 5 ? { content: 'Sorry, I cannot help with that.' } : undefined),
    });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-chromium-'));
    // A fresh user-data-dir per run.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      viewport: { width: 1280, height: 800 },
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
      // Refused input is a 400 by design (the whole-job test makes a few on purpose); the message is shown.
      if (m.type() === 'error' && !/status of 400 \(Bad Request\)/.test(m.text()))
        consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  }, 300_000); // a Vite build of the renderer on two busy cores can take minutes

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

  /** Every screen's PNG in the current theme. */
  const shootAll = async (theme: 'light' | 'dark') => {
    for (const [name, ready] of [
      ['Datasets', 'datasets-table'],
      ['Generate', 'runs-table'],
      ['Curate', 'curate-rows'],
      ['Models', 'models-table'],
      ['Train', 'train-runs'],
      ['Evaluate', 'comparison'],
      ['Export', 'export-jobs'],
    ] as const) {
      await navTo(name);
      await page.locator('h1', { hasText: new RegExp(`^${name}`) }).waitFor();
      await page.getByTestId(ready).first().waitFor();
      await shot(`${name.toLowerCase()}-${theme}`);
    }
  };
  // Waits for work (training, mining, exports) are long: on two cores shared with other suites every step
  // is slow, and a busy machine must not fail the test.
  const LONG = 400_000;
  const doneJob = (hasText: string | RegExp, timeout = LONG) =>
    page
      .getByTestId('export-job')
      .filter({ hasText })
      .and(page.locator('[data-state="done"]'))
      .first()
      .waitFor({ timeout });

  it('does the whole job with no CLI: demo → generate → review → mine → train → resume → evaluate → export', async () => {
    // A failing step leaves its screen behind, to see why.
    onTestFailed(async () => {
      await shot('FAILED-whole-job');
    });
    await page.goto(serve.url);
    await page.locator('h1', { hasText: /^Datasets/ }).waitFor();
    // The token went into an HttpOnly cookie and out of the address bar.
    expect(page.url()).not.toContain('token=');

    // First run: an empty workspace offers the demo and the three steps.
    await page.getByTestId('first-run').waitFor();
    await page.getByText('No datasets yet').waitFor();
    await shot('first-run-light');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await shot('first-run-dark');
    await page.getByRole('button', { name: 'Light theme' }).click();
    await page.getByRole('button', { name: 'Load the demo' }).click();
    await page.getByText('demo loaded').waitFor({ timeout: LONG });
    await poll(() => page.getByLabel('current dataset').inputValue()).toBe('demo');
    await page.getByTestId('datasets-table').getByText('demo', { exact: true }).waitFor();

    // Generate: a Start that cannot run says why next to the field and leaves no run behind.
    await navTo('Generate');
    await page.locator('h1', { hasText: /^Generate/ }).waitFor();
    await page.getByLabel('models').fill('gpt-4o-mini');
    await page.getByLabel('count').fill('20');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page
      .getByTestId('apiKey-error')
      .getByText(/API key/)
      .waitFor();
    await page.getByText('No runs yet').waitFor();
    // Against the local test server: test the connection, take its model, generate 20.
    await page.getByLabel('base URL').fill(llm.url);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByTestId('connection-ok').waitFor();
    await page.getByTestId('connection').getByRole('button', { name: 'test-model' }).click();
    expect(await page.getByLabel('models').inputValue()).toBe('test-model');
    // Bitext needs two languages: said under the Languages field, and again no run is left behind.
    await page.getByLabel('languages').fill('en');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page
      .getByTestId('languages-error')
      .getByText(/two languages/)
      .waitFor();
    await page.getByText('No runs yet').waitFor();
    await page.getByLabel('languages').fill('en,fr');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.getByTestId('run-state').getByText('done').waitFor({ timeout: LONG });
    await poll(async () => (await page.getByTestId('runs-table').textContent()) ?? '').toContain('20 / 20');
    await page.getByTestId('generation-preview').waitFor();
    await page.getByTestId('templates').locator('summary').click();
    await page
      .getByTestId('template-version')
      .getByText(/version /)
      .waitFor();
    await shot('generate-run');

    // Review the generated rows with the keyboard.
    await page.getByRole('button', { name: 'Review in Curate' }).click();
    await page.locator('h1', { hasText: /^Curate/ }).waitFor();
    await page.getByTestId('curate-rows').locator('.vrow').first().waitFor();
    await poll(() => count('count-total')).toBeGreaterThan(300);
    const accepted0 = await count('count-accepted');
    await page.getByLabel('status').selectOption('unreviewed');
    await poll(() => count('count-accepted')).toBe(0);
    await page.keyboard.press('a');
    await page.keyboard.press('a');
    await page.keyboard.press('r');
    await page.getByTestId('reasons').waitFor();
    await page.keyboard.press('2');
    await page.getByRole('button', { name: 'Clear' }).click();
    await poll(() => count('count-accepted')).toBe(accepted0 + 2);

    // Mine hard negatives for the whole dataset with the built-in model.
    await page.getByRole('button', { name: 'Hard negatives' }).click();
    await page.getByTestId('hard-negatives').waitFor();
    await page.getByRole('button', { name: 'Mine more negatives' }).click();
    await page.getByTestId('jobs').getByText('done').first().waitFor({ timeout: LONG });
    await shot('mine');
    await page.getByRole('button', { name: 'Examples' }).click();

    // The model library lists the demo model; use it in Train.
    await navTo('Models');
    const models = page.getByTestId('models-table');
    await models.getByRole('cell', { name: 'embedsmith-demo-llama', exact: true }).click();
    expect(await models.textContent()).toContain('llama');
    await page.getByRole('button', { name: 'Use in Train' }).click();

    // Train with mined negatives and τ = 0.05; a rule between fields is caught on the field it names.
    await page.locator('h1', { hasText: /^Train/ }).waitFor();
    expect(await page.getByLabel('base model', { exact: true }).inputValue()).toContain(
      'embedsmith-demo-llama',
    );
    // In browser mode, Browse… opens the server-side file browser.
    await page.getByRole('button', { name: 'browse for base model' }).click();
    await page.getByTestId('file-browser').waitFor();
    await page.getByTestId('file-browser').getByRole('button', { name: 'Close' }).click();
    const f = (label: string) => page.getByLabel(label, { exact: true });
    await f('Max steps').fill('8');
    await f('Batch size').fill('8');
    await f('GradCache chunk').fill('8');
    await f('Learning rate').fill('0.0015');
    await f('Max tokens per text').fill('96');
    await f('Temperature τ').fill('0.05');
    await f('Hard negatives').selectOption('mined');
    await f('Device').selectOption('cpu');
    await page.getByRole('button', { name: 'Start training' }).click();
    // Warm-up 100 (the method's) exceeds 8 steps: the Advanced group opens on the highlighted field.
    await poll(() => f('Warm-up steps').getAttribute('aria-invalid')).toBe('true');
    await f('Warm-up steps').fill('0');
    await page.getByRole('button', { name: 'Start training' }).click();
    await page
      .getByTestId('train-notice')
      .getByText(/started/)
      .waitFor();
    // Stop it at once (the cancel checkpoints wherever the run is), then resume it to the end.
    await page.getByRole('button', { name: 'Stop (checkpoint)' }).click();
    await page.getByTestId('train-runs').getByText('cancelled').waitFor({ timeout: LONG });
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByTestId('train-runs').getByText('done').waitFor({ timeout: LONG });
    const runsText = (await page.getByTestId('train-runs').textContent()) ?? '';
    expect(runsText).toContain('8 / 8');
    expect(runsText).toContain('demo');
    expect(runsText).toContain('cpu');
    const adapterText = await page.locator('.attrs span', { hasText: /^adapter / }).textContent();
    const adapter = (adapterText ?? '').replace(/^adapter\s*/, '');
    expect(fs.existsSync(path.join(adapter, 'adapter_config.json'))).toBe(true);
    const runJson = JSON.parse(fs.readFileSync(path.join(path.dirname(adapter), 'run.json'), 'utf8'));
    expect(runJson.config).toMatchObject({
      negatives: 'mined',
      temperature: 0.05,
      maxSteps: 8,
      batchSize: 8,
    });
    // The same settings as a multi-GPU sentence-transformers job, from the Train screen.
    await page.getByLabel('multi-GPU GPUs per node').fill('2');
    await page.getByRole('button', { name: 'Export for multi-GPU' }).click();
    const scaleOut = page.getByTestId('scaleout-job');
    await scaleOut.and(page.locator('[data-state="done"]')).waitFor({ timeout: LONG });
    const bundle = ((await scaleOut.getByTestId('export-out').textContent()) ?? '').replace(/^folder\s*/, '');
    const recipe = JSON.parse(fs.readFileSync(path.join(bundle, 'recipe.json'), 'utf8'));
    expect(recipe.config).toMatchObject({ negatives: 'mined', temperature: 0.05, batchSize: 8, maxSteps: 8 });
    expect(recipe.job.gpusPerNode).toBe(2);
    // Browser mode: Open folder shows that folder's files in the server-side file browser.
    await scaleOut.getByRole('button', { name: 'Open folder' }).click();
    await scaleOut
      .getByTestId('file-browser')
      .locator('.fb-file', { hasText: /^📄 train\.py / })
      .waitFor();
    expect(await scaleOut.locator('.fb-head b').textContent()).toBe(fs.realpathSync(bundle));
    await scaleOut.getByTestId('file-browser').getByRole('button', { name: 'Close' }).click();
    await shot('train-run');

    // Evaluate base vs the adapter picked from the run (the run's Evaluate button hands it over).
    await page.getByRole('main').getByRole('button', { name: 'Evaluate', exact: true }).click();
    await page.locator('h1', { hasText: /^Evaluate/ }).waitFor();
    await poll(() => page.getByLabel('adapters').inputValue()).toBe(adapter);
    expect(await page.getByLabel('model', { exact: true }).inputValue()).toContain('embedsmith-demo-llama');
    await page.getByLabel('tasks').fill('dataset:demo');
    await page.getByLabel('limit').fill('30');
    await page.getByRole('main').getByRole('button', { name: 'Evaluate', exact: true }).click();
    await page.getByTestId('jobs').getByText('done').first().waitFor({ timeout: LONG });
    await page.getByTestId('comparison').waitFor();
    await poll(() => page.getByTestId('comparison').locator('tbody tr').count()).toBeGreaterThanOrEqual(2);
    await shot('evaluate-run');

    // Export the adapter, the merged model, ONNX and embeddings of the test split.
    await navTo('Export');
    await page.getByLabel('training run').first().selectOption({ index: 1 });
    for (const what of ['PEFT adapter', 'Merged model', 'ONNX (transformers.js)'])
      await page.getByRole('button', { name: `Export ${what}` }).click();
    await doneJob(/export adapter/);
    await doneJob(/export merged/);
    await doneJob(/export onnx/);
    await page.getByLabel('training run').nth(1).selectOption({ index: 1 });
    await page.getByLabel('embeddings dataset').selectOption('demo');
    await page.getByLabel('embeddings split').selectOption('test');
    await page.getByRole('button', { name: 'Export embeddings' }).click();
    await doneJob(/embeddings of demo:test/);
    const outs = await page.getByTestId('export-out').allTextContents();
    const folders = outs.map((t) => t.replace(/^folder\s*/, ''));
    // Four here, and the multi-GPU job exported from the Train screen.
    expect(folders).toHaveLength(5);
    expect(folders).toContain(bundle);
    const has = (suffix: string, file: string) =>
      folders.some((d) => d.endsWith(suffix) && fs.existsSync(path.join(d, file)));
    expect(has('-adapter', 'adapter_model.safetensors')).toBe(true);
    expect(has('-merged', 'model.safetensors')).toBe(true);
    expect(has('-onnx', 'config.json')).toBe(true);
    expect(
      folders.some(
        (d) => fs.existsSync(path.join(d, 'embeddings.npy')) && fs.existsSync(path.join(d, 'index.jsonl')),
      ),
    ).toBe(true);
    const onnxJob = page
      .getByTestId('export-job')
      .filter({ hasText: /export onnx/ })
      .first();
    await onnxJob.getByRole('button', { name: 'Open folder' }).click();
    await onnxJob
      .getByTestId('file-browser')
      .locator('.fb-file', { hasText: /^📄 config\.json / })
      .waitFor();
    await shot('export-open-folder');
    await onnxJob.getByTestId('file-browser').getByRole('button', { name: 'Close' }).click();
    await shot('export-run');

    // Every screen, light and dark.
    await shootAll('light');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await shootAll('dark');
    await page.getByRole('button', { name: 'Light theme' }).click();
    expect(consoleErrors).toEqual([]);
  }, 1_200_000);

  it('creates, generates, imports, reviews with the keyboard, filters and exports', async () => {
    onTestFailed(async () => {
      await shot('FAILED-own-data');
    });
    await page.goto(serve.url);
    const fixture = path.join(work, 'examples.jsonl');
    writeFixture(fixture);
    await navTo('Datasets');
    await page.locator('h1', { hasText: /^Datasets/ }).waitFor();

    for (const name of ['e2e-import', 'e2e-gen']) {
      await page.getByLabel('new dataset name').fill(name);
      await page.getByRole('button', { name: 'Create dataset' }).click();
      await page.getByTestId('datasets-table').getByText(name).waitFor();
    }

    // Import through the form (a path on the serving machine) into e2e-import.
    await page.getByTestId('datasets-table').getByText('e2e-import', { exact: true }).click();
    await page.getByPlaceholder('/data/train.jsonl').fill(fixture);
    await page.getByLabel('import status').selectOption('accepted');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page
      .getByTestId('jobs')
      .locator('.job', { hasText: 'e2e-import' })
      .locator('.badge.done')
      .waitFor({ timeout: LONG });
    await page.getByText('e2e-import: distribution').waitFor();
    await poll(() => page.locator('.chart-seg').count()).toBeGreaterThan(4);
    await page.getByTestId('jobs').locator('.job', { hasText: 'e2e-import' }).getByText('inserted').waitFor();
    expect(
      await page.getByTestId('datasets-table').locator('tr', { hasText: 'e2e-import' }).textContent(),
    ).toContain('40');
    // Train and test splits for the training and evaluation below.
    await page.getByLabel('split ratios').fill('0.5,0,0.5');
    await page.getByRole('button', { name: 'Assign splits' }).click();
    await page.getByText('split e2e-import: 40 rows assigned').waitFor();
    await shot('own-datasets');

    // Generate 20 examples into e2e-gen from the local OpenAI-compatible server; some answers are broken.
    await page.getByTestId('datasets-table').getByText('e2e-gen', { exact: true }).click();
    await navTo('Generate');
    await page.locator('h1', { hasText: /^Generate/ }).waitFor();
    await page.getByLabel('base URL').fill(llm.url);
    await page.getByLabel('models').fill('test-model');
    await page.getByLabel('count').fill('20');
    await page.getByLabel('languages').fill('en,fr');
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByTestId('plan').waitFor();
    await page.getByRole('button', { name: 'Start' }).click();
    await page.getByTestId('run-state').getByText('done').waitFor({ timeout: LONG });
    await poll(async () => (await page.getByTestId('runs-table').textContent()) ?? '').toContain('20 / 20');
    await page.getByTestId('failures').waitFor();
    await shot('own-generate');

    // Curate the generated examples with the keyboard.
    await page.getByLabel('current dataset').selectOption('e2e-gen');
    await navTo('Curate');
    await page.getByTestId('curate-rows').locator('.vrow').first().waitFor();
    await poll(() => count('count-total')).toBeGreaterThanOrEqual(20);
    const total = await count('count-total');
    const firstId = await page.getByTestId('curate-rows').locator('.vrow').first().getAttribute('data-id');
    expect(await count('count-unreviewed')).toBe(total);
    await page.keyboard.press('a'); // accept the 1st, move to the 2nd
    await page.keyboard.press('a'); // accept the 2nd
    await page.keyboard.press('j'); // skip the 3rd
    await page.keyboard.press('r'); // reject the 4th …
    await page.getByTestId('reasons').waitFor();
    await page.keyboard.press('2'); // … as off-task
    await poll(() => count('count-accepted')).toBe(2);
    await poll(() => count('count-rejected')).toBe(1);
    // Undo the rejection, then reject again with another reason.
    await page.keyboard.press('u');
    await poll(() => count('count-rejected')).toBe(0);
    await page.keyboard.press('r');
    await page.keyboard.press('1');
    await poll(() => count('count-rejected')).toBe(1);
    // Back to the first (accepted) example and edit its query with the keyboard.
    for (let i = 0; i < 4; i++) await page.keyboard.press('k');
    await page.getByTestId('detail').getByText(`#${firstId}`, { exact: true }).waitFor();
    await page.keyboard.press('e');
    const q = page.getByLabel('edit query');
    await q.waitFor();
    await q.fill('edited query from the e2e test');
    await q.press('Control+Enter');
    await page.getByTestId('detail').getByText('edited query from the e2e test').waitFor();
    await shot('own-curate');

    // Filters change the list and the counts.
    await page.getByLabel('status').selectOption('accepted');
    await poll(() => count('count-total')).toBe(2);
    await poll(() => page.getByTestId('curate-rows').locator('.vrow').count()).toBe(2);
    await page.getByLabel('status').selectOption('rejected');
    await poll(() => count('count-total')).toBe(1);
    await page.getByLabel('reject reason').selectOption('wrong-language');
    await poll(() => count('count-total')).toBe(1);
    await page.getByRole('button', { name: 'Clear' }).click();
    await poll(() => count('count-total')).toBe(total);
    await page.getByLabel('language').selectOption({ index: 1 });
    await poll(() => count('count-total')).toBeLessThan(total);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('search').fill('edited');
    await poll(() => count('count-total')).toBe(1);
    await page.getByLabel('search').fill('');
    await page.keyboard.press('Escape');
    await poll(() => count('count-total')).toBe(total);

    // Bulk: reject everything still unreviewed.
    await page.getByLabel('status').selectOption('unreviewed');
    await poll(() => count('count-total')).toBe(total - 3);
    await page.getByRole('button', { name: 'Reject all…' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await poll(() => count('count-total')).toBe(0);
    await page.getByRole('button', { name: 'Clear' }).click();
    await poll(() => count('count-rejected')).toBe(total - 2);
    // Hard-negative review: score every positive and negative with the built-in model, hardest first.
    await page.getByRole('button', { name: 'Hard negatives' }).click();
    await page.getByTestId('hard-negatives').waitFor();
    await page.getByRole('button', { name: 'Score positives and negatives' }).click();
    await page
      .getByTestId('jobs')
      .locator('.job', { hasText: 'e2e-gen' })
      .locator('.badge.done')
      .first()
      .waitFor({ timeout: LONG });
    await page.getByTestId('scores').locator('.vrow').first().waitFor();
    await page.getByTestId('score-detail').getByText('Negatives by score').waitFor();
    await shot('own-curate-hard-negatives');
    await page.getByRole('button', { name: 'Examples' }).click();

    // Export the accepted rows.
    await navTo('Export');
    const out = path.join(work, 'accepted.jsonl');
    await page.getByPlaceholder('/path/out.jsonl').fill(out);
    await page.locator('form').getByRole('button', { name: 'Export', exact: true }).click();
    await page
      .getByTestId('export-job')
      .filter({ hasText: 'accepted.jsonl' })
      .and(page.locator('[data-state="done"]'))
      .waitFor({ timeout: LONG });
    await shot('own-export');
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.includes('edited query from the e2e test'))).toBe(true);

    expect(consoleErrors).toEqual([]);
  }, 900_000);
});
