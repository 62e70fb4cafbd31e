/** The stasis version: one place, read by `--version`, `features` and checkpoint manifests. */
export const STASIS_VERSION = '0.1.0';
