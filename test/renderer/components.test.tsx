import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/renderer/src/api/transport';
import { ProgressBar } from '../../src/renderer/src/components/common';
import { DistributionChart } from '../../src/renderer/src/components/DistributionChart';

afterEach(() => {
  cleanup();
  delete window.embedsmith;
});

describe('ProgressBar', () => {
  it('shows count, percent, rate and ETA', () => {
    render(<ProgressBar p={{ done: 250, total: 1000, unit: 'examples', ratePerS: 12.5, etaS: 60 }} />);
    const bar = screen.getByRole('progressbar');
    expect(bar.textContent).toContain('250 / 1,000 examples (25%)');
    expect(bar.textContent).toContain('12.5 examples/s');
    expect(bar.textContent).toContain('ETA 1:00');
    expect((bar.querySelector('.progress-fill') as HTMLElement).style.width).toBe('25.0%');
  });

  it('is indeterminate without a total and says so without an ETA', () => {
    render(<ProgressBar p={{ done: 3, total: null, unit: 'files', ratePerS: null, etaS: null }} />);
    const bar = screen.getByRole('progressbar');
    expect(bar.querySelector('.indeterminate')).not.toBeNull();
    expect(bar.textContent).toContain('ETA --:--');
  });
});

describe('DistributionChart', () => {
  it('draws one bar per kind with a segment per language, scaled to the largest kind', () => {
    render(
      <DistributionChart
        stats={{
          dataset: 'd',
          total: 30,
          byKind: { 'short-long': 20, sts: 10 },
          byLanguage: { en: 25, de: 5 },
          byStatus: {},
          bySplit: {},
          cells: [
            { kind: 'short-long', language: 'en', status: 'accepted', count: 15 },
            { kind: 'short-long', language: 'de', status: 'accepted', count: 5 },
            { kind: 'sts', language: 'en', status: 'unreviewed', count: 10 },
          ],
        }}
      />,
    );
    const rows = document.querySelectorAll('.chart-row');
    expect(rows).toHaveLength(6);
    const segs = rows[0].querySelectorAll<HTMLElement>('.chart-seg');
    expect([...segs].map((s) => s.style.width)).toEqual(['75%', '25%']);
    expect(screen.getByText('sts').parentElement?.querySelector<HTMLElement>('.chart-seg')?.style.width).toBe(
      '50%',
    );
    expect(screen.getByText(/^en/).textContent).toContain('25');
  });
});

describe('transport', () => {
  it('uses the preload bridge when window.embedsmith exists, and only its channel', async () => {
    const sent: unknown[] = [];
    let reply: ((m: unknown) => void) | undefined;
    window.embedsmith = {
      version: 'x',
      ipc: {
        sendMessage: (m) => {
          sent.push(m);
          const op = (m as { operation: { id: number } }).operation;
          setTimeout(() => reply?.({ id: op.id, result: { type: 'data', data: [] } }), 0);
        },
        onMessage: (cb) => {
          reply = cb;
        },
      },
    };
    const client = createApiClient();
    expect(await client.datasets.list.query()).toEqual([]);
    expect(sent).toEqual([
      { method: 'request', operation: expect.objectContaining({ path: 'datasets.list', type: 'query' }) },
    ]);
  });
});
