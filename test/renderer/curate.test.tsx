import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiProvider } from '../../src/renderer/src/api/context';
import { NavProvider } from '../../src/renderer/src/nav';
import { CurateScreen } from '../../src/renderer/src/screens/Curate';
import { makeExamples, memoryServices } from './memory-services';

afterEach(cleanup);
// happy-dom lays nothing out; give elements a size so the virtualised list renders a window of rows.
Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 480 });
Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1200 });
beforeEach(() => {
  history.replaceState(null, '', '#/curate?ds=d');
});

function mount(n = 30) {
  const examples = makeExamples(n);
  const mem = memoryServices(examples, [
    { id: 1, name: 'd', description: '', createdAt: '', updatedAt: '', exampleCount: n, instruction: null },
  ]);
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

describe('Curate screen', () => {
  it('shows the rows and the detail of the selected one side by side', async () => {
    mount();
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    const rows = screen.getByTestId('curate-rows');
    await waitFor(() => expect(within(rows).getAllByText(/^query \d+$/).length).toBeGreaterThan(5));
    const detail = screen.getByTestId('detail');
    // The detail pane shows the row's fields, its hard negative and its sampled attributes.
    for (const text of ['Query', 'Hard negative', 'negative 1', 'high school'])
      expect(within(detail).queryAllByText(text)).toHaveLength(1);
  });

  it('reviews with the keyboard: accept, reject with a reason, next, undo', async () => {
    const { calls, examples } = mount();
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    await key('a');
    await waitFor(() => expect(examples[0].status).toBe('accepted'));
    await key('j'); // skip 3 → selection on #3
    await key('r');
    screen.getByTestId('reasons');
    await key('3');
    await waitFor(() =>
      expect(examples[2]).toMatchObject({ status: 'rejected', rejectReason: 'positive-not-relevant' }),
    );
    await waitFor(() => expect(countOf('count-rejected')).toBe(1));
    expect(countOf('count-accepted')).toBe(1);
    await key('u');
    await waitFor(() => expect(examples[2].status).toBe('unreviewed'));
    await waitFor(() => expect(countOf('count-rejected')).toBe(0));
    const reviews = calls.filter((c) => c.path === 'review').map((c) => c.input);
    expect(reviews).toEqual([
      { id: 1, action: 'accept' },
      { id: 3, action: 'reject', reason: 'positive-not-relevant' },
      { id: 3, action: 'reset' },
    ]);
    // k goes back up; x resets.
    await key('k');
    await key('k');
    await key('x');
    await waitFor(() => expect(examples[0].status).toBe('unreviewed'));
  });

  it('undoes the last key pressed, not the last write to come back (writes answered out of order)', async () => {
    const { svc, examples } = mount();
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    // The accept of #1 is answered only after the later reject of #2 (a busy server answers out of order).
    const review = svc.examples.review;
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    svc.examples.review = ((i: Parameters<typeof review>[0]) =>
      i.id === 1 && i.action === 'accept' ? held.then(() => review(i)) : review(i)) as typeof review;
    await key('a');
    await key('r');
    await key('2');
    await waitFor(() => expect(examples[1].status).toBe('rejected'));
    release();
    await waitFor(() => expect(examples[0].status).toBe('accepted'));
    await key('u');
    await waitFor(() => expect(examples[1].status).toBe('unreviewed'));
    expect(examples[0].status).toBe('accepted');
    // A second u undoes the accept pressed before it.
    await key('u');
    await waitFor(() => expect(examples[0].status).toBe('unreviewed'));
  });

  it('edits the selected example and saves with Ctrl+Enter', async () => {
    const { examples } = mount();
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    await key('e');
    const box = await screen.findByLabelText('edit positive');
    fireEvent.change(box, { target: { value: 'a better positive' } });
    fireEvent.keyDown(box, { key: 'Enter', ctrlKey: true });
    await waitFor(() => expect(examples[0].positive).toBe('a better positive'));
    await waitFor(() =>
      expect(within(screen.getByTestId('detail')).queryAllByText('a better positive')).toHaveLength(1),
    );
  });

  it('sends filters to the server and shows the new counts', async () => {
    const { calls } = mount();
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    fireEvent.change(screen.getByLabelText('kind'), { target: { value: 'sts' } });
    await waitFor(() => expect(countOf('count-total')).toBe(10));
    fireEvent.change(screen.getByLabelText('language'), { target: { value: 'en' } });
    await waitFor(() => expect(countOf('count-total')).toBe(5));
    expect(calls.filter((c) => c.path === 'page').at(-1)?.input).toMatchObject({
      dataset: 'd',
      filter: { kind: 'sts', language: 'en' },
    });
    fireEvent.change(screen.getByLabelText('search'), { target: { value: 'query 2' } });
    await waitFor(() => expect(countOf('count-total')).toBeLessThan(5));
  });

  it('applies a bulk action to the whole filter after confirmation', async () => {
    const { examples } = mount();
    await waitFor(() => expect(countOf('count-total')).toBe(30));
    fireEvent.change(screen.getByLabelText('kind'), { target: { value: 'bitext' } });
    await waitFor(() => expect(countOf('count-total')).toBe(10));
    fireEvent.click(screen.getByText('Accept all'));
    fireEvent.click(screen.getByText('Confirm'));
    await waitFor(() => expect(examples.filter((e) => e.status === 'accepted')).toHaveLength(10));
    expect(examples.filter((e) => e.status === 'accepted').every((e) => e.kind === 'bitext')).toBe(true);
  });

  it('renders only a window of a long list and loads the next keyset page on scroll', async () => {
    const { calls } = mount(5000);
    await waitFor(() => expect(countOf('count-total')).toBe(5000));
    const rows = screen.getByTestId('curate-rows');
    await waitFor(() => expect(rows.querySelectorAll('.vrow').length).toBeGreaterThan(5));
    // 200 rows loaded, far fewer in the DOM.
    expect(rows.querySelectorAll('.vrow').length).toBeLessThan(60);
    expect(calls.filter((c) => c.path === 'page')).toHaveLength(1);
    for (let i = 0; i < 170; i++) await key('j');
    await waitFor(() => expect(calls.filter((c) => c.path === 'page').length).toBeGreaterThanOrEqual(2));
    expect(calls.filter((c) => c.path === 'page').at(-1)?.input).toMatchObject({ after: { id: 200 } });
    expect(rows.querySelectorAll('.vrow').length).toBeLessThan(60);
  });
});
