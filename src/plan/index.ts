/**
 * Plan builders: pure functions from a validated spec (plus injectable host facts) to the ordered helper
 * steps of docs/protocol.md. Policy lives here — names to numbers, option parsing, order — so that the C
 * helper only executes.
 */
export { buildInitPlan, type InitPlan, type InitPlanOptions } from './init-plan';
export { buildExecPlan, type ExecPlan, type ExecPlanOptions } from './exec-plan';
export { PlanError } from './errors';
export { realHost, type HostFacts, type FileKind } from './host';
export type { CgroupMount } from './mounts';
