import { ERROR, EVENT, OPS, PROTOCOL_VERSION, REPLY, REQUEST } from './messages.js';
import { toJsonSchema } from './schema.js';

/**
 * docs/adapter.schema.json: the protocol's messages as JSON Schema, generated from the same
 * definitions the kit validates replies with (`npm run schema`; a test fails when it is stale).
 */
export function adapterJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://tcpverbs.invalid/adapter-protocol-${PROTOCOL_VERSION}.json`,
    title: `tcpverbs adapter protocol, version ${PROTOCOL_VERSION}`,
    description: 'Newline-delimited JSON on the adapter\'s stdin (requests) and stdout (replies and events). Generated from src/conformance/protocol/messages.ts; see docs/adapter.md.',
    $defs: {
      request: toJsonSchema(REQUEST),
      reply: toJsonSchema(REPLY),
      error: toJsonSchema(ERROR),
      event: toJsonSchema(EVENT),
      ops: Object.fromEntries(Object.entries(OPS).map(([name, op]) => [name, { description: op.summary, args: toJsonSchema(op.args), result: toJsonSchema(op.result) }])),
    },
  };
}

export const adapterJsonSchemaText = () => `${JSON.stringify(adapterJsonSchema(), null, 2)}\n`;
