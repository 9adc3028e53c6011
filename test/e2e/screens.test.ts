// The curation and evaluation screens in real Chromium at 1280 px (issue #18): comparison table, loss
// curve, hard-negative review, Curate, languages. The server runs in this process (the same startServer as
// `embedsmith serve`) over a workspace filled with real parts: an import, real evaluation runs with the
// built-in embedder, a real 30-step training run of the tiny fixture model. PNGs go to test-output/screens/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/main/cli/index';
import { HashBowEmbedder } from '../../src/main/eval/embedder';
import { EvalService } from '../../src/main/eval/service';
import type { ClassificationTask, RetrievalTask, StsTask } from '../../src/main/eval/tasks';
import { importDataset } from '../../src/main/import';
import { buildRenderer } from '../../src/main/serve/renderer-build';
import { type RunningServer, startServer } from '../../src/main/serve/server';
import { openWorkbench, type Workbench } from '../../src/main/workbench';
import { FIXTURES, REPO_ROOT } from '../helpers/tmp';
import { syntheticTask } from '../main/training/synthetic';

// Code handed to page.evaluate runs in the page. The node tsconfig has no DOM lib (adding it to the whole
// program would change Node's own types), so these are the few page globals that code uses.
interface PageBox {
  scrollWidth: number;
  clientWidth: number;
}
type Element = unknown;
declare const document: {
  documentElement: PageBox;
  querySelector(selector: string): PageBox | null;
  createRange(): {
    selectNodeContents(el: unknown): void;
    getClientRects(): Iterable<{ top: number; height: number }>;
  };
};
declare function getComputedStyle(el: Element): { direction: string; textAlign: string };

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(REPO_ROOT, 'test-output/screens');
// Its own build folder: the app test builds out/renderer, and two builds into one folder race.
const RENDERER = path.join(REPO_ROOT, 'test-output/renderer-screens');
const MODEL = path.join(FIXTURES, 'parity/mistral');
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`skipping the Chromium screens test: ${CHROMIUM} is missing (apt-get install chromium)`);

const LONG_MODEL = '/home/someone/.embedsmith/models/demo-llama-tiny-random-seed-7/checkpoint-final';
const LABELS = ['mixed', 'positive', 'negative', 'neutral'];

/** A paper-layout import: labels, bug reports, STS in spelled-out languages, Arabic and Chinese, a long text. */
function writeImport(file: string) {
  const lines: object[] = [];
  for (let i = 0; i < 24; i++)
    lines.push({
      kind: 'long-short',
      language: i % 2 ? 'English' : 'en',
      instruction: 'Classify the sentiment of a product review.',
      input_text: `Review ${i}: the kettle ${i % 3 ? 'boils quickly' : 'crashes the app on start'}, mixed feelings overall.`,
      label: LABELS[i % 4],
      misleading_label: LABELS[(i + 1) % 4],
    });
  for (let i = 0; i < 24; i++)
    lines.push({
      kind: 'short-long',
      language: 'en',
      instruction: 'Given a bug report title, retrieve the full report.',
      user_query: `app crashes on start ${i}`,
      positive_document: `Bug ${i}: on macOS the app crashes on start when the mixed audio device is selected.`,
      hard_negative_document: `Bug ${i}: the settings page renders slowly on Windows.`,
    });
  for (let i = 0; i < 12; i++) {
    const lang = ['Arabic', 'ar', 'Chinese', 'zh'][i % 4];
    const ar = lang === 'Arabic' || lang === 'ar';
    lines.push({
      kind: 'sts',
      language: lang,
      S1: ar ? `القطة تجلس على الحصيرة رقم ${i}` : `猫坐在垫子上 ${i}`,
      S2: ar ? `قطة تجلس فوق الحصيرة ${i}` : `一只猫坐在垫子上 ${i}`,
      S3: ar ? `الكلب يركض في الحديقة ${i}` : `狗在公园里跑 ${i}`,
    });
  }
  lines.push({
    kind: 'short-long',
    language: 'en',
    user_query: 'the long document',
    positive_document: Array.from({ length: 2000 }, (_, i) => `word${i % 97}`).join(' '),
    hard_negative_document: 'short',
  });
  fs.writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
}

