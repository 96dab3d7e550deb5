// `nodes ls` and `tokens ls` print each page as it arrives: a page is on stdout before the next is
// asked for, and JSON and YAML come out as the whole list printed at once did.

import * as YAML from 'yaml';
import { NODE_TABLE, table } from '../../cli/output';
import { printPages } from '../../cli/stream-list';
import type { NodeView } from '../../client/api-client';

const node = (i: number, hostId = `host-${i}`): NodeView =>
  ({ host_id: hostId, status: 'active', join_method: 'token', role: 'Node', token_name: '********', joined_at: '2030-01-01T00:00:00.000Z', last_renewed_at: null, cert_serial: `ab${i}`, cert_expires_at: '2030-01-02T00:00:00.000Z', removed_at: null, attributes: {} }) as unknown as NodeView;

let written: string;
beforeEach(() => {
  written = '';
  jest.spyOn(process.stdout, 'write').mockImplementation(((s: string) => {
    written += s;
    return true;
  }) as never);
});
afterEach(() => jest.restoreAllMocks());

/** Three pages of two hosts; records what was on stdout when each page after the first was asked for. */
function pages(list: NodeView[], seenBefore: string[]): AsyncGenerator<NodeView[]> {
  return (async function* () {
    for (let i = 0; i < list.length; i += 2) {
      if (i > 0) seenBefore.push(written);
      yield list.slice(i, i + 2);
    }
  })();
}

const six = Array.from({ length: 6 }, (_, i) => node(i));

test('text: the header once, each page printed before the next is fetched, columns as wide as the first page', async () => {
  const seen: string[] = [];
  await printPages(pages(six, seen), 'text', NODE_TABLE);
  expect(seen[0]).toContain('host-1');
  expect(seen[0]).not.toContain('host-2');
  expect(seen[1]).toContain('host-3');
  expect(seen[1]).not.toContain('host-4');
  // Same widths on every page here, so the streamed table is the table of the whole list.
  expect(written).toBe(table([NODE_TABLE.header, ...six.map(NODE_TABLE.row)]) + '\n');
  expect(written.match(/Host ID/g)).toHaveLength(1);
});

test('text: a later cell wider than its column widens its own row only', async () => {
  const list = [node(0), node(1), node(2, 'a-much-longer-host-identifier')];
  await printPages(pages(list, []), 'text', NODE_TABLE);
  const lines = written.trimEnd().split('\n');
  expect(lines[1].indexOf('active')).toBe(lines[0].indexOf('Status'));
  expect(lines[3].indexOf('active')).toBeGreaterThan(lines[0].indexOf('Status'));
});

test('json and yaml: the same document as the whole list, written page by page', async () => {
  await printPages(pages(six, []), 'json', NODE_TABLE);
  expect(written).toBe(JSON.stringify(six, null, 2) + '\n');
  written = '';
  await printPages(pages(six, []), 'yaml', NODE_TABLE);
  expect(YAML.parse(written)).toEqual(JSON.parse(JSON.stringify(six)));
});

test('an empty registry says so, or prints an empty list', async () => {
  await printPages(pages([], []), 'text', NODE_TABLE);
  expect(written).toBe('No nodes have joined.\n');
  written = '';
  await printPages(pages([], []), 'json', NODE_TABLE);
  expect(JSON.parse(written)).toEqual([]);
});

test('YAML documents (get nodes): one document per item across pages, as the whole list printed at once, and nothing for none', async () => {
  const seen: string[] = [];
  await printPages(pages(six, seen), 'yaml', NODE_TABLE, undefined, 'documents');
  expect(seen[0]).toContain('host-1');
  expect(seen[0]).not.toContain('host-2');
  expect(YAML.parseAllDocuments(written).map((d) => d.toJS())).toEqual(six);
  expect(written).toBe(six.map((n) => YAML.stringify(n)).join('---\n'));
  written = '';
  await printPages(pages([], []), 'yaml', NODE_TABLE, undefined, 'documents');
  expect(written).toBe('');
});
