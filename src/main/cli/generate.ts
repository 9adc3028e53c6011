import type { Command } from 'commander';
import { UserError, usageError } from '../errors';
import type { GenerateOptions, GenerationProgress, Plan, ResumeOverrides, RunSummary } from '../generation';
import { runWithWorkbench, table, withGlobals, type GlobalOpts } from './context';

interface GenerateCliOpts extends GlobalOpts {
  dataset?: string;
  kinds?: string;
  count?: string;
  mix?: string;
  models?: string;
  baseUrl?: string;
  apiKeyEnv?: string;
  azureApiVersion?: string;
  header: string[];
  concurrency?: string;
  rpm?: string;
  tpm?: string;
  budgetUsd?: string;
  budgetTokens?: string;
  languages?: string;
  seed?: string;
  batchApi?: boolean;
  dryRun?: boolean;
  prices?: string;
  temperature?: string;
  topP?: string;
  timeoutMs?: string;
  maxRetries?: string;
  backoffMs?: string;
  backoffMaxMs?: string;
  leaseTtlMs?: string;
  batchPollMs?: string;
  minWordsRatio?: string;
  languageCheck: boolean;
  resume?: string;
  maxAttemptsPerCell?: string;
  retryShort?: boolean;
}

const num = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw usageError(`${name} must be a number, got "${v}"`);
  return n;
};
const collect = (v: string, prev: string[]) => [...prev, v];

function headersOf(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const i = h.indexOf(':');
    if (i <= 0) throw usageError(`--header "${h}" is not "Name: value"`);
    const name = h.slice(0, i).trim();
    const value = h.slice(i + 1).trim();
    if (/^(authorization|api-key|x-api-key)$/i.test(name) && !value.startsWith('env:'))
      throw usageError(`--header ${name}: secrets are never stored; write "${name}: env:VAR" and export VAR`);
    out[name] = value;
  }
  return out;
}