/** Real evaluation runs with the built-in embedder: base and an "adapter" on different task sets. */
async function evaluate(wb: Workbench) {
  const svc = new EvalService(wb.paths, wb.store);
  const sts = (subset: string, pairs: [string, string, number][]): StsTask => ({
    type: 'STS',
    name: 'STS17',
    split: 'test',
    hfSubset: subset,
    languages: [subset],
    source: 'inline',
    pairs: pairs.map(([s1, s2, score]) => ({ s1, s2, score })),
  });
  const en = sts('en-en', [
    ['a man plays a guitar', 'someone plays the guitar', 4.6],
    ['a dog runs in the park', 'stocks fell sharply today', 0.1],
    ['the cat sleeps', 'a cat is sleeping', 4.2],
    ['rain in spring', 'a summer drought', 1.0],
  ]);
  const ar = sts('ar-ar', [
    ['القطة تجلس على الحصيرة', 'قطة تجلس فوق الحصيرة', 4.5],
    ['الكلب يركض', 'انخفضت الأسهم اليوم', 0.3],
    ['الطفل يقرأ كتابا', 'طفل يقرأ كتابا', 4.8],
    ['الشمس مشرقة', 'المطر غزير', 1.2],
  ]);
  const docs = ['bread baking at 220C for 35 minutes', 'the kettle boils water fast', 'trains leave at noon'];
  const retrieval: RetrievalTask = {
    type: 'Retrieval',
    name: 'demo-retrieval',
    split: 'test',
    hfSubset: 'default',
    languages: ['eng-Latn'],
    source: 'inline',
    corpus: docs.map((text, i) => ({ id: `d${i}`, text })),
    queries: ['how long to bake bread', 'which kettle boils fast', 'when do trains leave'].map((text, i) => ({
      id: `q${i}`,
      text,
    })),
    qrels: new Map(docs.map((_, i) => [`q${i}`, new Map([[`d${i}`, 1]])])),
  };
  const freeLabels: ClassificationTask = {
    type: 'Classification',
    name: 'demo-long-short',
    split: 'test',
    hfSubset: 'default',
    languages: ['eng-Latn'],
    source: 'inline',
    train: ['a', 'b', 'c', 'd'].map((t, i) => ({ text: `review ${t}`, label: `label ${i}` })),
    test: ['e', 'f'].map((t, i) => ({ text: `review ${t}`, label: `other ${i}` })),
  };
  // Base: 4 hash buckets (many collisions); the "adapter": 256. Real, different scores on the shared tasks.
  await svc.evaluate({
    embedder: new HashBowEmbedder(4),
    tasks: [en, ar, retrieval],
    modelName: LONG_MODEL,
  });
  await svc.evaluate({
    embedder: new HashBowEmbedder(256),
    tasks: [ar, retrieval, freeLabels],
    modelName: LONG_MODEL,
    revision: 'demo-20261202-052211-abcd',
  });
}

