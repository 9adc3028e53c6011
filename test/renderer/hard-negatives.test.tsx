// Hard-negative review (issue #18.3): the Curate filter, keyboard, mining options, per-negative actions,
// score histograms with the margin drawn, job results, and the model field after a reload.
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExampleFilterInput, JobInfo, ScoredExampleInfo } from '../../src/shared/contract';
import { ApiProvider } from '../../src/renderer/src/api/context';
import { NavProvider } from '../../src/renderer/src/nav';
import { CurateScreen } from '../../src/renderer/src/screens/Curate';
import { makeExamples, memoryServices } from './memory-services';

afterEach(cleanup);
Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 480 });
Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1200 });
beforeEach(() => history.replaceState(null, '', '#/curate?ds=d'));

const SCORER = '/models/my-finetuned-e5';

function mount() {
  const examples = makeExamples(30);
  const mem = memoryServices(examples, [
    { id: 1, name: 'd', description: '', createdAt: '', updatedAt: '', exampleCount: 30, instruction: null },
  ]);
  const scored: ScoredExampleInfo[] = examples.map((e, i) => {
    const pos = 0.8 - i * 0.01;
    const negs = [0.9 - i * 0.02, 0.3];
    return {
      example: e,
      runId: 'score-1',
      positiveScore: pos,
      maxNegativeScore: Math.max(...negs),
      margin: pos - Math.max(...negs),
      negatives: 2,
      flagged: 0,
      likelyFalseNegative: pos - Math.max(...negs) <= 0,
      stale: false,
      negativeScores: negs.map((s, j) => ({
        source: j ? ('mined' as const) : ('llm' as const),
        minedId: j ? 100 + i : null,
        text: j ? `mined negative ${i + 1}` : (e.negative ?? ''),
        score: s,
        margin: pos - s,
        likelyFalseNegative: s >= pos,
      })),
    };
  });
  const match = (r: ScoredExampleInfo, f: ExampleFilterInput | undefined) =>
    !f?.kind || r.example.kind === f.kind;
  const calls: { path: string; input: unknown }[] = mem.calls;
  const jobs: JobInfo[] = [
    {
      id: 'j1',
      type: 'mining',
      label: 'mine negatives for d',
      state: 'done',
      progress: null,
      result: { negatives: 12, seconds: { embed: 1, search: 0.25, total: 1.5 } },
      startedAt: '',
    },
  ];
  mem.svc.info = () => ({
    version: 't',
    home: '/tmp/x',
    transport: 'http',
  });
  mem.svc.jobs.list = () => jobs;
  mem.svc.mining = {
    score: (i) => {
      calls.push({ path: 'score', input: i });
      return jobs[0];
    },
    mine: (i) => {
      calls.push({ path: 'mine', input: i });
      return jobs[0];
    },
    page: (i) => {
      calls.push({ path: 'mining.page', input: i });
      const rows = scored.filter((r) => match(r, i.filter));
      const off = i.offset ?? 0;
      return {
        runId: 'score-1',
        model: SCORER,
        adapter: null,
        margin: 0.05,
        total: rows.length,
        rows: rows.slice(off, off + (i.limit ?? 100)),
      };
    },
    distribution: (i) => {
      const rows = scored.filter((r) => match(r, i.filter));
      return {
        positive: rows.map((r) => r.positiveScore),
        negative: rows.flatMap((r) => r.negativeScores.map((n) => n.score)),
        margin: rows.map((r) => r.margin as number),
      };
    },
    negativeAction: (i) => {
      calls.push({ path: 'negativeAction', input: i });
      return { exampleId: i.exampleId, created: i.action === 'to-positive' ? 99 : null };
    },
  };
  render(
    <ApiProvider client={mem.client as never}>
      <NavProvider>
        <CurateScreen />
      </NavProvider>
    </ApiProvider>,
  );
  return { ...mem, scored, calls };
}

const key = (k: string) => act(() => fireEvent.keyDown(window, { key: k }));
const open = async () => {
  fireEvent.click(await screen.findByRole('button', { name: 'Hard negatives' }));
  return screen.findByTestId('scores');
};
const selectedId = () =>
  Number(document.querySelector('[data-testid="scores"] [data-selected="true"]')?.getAttribute('data-id'));

