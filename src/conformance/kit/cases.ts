/** What a conformance case reports: passed, failed (with what was done, expected, got, and the rule), or not claimed. */
export type CaseStatus = 'passed' | 'failed' | 'not claimed';

export interface CaseResult {
  readonly name: string;
  readonly group: string;
  readonly status: CaseStatus;
  /** For a failure: what was done, what was expected, what came back, and the rule it comes from. */
  readonly message?: string;
}

export interface Capabilities {
  readonly qpTypes: readonly string[];
  readonly opcodes: readonly string[];
  readonly features: readonly string[];
  readonly limits: Readonly<Record<string, number>>;
}

/** What a suite records as it goes: the QP states, transitions, WC statuses and WC opcodes the IUT was seen to reach. */
export interface Coverage {
  readonly qpStates: Set<string>;
  readonly transitions: Set<string>;
  readonly wcStatuses: Set<string>;
  readonly opcodes: Set<string>;
}

export const newCoverage = (): Coverage => ({ qpStates: new Set(), transitions: new Set(), wcStatuses: new Set(), opcodes: new Set() });

export function failure(did: string, expected: string, got: string, rule: string): string {
  return `did ${did}; expected ${expected}; got ${got}; rule: ${rule}`;
}

/** What `needs` names that the IUT does not claim: opcodes, features, QP types, or `sge:N` (at least N SGEs). */
export function unclaimed(needs: readonly string[], capabilities: Capabilities): string[] {
  return needs.filter((need) => {
    if (need.startsWith('sge:')) return (capabilities.limits.maxSge ?? 1) < Number(need.slice(4));
    return !capabilities.opcodes.includes(need) && !capabilities.features.includes(need) && !capabilities.qpTypes.includes(need);
  });
}
