// The one training schema (src/shared/training.ts) is the only owner of the config: the CLI's flags, the API's
// trainStart and the Train form give the same resolved configuration for the same inputs. All three run for
// real: the CLI's `train --dry-run --json`, the router's training.preview over a workspace, and the Train
// screen rendered over a tRPC client of that router, filled in like a person would.
import path from 'node:path';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { createTRPCClient, unstable_localLink } from '@trpc/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApi } from '../../src/main/api';
import { main } from '../../src/main/cli/index';
import { Store } from '../../src/main/store';
import { openWorkbench, type Workbench } from '../../src/main/workbench';
import { ApiProvider } from '../../src/renderer/src/api/context';
import { NavProvider } from '../../src/renderer/src/nav';
import { TrainScreen } from '../../src/renderer/src/screens/Train';
import { appRouter } from '../../src/shared/api';
import { TRAIN_FIELDS, TRAIN_KEYS, trainDefault, trainSettings } from '../../src/shared/training';
import { FIXTURES, tmpDir } from '../helpers/tmp';
import { syntheticTask } from '../main/training/synthetic';

const MODEL = path.join(FIXTURES, 'parity/mistral');

function makeHome(): string {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'embedsmith.db'));
  for (const [name, seed] of [
    ['syn', 5],
    ['other', 6],
  ] as const)
    store.examples.insertMany(store.datasets.create(name).id, syntheticTask(60, seed));
  store.close();
  return home;
}

/** The same settings as a person types them: field → text (CLI argument, form input). */
const TYPED: Record<string, string> = {
  maxSteps: '3',
  batchSize: '8',
  chunkSize: '4',
  lr: '0.01',
  warmup: '0',
  loraRank: '4',
  loraAlpha: '8',
  loraDropout: '0',
  targetModules: 'q_proj,v_proj',
  temperature: '0.05',
  negatives: 'llm',
  groupBy: 'kind',
  maxLength: '24',
  betas: '0.9,0.99',
  seed: '7',
  device: 'cpu',
  dtype: 'float32',
  checkpointEvery: '0',
};

let wb: Workbench | undefined;
afterEach(() => {
  cleanup();
  wb?.close();
  wb = undefined;
  vi.restoreAllMocks();
  localStorage.clear();
});

async function cliConfig(home: string): Promise<Record<string, unknown>> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const args = Object.entries(TYPED).flatMap(([k, v]) => [`--${TRAIN_FIELDS[k as 'lr'].meta.flag}`, v]);
  const code = await main([
    'train',
    '--home',
    home,
    '--dry-run',
    '--json',
    '--dataset',
    'syn',
    '--model',
    MODEL,
    ...args,
  ]);
  vi.restoreAllMocks();
  expect(code).toBe(0);
  const { config } = JSON.parse(stdout) as { config: Record<string, unknown> };
  const { out: _out, ...rest } = config;
  return rest;
}

function mountTrain(w: Workbench) {
  const api = createApi(w, { transport: 'http' });
  const client = createTRPCClient<typeof appRouter>({
    links: [unstable_localLink({ router: appRouter, createContext: async () => api.createContext() })],
  });
  history.replaceState(null, '', '#/train?ds=syn');
  render(
    <ApiProvider client={client as never}>
      <NavProvider>
        <TrainScreen />
      </NavProvider>
    </ApiProvider>,
  );
  return api;
}

const field = (label: string) =>
  screen.getByLabelText(label, { selector: 'input,select' }) as HTMLInputElement;

async function fillForm() {
  await waitFor(() => screen.getByLabelText('syn'));
  fireEvent.change(screen.getByLabelText('base model'), { target: { value: MODEL } });
  for (const [k, v] of Object.entries(TYPED))
    fireEvent.change(field(TRAIN_FIELDS[k as 'lr'].meta.label), { target: { value: v } });
}

