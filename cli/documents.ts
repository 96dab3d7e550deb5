// Reading YAML or JSON files for the CLI (`create -f`, the agent's configuration): strictly, as
// the API reads bodies (schema/strict-documents.ts), so a file the server would refuse is refused
// here too, with one line naming the file.

import * as fs from 'node:fs';
import { decodeUtf8Strict, DocumentError, parseYamlStrict } from '../schema/strict-documents';
import { UsageError } from './args';

/** The documents of a YAML/JSON file (`-` for standard input); empty documents are skipped. */
export function readStrictDocuments(file: string): unknown[] {
  let bytes: Buffer;
  try {
    bytes = file === '-' ? fs.readFileSync(0) : fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseStrictDocuments(bytes, file);
}

/** The documents in `bytes`, read from `file` (named in errors). */
export function parseStrictDocuments(bytes: Buffer, file: string): unknown[] {
  try {
    return parseYamlStrict(decodeUtf8Strict(bytes)).map((d) => d.value);
  } catch (e) {
    if (e instanceof DocumentError) {
      const what = e.code === 'invalid_yaml' ? e.message.replace(/^not valid YAML/, 'not valid YAML or JSON') : e.message;
      throw new UsageError(`${file}: ${what.split('\n')[0]}`);
    }
    throw e;
  }
}
