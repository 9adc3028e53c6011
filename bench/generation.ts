// `npm run bench -- generation [count]`: throughput of the generation queue against a local
// OpenAI-compatible server (separate process) answering after 50 ms, with 64 requests in flight.
// Reports sustained accepted examples/s as a fraction of the ideal (concurrency ÷ latency) and the CPU
// time per example of parse + validate + store.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LATENCY_MS = 50;

interface CpuSnap {
  server: number | null;
  threads: Record<string, number>;
}
const TICK_MS = 10; // USER_HZ is 100 on Linux
/** utime + stime of a /proc stat line, in ms. */
const statMs = (line: string) => {
  const f = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
};
function procCpuMs(pid: number | undefined): number | null {
  try {
    return statMs(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}
function threadCpuMs(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const tid of fs.readdirSync('/proc/self/task'))
      out[tid] = statMs(fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'));
  } catch {}
  return out;
}
const CONCURRENCY = 64;

if (process.argv[2] === '--server') {
  const { startLlmServer } = await import('../test/helpers/llm-server');
  const srv = await startLlmServer({ latencyMs: LATENCY_MS });
  // Exit (not die) on the parent's kill, so `--cpu-prof` writes the server's profile too.
  process.on('SIGTERM', () => process.exit(0));
  process.stdout.write(`${srv.url}\n`);
} else {
  const count = Number(process.argv[2] ?? 6000);
  const self = fileURLToPath(import.meta.url);
  // `node --cpu-prof …` profiles the server's process as well.
  const prof = process.execArgv.filter((a) => a.startsWith('--cpu-prof'));
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', self, '--server'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.trim());
    });
  });
  const { Store } = await import('../src/main/store');
  const { GenerationService } = await import('../src/main/generation');
  const { ingestTiming } = await import('../src/main/generation/engine');
  const { poolStats } = await import('../src/main/generation/pool');
  const { httpStats } = await import('../src/main/generation/http-pool');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-gen-'));
  const store = Store.open(path.join(dir, 'embedsmith.db'));
  store.datasets.create('bench');
  const gen = new GenerationService(store);
  const { runId, plan } = gen.create({
    dataset: 'bench',
    count,
    models: 'bench-model',
    baseUrl: url,
    concurrency: CONCURRENCY,
    seed: 1,
    timeoutMs: 10_000,
  });
  // Baseline: the bare openai SDK against the same server and concurrency, no queue, no parsing. What the
  // machine allows for HTTP alone; on a loaded or small machine the ideal is out of reach for anyone.
  const { default: OpenAI } = await import('openai');
  const client = new OpenAI({ baseURL: url, apiKey: 'bench', maxRetries: 0 });
  // GEN_BENCH_BASELINE=0 skips it (profiling the queue alone).
  const baseN = process.env.GEN_BENCH_BASELINE === '0' ? 0 : Math.min(3000, count);
  let next = 0;
  const b0 = performance.now();
  const prompt = `${'Write one example. '.repeat(60)}Write all three texts in English.\n"S1"`;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < baseN)
        await client.chat.completions.create({
          model: 'bench-model',
          messages: [{ role: 'user', content: prompt }],
          response_format: { type: 'json_object' },
        });
    }),
  );
  const sdkRate = baseN ? baseN / ((performance.now() - b0) / 1000) : Number.NaN;

  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const marks: [number, number][] = [];
  // CPU of the test server's process and of this process's threads (Linux /proc; absent elsewhere), at
  // the start, at 10% and 90% of the accepted count (the sustained window) and at the end.
  const snaps: CpuSnap[] = [];
  const snap = () => snaps.push({ server: procCpuMs(child.pid), threads: threadCpuMs() });
  snap();
  let nextSnap = 0.1;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const s = await gen.start(runId, {
    onProgress: (p) => {
      marks.push([performance.now(), p.accepted]);
      if (p.accepted >= nextSnap * count && nextSnap < 1) {
        snap();
        nextSnap = nextSnap < 0.5 ? 0.9 : 1;
      }
    },
  }).done;
  const wall = (performance.now() - t0) / 1000;
  loopDelay.disable();
  const cpu = process.cpuUsage(c0);
  snap();
  const processMs = (cpu.user + cpu.system) / 1000 / Math.max(1, s.requests);
  child.kill();
  const serverMs =
    snaps.length === 4 && snaps[0].server != null && snaps[3].server != null
      ? (snaps[3].server - snaps[0].server) / Math.max(1, s.requests)
      : undefined;
  if (process.env.GEN_BENCH_THREADS) {
    // Per thread (by tid): CPU ms over the whole run and per accepted example in the 10%→90% window.
    const [a, b, c, d] = snaps;
    const n = Math.max(1, Math.round(0.8 * count));
    const last = (tid: string) => [d, c, b, a].find((x) => x?.threads[tid] !== undefined)?.threads[tid] ?? 0;
    const tids = [...new Set(snaps.flatMap((x) => Object.keys(x.threads)))].sort(
      (x, y) => Number(x) - Number(y),
    );
    const rows = tids.map((tid) => ({
      tid: tid === String(process.pid) ? 'main' : a.threads[tid] === undefined ? `new ${tid}` : tid,
      run_ms: Math.round(last(tid) - (a.threads[tid] ?? 0)),
      window_ms_per_example: c
        ? Number((((c.threads[tid] ?? 0) - (b.threads[tid] ?? 0)) / n).toFixed(3))
        : null,
    }));
    console.error(JSON.stringify({ threads: rows.filter((r) => r.run_ms > 0) }));
    if (b?.server != null && c?.server != null)
      console.error(`server CPU ms per example in the window: ${((c.server - b.server) / n).toFixed(3)}`);
  }
  // Sustained rate: between 10% and 90% of the accepted count (excludes start-up and the tail).
  const at = (frac: number) => marks.find(([, n]) => n >= frac * count) ?? marks[marks.length - 1];
  const [ta, na] = at(0.1);
  const [tb, nb] = at(0.9);
  const rate = (nb - na) / ((tb - ta) / 1000);
  const ideal = CONCURRENCY / (LATENCY_MS / 1000);
  // Main-thread storing (CPU) plus the worker's checking (its synchronous time), per answer.
  const cpuMs = (ingestTiming.ms + poolStats.ms) / Math.max(1, ingestTiming.answers);
  const mainMs = ingestTiming.ms / Math.max(1, ingestTiming.answers);
  console.error(
    `generation: ${s.accepted}/${count} accepted (${plan.cells.length} cells, ${s.requests} requests) in ${wall.toFixed(1)} s; ` +
      `sustained ${rate.toFixed(0)}/s of ideal ${ideal}/s (bare SDK on this machine now: ${sdkRate.toFixed(0)}/s); parse+validate+store ${cpuMs.toFixed(3)} CPU ms per answer (${poolStats.threaded} checked in the worker; main thread ${mainMs.toFixed(3)}); whole process ${processMs.toFixed(3)} CPU ms per request (HTTP client included); ` +
      `${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`,
  );
  // Request latency as the client saw it (server delay + HTTP both ways + waits on either event loop).
  const latency = store.db
    .prepare(`SELECT avg(latency_ms) AS mean FROM generation_requests WHERE status = 'ok'`)
    .get() as { mean: number };
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      bench: 'generation',
      count,
      accepted: s.accepted,
      fraction_of_ideal: Number((rate / ideal).toFixed(3)),
      examples_per_s: Number(rate.toFixed(1)),
      sdk_baseline_per_s: Number(sdkRate.toFixed(1)),
      fraction_of_sdk_baseline: Number((rate / sdkRate).toFixed(3)),
      cpu_ms_per_example: Number(cpuMs.toFixed(4)),
      main_thread_ms_per_example: Number(mainMs.toFixed(4)),
      process_cpu_ms_per_request: Number(processMs.toFixed(4)),
      ...(serverMs !== undefined ? { server_cpu_ms_per_request: Number(serverMs.toFixed(4)) } : {}),
      http_worker_calls: httpStats.threaded,
      mean_latency_ms: Number(latency.mean.toFixed(1)),
      // How late the main thread's event loop ran timers during the run (ms): time an answer may wait.
      loop_delay_ms: {
        mean: Number((loopDelay.mean / 1e6).toFixed(2)),
        p50: Number((loopDelay.percentile(50) / 1e6).toFixed(2)),
        p99: Number((loopDelay.percentile(99) / 1e6).toFixed(2)),
      },
      load: Number(os.loadavg()[0].toFixed(1)),
    }),
  );
}
