/** The provider seam (DESIGN.md §2): the verbs layer calls down through this table only. */
export type * from './ops.js';
export { isProviderError } from './ops.js';
