// Languages on the Datasets screen (issue #18.5): every language listed (none lumped away), the kind ×
// language matrix, and an import form whose language placeholder is the real default ("none").
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import languageFile from '../../resources/languages.json';
import { ApiProvider } from '../../src/renderer/src/api/context';
import { NavProvider } from '../../src/renderer/src/nav';
import { DatasetsScreen } from '../../src/renderer/src/screens/Datasets';
import { makeExamples, memoryServices } from './memory-services';

afterEach(cleanup);
beforeEach(() => history.replaceState(null, '', '#/datasets?ds=d'));

const CODES = languageFile.languages.map((l) => l.code).slice(0, 80);

function mount() {
  // 80 languages: language i has i + 1 rows, kinds alternating.
  const examples = makeExamples(CODES.reduce((a, _, i) => a + i + 1, 0));
  let k = 0;
  CODES.forEach((code, i) => {
    for (let j = 0; j <= i; j++) examples[k++].language = code;
  });
  const mem = memoryServices(examples, [
    {
      id: 1,
      name: 'd',
      description: '',
      createdAt: '',
      updatedAt: '',
      exampleCount: examples.length,
      instruction: null,
    },
  ]);
  render(
    <ApiProvider client={mem.client as never}>
      <NavProvider>
        <DatasetsScreen />
      </NavProvider>
    </ApiProvider>,
  );
  return { examples };
}

describe('language coverage', () => {
  it('lists every language beyond the coloured ones, with its count', async () => {
    mount();
    const other = await screen.findByTestId('other-languages');
    // 9 coloured, 71 listed under the expandable entry.
    expect(within(other).getByText(/71 more languages/)).toBeInstanceOf(HTMLElement);
    const listed = other.querySelectorAll('[data-lang]');
    expect(listed).toHaveLength(71);
    // The smallest language (the first code, 1 row) is there with its count.
    expect(other.querySelector(`[data-lang="${CODES[0]}"]`)?.textContent).toBe(`${CODES[0]} 1`);
  });

  it('shows the kind × language matrix, the largest first, all 80 on demand', async () => {
    mount();
    const m = await screen.findByTestId('dataset-matrix');
    expect(m.querySelectorAll('tbody tr')).toHaveLength(12);
    expect(m.querySelector('tbody tr')?.getAttribute('data-lang')).toBe(CODES[79]);
    fireEvent.click(within(m).getByRole('button', { name: /Show all 80 languages/ }));
    await waitFor(() => expect(m.querySelectorAll('tbody tr')).toHaveLength(80));
    // Row totals by hand: language i has i + 1 rows, split over the kinds by makeExamples' rotation.
    const row = m.querySelector(`tr[data-lang="${CODES[9]}"]`) as HTMLElement;
    expect(row.querySelectorAll('td')[4].textContent).toBe('10');
    expect(within(m).getByText('Arabic (ar)')).toBeInstanceOf(HTMLElement);
  });

  it('the import form says the language default is none', async () => {
    mount();
    const input = await screen.findByPlaceholderText('none');
    expect((input as HTMLInputElement).value).toBe('');
    expect(screen.queryByPlaceholderText('en')).toBeNull();
  });
});
