import { readFileSync } from 'node:fs';
import type { Command, Sequence } from './sequence-driver.js';

export const REPLAY_FORMAT = 'tcpverbs-conform-replay';

/** A shrunk failing sequence, as `conform` writes it and `--replay FILE` reads it. */
export interface ReplayFile {
  readonly format: typeof REPLAY_FORMAT;
  readonly version: 1;
  readonly implementation: string;
  readonly seed: number;
  readonly sequence: Sequence;
  /** What went wrong when it was written. */
  readonly failure: string;
  /** The NDJSON trace of that run. */
  readonly trace: string;
}

/** Commands a replay file may hold: the generator's own bound, with room for a hand-edited file. */
const MAX_COMMANDS = 1000;
const EPS = new Set(['A', 'B']);
const TARGETS: Record<string, readonly string[]> = { SEND: ['none'], WRITE: ['r1', 'r2'], BADREQ: ['none'] };
const MODIFY_TO = new Set(['ERR', 'RESET', 'INIT', 'SQD', 'RTS', 'invalid']);

class ReplayError extends Error {}

function command(c: unknown, i: number): Command {
  const where = `replay file: command ${i + 1}`;
  if (typeof c !== 'object' || c === null) throw new ReplayError(`${where} is ${JSON.stringify(c)}; allowed: an object with k = send, recv, poll, modify, query or run`);
  const o = c as Record<string, unknown>;
  if (o.k === 'run') return { k: 'run' };
  if (!EPS.has(o.ep as string)) throw new ReplayError(`${where}: ep is ${JSON.stringify(o.ep)}; allowed: "A" or "B"`);
  const ep = o.ep as 'A' | 'B';
  switch (o.k) {
    case 'send': {
      const targets = TARGETS[o.op as string];
      if (targets === undefined) throw new ReplayError(`${where}: op is ${JSON.stringify(o.op)}; allowed: SEND, WRITE, BADREQ`);
      if (!targets.includes(o.tgt as string)) throw new ReplayError(`${where}: tgt is ${JSON.stringify(o.tgt)}; allowed for ${o.op}: ${targets.join(', ')}`);
      return { k: 'send', ep, op: o.op as 'SEND', tgt: o.tgt as 'none' };
    }
    case 'recv': return { k: 'recv', ep };
    case 'query': return { k: 'query', ep };
    case 'poll':
      if (!Number.isInteger(o.max) || (o.max as number) < 1 || (o.max as number) > 64) throw new ReplayError(`${where}: max is ${JSON.stringify(o.max)}; allowed: an integer in 1..64`);
      return { k: 'poll', ep, max: o.max as number };
    case 'modify':
      if (!MODIFY_TO.has(o.to as string)) throw new ReplayError(`${where}: to is ${JSON.stringify(o.to)}; allowed: ${[...MODIFY_TO].join(', ')}`);
      return { k: 'modify', ep, to: o.to as 'ERR' };
    default:
      throw new ReplayError(`${where}: k is ${JSON.stringify(o.k)}; allowed: send, recv, poll, modify, query, run`);
  }
}

/** Reads and checks a replay file; throws with what was wrong and what is allowed. */
export function readReplayFile(path: string): ReplayFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ReplayError(`replay file ${path}: ${error instanceof SyntaxError ? `not JSON (${error.message})` : (error as Error).message}`);
  }
  const o = parsed as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || o.format !== REPLAY_FORMAT || o.version !== 1) throw new ReplayError(`replay file ${path}: format must be "${REPLAY_FORMAT}", version 1 (as conform writes it)`);
  const s = o.sequence as Record<string, unknown> | undefined;
  if (typeof s !== 'object' || s === null) throw new ReplayError(`replay file ${path}: "sequence" is missing`);
  if (typeof s.silentPeer !== 'boolean') throw new ReplayError(`replay file ${path}: sequence.silentPeer must be true or false`);
  if (!Number.isInteger(s.rnrRetry) || (s.rnrRetry as number) < 0 || (s.rnrRetry as number) > 6) throw new ReplayError(`replay file ${path}: sequence.rnrRetry must be an integer in 0..6`);
  if (!Array.isArray(s.commands) || s.commands.length > MAX_COMMANDS) throw new ReplayError(`replay file ${path}: sequence.commands must be a list of at most ${MAX_COMMANDS} commands`);
  return {
    format: REPLAY_FORMAT, version: 1,
    implementation: String(o.implementation ?? ''), seed: Number.isInteger(o.seed) ? o.seed as number : 0,
    sequence: { silentPeer: s.silentPeer, rnrRetry: s.rnrRetry as number, commands: s.commands.map(command) },
    failure: String(o.failure ?? ''), trace: String(o.trace ?? ''),
  };
}
