// Page tokens and page bodies, below the HTTP layer.

import { HttpError } from '../../api/server/errors';
import { DEFAULT_PAGE_SIZE, PageTokens, pageBody, parsePageQuery } from '../../api/server/pagination';
import type { SettingsStore } from '../../api/store/types';

function memorySettings(): SettingsStore & { values: Map<string, string> } {
  const values = new Map<string, string>();
  return {
    values,
    async get(k) {
      return values.get(k);
    },
    async setIfAbsent(k, v) {
      if (!values.has(k)) values.set(k, v);
      return values.get(k)!;
    },
    async set(k, v) {
      values.set(k, v);
    },
    async compareAndSet(k, expected, v) {
      if (values.get(k) !== expected) return false;
      values.set(k, v);
      return true;
    },
  };
}

const refusal = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HttpError);
  return e as HttpError;
};

test('a sealed key opens on its own list only, with the same stored key, and never shows in the token', async () => {
  const settings = memorySettings();
  const one = new PageTokens(settings);
  const token = await one.seal('tokens', 'name-ü-1');
  expect(token).not.toContain('name');
  expect(await new PageTokens(settings).open('tokens', token)).toBe('name-ü-1'); // another replica, same database
  expect((await refusal(one.open('nodes', token))).code).toBe('invalid_page_token');
  expect((await refusal(new PageTokens(memorySettings()).open('tokens', token))).code).toBe('invalid_page_token'); // another cluster
  expect(await one.seal('tokens', 'x')).not.toBe(await one.seal('tokens', 'x')); // fresh IV each time
});

test('parsePageQuery: defaults, bounds and the fields named', async () => {
  const t = new PageTokens(memorySettings());
  expect(await parsePageQuery({}, 'tokens', t)).toEqual({ limit: DEFAULT_PAGE_SIZE });
  expect(await parsePageQuery({ limit: '1000', page_token: '' }, 'tokens', t)).toEqual({ limit: 1000 });
  expect((await refusal(parsePageQuery({ limit: ['1', '2'] }, 'tokens', t))).field).toBe('limit');
  expect((await refusal(parsePageQuery({ limit: '1001' }, 'tokens', t))).field).toBe('limit');
  expect((await refusal(parsePageQuery({ page_token: 'A'.repeat(40) }, 'tokens', t))).field).toBe('page_token');
});

test('a page ends early at the byte budget, at least one item per page, and the next token resumes after the last item sent', async () => {
  const t = new PageTokens(memorySettings());
  const items = ['a', 'b', 'c', 'd'].map((k) => ({ k, blob: 'x'.repeat(100) }));
  const body = (await pageBody('tokens', { items, next: 'd' }, (i) => i, (i) => i.k, t, 200)) as { tokens: unknown[]; next_page_token: string };
  expect(body.tokens).toHaveLength(2);
  expect(await t.open('tokens', body.next_page_token)).toBe('b');
  const huge = (await pageBody('tokens', { items }, (i) => i, (i) => i.k, t, 1)) as { tokens: unknown[]; next_page_token: string };
  expect(huge.tokens).toHaveLength(1);
  expect(await t.open('tokens', huge.next_page_token)).toBe('a');
  // The whole page fits: the store's next (or none) stands.
  expect(await pageBody('tokens', { items }, (i) => i, (i) => i.k, t)).toEqual({ tokens: items });
});
