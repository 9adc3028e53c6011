// The Generate screen's prompt templates (viewable, editable per dataset, with the version the service
// reports) and its live preview of the newest accepted and rejected answers, over the real router of a
// real workspace and a real generation run against the local test LLM server.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { createTRPCClient, unstable_localLink } from '@trpc/client';
import { afterEach, describe, expect, it } from 'vitest';
import { createApi } from '../../src/main/api';
import { Store } from '../../src/main/store';
import { openWorkbench, type Workbench } from '../../src/main/workbench';
import { ApiProvider } from '../../src/renderer/src/api/context';
import { NavProvider } from '../../src/renderer/src/nav';
import { GenerateScreen } from '../../src/renderer/src/screens/Generate';
import { appRouter } from '../../src/shared/api';
import { type LlmServer, startLlmServer } from '../helpers/llm-server';
import { REPO_ROOT, tmpDir } from '../helpers/tmp';

let wb: Workbench | undefined;
let llm: LlmServer | undefined;
afterEach(async () => {
  cleanup();
  wb?.close();
  wb = undefined;
  await llm?.close();
  llm = undefined;
});

function mount(dataset: string, existing?: string) {
  const home = existing ?? tmpDir();
  if (!existing) {
    const store = Store.open(path.join(home, 'embedsmith.db'));
    store.datasets.create('gen');
    store.datasets.create('other');
    store.close();
  }
  wb = openWorkbench({ home });
  const api = createApi(wb, { transport: 'http' });
  const client = createTRPCClient<typeof appRouter>({
    links: [unstable_localLink({ router: appRouter, createContext: async () => api.createContext() })],
  });
  history.replaceState(null, '', `#/generate?ds=${dataset}`);
  render(
    <ApiProvider client={client as never}>
      <NavProvider>
        <GenerateScreen />
      </NavProvider>
    </ApiProvider>,
  );
  return api;
}

const versionText = () => screen.getByTestId('template-version').textContent ?? '';

describe('Generate screen: prompt templates', () => {
  it('shows the version the service reports, saves an edit for this dataset only, and goes back', async () => {
    const api = mount('gen');
    const builtIn = await api.caller.generationTools.templates({ name: 'gen' });
    expect(builtIn.length).toBeGreaterThan(1);
    const select = (await waitFor(() => screen.getByLabelText('template'))) as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(builtIn.map((t) => t.id));
    expect(versionText()).toContain(`version ${builtIn[0].version}`);
    // Another template: its text and version.
    const t = builtIn[1];
    fireEvent.change(select, { target: { value: t.id } });
    await waitFor(() => expect(versionText()).toContain(`version ${t.version}`));
    const area = screen.getByLabelText('template text') as HTMLTextAreaElement;
    expect(area.value).toBe(t.text);
    for (const p of t.placeholders) expect(versionText()).toContain(`{${p}}`);

    fireEvent.change(area, { target: { value: `${t.text}\nKeep every answer short.` } });
    fireEvent.click(screen.getByRole('button', { name: 'Save for this dataset' }));
    const saved = () => api.caller.generationTools.templates({ name: 'gen' });
    await waitFor(async () => expect((await saved()).find((x) => x.id === t.id)?.overridden).toBe(true));
    const edited = (await saved()).find((x) => x.id === t.id)!;
    expect(edited.version).not.toBe(t.version);
    await waitFor(() => expect(versionText()).toContain(`version ${edited.version}`));
    expect(select.selectedOptions[0].textContent).toContain('(changed)');
    // The other dataset keeps the built-in.
    expect(
      (await api.caller.generationTools.templates({ name: 'other' })).find((x) => x.id === t.id),
    ).toEqual(t);

    fireEvent.click(screen.getByRole('button', { name: 'Back to the built-in' }));
    await waitFor(() => expect(versionText()).toContain(`version ${t.version}`));
    expect(area.value).toBe(t.text);
    expect((await saved()).find((x) => x.id === t.id)?.overridden).toBe(false);
  });

  it('follows the dataset: another dataset shows its own templates', async () => {
    const api = mount('gen');
    const [first] = await api.caller.generationTools.templates({ name: 'gen' });
    await api.caller.generationTools.setTemplate({
      dataset: 'other',
      id: first.id,
      text: `${first.text}\n(other)`,
    });
    const area = () => screen.getByLabelText('template text') as HTMLTextAreaElement;
    await waitFor(() => expect(area().value).toBe(first.text));
    history.replaceState(null, '', '#/generate?ds=other');
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    await waitFor(() => expect(area().value).toBe(`${first.text}\n(other)`));
    expect(screen.getByTestId('templates').textContent).toContain('1 of');
  });
});

describe('Generate screen: live preview', () => {
  it('shows the newest accepted and rejected answers of the runs, and hands off to Curate', async () => {
    // Every third answer is not JSON: a rejection with its raw answer.
    llm = await startLlmServer({
      script: (c) => (c.n % 3 === 2 ? { content: `Sorry, I cannot help with request ${c.n}.` } : undefined),
    });
    const home = tmpDir();
    // The run goes through the real CLI in its own process: the OpenAI SDK refuses to run in this test's DOM.
    await cli(['datasets', 'create', 'gen', '--home', home]);
    await cli([
      'generate',
      '--home',
      home,
      '--dataset',
      'gen',
      '--count',
      '6',
      '--models',
      'test-model',
      '--base-url',
      llm.url,
      '--concurrency',
      '1',
      '--seed',
      '3',
    ]);
    const api = mount('gen', home);
    const db = wb!.store.db;
    const newest = db
      .prepare('SELECT query FROM examples WHERE run_id IS NOT NULL ORDER BY id DESC LIMIT 1')
      .pluck()
      .get() as string;
    const lastRejected = db
      .prepare(
        'SELECT raw_answer FROM generation_requests WHERE reject_reason IS NOT NULL ORDER BY id DESC LIMIT 1',
      )
      .pluck()
      .get() as string;
    expect(lastRejected).toMatch(/^Sorry, I cannot help/);
    expect((await api.caller.generationTools.preview({ dataset: 'gen' })).accepted[0].query).toBe(newest);
    await waitFor(() => {
      const box = screen.getByTestId('generation-preview');
      expect(box.textContent).toContain(`query: ${newest}`);
      expect(box.textContent).toContain(lastRejected);
    });
    const card = screen.getByTestId('generation-preview').closest('section')!;
    fireEvent.click(within(card as HTMLElement).getByRole('button', { name: 'Review in Curate' }));
    expect(location.hash).toMatch(/^#\/curate\?ds=gen/);
  });
});

/** The real CLI in a child process (asynchronous: the LLM server answers from this one). */
function cli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/embedsmith.mjs'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, OPENAI_API_KEY: 'sk-test' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d) => {
      err += String(d);
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`embedsmith ${args[0]}: ${code} ${err}`)),
    );
  });
}
