// Finished exports show their output folder with "Open folder" and "Copy path", and the Train screen's
// "Export for multi-GPU" sends the form's settings as they are. Every screen runs over the real router of a
// real workspace (tRPC local link); Electron's shell is stubbed at the NativeDialogs boundary only.
import fs from 'node:fs';
import path from 'node:path';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { createTRPCClient, unstable_localLink } from '@trpc/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApi } from '../../src/main/api';
import type { NativeDialogs } from '../../src/main/api/app-tools';
import { Store } from '../../src/main/store';
import { openWorkbench, type Workbench } from '../../src/main/workbench';
import { ApiProvider } from '../../src/renderer/src/api/context';
import { NavProvider } from '../../src/renderer/src/nav';
import { DatasetsScreen } from '../../src/renderer/src/screens/Datasets';
import { ExportScreen } from '../../src/renderer/src/screens/Export';
import { TrainScreen } from '../../src/renderer/src/screens/Train';
import { appRouter } from '../../src/shared/api';
import { TRAIN_FIELDS } from '../../src/shared/training';
import { FIXTURES, tmpDir } from '../helpers/tmp';
import { syntheticTask } from '../main/training/synthetic';

const MODEL = path.join(FIXTURES, 'parity/mistral');

let wb: Workbench | undefined;
afterEach(() => {
  cleanup();
  wb?.close();
  wb = undefined;
  vi.restoreAllMocks();
  localStorage.clear();
});

function mount(hash: string, ui: React.ReactNode, dialogs?: NativeDialogs) {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'embedsmith.db'));
  store.examples.insertMany(store.datasets.create('syn').id, syntheticTask(60, 5));
  store.close();
  wb = openWorkbench({ home });
  const api = createApi(wb, { transport: 'http', browseRoot: home, dialogs });
  const client = createTRPCClient<typeof appRouter>({
    links: [unstable_localLink({ router: appRouter, createContext: async () => api.createContext() })],
  });
  history.replaceState(null, '', hash);
  render(
    <ApiProvider client={client as never}>
      <NavProvider>{ui}</NavProvider>
    </ApiProvider>,
  );
  return { home, api };
}

/** Exports the dataset through the Export screen's form; resolves with the finished job's row. */
async function exportDataset() {
  await waitFor(() => screen.getByText('Export dataset syn'));
  fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'all' } });
  fireEvent.click(screen.getByRole('button', { name: 'Export' }));
  await waitFor(() => expect(screen.getByTestId('export-job').dataset.state).toBe('done'), {
    timeout: 20_000,
  });
  return screen.getByTestId('export-job');
}

