/**
 * Serves a broken variant of the reference over the adapter protocol, as `tcpverbs adapter` serves
 * the reference: either adapter-level (a ReferenceOps subclass that bends what the kit sees) or
 * NIC-level (the mutant file patches one method of src/nic before serving).
 */
import { serveAdapter } from '../../../src/conformance/adapter/serve.js';
import { ReferenceOps } from '../../../src/conformance/adapter/reference-ops.js';

type Emit = (event: Record<string, unknown>) => void;

export async function serveMutant(opsFor: (emit: Emit) => ReferenceOps = (emit) => new ReferenceOps(emit)): Promise<void> {
  await serveAdapter(process.stdin, process.stdout, opsFor);
  process.stdout.write('', () => process.exit(0));
}
