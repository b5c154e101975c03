import net from 'node:net';

/**
 * The out-of-band channel perftest opens beside the data path: one TCP connection carrying JSON
 * lines (what perftest's exchange of "LID:QPN:PSN:RKEY:VADDR" and its barriers do). The data path
 * gets a second connection of its own, handed to the QP at RTR.
 */
export class ControlChannel {
  private buffered = '';
  private readonly waiting: Array<{ resolve: (line: unknown) => void; reject: (error: Error) => void }> = [];
  private readonly lines: unknown[] = [];
  private failure: Error | null = null;
  /** Longest line accepted: a peer cannot make us buffer without bound. */
  private static readonly MAX_LINE = 64 * 1024;

  constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.onText(text));
    socket.on('error', (error) => this.fail(new Error(`control connection: ${error.message}`)));
    socket.on('close', () => this.fail(new Error('the peer closed the control connection')));
  }

  send(message: object): void {
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  /** The next message, which must have `type`; anything else is a protocol error. */
  async expect<T extends { type: string }>(type: T['type']): Promise<T> {
    const line = await this.next();
    if (typeof line !== 'object' || line === null || (line as { type?: unknown }).type !== type) {
      throw new Error(`control connection: expected a ${type} message, got ${JSON.stringify(line).slice(0, 200)}`);
    }
    return line as T;
  }

  close(): void {
    this.socket.removeAllListeners('close');
    this.socket.destroy();
  }

  private next(): Promise<unknown> {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift());
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private onText(text: string): void {
    this.buffered += text;
    if (this.buffered.length > ControlChannel.MAX_LINE) return this.fail(new Error(`control connection: a line longer than ${ControlChannel.MAX_LINE} bytes`));
    for (let end = this.buffered.indexOf('\n'); end >= 0; end = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(end + 1);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        return this.fail(new Error(`control connection: not JSON: ${line.slice(0, 200)}`));
      }
      const waiter = this.waiting.shift();
      if (waiter !== undefined) waiter.resolve(value);
      else this.lines.push(value);
    }
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }
}

/** The server's two accepted connections (control first, then data), or the client's two. */
export async function openConnections(host: string | undefined, port: number, onListening?: (port: number) => void): Promise<{ control: ControlChannel; data: net.Socket }> {
  if (host === undefined) {
    const server = net.createServer({ noDelay: true } as net.ServerOpts);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new Error(`cannot listen on port ${port}: ${error.message}`)));
      server.listen(port, resolve);
    });
    onListening?.((server.address() as net.AddressInfo).port);
    const sockets: net.Socket[] = [];
    await new Promise<void>((resolve) => server.on('connection', (socket) => { sockets.push(socket); if (sockets.length === 2) resolve(); }));
    server.close();
    sockets[1]!.pause();
    return { control: new ControlChannel(sockets[0]!), data: sockets[1]! };
  }
  const connect = () => new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => resolve(socket));
    socket.once('error', (error) => reject(new Error(`couldn't connect to ${host}:${port}: ${error.message}`)));
  });
  const control = await connect();
  const data = await connect();
  data.pause();
  data.setNoDelay(true);
  return { control: new ControlChannel(control), data };
}
