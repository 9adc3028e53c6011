import type { Command } from 'commander';
import { runWithWorkbench, table, withGlobals, type GlobalOpts } from './context';

/** `embedsmith datasets …` */
export function registerDatasets(program: Command): void {
  const ds = program.command('datasets').description('create, import, export, split and inspect datasets');

  withGlobals(ds.command('list').description('list datasets')).action((opts: GlobalOpts) =>
    runWithWorkbench(opts, ({ wb, out }) => {
      const list = wb.store.datasets.list();
      out({ datasets: list }, () =>
        list.length
          ? table(
              ['name', 'examples', 'updated'],
              list.map((d) => [d.name, d.exampleCount, d.updatedAt]),
            )
          : 'no datasets yet (create one with `embedsmith datasets create NAME`)',
      );
    }),
  );

  withGlobals(ds.command('create').argument('<name>').option('--description <text>', 'free text', ''))
    .description('create an empty dataset')
    .action((name: string, opts: GlobalOpts & { description: string }) =>
      runWithWorkbench(opts, ({ wb, out }) => {
        const d = wb.store.datasets.create(name, opts.description);
        out({ dataset: d }, `created dataset ${d.name}`);
      }),
    );

  withGlobals(ds.command('delete').argument('<name>'))
    .description('delete a dataset and all its examples')
    .action((name: string, opts: GlobalOpts) =>
      runWithWorkbench(opts, ({ wb, out }) => {
        wb.store.datasets.delete(name);
        out({ deleted: name }, `deleted dataset ${name}`);
      }),
    );

  withGlobals(ds.command('stats').argument('<name>'))
    .description('counts by kind × language × status')
    .action((name: string, opts: GlobalOpts) =>
      runWithWorkbench(opts, ({ wb, out }) => {
        const d = wb.store.datasets.get(name);
        const s = wb.store.examples.stats(d.id, d.name);
        out(s, () => {
          const marg = (title: string, m: Record<string, number>) =>
            `${title}: ${Object.entries(m)
              .sort((a, b) => b[1] - a[1])
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`;
          return [
            `${s.dataset}: ${s.total} examples`,
            marg('by kind', s.byKind),
            marg('by status', s.byStatus),
            marg('by split', s.bySplit),
            marg('by language', s.byLanguage),
            '',
            table(
              ['kind', 'language', 'status', 'count'],
              s.cells.map((c) => [c.kind, c.language, c.status, c.count]),
            ),
          ].join('\n');
        });
      }),
    );
}
