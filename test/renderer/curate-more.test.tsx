// Curate (issue #18.4): scroll back to the selection on a filter change, bulk actions undone as one entry,
// search hits marked, counts in the filter menus, filters on stored attributes, RTL text, token counts.
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiProvider } from '../../src/renderer/src/api/context';
import { NavProvider } from '../../src/renderer/src/nav';
import { CurateScreen } from '../../src/renderer/src/screens/Curate';
import { makeExamples, memoryServices } from './memory-services';

afterEach(cleanup);
Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 480 });
Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1200 });
beforeEach(() => {
  history.replaceState(null, '', '#/curate?ds=d');
  localStorage.clear();
});

const DIFF = ['high school', 'college', 'PhD'];

function mount(n = 30) {
  const examples = makeExamples(n).map((e, i) => ({
    ...e,
    attributes: { difficulty: DIFF[i % 3], clarity: i % 2 ? 'clear' : 'ambiguous' },
  }));
  examples[4] = { ...examples[4], query: 'ما هي عاصمة مصر؟', language: 'ar' };
  const mem = memoryServices(examples, [
    { id: 1, name: 'd', description: '', createdAt: '', updatedAt: '', exampleCount: n, instruction: null },
  ]);
  const facets = mem.svc.examples.facets;
  mem.svc.examples.facets = (i) => {
    const by = new Map<string, Map<string, number>>();
    for (const e of examples)
      for (const [k, v] of Object.entries(e.attributes)) {
        const m = by.get(k) ?? new Map<string, number>();
        m.set(String(v), (m.get(String(v)) ?? 0) + 1);
        by.set(k, m);
      }
    return {
      ...facets(i),
      attributes: [...by].map(([key, m]) => ({
        key,
        values: [...m].map(([value, count]) => ({ value, count })),
      })),
    };
  };
  render(
    <ApiProvider client={mem.client as never}>
      <NavProvider>
        <CurateScreen />
      </NavProvider>
    </ApiProvider>,
  );
  return { ...mem, examples };
}

const key = (k: string) => act(() => fireEvent.keyDown(window, { key: k }));
const countOf = (id: string) => Number((screen.getByTestId(id).textContent ?? '').replace(/[^0-9]/g, ''));
const selected = () => document.querySelector('[data-testid="curate-rows"] [data-selected="true"]');

describe('Curate list', () => {
  it('a filter change scrolls back to the selection (the first row)', async () => {
    mount(300);
    await waitFor(() => expect(countOf('count-total')).toBe(300));
    const body = screen.getByTestId('curate-rows');
    body.scrollTop = 5000;
    expect(body.scrollTop).toBe(5000);
    fireEvent.change(screen.getByLabelText('search'), { target: { value: 'query 2' } });
    await waitFor(() => expect(countOf('count-total')).toBeLessThan(300));
    await waitFor(() => expect(body.scrollTop).toBe(0));
    expect(selected()?.getAttribute('data-id')).toBe('2');
  });

  it('undoes a bulk action with u, as one entry, restoring earlier statuses and reasons', async () => {
    const { examples } = mount();
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    await key('r');
    await key('2'); // #1 rejected: off-task
    await waitFor(() => expect(examples[0]).toMatchObject({ status: 'rejected', rejectReason: 'off-task' }));
    fireEvent.click(screen.getByRole('button', { name: 'Accept all' }));
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Confirm' }));
    await waitFor(() => expect(examples.every((e) => e.status === 'accepted')).toBe(true));
    await waitFor(() => expect(screen.getByText(/accept: 30 examples changed/)).toBeInstanceOf(HTMLElement));
    await key('u');
    await waitFor(() => expect(examples.filter((e) => e.status === 'accepted')).toHaveLength(0));
    expect(examples[0]).toMatchObject({ status: 'rejected', rejectReason: 'off-task' });
    expect(examples.slice(1).every((e) => e.status === 'unreviewed')).toBe(true);
    await screen.findByText('undid accept of 30 examples');
  });

  it('marks search terms in the rows and the detail', async () => {
    mount();
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    fireEvent.change(screen.getByLabelText('search'), { target: { value: 'positive 1' } });
    await waitFor(() => expect(countOf('count-total')).toBeLessThan(30));
    const marks = await within(screen.getByTestId('curate-rows')).findAllByText('positive');
    expect(marks.some((m) => m.tagName === 'MARK')).toBe(true);
    const detail = screen.getByTestId('detail');
    expect([...detail.querySelectorAll('mark.hit')].map((m) => m.textContent?.toLowerCase())).toContain(
      'positive',
    );
  });

  it('shows counts per option in the filter menus and filters on stored attributes', async () => {
    mount();
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    const kind = screen.getByLabelText('kind') as HTMLSelectElement;
    await waitFor(() => expect([...kind.options].map((o) => o.textContent)).toContain('sts (10)'));
    expect([...kind.options].map((o) => o.textContent)).toContain('long-short (0)');
    const status = screen.getByLabelText('status') as HTMLSelectElement;
    expect([...status.options].map((o) => o.textContent)).toContain('unreviewed (30)');
    const diff = (await screen.findByLabelText('difficulty')) as HTMLSelectElement;
    expect([...diff.options].map((o) => o.textContent)).toEqual([
      'difficulty: any',
      'high school (10)',
      'college (10)',
      'PhD (10)',
    ]);
    fireEvent.change(diff, { target: { value: 'PhD' } });
    await waitFor(() => expect(countOf('count-total')).toBe(10));
    fireEvent.change(screen.getByLabelText('clarity'), { target: { value: 'clear' } });
    // By hand: PhD is i % 3 == 2, clear is i odd → i ≡ 5 (mod 6): 5, 11, 17, 23, 29.
    await waitFor(() => expect(countOf('count-total')).toBe(5));
  });

  it('lays out right-to-left text from its own direction (dir="auto")', async () => {
    mount();
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    const ar = await within(screen.getByTestId('curate-rows')).findByText('ما هي عاصمة مصر؟');
    expect(ar.closest('[dir="auto"]')).not.toBeNull();
    for (let i = 0; i < 4; i++) await key('j');
    const q = within(screen.getByTestId('detail')).getByText('ما هي عاصمة مصر؟');
    expect(q.closest('[dir="auto"]')).not.toBeNull();
  });

  it('counts tokens with a model and marks texts over the training length', async () => {
    const { svc } = mount();
    svc.examples.tokens = (i) => ({
      maxLength: 8,
      rows: i.ids.map((id) => ({ id, query: 3, positive: 12, negative: 8 })),
    });
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    const input = screen.getByLabelText('token model');
    fireEvent.change(input, { target: { value: '/models/e5' } });
    fireEvent.blur(input);
    const counts = await screen.findAllByTestId('token-count');
    expect(counts.map((c) => c.textContent?.trim())).toEqual([
      '· 3 tokens',
      '· 12 tokens ▲ over 8',
      '· 8 tokens',
    ]);
    expect(counts[1].className).toBe('tok-over');
    expect(localStorage.getItem('embedsmith.tokenModel')).toBe('/models/e5');
  });
});