describe('one training schema for the CLI, the API and the Train form', () => {
  it('gives the same resolved configuration from all three for the same inputs', async () => {
    const home = makeHome();
    const fromCli = await cliConfig(home);

    wb = openWorkbench({ home });
    const api = mountTrain(wb);
    const typed = {
      datasets: ['syn'],
      model: MODEL,
      maxSteps: 3,
      batchSize: 8,
      chunkSize: 4,
      lr: 0.01,
      warmup: 0,
      loraRank: 4,
      loraAlpha: 8,
      loraDropout: 0,
      targetModules: ['q_proj', 'v_proj'],
      temperature: 0.05,
      negatives: 'llm' as const,
      groupBy: 'kind' as const,
      maxLength: 24,
      betas: [0.9, 0.99] as [number, number],
      seed: 7,
      device: 'cpu' as const,
      dtype: 'float32' as const,
      checkpointEvery: 0,
    };
    const fromApi = (await api.caller.training.preview(typed)).config;

    await fillForm();
    fireEvent.click(screen.getByRole('button', { name: 'Check settings' }));
    await waitFor(() => screen.getByTestId('train-preview'), { timeout: 20_000 });
    const fromUi = JSON.parse(screen.getByTestId('train-preview').textContent ?? '{}');

    expect(fromApi).toEqual(fromCli);
    expect(fromUi).toEqual(fromCli);
    // Every field is in the config, and the ones nobody typed hold the schema's (the method's) defaults.
    for (const k of TRAIN_KEYS.filter((k) => k !== 'out')) expect(fromCli).toHaveProperty(k);
    expect(fromCli.weightDecay).toBe(trainDefault('weightDecay'));
    expect(fromCli.dropFalseNegatives).toBe('off');
    expect(fromCli.temperature).toBe(0.05);
    // And the resolved config is itself valid under the schema.
    expect(trainSettings.safeParse({ ...fromCli, out: '/x' }).success).toBe(true);
  });

  it("defaults are the method's (METHOD.md §7)", () => {
    expect({
      batchSize: trainDefault('batchSize'),
      lr: trainDefault('lr'),
      warmup: trainDefault('warmup'),
      weightDecay: trainDefault('weightDecay'),
      temperature: trainDefault('temperature'),
      loraRank: trainDefault('loraRank'),
      loraAlpha: trainDefault('loraAlpha'),
      loraDropout: trainDefault('loraDropout'),
      maxLength: trainDefault('maxLength'),
      epochs: trainDefault('epochs'),
      targetModules: trainDefault('targetModules'),
    }).toEqual({
      batchSize: 2048,
      lr: 1e-4,
      warmup: 100,
      weightDecay: 0.1,
      temperature: 0.02,
      loraRank: 16,
      loraAlpha: 32,
      loraDropout: 0.1,
      maxLength: 512,
      epochs: 1,
      targetModules: ['all-linear'],
    });
  });

  it('the form highlights the field a rule names, before and after the server, in GUI words', async () => {
    const home = makeHome();
    wb = openWorkbench({ home });
    const api = mountTrain(wb);
    const preview = vi.spyOn(api.createContext().svc.training, 'preview');
    await fillForm();
    // Caught by the shared schema in the renderer: nothing is sent.
    fireEvent.change(field('Batch size'), { target: { value: 'lots' } });
    fireEvent.change(field('Temperature τ'), { target: { value: '0' } });
    fireEvent.click(screen.getByRole('button', { name: 'Check settings' }));
    await waitFor(() => expect(field('Batch size').getAttribute('aria-invalid')).toBe('true'));
    expect(field('Temperature τ').getAttribute('aria-invalid')).toBe('true');
    expect(field('Learning rate').getAttribute('aria-invalid')).toBeNull();
    expect(preview).not.toHaveBeenCalled();
    // Caught by the server (the split is smaller than the batch): the message names the field, not the flag.
    fireEvent.change(field('Batch size'), { target: { value: '4096' } });
    fireEvent.change(field('Temperature τ'), { target: { value: '0.05' } });
    fireEvent.click(screen.getByRole('button', { name: 'Check settings' }));
    await waitFor(() => expect(field('Batch size').getAttribute('aria-invalid')).toBe('true'));
    expect(preview).toHaveBeenCalledTimes(1);
    const alert = screen.getAllByRole('alert').map((a) => a.textContent ?? '');
    expect(alert.join(' ')).toContain('Batch size');
    expect(alert.join(' ')).not.toContain('--batch-size');
  });

  it('remembers the form per dataset', async () => {
    const home = makeHome();
    wb = openWorkbench({ home });
    mountTrain(wb);
    await fillForm();
    expect(field('Temperature τ').value).toBe('0.05');
    // Another dataset starts from the defaults …
    history.replaceState(null, '', '#/train?ds=other');
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    await waitFor(() => expect(field('Temperature τ').value).toBe('0.02'));
    fireEvent.change(field('Temperature τ'), { target: { value: '0.1' } });
    // … and going back brings the first dataset's values back.
    history.replaceState(null, '', '#/train?ds=syn');
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    await waitFor(() => expect(field('Temperature τ').value).toBe('0.05'));
    expect(field('Batch size').value).toBe('8');
    expect((screen.getByLabelText('base model') as HTMLInputElement).value).toBe(MODEL);
  });
});
