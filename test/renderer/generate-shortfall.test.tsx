import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { Shortfall } from '../../src/renderer/src/screens/Generate';

afterEach(() => cleanup());

describe('Generate screen: short cells', () => {
  it('lists each short cell with accepted/quota, attempts/budget and top reasons, and how to retry', () => {
    let retried = 0;
    render(
      <Shortfall
        runId="gen-1"
        onRetry={() => retried++}
        cells={[
          {
            kind: 'short-long',
            language: 'as',
            accepted: 1,
            quota: 4,
            attempts: 12,
            budget: 12,
            reasons: [
              { reason: 'wrong_language', n: 9 },
              { reason: 'too_short', n: 2 },
            ],
          },
        ]}
      />,
    );
    const box = screen.getByTestId('shortfall');
    expect(box.textContent).toContain('Short cells (1)');
    const cells = [...box.querySelectorAll('tbody td')].map((td) => td.textContent);
    expect(cells).toEqual(['short-long', 'as', '1 / 4', '12 / 12', 'wrong_language 9, too_short 2']);
    expect(box.textContent).toContain('embedsmith generate --resume gen-1 --retry-short');
    fireEvent.click(screen.getByRole('button', { name: 'Retry short cells' }));
    expect(retried).toBe(1);
  });

  it('shows nothing when no cell is short', () => {
    const { container } = render(<Shortfall runId="gen-1" cells={[]} />);
    expect(container.innerHTML).toBe('');
  });
});
