/**
 * The OCI spec layer: config.json types, loading and validation (fail early, one-line errors naming the
 * field), the default config of `stasis spec` and the features document of `stasis features`.
 * Nothing here touches the kernel; src/plan turns a validated spec into helper steps.
 */
export * from './types';
export { SpecError } from './errors';
export { validateSpec, validateProcess, type ValidateOptions } from './validate';
export { loadBundleSpec, parseJson, type BundleSpec } from './load';
export { defaultSpec, type DefaultSpecOptions } from './defaults';
export { features, type Features } from './features';
