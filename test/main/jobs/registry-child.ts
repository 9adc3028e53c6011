// A process that starts a job in the registry and then hangs: the parent kills it with SIGKILL, as a
// killed server or CLI, and checks the next start-up ends the job interrupted.
import { JobRegistry } from '../../../src/main/jobs/registry';
import { Store } from '../../../src/main/store';

const store = Store.open(process.argv[2]);
const jobs = JobRegistry.over(store.db);
const job = jobs.open('import', 'import big.jsonl into d', { path: 'big.jsonl' });
job.begin();
job.progress({ done: 3, total: 10, unit: 'rows', ratePerS: null, etaS: null });
process.stdout.write(`${job.id}\n`);
setInterval(() => {}, 1000);
