/**
 * The error every spec problem is reported with: one line naming the file and the field path, e.g.
 * `config.json: linux.namespaces[1].type: unknown namespace type "foo"`.
 */
export class SpecError extends Error {
  /** `source` names the file, `field` the path inside it (empty for the document itself). */
  constructor(
    readonly source: string,
    readonly field: string,
    readonly detail: string,
  ) {
    super(field ? `${source}: ${field}: ${detail}` : `${source}: ${detail}`);
    this.name = 'SpecError';
  }
}
