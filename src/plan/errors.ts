/**
 * The error plan builders throw when a valid spec asks for something stasis cannot do (or the caller gave
 * inconsistent options). The message is one line naming the spec field.
 */
export class PlanError extends Error {
  /** `field` is the spec field path (e.g. `mounts[2].options[0]`), `detail` says what is wrong with it. */
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
    this.name = 'PlanError';
  }
}
