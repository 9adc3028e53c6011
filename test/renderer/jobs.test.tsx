// The Jobs panel (components/Jobs.tsx): Cancel on a running job whose work stops on cancel (jobs.cancel
// through the real router; evaluation, import, mining), none on other jobs or once a job passed its point of
// no return; the cancelled state arrives as a pushed job event; a refusal
// shows its one line.
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobInfo } from '../../src/shared/contract';
import { ApiProvider } from '../../src/renderer/src/api/context';
import { JobsList } from '../../src/renderer/src/components/Jobs';
import { memoryServices } from './memory-services';

afterEach(cleanup);

const job = (id: string, over: Partial<JobInfo>): JobInfo => ({
  id,
  type: 'eval',
  label: `evaluate ${id}`,
  state: 'running',
  progress: { done: 3, total: 10, unit: 'queries', ratePerS: null, etaS: null },
  startedAt: '2026-12-02T10:00:00Z',
  ...over,
});

function mount(jobs: JobInfo[], refuse?: string, types = ['eval']) {
  const mem = memoryServices([], []);
  const asked: string[] = [];
  mem.svc.jobs = {
    list: () => jobs,
    cancel: (i) => {
      asked.push(i.jobId);
      if (refuse) throw Object.assign(new Error(refuse), { name: 'UserError' });
      return jobs.find((j) => j.id === i.jobId) as JobInfo;
    },
  };
  render(
    <ApiProvider client={mem.client as never}>
      <JobsList types={types} />
    </ApiProvider>,
  );
  return { mem, asked };
}

describe('Jobs panel Cancel', () => {
  it('offers Cancel on a running cancellable job only; the pushed cancelled state removes it', async () => {
    const running = job('eval-1', { cancellable: true });
    const { mem, asked } = mount([
      running,
      job('eval-2', { label: 'evaluate other' }),
      job('eval-3', { state: 'done', progress: null, finishedAt: '2026-12-02T10:01:00Z' }),
    ]);
    const list = await screen.findByTestId('jobs');
    const rows = within(list).getAllByTestId('job');
    expect(rows).toHaveLength(3);
    const buttons = within(list).getAllByRole('button', { name: 'Cancel' });
    expect(buttons).toHaveLength(1);
    expect(within(rows[0]).getByRole('button', { name: 'Cancel' })).toBe(buttons[0]);
    fireEvent.click(buttons[0]);
    await waitFor(() => expect(asked).toEqual(['eval-1']));
    mem.hub.emit({
      topic: 'job',
      job: { ...running, state: 'cancelled', cancellable: undefined, finishedAt: '2026-12-02T10:02:00Z' },
    });
    await waitFor(() => expect(within(list).queryByRole('button', { name: 'Cancel' })).toBeNull());
    expect(within(rows[0]).getByText('cancelled')).toBeInstanceOf(HTMLElement);
  });

  it('offers Cancel on running import and mining jobs; an import past publishing (no flag pushed) loses it', async () => {
    const imp = job('imp-1', { type: 'import', label: 'import big.jsonl into d', cancellable: true });
    const { mem, asked } = mount(
      [
        imp,
        job('mine-1', { type: 'mining', label: 'mine negatives for d', cancellable: true }),
        // A dataset export runs in one synchronous pass: no Cancel.
        job('exp-1', { type: 'export', label: 'export d → d.jsonl' }),
      ],
      undefined,
      ['import', 'export', 'mining'],
    );
    const list = await screen.findByTestId('jobs');
    const rows = within(list).getAllByTestId('job');
    expect(within(list).getAllByRole('button', { name: 'Cancel' })).toHaveLength(2);
    expect(within(rows[2]).queryByRole('button', { name: 'Cancel' })).toBeNull();
    fireEvent.click(within(rows[1]).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(asked).toEqual(['mine-1']));
    // The import reached its point of no return: still running, no longer cancellable.
    const { cancellable: _c, ...committed } = imp;
    mem.hub.emit({ topic: 'job', job: { ...committed, progress: { ...imp.progress!, done: 9 } } });
    await waitFor(() => expect(within(rows[0]).queryByRole('button', { name: 'Cancel' })).toBeNull());
    expect(within(rows[0]).getByText('running')).toBeInstanceOf(HTMLElement);
  });

  it('shows the one-line refusal under the job', async () => {
    const msg = 'job eval-1 already ended (done); there is nothing to cancel';
    const { asked } = mount([job('eval-1', { cancellable: true })], msg);
    fireEvent.click(await screen.findByRole('button', { name: 'Cancel' }));
    const err = await screen.findByTestId('cancel-error');
    expect(err.textContent).toContain(msg);
    expect(asked).toEqual(['eval-1']);
  });

  it("says a failed job's error in the app's words, as every other screen does", async () => {
    // Server messages are written for the CLI; the Jobs panel is where an app import's failure shows.
    mount(
      [
        job('imp-2', {
          type: 'import',
          label: 'import bad.jsonl into d',
          state: 'failed',
          progress: null,
          error: 'bad.jsonl:3: not valid UTF-8; fix the line or pass --skip-invalid',
        }),
      ],
      undefined,
      ['import'],
    );
    const row = within(await screen.findByTestId('jobs')).getByTestId('job');
    expect(row.textContent).toContain(
      'bad.jsonl:3: not valid UTF-8; fix the line or tick "Skip invalid lines"',
    );
    expect(row.textContent).not.toContain('--skip-invalid');
  });
});
