import { PROTOCOL_VERSION } from '../protocol/messages.js';
import { AdapterBroken, AdapterClient } from './adapter-client.js';
import { newCoverage, type CaseResult, type Capabilities, type Coverage } from './cases.js';
import { POST_ADMISSION_GROUP, runPostAdmissionSuite } from './post-admission-suite.js';
import { QP_MODIFY_GROUP, runQpModifySuite } from './qp-modify-suite.js';
import { REMOTE_ACCESS_GROUP, runRemoteAccessSuite } from './remote-access-suite.js';
import { RESOURCES_GROUP, runResourcesSuite } from './resources-suite.js';
import { SENDS_GROUP, runSendsSuite } from './sends-suite.js';
import { RETRIES_GROUP, runRetriesSuite } from './retries-suite.js';
import { QUEUE_ERRORS_GROUP, runQueueErrorsSuite } from './queue-errors-suite.js';
import { CQ_GROUP, runCqSuite } from './cq-suite.js';
import { ATTR_VALUES_GROUP, runAttrValuesSuite } from './attr-values-suite.js';
import { LOCAL_ACCESS_GROUP, runLocalAccessSuite } from './local-access-suite.js';
import { CONNECTION_GROUP, runConnectionSuite } from './connection-suite.js';
import { STREAM_GROUP, runStreamSuite } from './stream-suite.js';
import { SEQUENCES_GROUP, runSequencesSuite, type SequencesOptions } from './sequences-suite.js';
import type { ReplayFile } from './replay-file.js';
import { buildReport, type ConformReport } from './report.js';

export interface ConformOptions {
  /** The IUT's adapter command line. */
  readonly adapter: string;
  /** The peer endpoint's adapter for the two-endpoint groups: the IUT again when absent. */
  readonly peerAdapter?: string;
  readonly seed?: number;
  /** Random sequences to run (default DEFAULT_RUNS). */
  readonly runs?: number;
  /** Runs exactly this sequence (from a replay file), and nothing else. */
  readonly replay?: ReplayFile;
  /** Where a shrunk failing sequence is written (default conform-replay-SEED.json). */
  readonly replayOut?: string;
  /** Groups to run; all when absent. */
  readonly only?: readonly string[];
  readonly cwd?: string;
  /** Called for every case as it ends (progress). */
  readonly onCase?: (result: CaseResult) => void;
  /** Called as each group starts: its place among the groups that run. */
  readonly onGroup?: (group: string, index: number, total: number) => void;
}

type Record_ = (result: CaseResult) => void;
type OneEndpoint = (iut: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: Record_) => Promise<void>;
type TwoEndpoints = (iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: Record_, sequences: SequencesOptions) => Promise<void>;

/** Random sequences of a default run: about 30 s on the reference on 2 cores. */
export const DEFAULT_RUNS = 40;

/** The generated groups, in the order they run: one endpoint, or the IUT and its peer. */
const SUITES: readonly ({ group: string; one: OneEndpoint } | { group: string; two: TwoEndpoints })[] = [
  { group: RESOURCES_GROUP, one: (iut, _c, _v, record) => runResourcesSuite(iut, record) },
  { group: QP_MODIFY_GROUP, one: async (iut, capabilities, coverage, record) => { await runQpModifySuite(iut, capabilities, coverage, record); } },
  { group: ATTR_VALUES_GROUP, one: (iut, _c, coverage, record) => runAttrValuesSuite(iut, coverage, record) },
  { group: POST_ADMISSION_GROUP, one: (iut, _c, coverage, record) => runPostAdmissionSuite(iut, coverage, record) },
  { group: REMOTE_ACCESS_GROUP, two: runRemoteAccessSuite },
  { group: SENDS_GROUP, two: runSendsSuite },
  { group: LOCAL_ACCESS_GROUP, two: runLocalAccessSuite },
  { group: CONNECTION_GROUP, two: runConnectionSuite },
  { group: QUEUE_ERRORS_GROUP, two: runQueueErrorsSuite },
  { group: RETRIES_GROUP, two: runRetriesSuite },
  { group: CQ_GROUP, two: runCqSuite },
  { group: STREAM_GROUP, two: runStreamSuite },
  { group: SEQUENCES_GROUP, two: (iut, peer, _c, coverage, record, sequences) => runSequencesSuite(iut, peer, sequences, coverage, record) },
];

export const GROUPS: readonly string[] = SUITES.map((suite) => suite.group);

/**
 * `tcpverbs conform`: starts the IUT's adapter, asks what it claims, runs the generated groups
 * and reports every case. A broken adapter (crash, hang, garbage, a reply outside the schema) is
 * a failed case named for what it did, never an exception of the kit.
 */
export async function conform(options: ConformOptions): Promise<ConformReport> {
  const started = performance.now();
  const seed = options.seed ?? 1;
  const cases: CaseResult[] = [];
  const coverage = newCoverage();
  const iut = new AdapterClient({ command: options.adapter, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
  let implementation = options.adapter;
  let peer: AdapterClient | undefined;
  try {
    const hello = await iut.request('hello', { protocol: PROTOCOL_VERSION }) as { name: string; protocolVersion: number; capabilities: Capabilities };
    implementation = hello.name;
    if (hello.protocolVersion !== PROTOCOL_VERSION) throw new AdapterBroken(`the adapter speaks protocol ${hello.protocolVersion}; this kit speaks ${PROTOCOL_VERSION}`);
    const sequences: SequencesOptions = {
      seed, runs: options.runs ?? DEFAULT_RUNS, implementation,
      replayOut: options.replayOut ?? `conform-replay-${seed}.json`,
      ...(options.replay === undefined ? {} : { replay: options.replay }),
    };
    const only = options.replay !== undefined ? [SEQUENCES_GROUP] : options.only;
    const running = SUITES.filter((suite) => only === undefined || only.includes(suite.group));
    for (const [index, suite] of running.entries()) {
      options.onGroup?.(suite.group, index, running.length);
      const record = (result: CaseResult) => {
        cases.push(result);
        options.onCase?.(result);
      };
      if ('one' in suite) {
        await suite.one(iut, hello.capabilities, coverage, record);
      } else {
        peer ??= new AdapterClient({ command: options.peerAdapter ?? options.adapter, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
        await suite.two(iut, peer, hello.capabilities, coverage, record, sequences);
      }
    }
  } catch (error) {
    const message = error instanceof AdapterBroken ? `the adapter broke the protocol: ${error.message}` : `the adapter refused a set-up step: ${error instanceof Error ? error.message : String(error)}`;
    const result: CaseResult = { name: 'adapter', group: 'adapter', status: 'failed', message };
    cases.push(result);
    options.onCase?.(result);
  } finally {
    await Promise.all([iut.close(), peer?.close()]);
  }
  return buildReport(implementation, PROTOCOL_VERSION, seed, cases, coverage, (performance.now() - started) / 1000);
}
