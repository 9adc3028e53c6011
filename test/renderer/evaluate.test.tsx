// Evaluate screen (issue #18.1): averages over common tasks, not-scored reasons, short names with the full
// one on hover, Δ per task chart, task × language view. The table comes from the real compareEntries.
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareEntries, type ScoreEntry } from '../../src/main/eval/results';
import { ApiProvider } from '../../src/renderer/src/api/context';
import { NavProvider } from '../../src/renderer/src/nav';
import { EvaluateScreen } from '../../src/renderer/src/screens/Evaluate';
import { memoryServices } from './memory-services';

afterEach(cleanup);
beforeEach(() => history.replaceState(null, '', '#/evaluate'));

const MODEL = '/home/someone/.embedsmith/models/demo-llama-tiny-random-seed-7';
const REV = 'demo-20261202-052211-abcd';
const e = (revision: string, task: string, taskType: ScoreEntry['taskType'], mainScore: number) => ({
  model: MODEL,
  revision,
  task,
  taskType,
  mainScore,
});

function mount() {
  const base = 'no_revision_available';
  const table = compareEntries([
    e(base, 'demo-retrieval', 'Retrieval', 0.5),
    e(base, 'STS17/en-de', 'STS', 0.6),
    e(base, 'STS17/ar-ar', 'STS', 0.7),
    e(REV, 'demo-retrieval', 'Retrieval', 0.63),
    e(REV, 'STS17/ar-ar', 'STS', 0.75),
    e(REV, 'extra-retrieval', 'Retrieval', 0.1),
    {
      ...e(REV, 'demo-long-short', 'Classification', 0),
      notScored: 'every model scores 0 (free-text labels)',
    },
  ]);
  const mem = memoryServices([], []);
  mem.svc.evaluation.compare = () => table;
  render(
    <ApiProvider client={mem.client as never}>
      <NavProvider>
        <EvaluateScreen />
      </NavProvider>
    </ApiProvider>,
  );
  return table;
}

describe('Evaluate comparison', () => {
  it('averages and deltas over the tasks both rows have, and says how many', async () => {
    mount();
    const t = await screen.findByTestId('comparison');
    const adapterRow = within(t).getAllByRole('row')[2];
    const avg = adapterRow.querySelector('td[data-col="avg"]') as HTMLElement;
    // By hand: common tasks demo-retrieval (+13) and STS17/ar-ar (+5) → +9.00 over 2 tasks.
    expect(avg.textContent).toContain(`+${(((0.63 - 0.5 + (0.75 - 0.7)) / 2) * 100).toFixed(2)}`);
    expect(avg.textContent).toContain('avg over 2 common tasks');
    expect(avg.textContent).toContain((((0.63 + 0.75) / 2) * 100).toFixed(2));
    const ret = adapterRow.querySelector('td[data-col="avg:Retrieval"]') as HTMLElement;
    expect(ret.textContent).toContain('+13.00');
    expect(ret.textContent).toContain('avg over 1 common task');
  });

  it('shows why a task was not scored instead of 0.00', async () => {
    mount();
    const t = await screen.findByTestId('comparison');
    const cell = within(t).getByTestId('not-scored');
    expect(cell.textContent).toBe('not scored');
    expect(cell.getAttribute('title')).toMatch(/free-text labels/);
    expect(screen.getByTestId('not-scored-notes').textContent).toMatch(/demo-long-short.*free-text labels/);
  });

  it('short model names on one line, the full name on hover', async () => {
    mount();
    const cells = await screen.findAllByTestId('model-cell');
    expect(cells[0].getAttribute('title')).toBe(MODEL);
    expect(cells[1].getAttribute('title')).toBe(`${MODEL}@${REV}`);
    for (const c of cells) expect((c.textContent ?? '').length).toBeLessThan(50);
    expect(cells[0].textContent).not.toContain('/home/');
  });

  it('draws Δ per task and the task × language view', async () => {
    mount();
    const chart = await screen.findByTestId('delta-chart');
    const bars = within(chart).getAllByTestId('bar');
    // Only tasks both rows have get a bar.
    expect(bars.map((b) => b.querySelector('title')?.textContent?.split(':')[0]).sort()).toEqual([
      'STS17/ar-ar',
      'demo-retrieval',
    ]);
    expect(Number(bars[0].getAttribute('data-value'))).toBeGreaterThan(0);
    const lv = screen.getByTestId('language-view');
    expect(within(lv).getByText('ar-ar')).toBeInstanceOf(HTMLElement);
    const ar = lv.querySelector('td[data-lang="ar-ar"]') as HTMLElement;
    expect(ar.textContent).toContain('75.00');
    expect(ar.textContent).toContain('+5.00');
    // Picking the base row: no Δ bars.
    fireEvent.click(screen.getAllByTestId('model-cell')[0]);
    await waitFor(() => expect(screen.queryByTestId('delta-chart')).toBeNull());
  });
});
