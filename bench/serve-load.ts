// `npm run bench -- serve-load [--rows N] [--readers N] [--reviewers N] [--think-ms MS] [--cli-import]
// [--rows 0 --seconds S]`: `embedsmith serve` (its own process) under load while a large import runs: N
// concurrent readers paging a dataset and N concurrent reviewers (each waiting ~think-ms between its calls), and a
// probe calling a trivial procedure (app.info) every 50 ms. `--rows 0` runs the same load without an import. The import is an app import job in the server's process
// (default) or, with --cli-import, a `datasets import` process on the same workspace. Counts errors (any non-200),
// lost writes (a review answered 200 whose status is not in the database afterwards, or a review event missing),
// and the probe's latency percentiles while the import runs.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const ROWS = Number(arg('rows', '150000'));
const READERS = Number(arg('readers', '200'));
const REVIEWERS = Number(arg('reviewers', '50'));
const CLI_IMPORT = process.argv.includes('--cli-import');
/** Each reader and reviewer waits about this long between its calls (uniform 0.5–1.5×): people, not a flood. */
const THINK_MS = Number(arg('think-ms', '2000'));
const think = () => new Promise((r) => setTimeout(r, THINK_MS * (0.5 + Math.random())));
const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin/embedsmith.mjs');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-serve-load-'));
const home = path.join(dir, 'home');
const file = path.join(dir, 'big.jsonl');
const log = (m: string) => process.stderr.write(`${m}\n`);

const stLine = (i: number) =>
  JSON.stringify({
    anchor: `what is item ${i} about`,
    positive: `Item ${i} is a document about topic ${i % 97} with enough words to look like real text, more or less.`,
    negative: `Item ${i + 1} talks about something else entirely, in other words.`,
  });

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args, '--home', home], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
const exited = (p: ChildProcess) =>
  new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.on('close', (c) => r(c))));

// ---- workspace: a reviewed dataset of 5,000 rows, and the import file
{
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < ROWS; i += 10_000)
    fs.writeSync(
      fd,
      `${Array.from({ length: Math.min(10_000, ROWS - i) }, (_, j) => stLine(i + j)).join('\n')}\n`,
    );
  fs.closeSync(fd);
  const seed = path.join(dir, 'seed.jsonl');
  fs.writeFileSync(
    seed,
    `${Array.from({ length: 5000 }, (_, i) => JSON.stringify({ anchor: `review me ${i}`, positive: `row ${i}` })).join('\n')}\n`,
  );
  const p = cli(['datasets', 'import', 'reviewed', seed, '--create']);
  if ((await exited(p)) !== 0) throw new Error('seeding the reviewed dataset failed');
}
const db = new Database(path.join(home, 'embedsmith.db'), { readonly: true });
const reviewIds = db
  .prepare(
    "SELECT e.id FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.name = 'reviewed' ORDER BY e.id",
  )
  .pluck()
  .all() as number[];
db.close();

// ---- the server, in its own process
const server = cli(['serve', '--no-build', '--port', '0']);
const url = await new Promise<string>((resolve, reject) => {
  let out = '';
  server.stdout!.on('data', (d) => {
    out += d;
    const m = /^(http:\/\/\S+\?token=\S+)$/m.exec(out);
    if (m) resolve(m[1]);
  });
  server.on('close', (c) => reject(new Error(`serve exited ${c}`)));
});
const { port } = new URL(url);
const token = new URL(url).searchParams.get('token')!;
const agent = new http.Agent({ keepAlive: true, maxSockets: READERS + REVIEWERS + 8 });

// The probe has its own connection: a trivial call measures the server, not the client's socket queue.
const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(
  proc: string,
  input: unknown,
  mutation = false,
  via: http.Agent = agent,
): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  const json = JSON.stringify(input ?? null);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        agent: via,
        method: mutation ? 'POST' : 'GET',
        path: mutation ? `/trpc/${proc}` : `/trpc/${proc}?input=${encodeURIComponent(json)}`,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }));
      },
    );
    req.on('error', (e) => resolve({ status: 0, body: String(e), ms: performance.now() - t0 }));
    if (mutation) req.write(json);
    req.end();
  });
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(1);
};

// ---- load, while the import runs
const errors: Record<string, number> = {};
const errorSamples: string[] = [];
const fail = (what: string, r: { status: number; body: string }) => {
  const k = `${what} ${r.status}`;
  errors[k] = (errors[k] ?? 0) + 1;
  if (errorSamples.length < 5) errorSamples.push(`${k}: ${r.body.slice(0, 300)}`);
};
let importing = true;
const probe: number[] = [];
const pageMs: number[] = [];
const reviewMs: number[] = [];
let reviewsOk = 0;
const lastStatus = new Map<number, string>();

// Open every connection before the load: a connection opened while the server is saturated by keep-alive
// traffic waits until that traffic stops (libuv's accept starves; a bare node:http server shows the same), and
// the app's own connections are open already.
await Promise.all(Array.from({ length: READERS + REVIEWERS + 2 }, () => call('app.info', undefined)));
await call('app.info', undefined, false, probeAgent);

