// `joinery agent --config FILE [--once]`: the agent as a process. Signals stop it between steps,
// so no file is ever left half-written; every event is one line on stderr (journald adds time).

import { UsageError, type Parsed } from './args';
import { abortableSleep, runAgent } from './agent/agent';
import { loadAgentConfig } from './agent/config';
import { backoffFromEnv } from './agent/schedule';
import { INSECURE_WARNING } from '../client/trust';
import { terminalValue } from './output';

export async function agent(p: Parsed, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (p.positional.length) throw new UsageError(`agent takes no arguments (got ${p.positional.join(' ')}); see joinery agent --help`);
  const cfg = loadAgentConfig(p);
  let backoff;
  try {
    backoff = backoffFromEnv(env.JOINERY_AGENT_BACKOFF_MS);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  // One line per event, whatever a server's error message holds (see cli/output.ts).
  const log = (line: string) => process.stderr.write(`joinery agent: ${terminalValue(line)}\n`);
  if (cfg.insecure && !cfg.caPin && !cfg.caFile) log(INSECURE_WARNING);

  const controller = new AbortController();
  const stop = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) log(`${sig} received; stopping`);
    controller.abort();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    return await runAgent(cfg, { once: p.flags.once === true }, { now: Date.now, sleep: abortableSleep, log, signal: controller.signal, backoff });
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
