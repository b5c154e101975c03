/**
 * Every bound of the stack in one place, each with the reason for its value (TigerBeetle style:
 * nothing grows without a limit, and the limits are visible together). The assertions at the end
 * relate limits to each other: a change that breaks one of those relations fails at import time.
 */

/** What the reference device reports through queryDevice() and enforces on every verb. */
export const DEVICE_LIMITS = {
  /** QPs per device context: a QP holds a socket, so this bounds file descriptors per context. */
  maxQp: 1024,
  /** WRs per work queue: the NIC keeps every outstanding WQE in memory until it completes. */
  maxQpWr: 4096,
  /** SGEs per WR: each SGE becomes one iovec of a writev, and IOV_MAX bounds a batch. */
  maxSge: 16,
  /** Entries per CQ: a ring allocated up front, never grown. */
  maxCqe: 65536,
  /** Registrations per device: the translation table is searched by key in O(1) but kept whole. */
  maxMr: 4096,
  /** Largest single registration (1 GiB): lengths stay well inside a u32 and JS safe integers. */
  maxMrSize: 1 << 30,
  /** Largest message; equal to maxMrSize so that one message can fill one region. */
  maxMsgSize: 1 << 30,
  /** READ/atomic requests a responder accepts in flight (IRD), as announced in the HELLO. */
  maxQpRdAtom: 16,
  /** READ/atomic requests a requester keeps in flight (ORD). */
  maxQpInitRdAtom: 16,
  /** Inline bytes per WR: copied at post time, so kept small (libibverbs providers use 64..1024). */
  maxInlineData: 1024,
  maxPd: 1024,
  maxCq: 1024,
  /** Pending async and channel events kept per context before the oldest is dropped and counted. */
  maxPendingEvents: 4096,
} as const;

/** The wire's fixed sizes (docs/wire.md). */
export const WIRE_LIMITS = {
  /**
   * The longest frame header (an atomic request's). Each opcode's own length is in
   * wire/opcodes.ts (version 2: 12 bytes for a SEND); buffers for any header are this size.
   */
  maxFrameHeaderBytes: 48,
  /** The handshake frame sent once at RTR. */
  helloBytes: 32,
  /** Longest TERMINATE reason: enough for a sentence, small enough to copy. */
  maxTerminateText: 256,
} as const;

