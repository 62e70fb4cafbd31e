/** This host's facts for a checkpoint manifest (export) or its check (import). */
import * as path from 'node:path';
import { criuVersionCached, criuVersionOf, readHostInfo, type HostInfo } from '../archive';
import { prepareKdatCache } from '../criu/kdat-cache';

/**
 * The host's facts. CRIU's version is remembered beside CRIU's own kernel-feature cache (a root-only
 * directory per boot and CRIU binary, src/criu/kdat-cache.ts): asking CRIU is a process start per export.
 */
export function hostFacts(criuPath: string): HostInfo {
  const dir = prepareKdatCache(criuPath);
  const criuVersion = dir ? criuVersionCached(criuPath, path.join(dir, 'stasis-criu-version')) : criuVersionOf(criuPath);
  return { ...readHostInfo({ criu: false }), criuVersion };
}
