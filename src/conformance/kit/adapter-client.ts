import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ADAPTER_LIMITS } from '../../abi/limits.js';
import { ERROR, EVENT, OPS, REPLY, type OpName } from '../protocol/messages.js';
import { validate } from '../protocol/schema.js';

/** The adapter broke the protocol (crashed, hung, wrote garbage or a reply outside the schema). */
export class AdapterBroken extends Error {
  override readonly name = 'AdapterBroken';
}

/** A request the implementation refused, with its errno (and badWr for posts). */
export class AdapterRefused extends Error {
  override readonly name = 'AdapterRefused';
  constructor(readonly op: OpName, readonly errno: string, message: string, readonly badWr?: number) {
    super(`${op}: ${errno}: ${message}`);
  }
}

export interface AdapterClientOptions {
  /** The adapter's command line, run through the shell (e.g. "tcpverbs adapter"). */
  readonly command: string;
  readonly cwd?: string;
  readonly opTimeoutMs?: number;
}

type Pending = { op: OpName; resolve: (result: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

/**
 * The kit's side of the adapter protocol: one child process per endpoint, requests with
 * increasing ids, each reply checked against the schema of its op before anything believes it,
 * a timeout per op. Whatever the adapter does — crash, hang, garbage, a reply outside the
 * schema — becomes an AdapterBroken with what happened, never an exception of the kit.
 */
export class AdapterClient {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private broken: AdapterBroken | null = null;
  private stderr = '';
  readonly events: Record<string, unknown>[] = [];
  private readonly exited: Promise<number | null>;

  constructor(private readonly options: AdapterClientOptions) {
    this.child = spawn(options.command, { shell: true, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString()).slice(-4096); });
    this.child.stdin.on('error', () => {});
    const lines = createInterface({ input: this.child.stdout, crlfDelay: Infinity });
    lines.on('line', (line) => this.onLine(line));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => {
      this.fail(`the adapter exited (status ${code})${this.stderr === '' ? '' : `; its stderr ended with: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}`}`);
      resolve(code);
    }));
    this.child.once('error', (error) => this.fail(`the adapter could not be started: ${error.message}`));
  }

  /** Sends one request; resolves with its result (checked against the op's schema). */
  request(op: OpName, args: Record<string, unknown> = {}): Promise<unknown> {
    if (this.broken !== null) return Promise.reject(this.broken);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timeoutMs = this.options.opTimeoutMs ?? ADAPTER_LIMITS.opTimeoutMs;
      const timer = setTimeout(() => this.fail(`no reply to ${op} (id ${id}) within ${timeoutMs} ms`), timeoutMs);
      this.pending.set(id, { op, resolve, reject, timer });
      this.child.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  /** Sends `exit` and waits for the process to end (kills it if it does not). */
  async close(): Promise<void> {
    if (this.broken === null) await this.request('exit').catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    this.child.stdin.end();
    await this.exited;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    if (this.broken !== null || line.trim() === '') return;
    if (Buffer.byteLength(line) > ADAPTER_LIMITS.maxLineBytes) return this.fail(`a line of ${Buffer.byteLength(line)} bytes; the protocol allows ${ADAPTER_LIMITS.maxLineBytes}`);
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return this.fail(`the adapter wrote a line that is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (typeof message === 'object' && message !== null && 'event' in message) {
      const problem = validate(EVENT, message, 'event');
      if (problem !== null) return this.fail(`an event outside the schema: ${problem}`);
      this.events.push(message.event as Record<string, unknown>);
      return;
    }
    const shape = validate(REPLY, message, 'reply');
    if (shape !== null) return this.fail(`a reply outside the schema: ${shape}`);
    const id = message.id as number | null;
    const pending = id === null ? undefined : this.pending.get(id);
    if (pending === undefined) return this.fail(`a reply to id ${id}, which no pending request has`);
    // The request stays pending until judged: a reply outside its op's schema fails it with the rest.
    if ('error' in message) {
      const error = message.error as { errno: string; message: string; badWr?: number };
      if (validate(ERROR, error) !== null) return this.fail(`a malformed error reply to ${pending.op}`);
      this.settle(id!, pending);
      pending.reject(new AdapterRefused(pending.op, error.errno, error.message, error.badWr));
      return;
    }
    const wrong = validate(OPS[pending.op].result, message.result, `${pending.op} result`);
    if (wrong !== null) return this.fail(`the reply to ${pending.op} is outside the schema: ${wrong}`);
    this.settle(id!, pending);
    pending.resolve(message.result);
  }

  private settle(id: number, pending: Pending): void {
    this.pending.delete(id);
    clearTimeout(pending.timer);
  }

  private fail(reason: string): void {
    if (this.broken !== null) return;
    this.broken = new AdapterBroken(reason);
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(this.broken);
    }
    this.pending.clear();
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Runs `call`: 'ok', or the errno the implementation refused it with (a broken adapter still throws). */
export async function outcomeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (error) {
    if (error instanceof AdapterRefused) return error.errno;
    throw error;
  }
}
