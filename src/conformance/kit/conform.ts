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
import { buildReport, type ConformReport } from './report.js';

export interface ConformOptions {
  /** The IUT's adapter command line. */
  readonly adapter: string;
  /** The peer endpoint's adapter for the two-endpoint groups: the IUT again when absent. */
  readonly peerAdapter?: string;
  readonly seed?: number;
  /** Groups to run; all when absent. */
  readonly only?: readonly string[];
  readonly cwd?: string;
  /** Called for every case as it ends (progress). */
  readonly onCase?: (result: CaseResult) => void;
}

type Record_ = (result: CaseResult) => void;
type OneEndpoint = (iut: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: Record_) => Promise<void>;
type TwoEndpoints = (iut: AdapterClient, peer: AdapterClient, capabilities: Capabilities, coverage: Coverage, record: Record_) => Promise<void>;

/** The generated groups, in the order they run: one endpoint, or the IUT and its peer. */
const SUITES: readonly ({ group: string; one: OneEndpoint } | { group: string; two: TwoEndpoints })[] = [
  { group: RESOURCES_GROUP, one: (iut, _c, _v, record) => runResourcesSuite(iut, record) },
  { group: QP_MODIFY_GROUP, one: async (iut, capabilities, coverage, record) => { await runQpModifySuite(iut, capabilities, coverage, record); } },
  { group: POST_ADMISSION_GROUP, one: (iut, _c, coverage, record) => runPostAdmissionSuite(iut, coverage, record) },
  { group: REMOTE_ACCESS_GROUP, two: runRemoteAccessSuite },
  { group: SENDS_GROUP, two: runSendsSuite },
  { group: QUEUE_ERRORS_GROUP, two: runQueueErrorsSuite },
  { group: RETRIES_GROUP, two: runRetriesSuite },
  { group: CQ_GROUP, two: runCqSuite },
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
    for (const suite of SUITES) {
      if (options.only !== undefined && !options.only.includes(suite.group)) continue;
      const record = (result: CaseResult) => {
        cases.push(result);
        options.onCase?.(result);
      };
      if ('one' in suite) {
        await suite.one(iut, hello.capabilities, coverage, record);
      } else {
        peer ??= new AdapterClient({ command: options.peerAdapter ?? options.adapter, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
        await suite.two(iut, peer, hello.capabilities, coverage, record);
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