describe.skipIf(!haveChromium)('curation and evaluation screens in Chromium', () => {
  let browser: BrowserContext;
  let page: Page;
  let srv: RunningServer;
  let wb: Workbench;
  let home: string;
  let profile: string;
  const errors: string[] = [];

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await buildRenderer(RENDERER);
    home = fs.mkdtempSync(path.join(REPO_ROOT, 'test-output', 'screens-home-'));
    // A finished 30-step training run of the tiny fixture model, through the CLI as a user would.
    const seed = openWorkbench({ home });
    const syn = seed.store.datasets.create('syn');
    seed.store.examples.insertMany(syn.id, syntheticTask(160, 5));
    seed.close();
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let stderr = '';
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      stderr += String(c);
      return true;
    });
    const code = await main([
      'train',
      '--home',
      home,
      '--dataset',
      'syn',
      '--model',
      MODEL,
      '--out',
      path.join(home, 'runs', 'tiny-run'),
      '--batch-size',
      '8',
      '--chunk-size',
      '8',
      '--max-steps',
      '30',
      '--warmup',
      '3',
      '--max-length',
      '16',
      '--device',
      'cpu',
    ]);
    out.mockRestore();
    err.mockRestore();
    expect(code, stderr.slice(-2000)).toBe(0);
    wb = openWorkbench({ home });
    const file = path.join(home, 'mixed.jsonl');
    writeImport(file);
    await importDataset(wb.store, 'mixed', file, { create: true, rejectedDir: path.join(home, 'rejected') });
    await evaluate(wb);
    srv = await startServer({ wb, host: '127.0.0.1', port: 0, rendererDir: RENDERER });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      viewport: { width: 1280, height: 800 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(srv.url);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    wb?.close();
    for (const d of [home, profile]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  const shot = (name: string, fullPage = false) =>
    page.screenshot({ path: path.join(SHOTS, `h-${name}.png`), fullPage });
  const navTo = (name: string) =>
    page.getByRole('navigation').getByRole('button', { name, exact: true }).click();

  it('Evaluate: common-task averages, not-scored reason, no overflow at 1280 px, Δ chart, languages', async () => {
    await navTo('Evaluate');
    const table = page.getByTestId('comparison');
    await table.waitFor();
    const adapterAvg = table.locator('tbody tr').nth(1).locator('td[data-col="avg"]');
    await expect.poll(() => adapterAvg.textContent()).toContain('avg over 2 common tasks');
    await expect.poll(() => table.getByTestId('not-scored').first().textContent()).toBe('not scored');
    await expect.poll(() => page.getByTestId('not-scored-notes').textContent()).toMatch(/demo-long-short/);
    // The page does not scroll sideways; the table scrolls inside its card, the model column stays.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    expect(
      await page.evaluate(() => {
        const m = document.querySelector('main');
        return m ? m.scrollWidth - m.clientWidth : 0;
      }),
    ).toBe(0);
    const wrap = page.getByTestId('comparison-scroll');
    const model = table.getByTestId('model-cell').nth(1);
    // One line, not five: every inline box of the cell on the same line.
    const lines = await model.evaluate((el) => {
      const r = document.createRange();
      r.selectNodeContents(el);
      return new Set([...r.getClientRects()].map((x) => Math.round(x.top + x.height / 2))).size;
    });
    expect(lines).toBe(1);
    expect(await model.getAttribute('title')).toBe(`${LONG_MODEL}@demo-20261202-052211-abcd`);
    await shot('evaluate');
    const scrolls = await wrap.evaluate((el) => el.scrollWidth > el.clientWidth);
    if (scrolls) {
      const before = (await model.boundingBox())!.x;
      await wrap.evaluate((el) => el.scrollBy({ left: 400 }));
      await expect.poll(async () => (await model.boundingBox())!.x).toBe(before);
    }
    await expect.poll(() => page.getByTestId('delta-chart').getByTestId('bar').count()).toBe(2);
    await expect.poll(() => page.getByTestId('language-view').textContent()).toContain('ar-ar');
    await page.getByTestId('delta-chart').scrollIntoViewIfNeeded();
    await shot('evaluate-delta-languages');
  });

  it('Train: a finished run shows its logged curve with hover values', async () => {
    await navTo('Train');
    const chart = page.getByTestId('loss-chart').first();
    await chart.waitFor({ timeout: 20_000 });
    await expect.poll(() => chart.locator('path[data-series]').count()).toBe(3);
    const svg = chart.locator('svg');
    await svg.scrollIntoViewIfNeeded();
    const box = (await svg.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    await expect
      .poll(() => chart.getByTestId('hover-values').textContent())
      .toMatch(/^step \d+: loss \(EMA\) \d/);
    await shot('train-loss');
  });

  it('Hard negatives: Curate filter, keys, detail in view, mining per kind, histogram, model after reload', async () => {
    await page.goto(`${srv.url.split('#')[0]}#/curate?ds=mixed`);
    await page.getByRole('button', { name: 'Hard negatives' }).click();
    await page.getByLabel('scoring model').fill('builtin:hashbow-128');
    await page.getByRole('button', { name: 'Mine more negatives' }).click();
    await expect.poll(() => page.getByTestId('jobs').textContent(), { timeout: 30_000 }).toMatch(/pools \d+/);
    expect(await page.getByTestId('jobs').textContent()).not.toContain('[object Object]');
    await page.getByRole('button', { name: 'Score positives and negatives' }).click();
    await page.getByTestId('scores').locator('[data-id]').first().waitFor({ timeout: 30_000 });
    // The toolbar filter drives the list and its count.
    await page.getByLabel('kind').selectOption('long-short');
    await expect.poll(() => page.getByTestId('scores-total').textContent()).toMatch(/^24 scored/);
    const kinds = await page.getByTestId('scores').locator('[data-id] .cell:nth-child(2)').allTextContents();
    expect(new Set(kinds)).toEqual(new Set(['long-short']));
    // Per-kind pools: a long-short example's mined negatives are labels, never a bug report.
    const negs = await page
      .getByTestId('score-detail')
      .getByTestId('negative')
      .locator('.text')
      .allTextContents();
    expect(negs.length).toBeGreaterThan(1);
    for (const n of negs) expect(LABELS).toContain(n);
    // j moves; the detail pane is on screen without scrolling the page far.
    const first = await page.locator('[data-testid="scores"] [data-selected="true"]').getAttribute('data-id');
    await page.keyboard.press('j');
    await expect
      .poll(() => page.locator('[data-testid="scores"] [data-selected="true"]').getAttribute('data-id'))
      .not.toBe(first);
    const detail = (await page.getByTestId('score-detail').boundingBox())!;
    const list = (await page.getByTestId('scores').boundingBox())!;
    expect(detail.y - (list.y + list.height)).toBeLessThan(120);
    await page.getByTestId('margin-histogram').scrollIntoViewIfNeeded();
    await expect
      .poll(() => page.getByTestId('flagged-at').textContent())
      .toMatch(/of 24 rows flagged at margin 0/);
    await shot('hard-negatives-histogram');
    await page.getByTestId('score-detail').scrollIntoViewIfNeeded();
    await shot('hard-negatives-detail');
    // After a reload the form names the model the scores are from.
    await page.reload();
    await page.getByRole('button', { name: 'Hard negatives' }).click();
    await expect.poll(() => page.getByLabel('scoring model').inputValue()).toBe('builtin:hashbow-128');
  });

  it('Curate: search hits marked, scroll back on filter change, bulk undo, RTL, token counts', async () => {
    await page.goto(`${srv.url.split('#')[0]}#/curate?ds=mixed`);
    const rows = page.getByTestId('curate-rows');
    await rows.locator('[data-id]').first().waitFor();
    await rows.evaluate((el) => {
      el.scrollTop = 600;
    });
    await page.getByLabel('search').fill('crashes');
    await expect.poll(() => rows.evaluate((el) => el.scrollTop)).toBe(0);
    await expect.poll(() => rows.locator('mark.hit').count()).toBeGreaterThan(3);
    await shot('curate-search');
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => page.getByTestId('count-total').textContent()).toBe('61');
    // Counts per option in the menus.
    expect(await page.getByLabel('kind').locator('option').allTextContents()).toContain('sts (12)');
    // Bulk accept, then u undoes it as one entry.
    await page.getByLabel('kind').selectOption('sts');
    await page.getByRole('button', { name: 'Accept all' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.getByTestId('count-accepted').textContent()).toBe('accepted 12');
    await page.locator('body').press('u');
    await expect.poll(() => page.getByTestId('count-accepted').textContent()).toBe('accepted 0');
    // Arabic text lays out right to left, right-aligned, in the list and in the detail (the first sts row).
    const rtl = (el: Element) => {
      const s = getComputedStyle(el);
      return `${s.direction} ${s.textAlign}`;
    };
    const ar = rows.locator('.cell[dir="auto"]', { hasText: 'القطة' }).first();
    expect(await ar.evaluate(rtl)).toMatch(/^rtl (start|right)$/);
    const dq = page.getByTestId('detail').locator('.text[dir="auto"]').first();
    expect(await dq.textContent()).toMatch(/القطة/);
    expect(await dq.evaluate(rtl)).toMatch(/^rtl (start|right)$/);
    await shot('curate-rtl');
    // Token counts with the fixture model's tokenizer; the 2,000-word text is marked over the length.
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('search').fill('word1');
    await expect.poll(() => page.getByTestId('count-total').textContent()).toBe('1');
    await page.getByLabel('token model').fill(MODEL);
    await page.getByLabel('token model').press('Enter');
    await expect.poll(() => page.locator('.tok-over').count(), { timeout: 15_000 }).toBe(1);
    // Cut at the tokenizer's model_max_length when below the training default of 512.
    const cfg = JSON.parse(fs.readFileSync(path.join(MODEL, 'tokenizer_config.json'), 'utf8'));
    const max = Math.min(cfg.model_max_length ?? 512, 512);
    expect(await page.locator('.tok-over').textContent()).toMatch(new RegExp(`tokens ▲ over ${max}$`));
    await shot('curate-tokens');
  });

  it('Languages: one code per language after an import that spells names, matrix, import default', async () => {
    await page.goto(`${srv.url.split('#')[0]}#/datasets?ds=mixed`);
    const m = page.getByTestId('dataset-matrix');
    await m.waitFor();
    const langs = await m
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((t) => t.getAttribute('data-lang')));
    expect(langs.sort()).toEqual(['ar', 'en', 'zh']);
    expect(await page.getByPlaceholder('none').count()).toBeGreaterThan(0);
    await m.scrollIntoViewIfNeeded();
    await shot('datasets-languages');
    // The generation plan's kind × language matrix: every language of the default mix, none lumped.
    await navTo('Generate');
    await page.getByLabel('models').fill('test-model');
    await page.getByLabel('count').fill('5000');
    await page.getByRole('button', { name: 'Dry run' }).click();
    const plan = page.getByTestId('plan-matrix');
    await plan.waitFor();
    const more = plan.getByRole('button', { name: /Show all \d+ languages/ });
    const n = Number((await more.textContent())?.match(/Show all (\d+)/)?.[1]);
    expect(n).toBeGreaterThan(50);
    await more.click();
    await expect.poll(() => plan.locator('tbody tr').count()).toBe(n);
    // The matrix scrolls in its box: neither the page nor the content pane gets wider than the window.
    const wide = () =>
      page.evaluate(() =>
        [document.documentElement, document.querySelector('main')].map((el) =>
          el ? el.scrollWidth - el.clientWidth : 0,
        ),
      );
    expect(await wide()).toEqual([0, 0]);
    await plan.locator('tbody tr').first().scrollIntoViewIfNeeded();
    await shot('generate-plan-matrix');
    expect(errors).toEqual([]);
  });
});
