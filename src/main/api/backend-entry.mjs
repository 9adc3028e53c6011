// Entry of the Electron backend process (utilityProcess.fork): runs the TypeScript sources through tsx's
// loader, exactly like bin/embedsmith.mjs, so the workbench, its worker-thread jobs and the router run
// here and never on Electron's main thread.
import { register } from 'tsx/esm/api';

register();
await import('./backend-process.ts');
