/**
 * Wrong variants of spec/RcVerbs.tla, made on the fly from the real text, each with the property
 * that must catch it. A mutation whose target text is gone throws: a spec edit cannot silently
 * turn a planted bug into the unchanged spec.
 */

export interface PlantedBug {
  readonly name: string;
  readonly description: string;
  /** The invariant or property whose violation shows the bug. */
  readonly caughtBy: string;
  readonly apply: (spec: string) => string;
}

function replaceOnce(spec: string, bug: string, pattern: RegExp, replacement: string): string {
  const matches = spec.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`));
  if (matches === null || matches.length !== 1) {
    throw new Error(`planted bug "${bug}": expected one match of ${pattern} in RcVerbs.tla, found ${matches?.length ?? 0}`);
  }
  return spec.replace(pattern, replacement);
}

/** The body of operator `name` (from `name(...) ==` to the next blank line). */
function inOperator(spec: string, bug: string, name: string, edit: (body: string) => string): string {
  const head = new RegExp(`^${name}\\([^)]*\\) ==\\n(?:.+\\n)+`, 'm');
  const m = head.exec(spec);
  if (m === null) throw new Error(`planted bug "${bug}": RcVerbs.tla has no operator ${name}`);
  const edited = edit(m[0]);
  if (edited === m[0]) throw new Error(`planted bug "${bug}": the edit changed nothing in ${name}`);
  return spec.slice(0, m.index) + edited + spec.slice(m.index + m[0].length);
}

export const PLANTED_BUGS: readonly PlantedBug[] = [
  {
    name: 'flush dropped',
    description: 'ERR empties the send queue without a WR_FLUSH_ERR completion',
    caughtBy: 'EveryWrInOnePlace',
    apply: (spec) => inOperator(spec, 'flush dropped', 'FlushSend', (body) =>
      replaceOnce(body, 'flush dropped', /cq' = \[cq EXCEPT !\[e\] = Append\(@, Wc\(sq\[e\]\[1\], "S", "WR_FLUSH_ERR"\)\)\]/, "cq' = cq")),
  },
  {
    name: 'completion reordered',
    description: 'the flush completes the youngest send WR first',
    caughtBy: 'CompletionsInPostingOrder',
    apply: (spec) => inOperator(spec, 'completion reordered', 'FlushSend', (body) => replaceOnce(
      replaceOnce(body, 'completion reordered', /Wc\(sq\[e\]\[1\], "S", "WR_FLUSH_ERR"\)/, 'Wc(sq[e][Len(sq[e])], "S", "WR_FLUSH_ERR")'),
      'completion reordered', /sq' = \[sq EXCEPT !\[e\] = Tail\(@\)\]/, "sq' = [sq EXCEPT ![e] = SubSeq(@, 1, Len(@) - 1)]")),
  },
  {
    name: 'post admitted in RTR',
    description: 'ibv_post_send is accepted in RTR, where the kernel table refuses it (EINVAL)',
    caughtBy: 'QueuesAdmittedByState',
    apply: (spec) => ['PostSend', 'PostSendWr'].reduce((text, op) => inOperator(text, 'post admitted in RTR', op, (body) =>
      replaceOnce(body, 'post admitted in RTR', /PostSendVerdict\[qp\[e\]\] # "refused"/, '(PostSendVerdict[qp[e]] # "refused" \\/ qp[e] = "RTR")')), spec),
  },
  {
    name: 'RNR treated as success',
    description: 'the requester completes a WR with SUCCESS when the responder RNR-NAKs it',
    caughtBy: 'SendSuccessMeansPlaced',
    apply: (spec) => inOperator(spec, 'RNR treated as success', 'RecvAck', (body) =>
      replaceOnce(body, 'RNR treated as success', /\/\\ InHead\(e\)\.k = "ACK"/, '/\\ (InHead(e).k = "ACK" \\/ InHead(e).why = "RNR")')),
  },
  {
    name: 'flush never runs',
    description: 'an ERR QP keeps its WRs forever (FlushSend is never enabled)',
    caughtBy: 'ErrQueuesDrain',
    apply: (spec) => inOperator(spec, 'flush never runs', 'FlushSend', (body) =>
      replaceOnce(body, 'flush never runs', /\/\\ qp\[e\] = "ERR"/, '/\\ qp[e] = "ERR" /\\ FALSE')),
  },
];

/**
 * The config the planted bugs run on: two WRs per endpoint (reordering needs two), two buffers,
 * SEND only, one RNR retry; small enough that a breadth-first checker reaches every bug quickly.
 */
export const PLANTED_BUG_CFG = `SPECIFICATION Spec
CONSTANTS
  MaxPosts = 2
  Buffers = {"b1", "b2"}
  SendOps = {"SEND"}
  Regions = {"r1"}
  RemoteWritable = {"r1"}
  RnrRetry = 1
  AllowBreak = FALSE
INVARIANTS
  TypeOK
  EveryWrInOnePlace
  BufferOwnership
  CompletionsInPostingOrder
  DataPlacedSafely
  SendSuccessMeansPlaced
  QpTransitionsInTable
  QueuesAdmittedByState
  ResponsesMatchRequests
CHECK_DEADLOCK FALSE
`;

/** A liveness bug needs the whole graph: a smaller config, with the one property it breaks. */
export const PLANTED_LIVENESS_CFG = `SPECIFICATION Spec
CONSTANTS
  MaxPosts = 1
  Buffers = {"b1"}
  SendOps = {"SEND"}
  Regions = {"r1"}
  RemoteWritable = {"r1"}
  RnrRetry = 0
  AllowBreak = FALSE
PROPERTIES
  ErrQueuesDrain
CHECK_DEADLOCK FALSE
`;