describe('Export screen: the output folder of a finished export', () => {
  it('browser mode: Open folder shows the folder in the server file browser; Copy path copies it', async () => {
    const { home } = mount('#/export?ds=syn', <ExportScreen />);
    const job = await exportDataset();
    const folder = path.join(home, 'exports');
    const file = fs.readdirSync(folder).find((f) => f.endsWith('.jsonl'));
    expect(file).toBeDefined();
    expect(within(job).getByTestId('export-out').textContent).toBe(`folder ${folder}`);

    const writeText = vi.fn(async (_: string) => undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    fireEvent.click(within(job).getByRole('button', { name: 'Copy path' }));
    await waitFor(() => within(job).getByRole('button', { name: 'Copied' }));
    expect(writeText).toHaveBeenCalledWith(folder);

    fireEvent.click(within(job).getByRole('button', { name: 'Open folder' }));
    const browser = await waitFor(() => within(job).getByTestId('file-browser'));
    await waitFor(() => expect(within(browser).getByText(folder)).toBeTruthy());
    expect(within(browser).getByText(new RegExp(file!.replace(/[.]/g, '\\.'))).textContent).toContain(file);
  });

  it('Electron: Open folder asks the shell for that folder; a shell refusal is shown in one line', async () => {
    const opened: string[] = [];
    let refuse = '';
    const dialogs: NativeDialogs = {
      pick: async () => null,
      open: async (p) => {
        opened.push(p);
        return refuse;
      },
    };
    const { home } = mount('#/export?ds=syn', <ExportScreen />, dialogs);
    const job = await exportDataset();
    fireEvent.click(within(job).getByRole('button', { name: 'Open folder' }));
    await waitFor(() => expect(opened).toEqual([path.join(home, 'exports')]));
    expect(within(job).queryByTestId('file-browser')).toBeNull();
    refuse = 'no file manager';
    fireEvent.click(within(job).getByRole('button', { name: 'Open folder' }));
    await waitFor(() => expect(within(job).getByRole('alert').textContent).toBe('no file manager'));
  });
});

describe('Datasets screen: the import path', () => {
  it('is typed or picked in the server file browser (browser mode)', async () => {
    const { home } = mount('#/datasets?ds=syn', <DatasetsScreen />);
    const file = path.join(home, 'rows.jsonl');
    fs.writeFileSync(file, '{"query":"q","positive":"p"}\n');
    const input = (await waitFor(() => screen.getByLabelText('import path'))) as HTMLInputElement;
    fireEvent.change(input, { target: { value: '/typed/by/hand.jsonl' } });
    expect(input.value).toBe('/typed/by/hand.jsonl');
    fireEvent.change(input, { target: { value: '' } });
    fireEvent.click(screen.getByRole('button', { name: 'browse for import path' }));
    const browser = await waitFor(() => screen.getByTestId('file-browser'));
    fireEvent.click(await waitFor(() => within(browser).getByRole('button', { name: /rows\.jsonl/ })));
    await waitFor(() => expect(input.value).toBe(file));
    expect(screen.queryByTestId('file-browser')).toBeNull();
  });
});

const field = (label: string) =>
  screen.getByLabelText(label, { selector: 'input,select' }) as HTMLInputElement;

describe('Train screen: Export for multi-GPU', () => {
  it("sends exactly the form's settings, runs as a job, and shows the folder it wrote", async () => {
    const { api } = mount('#/train?ds=syn', <TrainScreen />);
    const svc = api.createContext().svc;
    const exp = vi.spyOn(svc.artefacts, 'export');
    const preview = vi.spyOn(svc.training, 'preview');
    await waitFor(() => screen.getByLabelText('syn'));
    fireEvent.change(screen.getByLabelText('base model'), { target: { value: MODEL } });
    fireEvent.change(field(TRAIN_FIELDS.batchSize.meta.label), { target: { value: '8' } });
    fireEvent.change(field(TRAIN_FIELDS.chunkSize.meta.label), { target: { value: '4' } });
    fireEvent.change(field(TRAIN_FIELDS.maxSteps.meta.label), { target: { value: '3' } });
    fireEvent.change(field(TRAIN_FIELDS.warmup.meta.label), { target: { value: '0' } });
    fireEvent.change(field(TRAIN_FIELDS.temperature.meta.label), { target: { value: '0.07' } });
    fireEvent.change(field(TRAIN_FIELDS.loraRank.meta.label), { target: { value: '8' } });
    fireEvent.change(screen.getByLabelText('multi-GPU GPUs per node'), { target: { value: '2' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export for multi-GPU' }));
    await waitFor(() => expect(exp).toHaveBeenCalledTimes(1));
    const sent = exp.mock.calls[0][0];
    expect(sent).toMatchObject({ kind: 'trainer', gpus: 2, nodes: 1 });
    expect(sent.settings).toMatchObject({ temperature: 0.07, loraRank: 8, batchSize: 8, datasets: ['syn'] });
    // The same form's "Check settings" sends the same settings: nothing is added or dropped on the way.
    fireEvent.click(screen.getByRole('button', { name: 'Check settings' }));
    await waitFor(() => expect(preview).toHaveBeenCalledTimes(1));
    expect(sent.settings).toEqual(preview.mock.calls[0][0]);

    const job = await waitFor(
      () => {
        const j = screen.getByTestId('scaleout-job');
        expect(j.dataset.state).toBe('done');
        return j;
      },
      { timeout: 30_000 },
    );
    const out = within(job)
      .getByTestId('export-out')
      .textContent!.replace(/^folder /, '');
    const recipe = JSON.parse(fs.readFileSync(path.join(out, 'recipe.json'), 'utf8'));
    expect(recipe.config.temperature).toBe(0.07);
    expect(recipe.config.loraRank).toBe(8);
    expect(recipe.job.gpusPerNode).toBe(2);
    expect(within(job).getByRole('button', { name: 'Open folder' })).toBeTruthy();
  });

  it('a bad field is highlighted and nothing is exported', async () => {
    const { api } = mount('#/train?ds=syn', <TrainScreen />);
    const exp = vi.spyOn(api.createContext().svc.artefacts, 'export');
    await waitFor(() => screen.getByLabelText('syn'));
    fireEvent.change(screen.getByLabelText('base model'), { target: { value: MODEL } });
    fireEvent.change(field(TRAIN_FIELDS.temperature.meta.label), { target: { value: '0' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export for multi-GPU' }));
    await waitFor(() =>
      expect(field(TRAIN_FIELDS.temperature.meta.label).getAttribute('aria-invalid')).toBe('true'),
    );
    expect(exp).not.toHaveBeenCalled();
  });
});
