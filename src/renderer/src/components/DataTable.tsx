import { type ColumnDef, tableFeatures, useTable } from '@tanstack/react-table';
import type { ReactNode } from 'react';

const features = tableFeatures({});

/** A plain (non-virtual) table for short lists: datasets, runs, results. */
export function DataTable<T extends object>({
  columns,
  data,
  rowKey,
  empty,
  onRowClick,
  selected,
  testId,
}: {
  // biome-ignore lint/suspicious/noExplicitAny: columns mix value types; each cell renders its own
  columns: ColumnDef<typeof features, T, any>[];
  data: T[];
  rowKey: (row: T) => string;
  empty?: ReactNode;
  onRowClick?: (row: T) => void;
  selected?: string | null;
  testId?: string;
}) {
  const table = useTable({ features, columns, data, getRowId: (r: T) => rowKey(r) });
  if (!data.length && empty) return <div className="empty">{empty}</div>;
  return (
    <table className="table" data-testid={testId}>
      <thead>
        {table.getHeaderGroups().map((g) => (
          <tr key={g.id}>
            {g.headers.map((h) => (
              <th key={h.id}>{h.isPlaceholder ? null : <table.FlexRender header={h} />}</th>
            ))}
          </tr>
        ))}
      </thead>
      <tbody>
        {table.getRowModel().rows.map((row) => (
          <tr
            key={row.id}
            className={selected === row.id ? 'selected' : undefined}
            onClick={onRowClick ? () => onRowClick(row.original) : undefined}
          >
            {row.getAllCells().map((cell) => (
              <td key={cell.id}>
                <table.FlexRender cell={cell} />
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export { features as plainFeatures };