const load0 = os.loadavg()[0];
const t0 = performance.now();
let importDone: Promise<void>;
if (ROWS === 0) {
  // No import: the same load for --seconds (the baseline the import is compared with).
  importDone = new Promise((r) => setTimeout(r, Number(arg('seconds', '10')) * 1000));
} else if (CLI_IMPORT) {
  const p = cli(['datasets', 'import', 'big', file, '--create', '--json']);
  importDone = exited(p).then((c) => {
    if (c !== 0) throw new Error(`datasets import exited ${c}`);
  });
} else {
  const r = await call('datasets.import', { name: 'big', path: file, create: true }, true);
  if (r.status !== 200) throw new Error(`datasets.import: ${r.status} ${r.body}`);
  const jobId = JSON.parse(r.body).result.data.id as string;
  importDone = (async () => {
    for (;;) {
      await new Promise((res) => setTimeout(res, 250));
      const j = await call('jobs.list', undefined);
      if (j.status !== 200) continue;
      const job = (JSON.parse(j.body).result.data as { id: string; state: string; error?: string }[]).find(
        (x) => x.id === jobId,
      );
      if (job?.state === 'failed') throw new Error(`import job failed: ${job.error}`);
      if (job?.state === 'done') return;
    }
  })();
}
const finished = importDone.finally(() => {
  importing = false;
});

const reader = async () => {
  let after: { value: number; id: number } | undefined;
  while (importing) {
    const r = await call('examples.page', { dataset: 'reviewed', limit: 50, ...(after ? { after } : {}) });
    if (r.status !== 200) fail('page', r);
    else {
      pageMs.push(r.ms);
      const next = JSON.parse(r.body).result.data.next;
      after = next ?? undefined;
    }
    await think();
  }
};
const reviewer = async (k: number) => {
  // Each reviewer owns its own ids, so the last status it was told is the one the database must have.
  const mine = reviewIds.filter((_, i) => i % REVIEWERS === k);
  let n = 0;
  while (importing) {
    const id = mine[n % mine.length];
    const action = (n >> 3) % 2 ? 'reject' : 'accept';
    const r = await call('examples.review', { id, action }, true);
    if (r.status !== 200) fail('review', r);
    else {
      reviewMs.push(r.ms);
      reviewsOk++;
      lastStatus.set(id, action === 'accept' ? 'accepted' : 'rejected');
    }
    n++;
    await think();
  }
};
const prober = async () => {
  while (importing) {
    const r = await call('app.info', undefined, false, probeAgent);
    if (r.status !== 200) fail('app.info', r);
    else probe.push(r.ms);
    await new Promise((res) => setTimeout(res, 50));
  }
};
const workers = [
  ...Array.from({ length: READERS }, () => reader()),
  ...Array.from({ length: REVIEWERS }, (_, k) => reviewer(k)),
  prober(),
];
let importError: string | null = null;
await finished.catch((e) => {
  importError = (e as Error).message;
});
const importS = (performance.now() - t0) / 1000;
await Promise.all(workers);

// ---- lost writes, read from the file after the load
server.kill('SIGTERM');
await exited(server);
const check = new Database(path.join(home, 'embedsmith.db'), { readonly: true });
const status = check.prepare('SELECT status FROM examples WHERE id = ?').pluck();
let lost = 0;
for (const [id, s] of lastStatus) if (status.get(id) !== s) lost++;
const events = Number(check.prepare('SELECT count(*) FROM review_events').pluck().get());
lost += Math.max(0, reviewsOk - events);
const imported = Number(
  check
    .prepare("SELECT count(*) FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.name = 'big'")
    .pluck()
    .get(),
);
check.close();
fs.rmSync(dir, { recursive: true, force: true });

const result = {
  bench: 'serve-load',
  import: CLI_IMPORT ? 'cli' : 'app-job',
  rows: ROWS,
  imported,
  import_error: importError,
  import_s: +importS.toFixed(1),
  readers: READERS,
  reviewers: REVIEWERS,
  think_ms: THINK_MS,
  page_reads: pageMs.length,
  reviews: reviewsOk,
  errors: Object.values(errors).reduce((a, b) => a + b, 0),
  errors_by_kind: errors,
  lost_writes: lost,
  trivial_calls: probe.length,
  trivial_p50_ms: pct(probe, 50),
  trivial_p99_ms: pct(probe, 99),
  trivial_max_ms: pct(probe, 100),
  page_p99_ms: pct(pageMs, 99),
  review_p50_ms: pct(reviewMs, 50),
  review_p99_ms: pct(reviewMs, 99),
  loadavg: [+load0.toFixed(1), +os.loadavg()[0].toFixed(1)],
  nproc: os.cpus().length,
};
for (const s of errorSamples) log(`  ${s}`);
log(JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
process.exit(0);