/** Bounds inside the NIC and the transports. */
export const NIC_LIMITS = {
  /**
   * Most chunks in one writev batch: Linux IOV_MAX. A larger batch cannot go out in one writev(2)
   * (libuv would split it), so the NIC splits bigger doorbell batches itself; both transports
   * throw a RangeError past it.
   */
  maxBatchChunks: 1024,
  /**
   * writev batches handed to a transport and not yet written. A peer that stops reading fills
   * the kernel's socket buffer and then this bound: its QP fails, it cannot grow our memory.
   */
  maxUnwrittenBatches: 1024,
  /**
   * Scratch area that discarded payload bytes are read into (RNR'd SENDs, bytes after a failure).
   * They are never looked at, so one area serves every QP; its size sets how many syscalls a
   * large discarded payload costs (64 KiB: the socket's typical read size).
   */
  discardAreaBytes: 64 * 1024,
  /**
   * Bytes a STREAM QP keeps when data arrives before a receive is posted (a socket buffer's job).
   * Reading pauses at half of it, so TCP pushes back on the peer long before it fills.
   */
  streamHoldingBytes: 64 * 1024,
  /**
   * Per-QP staging ring an RC QP reads into while it expects a header (rx-copybreak and header
   * split, as NIC drivers do): one read() takes every frame the socket holds, up to this much.
   * 64 KiB is what one loopback read returns at most in practice; bigger only adds idle memory.
   */
  rxStagingBytes: 64 * 1024,
  /**
   * Payloads at or above this size are read straight into their destination (zero copy); below
   * it they are copied from the staging ring (one small copy beats a read syscall). After a frame
   * at or above it the next header is read alone, so a stream of large payloads is never copied.
   * Chosen by measurement (docs/performance.md): 16 KiB, where a copy of the payload from the
   * ring costs about what the extra read() of the header-split path does.
   */
  rxCopybreakBytes: 16 * 1024,
  /**
   * Views of the staging ring kept, by the offset a copied payload starts at (its low bits), for
   * the copy into the payload's destination: a stream of equal-sized frames lands at the same
   * offsets every read, so its copies make no view (a view per small copy measured ~5 % of the
   * receive path). 1024 slots: the 64 frames of 112 bytes that a 64-deep window of 64-byte SENDs
   * puts in one read all get their own; at most ~100 KB of views per QP.
   */
  rxRingSliceSlots: 1024,
  /**
   * Transmit side of the same trade: a payload below this is packed behind its header in a
   * staging block, so a doorbell of small WRs is a few iovecs instead of two per WR (each iovec
   * costs Node a stream write). At and above it the payload goes out zero-copy from its MR.
   */
  txCopybreakBytes: 8192,
  /**
   * Size of one transmit staging block (headers and small payloads). A block is reused once every
   * batch that points into it has been written; a QP whose writes stall takes another one, up to
   * maxUnwrittenBatches batches in all.
   */
  txStagingBytes: 64 * 1024,
  /**
   * Idle staging blocks a QP keeps for reuse, at most (8 × 64 KiB: a window of 64 WRs of payloads
   * just under the Tx copybreak spans 8 blocks); more are returned to the garbage collector. With
   * 2 kept, a batch of 64 4 KiB SENDs (two ACKs read in one turn: 5 blocks) allocated and zeroed
   * 64 KiB blocks at every batch, the GC that followed kept the sender behind, so its batches
   * stayed that large: 1 run in 3 of send_bw 4 KiB ran at 0.4 M msg/s instead of 0.85 M, with
   * 24,000 blocks allocated against 200. Idle blocks are kept while the QP lives: at most 512 KiB
   * a QP, once it has sent such a batch.
   */
  txSpareBlocks: 8,
  /**
   * Requests a responder accepts before its cumulative ACK leaves, even in the middle of parsing
   * one read: the requester reuses its send window while the rest is still being placed (32: half
   * a 64-deep window; 16 measured no faster, with twice the ACK writes). Otherwise the ACK leaves at the end of
   * the I/O phase, in the same writev as whatever the application answered within it (a
   * ping-pong's reply carries its ACK), and ahead of any other frame the responder sends.
   */
  ackCoalesceRequests: 32,
  /**
   * A doorbell's frames go out as writes of at most this many (what one cumulative ACK covers)
   * once they carry txWriteSplitBytes of payload. Written whole, a window of 64 4 KiB SENDs (263
   * KB, when two ACKs are read in one turn) left the sender waiting for the ACKs of all of it,
   * and the pair stayed in that stop-and-wait: 6 runs of send_bw 4 KiB in 10 at 0.46-0.50 M msg/s
   * against 0.79-0.89 M; split, 0 in 10 (10 alternating runs each).
   */
  txWriteSplitFrames: 32,
  /**
   * The payload a write must carry before it is split: 32 64-byte SENDs are 2.4 KB, and a second
   * write per 32 of them measured ~4 % slower; splitting on bytes alone (a write per 128 KiB)
   * halved the rate at 64 KiB (43 k against 91-100 k msg/s, a write per 2 messages).
   */
  txWriteSplitBytes: 64 * 1024,
  /**
   * The same bound in payload bytes: large messages are acknowledged at least every 128 KiB (two
   * 64 KiB SENDs), so a window of large WRs is refilled while it drains. Measured with
   * `tcpverbs perf send_bw -s 65536 -t 16`: ~12 Gbit/s with no byte bound, 16.5 at 256 KiB, 17.3 at 128 KiB.
   */
  ackCoalesceBytes: 128 * 1024,
  /**
   * How long a failed QP keeps its socket to get its NAK and TERMINATE to the peer and read
   * until the peer's FIN (half-close). A peer that neither reads nor closes cannot hold the
   * socket past it.
   */
  closeLingerMs: 1000,
} as const;

