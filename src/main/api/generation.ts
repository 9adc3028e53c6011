// The contract's `generation` procedures over the generation service. Runs started from the app are worked
// in this process (LLM calls are I/O; the event loop stays free); their progress goes out on the event hub.
import type { FailedRequest, GenerationProgressInfo, Inputs, Services } from '../../shared/contract';
import { UserError } from '../errors';
import type { GenerateOptions, GenerationService, RunHandle } from '../generation';
import type { Workbench } from '../workbench';
import type { EventHub } from './events';
import { type FailedRequestRow, failedRequestColumns, toFailedRequest } from './failed-requests';
import { redactSecrets, type SecretStore, secretValues } from './secrets';

interface Live {
  handle: RunHandle;
  dataset: string;
  last: GenerationProgressInfo | null;
}

/** Every reason a run could not start is checked before it is created: a failed Start leaves no pending run. */
function assertStartable(
  gen: GenerationService,
  o: GenerateOptions,
  keyName: string | undefined,
  key: string | undefined,
): void {
  if (keyName && !key)
    throw new UserError(`API key: no key named "${keyName}" is stored; save it in the API key field`);
  if (key) return;
  const { config } = gen.plan(o); // its own errors (bad options) stay as they are
  try {
    gen.apiKeyFor(config);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    throw new UserError(
      'API key: none is stored and the server has no OPENAI_API_KEY; paste the key in the API key field and press Save key',
    );
  }
}

export function createGenerationApi(
  wb: Workbench,
  hub: EventHub,
  secrets: SecretStore,
): Services['generation'] {
  const gen = wb.generation;
  const live = new Map<string, Live>();
  const db = wb.store.db;

  const toOptions = (i: Inputs['generationOptions']): GenerateOptions => {
    const { apiKeyName: _k, ...rest } = i;
    return rest;
  };
  const apiKey = (name: string | undefined) => (name ? secrets.get(name) : secrets.get('openai'));

  const work = (runId: string, dataset: string, keyName: string | undefined, retryShort = false) => {
    const key = apiKey(keyName);
    if (keyName && !key)
      throw new UserError(`no API key named "${keyName}" is stored; add it under Provider settings`);
    let lastEmit = 0;
    const entry: Live = { handle: undefined as unknown as RunHandle, dataset, last: null };
    const handle = gen.start(runId, {
      apiKey: key,
      retryShort,
      onProgress: (p) => {
        entry.last = p;
        const now = Date.now();
        // At most ~5 events a second per run: the screen redraws the bar, nothing more is needed.
        if (now - lastEmit >= 200) {
          lastEmit = now;
          hub.emit({ topic: 'generation', progress: p });
          hub.emit({ topic: 'examples', dataset });
        }
      },
    });
    entry.handle = handle;
    live.set(runId, entry);
    handle.done
      .catch(() => undefined)
      .finally(() => {
        live.delete(runId);
        const s = gen.summary(runId);
        const last = entry.last;
        hub.emit({
          topic: 'generation',
          progress: {
            ...(last ?? {
              run: runId,
              planned: 0,
              rejected: 0,
              rejectedByReason: {},
              failedByClass: {},
              inFlight: 0,
              requests: 0,
              retries: 0,
              tokens: { prompt: 0, completion: 0 },
              costUsd: 0,
              ratePerS: null,
              etaS: null,
            }),
            run: runId,
            state: s.state,
            accepted: s.accepted,
            inFlight: 0,
          },
        });
        hub.emit({ topic: 'examples', dataset });
        hub.emit({ topic: 'datasets' });
      });
    return { runId };
  };

  return {
    plan(i) {
      const { config, plan } = gen.plan(toOptions(i));
      return { ...plan, byKind: plan.byKind as Record<string, number>, seed: config.seed };
    },
    start(i) {
      assertStartable(gen, toOptions(i), i.apiKeyName, apiKey(i.apiKeyName));
      const { runId } = gen.create(toOptions(i));
      return work(runId, i.dataset, i.apiKeyName);
    },
    resume(i) {
      if (live.has(i.runId)) return { runId: i.runId };
      const s = gen.show(i.runId);
      return work(i.runId, s.config.dataset, i.apiKeyName, i.retryShort);
    },
    pause(i) {
      const l = live.get(i.runId);
      if (l) {
        l.handle.pause();
        return gen.summary(i.runId);
      }
      return gen.request(i.runId, 'paused');
    },
    cancel(i) {
      const l = live.get(i.runId);
      if (l) {
        l.handle.cancel();
        return gen.summary(i.runId);
      }
      return gen.request(i.runId, 'cancelled');
    },
    list(i) {
      return gen.list(i.name).map((r) => ({ ...r, live: live.get(r.id)?.last ?? null }));
    },
    summary(i) {
      const s = gen.summary(i.runId);
      // Errors stored before redaction existed (or by a process that knew other keys) are masked on the way out.
      const error = s.error ? redactSecrets(s.error, secretValues(secrets)) : s.error;
      return { ...s, error, live: live.get(i.runId)?.last ?? null };
    },
    failures(i): FailedRequest[] {
      const rows = db
        .prepare(
          `SELECT ${failedRequestColumns()}
           FROM generation_requests WHERE run_id = ? AND (reject_reason IS NOT NULL OR error IS NOT NULL)
           ORDER BY id DESC LIMIT ?`,
        )
        .all(i.runId, i.limit ?? 100) as FailedRequestRow[];
      const keys = secretValues(secrets);
      return rows.map((r) => toFailedRequest(r, keys));
    },
  };
}
