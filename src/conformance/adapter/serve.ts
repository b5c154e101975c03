import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { ADAPTER_LIMITS } from '../../abi/limits.js';
import { OPS, REQUEST, type OpName } from '../protocol/messages.js';
import { validate } from '../protocol/schema.js';
import { ReferenceOps, errorOf } from './reference-ops.js';

/**
 * `tcpverbs adapter`: the reference implementation served over the adapter protocol
 * (docs/adapter.md) on `input`/`output`, one JSON object per line. Requests run as they arrive;
 * each reply carries its request's id (an `accept` that waits does not hold up the others).
 * Resolves when the kit sends `exit` or closes `input`.
 */
export function serveAdapter(input: Readable, output: Writable, opsFor: (emit: (event: Record<string, unknown>) => void) => ReferenceOps = (emit) => new ReferenceOps(emit)): Promise<void> {
  const write = (message: unknown) => output.write(`${JSON.stringify(message)}\n`);
  const ops = opsFor((event) => write({ event }));
  const lines = createInterface({ input, crlfDelay: Infinity });
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      lines.close();
      ops.shutdown();
      resolve();
    };
    lines.on('line', (line) => {
      if (line.trim() === '') return;
      void handle(line).then(({ reply, exit }) => {
        write(reply);
        if (exit) finish();
      });
    });
    lines.on('close', finish);
  });

  async function handle(line: string): Promise<{ reply: Record<string, unknown>; exit: boolean }> {
    const reply = await answer(line);
    return { reply, exit: 'result' in reply && (JSON.parse(line) as { op?: unknown }).op === 'exit' };
  }

  async function answer(line: string): Promise<Record<string, unknown>> {
    if (Buffer.byteLength(line) > ADAPTER_LIMITS.maxLineBytes) return { id: null, error: { errno: 'EPROTO', message: `a line of ${Buffer.byteLength(line)} bytes; at most ${ADAPTER_LIMITS.maxLineBytes}` } };
    let request: { id: number; op: string; args: Record<string, unknown> };
    try {
      request = JSON.parse(line) as typeof request;
    } catch {
      return { id: null, error: { errno: 'EPROTO', message: 'a line that is not JSON; every request is one JSON object {"id", "op", "args"} per line' } };
    }
    const id = typeof request?.id === 'number' && Number.isSafeInteger(request.id) && request.id > 0 ? request.id : null;
    if (typeof request?.op === 'string' && !(request.op in OPS)) {
      return { id, error: { errno: 'ENOSYS', message: `unknown op ${JSON.stringify(request.op)}; protocol 1 has ${Object.keys(OPS).join(', ')}` } };
    }
    const shape = validate(REQUEST, request, 'request');
    if (shape !== null) return { id, error: { errno: 'EPROTO', message: shape } };
    const op = request.op as OpName;
    const wrong = validate(OPS[op].args, request.args, 'args');
    if (wrong !== null) return { id, error: { errno: 'EINVAL', message: wrong } };
    try {
      const result = await ops.run(op, request.args);
      return { id, result };
    } catch (error) {
      return { id, error: errorOf(error) };
    }
  }
}