describe('hard-negative review', () => {
  it('lists what the toolbar filter matches, and the count is of that list', async () => {
    const { calls } = mount();
    const list = await open();
    await waitFor(() => expect(within(list).getAllByText('short-long').length).toBeGreaterThan(0));
    fireEvent.change(screen.getByLabelText('kind'), { target: { value: 'sts' } });
    await waitFor(() => expect(within(list).queryAllByText('short-long')).toHaveLength(0));
    expect(within(list).getAllByText('sts')).toHaveLength(10);
    expect(screen.getByTestId('scores-total').textContent).toMatch(/^10 scored examples match/);
    expect(calls.filter((c) => c.path === 'mining.page').at(-1)?.input).toMatchObject({
      filter: { kind: 'sts' },
    });
  });

  it('moves with j/k and the arrows; the detail follows; the list keys of Curate stay off', async () => {
    const { calls } = mount();
    await open();
    await waitFor(() => expect(selectedId()).toBe(1));
    await key('j');
    await key('ArrowDown');
    expect(selectedId()).toBe(3);
    await key('k');
    expect(selectedId()).toBe(2);
    expect(within(screen.getByTestId('score-detail')).getByText('#2')).toBeInstanceOf(HTMLElement);
    await key('a');
    await waitFor(() => expect(calls.filter((c) => c.path === 'review')).toHaveLength(1));
    expect(calls.find((c) => c.path === 'review')?.input).toMatchObject({ id: 2, action: 'accept' });
  });

  it('drops a negative or moves it to a positive, by button and by key', async () => {
    const { calls } = mount();
    await open();
    const detail = await screen.findByTestId('score-detail');
    const negs = within(detail).getAllByTestId('negative');
    expect(negs).toHaveLength(2);
    fireEvent.click(within(negs[1]).getByRole('button', { name: /Drop this negative/ }));
    await waitFor(() =>
      expect(calls.find((c) => c.path === 'negativeAction')?.input).toEqual({
        exampleId: 1,
        source: 'mined',
        minedId: 100,
        action: 'drop',
      }),
    );
    await key('['); // pick the first (LLM-written) negative again
    await key('p');
    await waitFor(() => expect(calls.filter((c) => c.path === 'negativeAction')).toHaveLength(2));
    expect(calls.filter((c) => c.path === 'negativeAction')[1].input).toMatchObject({
      source: 'llm',
      action: 'to-positive',
    });
    await screen.findByText(/new example #99/);
  });

  it('mines with per-kind pools by default and the knobs of the form', async () => {
    const { calls } = mount();
    await open();
    fireEvent.change(screen.getByLabelText('range min'), { target: { value: '2' } });
    fireEvent.change(screen.getByLabelText('range max'), { target: { value: '40' } });
    fireEvent.change(screen.getByLabelText('mine margin'), { target: { value: '0.05' } });
    fireEvent.change(screen.getByLabelText('negatives per query'), { target: { value: '5' } });
    fireEvent.click(screen.getByRole('button', { name: 'Mine more negatives' }));
    await waitFor(() => expect(calls.find((c) => c.path === 'mine')?.path).toBe('mine'));
    expect(calls.find((c) => c.path === 'mine')?.input).toMatchObject({
      dataset: 'd',
      model: SCORER,
      pools: 'kind',
      rangeMin: 2,
      rangeMax: 40,
      margin: 0.05,
      numNegatives: 5,
    });
  });

  it('draws the margin histogram with the margin on it and counts the rows it flags', async () => {
    const { scored } = mount();
    await open();
    const h = await screen.findByTestId('margin-histogram');
    // The form starts at the stored run's margin (0.05), not at 0.
    await waitFor(() => expect(within(h).getByTestId('mark').getAttribute('data-x')).toBe('0.05'));
    const byHand = (m: number) => scored.filter((r) => (r.margin as number) <= m).length;
    expect(screen.getByTestId('flagged-at').textContent).toBe(
      `${byHand(0.05)} of 30 rows flagged at margin 0.05`,
    );
    fireEvent.change(screen.getByLabelText('flag margin'), { target: { value: '-0.1' } });
    await waitFor(() =>
      expect(screen.getByTestId('flagged-at').textContent).toBe(
        `${byHand(-0.1)} of 30 rows flagged at margin -0.1`,
      ),
    );
    expect(byHand(-0.1)).toBeLessThan(byHand(0.05));
    expect(within(screen.getByTestId('score-histogram')).getByText(/positives \(30\)/)).toBeInstanceOf(
      HTMLElement,
    );
  });

  it('shows the scoring model of the stored run after a reload, and job seconds as a number', async () => {
    mount();
    await open();
    await waitFor(() =>
      expect((screen.getByLabelText('scoring model') as HTMLInputElement).value).toBe(SCORER),
    );
    const jobs = await screen.findByTestId('jobs');
    expect(jobs.textContent).not.toContain('[object Object]');
    expect(jobs.textContent).toContain('seconds 1.50 s');
  });
});
