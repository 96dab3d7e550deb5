// Lists printed a page at a time as the pages arrive, so `nodes ls` on a registry of 100,000 hosts
// holds one page (at most 1,000 rows) in memory, not the registry, and starts printing at once.
//
// Text: the column widths are those of the first page (header included). A later cell longer than
// its column widens its own row only, so rows may shift when, say, host IDs grow longer past the
// first page; the alternative, widths of the whole list, is what made the listing wait for it.
// JSON and YAML: the same document the whole list printed at once gave, written piece by piece.
// Every piece goes through output.ts's encoders, so a streamed list is as safe for a terminal as
// one printed at once (no raw control or bidirectional character from the server).

import type { Format } from './common';
import { jsonText, terminalValue, yamlText, type TableLayout } from './output';

/** Writes to stdout and waits while the pipe is full, so a slow reader holds the listing back. */
function write(s: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(s, (err) => err && reject(err))) resolve();
    else process.stdout.once('drain', resolve);
  });
}

function rowsText(rows: string[][], widths: number[]): string {
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()).join('\n') + '\n';
}

/**
 * Prints `pages` as a table (text), a JSON array or YAML; `value` maps an item to what JSON/YAML
 * show. YAML is one sequence, or with `yaml: 'documents'` one document per item (`get`, which
 * `create -f` reads back), nothing at all for none.
 */
export async function printPages<T>(
  pages: AsyncIterable<T[]>,
  format: Format,
  layout: TableLayout<T>,
  value: (item: T) => unknown = (item) => item,
  yaml: 'sequence' | 'documents' = 'sequence',
): Promise<void> {
  let widths: number[] | undefined;
  let count = 0;
  for await (const page of pages) {
    if (page.length === 0) continue;
    if (format === 'text') {
      const rows = page.map((item) => layout.row(item).map(terminalValue));
      if (!widths) {
        rows.unshift(layout.header);
        widths = layout.header.map((_, c) => rows.reduce((w, r) => Math.max(w, r[c].length), 0));
      }
      await write(rowsText(rows, widths));
    } else if (format === 'json') {
      // As JSON.stringify(list, null, 2) lays it out: each item indented by two.
      const items = page.map((item) => jsonText(value(item)).replace(/^/gm, '  '));
      await write((count === 0 ? '[\n' : ',\n') + items.join(',\n'));
    } else if (yaml === 'documents') {
      await write((count === 0 ? '' : '---\n') + page.map((item) => yamlText(value(item))).join('---\n'));
    } else {
      await write(yamlText(page.map(value)));
    }
    count += page.length;
  }
  if (count === 0 && format === 'yaml' && yaml === 'documents') return;
  if (count === 0) await write(format === 'text' ? `${layout.empty}\n` : format === 'json' ? '[]\n' : '[]\n');
  else if (format === 'json') await write('\n]\n');
}
