// Helpers of the audit suites: reading an export file, validating its lines against the shipped
// schemas, and a keep-alive HTTPS client for many joins.

import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { REPO_ROOT } from '../support/server';

export interface ExportLine {
  id: number;
  type: string;
  success: boolean;
  eventCode: string;
  hostId?: string;
  tokenName?: string;
  code?: string;
  [k: string]: unknown;
}

/** The lines of an export file, each parsed; a line that is not JSON fails the test. */
export function readExport(file: string): ExportLine[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  if (text.length && !text.endsWith('\n')) throw new Error(`${file} ends with a torn line`);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ExportLine);
}

/** A validator of the shipped bundle schema (docs/audit-schemas/audit-event.schema.json). */
export function bundleValidator(): (event: unknown) => string | undefined {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  const schema = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'audit-schemas', 'audit-event.schema.json'), 'utf8'));
  const validate = ajv.compile(schema);
  return (event) => (validate(event) ? undefined : ajv.errorsText(validate.errors));
}

export function publicKeyPem(): string {
  return generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
}

/** POST JSON over a keep-alive agent; resolves with status and parsed body, rejects when the server is gone. */
export function postJson(agent: https.Agent, url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', agent, timeout: 30_000, headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Polls `check` every 200 ms until it returns true, for at most `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