function planText(
  plan: Plan,
  config: { models: { name: string; weight: number }[]; budgetUsd?: number },
): string {
  const langs = Object.entries(plan.byLanguage).sort((a, b) => b[1] - a[1]);
  const cell = new Map(plan.cells.map((c) => [`${c.kind}|${c.language}`, c.quota]));
  const shown = langs.slice(0, 25);
  const rows = shown.map(([l, n]) => [l, ...plan.kinds.map((k) => cell.get(`${k}|${l}`) ?? 0), n]);
  if (langs.length > shown.length) {
    const rest = langs.slice(shown.length).map(([l]) => l);
    rows.push([
      `(${rest.length} more)`,
      ...plan.kinds.map((k) => rest.reduce((s, l) => s + (cell.get(`${k}|${l}`) ?? 0), 0)),
      rest.reduce((s, l) => s + plan.byLanguage[l], 0),
    ]);
  }
  rows.push(['total', ...plan.kinds.map((k) => plan.byKind[k] ?? 0), plan.count]);
  const bs = Object.entries(plan.brainstormCalls)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return [
    table(['language', ...plan.kinds, 'total'], rows),
    '',
    `cells: ${plan.cells.length} (kind × language with a quota)`,
    `brainstorm calls: ${bs || 'none'}`,
    `calls: at least ${plan.calls.min}, about ${plan.calls.expected} assuming ${Math.round(plan.calls.assumedRejectRate * 100)}% rejected`,
    `tokens (expected): prompt ${plan.tokens.prompt}, completion ${plan.tokens.completion}`,
    `cost (expected): $${plan.costUsd.toFixed(4)} with ${config.models.map((m) => `${m.name}=${m.weight}`).join(', ')}${plan.batch ? ' (batch price)' : ''}${plan.unpricedModels.length ? `; no price for ${plan.unpricedModels.join(', ')} (counted as $0)` : ''}`,
    config.budgetUsd !== undefined ? `budget: $${config.budgetUsd}` : '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

/** The cells that ended short: accepted/quota, attempts, top reasons, and how to try them again. */
function shortfallText(s: RunSummary): string {
  if (!s.shortfall?.length) return '';
  return [
    '',
    `short cells (attempt budget used, quota not met): ${s.shortfall.length}`,
    table(
      ['kind', 'language', 'accepted/quota', 'attempts', 'top reasons'],
      s.shortfall.map((c) => [
        c.kind,
        c.language,
        `${c.accepted}/${c.quota}`,
        `${c.attempts}/${c.budget}`,
        c.reasons.map((r) => `${r.reason} ${r.n}`).join(', ') || '-',
      ]),
    ),
    `try them again: embedsmith generate --resume ${s.run} --retry-short [--max-attempts-per-cell N]`,
  ].join('\n');
}

function summaryText(s: RunSummary): string {
  const m = (o: Record<string, number>) =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const short = s.shortfall?.reduce((n, c) => n + c.quota - c.accepted, 0) ?? 0;
  return [
    `run ${s.run}: ${s.state}${s.error ? ` (${s.error})` : ''}`,
    `accepted ${s.accepted}${s.surplus ? ` (+${s.surplus} surplus)` : ''}${short ? `, ${short} short` : ''}`,
    `rejected: ${m(s.rejected)}`,
    `requests ${s.requests}, retries ${s.retries}, failed requests: ${m(s.failed_requests)}`,
    `tokens: prompt ${s.tokens.prompt}, completion ${s.tokens.completion}; cost $${s.cost_usd.toFixed(4)}`,
    `by kind: ${m(s.by_kind)}`,
    `by language: ${m(s.by_language)}`,
  ]
    .join('\n')
    .concat(shortfallText(s));
}

/** The service's options from the command line (a new run). */
/** Called once --dataset, --count and --models are checked. */
function generateRequest(opts: GenerateCliOpts): GenerateOptions {
  return {
    dataset: opts.dataset!,
    count: num('--count', opts.count)!,
    kinds: opts.kinds,
    mix: opts.mix,
    models: opts.models!,
    baseUrl: opts.baseUrl,
    apiKeyEnv: opts.apiKeyEnv,
    azureApiVersion: opts.azureApiVersion,
    headers: headersOf(opts.header),
    concurrency: num('--concurrency', opts.concurrency),
    rpm: num('--rpm', opts.rpm),
    tpm: num('--tpm', opts.tpm),
    budgetUsd: num('--budget-usd', opts.budgetUsd),
    budgetTokens: num('--budget-tokens', opts.budgetTokens),
    languages: opts.languages,
    seed: num('--seed', opts.seed),
    batchApi: Boolean(opts.batchApi),
    pricesFile: opts.prices,
    temperature: num('--temperature', opts.temperature),
    topP: num('--top-p', opts.topP),
    timeoutMs: num('--timeout-ms', opts.timeoutMs),
    maxRetries: num('--max-retries', opts.maxRetries),
    backoffBaseMs: num('--backoff-ms', opts.backoffMs),
    backoffMaxMs: num('--backoff-max-ms', opts.backoffMaxMs),
    leaseTtlMs: num('--lease-ttl-ms', opts.leaseTtlMs),
    batchPollMs: num('--batch-poll-ms', opts.batchPollMs),
    maxAttemptsPerCell: num('--max-attempts-per-cell', opts.maxAttemptsPerCell),
    validation: {
      minWordsRatio: num('--min-words-ratio', opts.minWordsRatio),
      languageCheck: opts.languageCheck,
    },
  };
}

/** Settings given on the command line that a resume may change (see ResumeOverrides). */
const RESUMABLE: [keyof GenerateCliOpts & string, keyof ResumeOverrides, string][] = [
  ['budgetUsd', 'budgetUsd', '--budget-usd'],
  ['budgetTokens', 'budgetTokens', '--budget-tokens'],
  ['concurrency', 'concurrency', '--concurrency'],
  ['rpm', 'rpm', '--rpm'],
  ['tpm', 'tpm', '--tpm'],
  ['timeoutMs', 'timeoutMs', '--timeout-ms'],
  ['maxRetries', 'maxRetries', '--max-retries'],
  ['backoffMs', 'backoffBaseMs', '--backoff-ms'],
  ['backoffMaxMs', 'backoffMaxMs', '--backoff-max-ms'],
  ['batchPollMs', 'batchPollMs', '--batch-poll-ms'],
  ['leaseTtlMs', 'leaseTtlMs', '--lease-ttl-ms'],
  ['maxAttemptsPerCell', 'maxAttemptsPerCell', '--max-attempts-per-cell'],
];

function resumeOverrides(opts: GenerateCliOpts, given: (name: string) => boolean): ResumeOverrides {
  const o: Record<string, unknown> = {};
  for (const [opt, key, flag] of RESUMABLE)
    if (given(opt)) o[key] = num(flag, opts[opt] as string | undefined);
  if (given('baseUrl')) o.baseUrl = opts.baseUrl;
  return o as ResumeOverrides;
}

/** The `generate` command and its options. */
function generateCommand(program: Command): Command {
  return program
    .command('generate')
    .description('generate synthetic examples with an LLM (plan with --dry-run first)')
    .option('--dataset <name>', 'dataset to fill')
    .option(
      '--kinds <list>',
      'comma-separated kinds',
      'short-long,long-short,short-short,long-long,sts,bitext',
    )
    .option('--count <n>', 'number of valid examples wanted')
    .option('--mix <spec>', 'kind weights, e.g. short-long=167,sts=99 (default: the paper mix)')
    .option('--models <spec>', 'model mixture, e.g. "gpt-4o=0.75,gpt-4o-mini=0.25"')
    .option('--base-url <url>', 'OpenAI-compatible base URL (…/v1), or the Azure endpoint')
    .option('--api-key-env <var>', 'environment variable holding the API key', 'OPENAI_API_KEY')
    .option('--azure-api-version <v>', 'use Azure OpenAI with this api-version (models are deployment names)')
    .option(
      '--header <h>',
      'extra HTTP header "Name: value" (value env:VAR reads VAR); repeatable',
      collect,
      [],
    )
    .option('--concurrency <n>', 'requests in flight', '8')
    .option('--rpm <n>', 'requests per minute limit')
    .option('--tpm <n>', 'tokens per minute limit')
    .option('--budget-usd <x>', 'stop cleanly before spending more than this')
    .option('--budget-tokens <n>', 'stop cleanly before using more tokens than this')
    .option('--languages <spec>', 'default | en,de,… | en=0.5,de=0.5 | FILE', 'default')
    .option('--seed <n>', 'seed of the attribute sampler (random when left out)')
    .option('--batch-api', 'use the OpenAI Batch API (cheaper, slower; resumable)')
    .option('--dry-run', 'print the plan, calls, tokens and cost; send nothing')
    .option('--prices <file>', 'price table overriding resources/prices.json')
    .option('--temperature <t>', 'sampling temperature', '1')
    .option('--top-p <p>', 'nucleus sampling', '1')
    .option('--timeout-ms <ms>', 'per-request timeout', '120000')
    .option('--max-retries <n>', 'retries per request on 429/5xx/timeouts', '6')
    .option('--backoff-ms <ms>', 'first retry delay (doubles each time, with jitter)', '1000')
    .option('--backoff-max-ms <ms>', 'longest retry delay', '60000')
    .option('--lease-ttl-ms <ms>', 'how long the run lease lasts without renewal', '30000')
    .option('--batch-poll-ms <ms>', 'Batch API polling interval', '30000')
    .option('--min-words-ratio <r>', 'share of the asked word count a document must reach', '0.5')
    .option('--no-language-check', 'skip the wrong_language check')
    .option(
      '--max-attempts-per-cell <n>',
      'answers a kind × language cell may use before it is marked short (default: 3 × its quota, at least 5)',
    )
    .option('--resume <run>', 'resume a run with its stored settings')
    .option('--retry-short', 'with --resume: give the cells that ended short a fresh attempt budget');
}

/** `embedsmith generate …` and `embedsmith runs …` */
export function registerGenerate(program: Command): void {
  withGlobals(generateCommand(program)).action((opts: GenerateCliOpts, cmd: Command) =>
    runWithWorkbench(opts, async ({ wb, out, log, bar, json }) => {
      const gen = wb.generation;
      let runId: string;
      const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
      if (opts.resume) {
        runId = opts.resume;
        const overrides = resumeOverrides(opts, given);
        return drive(runId, overrides, Boolean(opts.retryShort));
      }
      if (opts.retryShort) throw usageError('generate: --retry-short goes with --resume RUN_ID');
      if (!opts.dataset) throw usageError('generate: --dataset NAME is required (or --resume RUN_ID)');
      if (!opts.count) throw usageError('generate: --count N is required');
      if (!opts.models)
        throw usageError('generate: --models is required, e.g. --models "gpt-4o=0.75,gpt-4o-mini=0.25"');
      const req = generateRequest(opts);
      if (opts.dryRun) {
        const { config, plan } = gen.plan(req);
        const { templates: _t, prices: _p, ...shown } = config;
        const warnings = gen.weakLanguages(config, plan);
        out({ dryRun: true, plan, config: shown, warnings }, () =>
          [planText(plan, config), ...warnings.map((w) => `warning: ${w}`)].join('\n'),
        );
        return;
      }
      // Resolve the key before the run is stored, so a missing variable leaves nothing behind.
      gen.apiKeyFor(gen.plan(req).config);
      const created = gen.create(req);
      if (!json)
        log(`run ${created.runId}: ${created.plan.count} examples in ${created.plan.cells.length} cells`);
      return drive(created.runId, {}, false);

      async function drive(id: string, overrides: ResumeOverrides, retryShort: boolean) {
        const b = bar(`generate ${id}`);
        const handle = gen.start(id, { overrides, retryShort });
        handle.on('progress', (p: GenerationProgress) =>
          b.update({
            done: p.accepted,
            total: p.planned,
            unit: 'examples',
            ratePerS: p.ratePerS,
            etaS: p.etaS,
            message: `rej ${p.rejected} fail ${Object.values(p.failedByClass).reduce((a, c) => a + c, 0)} inflight ${p.inFlight} $${p.costUsd.toFixed(4)}`,
          }),
        );
        let interrupts = 0;
        const onSigint = () => {
          interrupts++;
          if (interrupts === 1) {
            log(
              `\npausing ${id} after the requests in flight (Ctrl-C again to cancel); resume with --resume ${id}`,
            );
            handle.pause();
          } else handle.cancel();
        };
        process.on('SIGINT', onSigint);
        try {
          const s = await handle.done;
          b.done();
          out(s, () => summaryText(s));
          if (s.state === 'failed')
            throw new UserError(
              `run ${id} failed: ${s.error ?? 'see the summary'}; fix the cause, then --resume ${id}`,
            );
        } finally {
          process.off('SIGINT', onSigint);
        }
      }
    }),
  );

  registerRuns(program);
}

/** `embedsmith runs list|show|pause|cancel` */
function registerRuns(program: Command): void {
  const runs = program.command('runs').description('inspect and control generation runs');
  withGlobals(runs.command('list').option('--dataset <name>', 'only this dataset'))
    .description('list generation runs')
    .action((opts: GlobalOpts & { dataset?: string }) =>
      runWithWorkbench(opts, ({ wb, out }) => {
        const list = wb.generation.list(opts.dataset);
        out({ runs: list }, () =>
          list.length
            ? table(
                ['run', 'dataset', 'state', 'accepted', 'count', 'models', 'created'],
                list.map((r) => [r.id, r.dataset, r.state, r.accepted, r.count, r.models, r.created_at]),
              )
            : 'no generation runs yet',
        );
      }),
    );
  withGlobals(runs.command('show').argument('<run>'))
    .description('summary, settings, plan and per-cell progress of a run')
    .action((id: string, opts: GlobalOpts) =>
      runWithWorkbench(opts, ({ wb, out }) => {
        const s = wb.generation.show(id);
        out(s, () =>
          [
            summaryText(s.summary),
            `models ${s.config.models.map((m) => `${m.name}=${m.weight}`).join(',')}; base URL ${s.config.baseUrl ?? '(OpenAI)'}; key from $${s.config.apiKeyEnv}; seed ${s.config.seed}${s.batchId ? `; batch ${s.batchId}` : ''}`,
            '',
            table(
              ['kind', 'language', 'accepted', 'quota'],
              s.cells.map((c) => [c.kind, c.language, c.accepted, c.quota]),
            ),
          ].join('\n'),
        );
      }),
    );
  for (const [name, state] of [
    ['pause', 'paused'],
    ['cancel', 'cancelled'],
  ] as const)
    withGlobals(runs.command(name).argument('<run>'))
      .description(`${name} a run (a process working it stops at its next lease renewal)`)
      .action((id: string, opts: GlobalOpts) =>
        runWithWorkbench(opts, ({ wb, out }) => {
          const s = wb.generation.request(id, state);
          out(s, `run ${id}: ${state} requested`);
        }),
      );
}
