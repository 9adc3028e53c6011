// A `serve` in its own process for the hostile-request tests: a request that throws in the server must show up as
// this process dying, not as an error inside the test runner. Prints one JSON line {origin, port, token}.
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../../../src/main/serve/server';
import { openWorkbench } from '../../../src/main/workbench';

const home = process.argv[2];
const ui = path.join(home, 'ui');
fs.mkdirSync(ui, { recursive: true });
fs.writeFileSync(path.join(ui, 'index.html'), '<!doctype html><title>ui</title>');
const wb = openWorkbench({ home });
const srv = await startServer({ wb, port: 0, rendererDir: ui });
process.stdout.write(`${JSON.stringify({ origin: srv.origin, port: srv.port, token: srv.token })}\n`);
process.on('SIGTERM', () => {
  srv.close().then(() => {
    wb.close();
    process.exit(0);
  });
});
