/** Portable checkpoints: the manifest, integrity checks, and Podman/CRI-O style archives. */
export * from './errors';
export * from './host-info';
export * from './manifest';
export * from './layout';
export * from './compress';
export * from './export';
export * from './import';
export * from './import-unverified';
export * from './growing-hash';
export { PageStream, manifestReserve, type StreamedMember } from './page-stream';
export { unstream, type StreamedArchive } from './export-streamed';
export { formatBytes } from './progress';
