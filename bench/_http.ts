import { spawn } from 'node:child_process';
import fs from 'node:fs';
import OpenAI from 'openai';
import { Agent, fetch as ufetch, request } from '/tmp/ux/node_modules/undici/index.js';
const child = spawn(process.execPath, ['--import', 'tsx', 'bench/generation.ts', '--server'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise<string>((res) => { let b = ''; child.stdout!.on('data', (d) => { b += d; if (b.includes('\n')) res(b.trim()); }); });
const srvCpu = () => { const f = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const prompt = `${'Write one example. '.repeat(60)}Write all three texts in English.\n"S1"`;
const body = { model: 'bench-model', messages: [{ role: 'user', content: prompt }], response_format: { type: 'json_object' } };
const N = 4000, C = 64;
async function run(name: string, one: () => Promise<unknown>) {
  let next = 0; const s0 = srvCpu(); const c0 = process.cpuUsage(); const t0 = performance.now();
  await Promise.all(Array.from({ length: C }, async () => { while (next++ < N) await one(); }));
  const wall = (performance.now() - t0) / 1000; const c = process.cpuUsage(c0); const s = srvCpu() - s0;
  console.log(name, { rate: Math.round(N / wall), frac: +(N / wall / 1280).toFixed(3), clientMs: +((c.user + c.system) / 1000 / N).toFixed(3), serverMs: +(s / N).toFixed(3) });
}
const sdk = new OpenAI({ baseURL: url, apiKey: 'x', maxRetries: 0 });
const agent = new Agent({ connections: 128, pipelining: 1 });
const sdkU = new OpenAI({ baseURL: url, apiKey: 'x', maxRetries: 0, fetch: ((u: any, i: any) => ufetch(u, { ...i, dispatcher: agent })) as any });
const fastFetch = async (u: any, init: any) => {
  const headers: Record<string, string> = {};
  if (init.headers instanceof Headers) init.headers.forEach((v: string, k: string) => { headers[k] = v; });
  else Object.assign(headers, init.headers);
  const r = await request(String(u), { method: init.method, headers, body: init.body, signal: init.signal, dispatcher: agent });
  const buf = await r.body.arrayBuffer();
  const h = new Headers();
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : String(v));
  return new Response(buf, { status: r.statusCode, headers: h });
};
const sdkR = new OpenAI({ baseURL: url, apiKey: 'x', maxRetries: 0, fetch: fastFetch as any });
for (let rep = 0; rep < 3; rep++) {
  await run('sdk-request-fetch', () => sdkR.chat.completions.create(body as any));
  await run('sdk-global-fetch', () => sdk.chat.completions.create(body as any));
  await run('sdk-undici7-fetch', () => sdkU.chat.completions.create(body as any));
  await run('undici-request', async () => { const r = await request(`${url}/chat/completions`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: JSON.stringify(body) }); return r.body.json(); });
  await run('global-fetch', async () => { const r = await fetch(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: JSON.stringify(body) }); return r.json(); });
}
child.kill();
