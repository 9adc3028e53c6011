// The Train screen's loss curve (issue #18.2): a finished run's logged steps (no live events) drawn as EMA
// over faint raw points, lr on a second axis, axis ticks, hover values, training-health hints.
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TrainingRunInfo } from '../../src/shared/contract';
import { emaSmooth } from '../../src/shared/training-health';
import { ApiProvider } from '../../src/renderer/src/api/context';
import { LossChart } from '../../src/renderer/src/components/LossChart';
import { NavProvider } from '../../src/renderer/src/nav';
import { TrainScreen } from '../../src/renderer/src/screens/Train';
import { memoryServices } from './memory-services';

afterEach(cleanup);
beforeEach(() => history.replaceState(null, '', '#/train'));

const steps = (n: number, loss: (i: number) => number) =>
  Array.from({ length: n }, (_, i) => ({
    step: i + 1,
    loss: loss(i),
    lr: i < 10 ? (1.5e-3 * (i + 1)) / 10 : 1.5e-3 * (1 - (i - 10) / (n - 10)),
    gradNorm: 2 - i / n,
  }));

function run(losses: TrainingRunInfo['losses']): TrainingRunInfo {
  return {
    id: 'demo-run',
    state: 'done',
    step: losses.length,
    totalSteps: losses.length,
    lastLoss: losses.at(-1)?.loss ?? null,
    model: '/m',
    outDir: '/runs/demo-run',
    createdAt: '2026-01-01T00:00:00Z',
    losses,
    live: null,
    adapterDir: '/runs/demo-run/adapter',
    error: null,
    datasets: ['demo'],
    device: 'cpu',
    deviceUsed: 'cpu',
    resumable: false,
  };
}

describe('loss curve', () => {
  it('draws a finished 90-step run from its log: EMA over raw, lr axis, ticks, hover values', async () => {
    // A noisy decreasing loss (deterministic zig-zag).
    const losses = steps(90, (i) => 2.5 - i * 0.015 + (i % 2 ? 0.2 : -0.2));
    const mem = memoryServices([], []);
    mem.svc.training.list = () => [run(losses)];
    render(
      <ApiProvider client={mem.client as never}>
        <NavProvider>
          <TrainScreen />
        </NavProvider>
      </ApiProvider>,
    );
    const chart = await screen.findByTestId('loss-chart', {}, { timeout: 5000 });
    const paths = chart.querySelectorAll('path[data-series]');
    expect([...paths].map((p) => p.getAttribute('data-series'))).toEqual(['loss (raw)', 'loss (EMA)', 'lr']);
    expect(paths[0].getAttribute('class')).toContain('faint');
    // 90 points in each loss line.
    expect((paths[1].getAttribute('d')?.match(/[ML]/g) ?? []).length).toBe(90);
    expect(within(chart).getByTestId('x-ticks').querySelectorAll('text').length).toBeGreaterThan(3);
    expect(within(chart).getByTestId('left-ticks').querySelectorAll('text').length).toBeGreaterThan(2);
    expect(within(chart).getByTestId('right-ticks').textContent).toMatch(/e-/);
    // Hover at the right edge: the last step's EMA (computed here from the inputs) and lr.
    fireEvent.mouseMove(chart.querySelector('svg') as SVGSVGElement, { clientX: 10_000 });
    const ema = emaSmooth(losses.map((l) => l.loss));
    await waitFor(() =>
      expect(within(chart).getByTestId('hover-values').textContent).toBe(
        `step 90: loss (EMA) ${ema[89].toFixed(4)} · lr ${losses[89].lr.toExponential(2)}`,
      ),
    );
    expect(within(chart).getByTestId('health').textContent).toMatch(/nothing to flag/);
  });

  it('warns when the loss ends above its start, goes to ≈ 0 or stays flat', () => {
    const { rerender } = render(<LossChart points={steps(40, (i) => 1 + i * 0.05)} />);
    expect(screen.getByRole('status').getAttribute('data-code')).toBe('ends-above');
    rerender(<LossChart points={steps(40, (i) => (i < 5 ? 1 : 0.001))} />);
    expect(screen.getByRole('status').textContent).toMatch(/negatives are too easy/);
    rerender(<LossChart points={steps(40, () => 2.3)} />);
    expect(screen.getByRole('status').textContent).toMatch(/flat.*temperature τ/);
  });

  it('puts grad norm on the right axis when asked', async () => {
    render(<LossChart points={steps(30, (i) => 2 - i / 30)} />);
    fireEvent.change(screen.getByLabelText('right axis'), { target: { value: 'gradNorm' } });
    await waitFor(() => expect(document.querySelector('path[data-series="grad norm"]')).not.toBeNull());
  });
});
