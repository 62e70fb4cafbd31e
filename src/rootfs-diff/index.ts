/** Root filesystem changes of a container: computing them (overlay or plain directory) and applying them. */
export * from './exclusions';
export * from './overlay-diff';
export * from './base-diff';
export * from './apply';
export { writeDiffTar, filterMember, type DiffTarResult, type OverlayXattrPrefix } from './diff-tar';