/** The adapter protocol between the conformance kit and an implementation (docs/adapter.md). */
export const ADAPTER_LIMITS = {
  /** Longest line either side writes: a reader buffers a line whole before parsing it. */
  maxLineBytes: 1 << 20,
  /** Bytes one readMr/writeMr moves: base64 makes them 4/3 larger, and the line must still fit. */
  maxTransferBytes: 512 * 1024,
  /** WRs in one postSend/postRecv and completions in one pollCq: bounded like a real CQ poll. */
  maxBatch: 1024,
  /** Longest the kit waits for one reply before it names the op as hung. */
  opTimeoutMs: 10_000,
} as const;

/** Virtual addresses of registrations: high, page-aligned, with random gaps (nic/memory.ts). */
export const ADDRESS_LIMITS = {
  base: 0x7f00_0000_0000,
  align: 4096,
  /** Wraps before the sum of an address and the largest region could leave the safe integers. */
  limit: Number.MAX_SAFE_INTEGER - DEVICE_LIMITS.maxMrSize * 2,
} as const;

function assertLimit(holds: boolean, relation: string): void {
  if (!holds) throw new Error(`limits invariant: ${relation}`);
}

assertLimit(DEVICE_LIMITS.maxMsgSize <= DEVICE_LIMITS.maxMrSize, 'a message never exceeds the largest registration');
assertLimit(DEVICE_LIMITS.maxMsgSize <= 0xffff_ffff, 'a message length fits the u32 payload length of a frame');
assertLimit(DEVICE_LIMITS.maxSge + 1 <= NIC_LIMITS.maxBatchChunks, 'one WR (header + every SGE) fits one writev batch');
assertLimit(DEVICE_LIMITS.maxInlineData <= DEVICE_LIMITS.maxMsgSize, 'inline data is a message');
assertLimit(DEVICE_LIMITS.maxQpRdAtom <= 0xff && DEVICE_LIMITS.maxQpInitRdAtom <= 0xff, 'READ/atomic credits fit the one byte the HELLO gives them');
assertLimit(NIC_LIMITS.streamHoldingBytes % 2 === 0, 'STREAM reading pauses at exactly half the holding area');
assertLimit(NIC_LIMITS.discardAreaBytes >= WIRE_LIMITS.maxFrameHeaderBytes, 'a discard read can take at least a header');
assertLimit(NIC_LIMITS.rxStagingBytes >= 2 * WIRE_LIMITS.maxFrameHeaderBytes, 'the staging ring holds a partial header and a whole one');
assertLimit(NIC_LIMITS.rxCopybreakBytes <= NIC_LIMITS.rxStagingBytes, 'a payload below the copybreak fits the staging ring');
assertLimit((NIC_LIMITS.rxRingSliceSlots & (NIC_LIMITS.rxRingSliceSlots - 1)) === 0, 'ring slice slots are a power of two (the slot is the offset\'s low bits)');
assertLimit(NIC_LIMITS.txCopybreakBytes + WIRE_LIMITS.maxFrameHeaderBytes <= NIC_LIMITS.txStagingBytes, 'a small frame fits one transmit staging block');
assertLimit(NIC_LIMITS.txWriteSplitFrames <= NIC_LIMITS.ackCoalesceRequests, 'a split write holds no more requests than the responder acknowledges at once (its request bound)');
assertLimit(WIRE_LIMITS.helloBytes <= NIC_LIMITS.txStagingBytes, 'the HELLO fits one transmit staging block');
assertLimit(ADDRESS_LIMITS.limit > ADDRESS_LIMITS.base, 'the address space is not empty');
assertLimit(Math.ceil(ADAPTER_LIMITS.maxTransferBytes / 3) * 4 + 4096 <= ADAPTER_LIMITS.maxLineBytes, 'a full readMr/writeMr, base64-encoded, fits one protocol line');
assertLimit(WIRE_LIMITS.maxTerminateText < WIRE_LIMITS.maxFrameHeaderBytes * 16, 'a TERMINATE stays a small control frame');
