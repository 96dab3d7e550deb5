// terraform-provider-teleport: the Terraform provider plugin process (see plugin-server.ts), or,
// with `schema-json`, a printer of its schema for binding generators.

import { HandshakeError, servePlugin } from './plugin-server';
import { providerSchemaJson } from './schema-json';

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'schema-json') {
    process.stdout.write(JSON.stringify(providerSchemaJson(), null, 2) + '\n');
    return 0;
  }
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write('usage: terraform-provider-teleport [schema-json]\nTerraform and OpenTofu start this plugin themselves; see docs/terraform.md.\n');
    return 0;
  }
  try {
    const running = await servePlugin();
    await running.done;
    return 0;
  } catch (e) {
    if (e instanceof HandshakeError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    process.stderr.write(`terraform-provider-teleport: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
