import { checkModify, type QpState } from '../../../machines/qp-modify-table.js';
import { QP_POST_ADMISSION } from '../../../machines/qp-post-admission.js';
import type { TraceEp } from '../../spec/trace.js';

/** States from which an error (a NAK, a lost connection, a retry budget spent) may take a QP to ERR unasked. */
const MAY_FAIL: readonly QpState[] = ['RTR', 'RTS', 'SQD', 'SQE'];

/**
 * Each call of a random sequence, checked step by step against the machines as it is made: the
 * QP states each endpoint may be in (an error may move RTR, RTS and SQD to ERR between calls),
 * narrowed by every modify (machines/qp-modify-table.ts, with the mask actually sent), post
 * (machines/qp-post-admission.ts) and query. The first call no state explains is the violation.
 */
export class MachineSteps {
  private readonly possible: Record<TraceEp, Set<QpState>> = { A: new Set(['RESET']), B: new Set(['RESET']) };
  /** The first call the machines cannot explain, described; null while every call fits. */
  violation: string | null = null;
  private step = 0;

  modify(ep: TraceEp, to: QpState, mask: number, ok: boolean): void {
    this.narrow(ep, `modify ${ep} to ${to} (mask 0x${mask.toString(16)}) ${ok ? 'accepted' : 'refused'}`, (s) => {
      const verdict = checkModify(s, to, mask);
      return verdict.ok === ok ? [ok ? to : s] : [];
    });
  }

  post(ep: TraceEp, queue: 'send' | 'recv', ok: boolean): void {
    this.narrow(ep, `post_${queue} on ${ep} ${ok ? 'accepted' : 'refused'}`, (s) => ((QP_POST_ADMISSION[s][queue === 'send' ? 'postSend' : 'postRecv'] !== 'refused') === ok ? [s] : []));
  }

  query(ep: TraceEp, state: QpState): void {
    this.narrow(ep, `query of ${ep} answered ${state}`, (s) => (s === state ? [s] : []));
  }

  private narrow(ep: TraceEp, call: string, next: (s: QpState) => QpState[]): void {
    this.step++;
    if (this.violation !== null) return;
    const before = this.possible[ep];
    for (const s of [...before]) if (MAY_FAIL.includes(s)) before.add('ERR');
    const after = new Set([...before].flatMap(next));
    if (after.size === 0) {
      this.violation = `call ${this.step}, ${call}: the QP machine allows this from none of the states ${ep} may be in (${[...before].join(', ')})`;
      return;
    }
    this.possible[ep] = after;
  }
}
