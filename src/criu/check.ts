/**
 * What the installed CRIU and kernel can do: VERSION and FEATURE_CHECK requests over swrk.
 */
import { criuRequest, type SwrkOptions } from './swrk';
import type { CriuFeatures } from './types';

/** CRIU's version as reported over RPC. */
export interface CriuVersion {
  major: number;
  minor: number;
  sublevel: number;
  /** "4.2.1" (major.minor.sublevel). */
  text: string;
  /** major*10000 + minor*100 + sublevel, the form runc compares against (4.2.1 → 40201). */
  number: number;
  gitid?: string;
  name?: string;
}

/** Asks CRIU for its version. */
export async function version(opts: SwrkOptions = {}): Promise<CriuVersion> {
  const resp = await criuRequest({ type: 'VERSION' }, opts);
  const v = resp.version;
  if (!v) throw new Error('criu version: answer has no version field');
  const sublevel = v.sublevel ?? 0;
  return {
    major: v.majorNumber,
    minor: v.minorNumber,
    sublevel,
    text: `${v.majorNumber}.${v.minorNumber}.${sublevel}`,
    number: v.majorNumber * 10000 + v.minorNumber * 100 + sublevel,
    gitid: v.gitid || undefined,
    name: v.name || undefined,
  };
}

/** Why each feature matters, phrased for the error when it is missing. */
const FEATURE_NEEDS: Record<keyof CriuFeatures, string> = {
  memTrack: 'pre-dump needs memory tracking (soft-dirty), which this kernel lacks',
  lazyPages: 'lazy pages need non-cooperative userfaultfd, which this kernel lacks',
  pidfdStore: 'the pidfd store needs pidfd_open and pidfd_getfd, which this kernel lacks',
};

/** Asks CRIU whether the kernel supports the features set to true in `want`; returns its answers. */
export async function probeFeatures(want: CriuFeatures, opts: SwrkOptions = {}): Promise<Required<CriuFeatures>> {
  const asked: CriuFeatures = {};
  for (const key of Object.keys(FEATURE_NEEDS) as (keyof CriuFeatures)[]) if (want[key]) asked[key] = true;
  const resp = await criuRequest({ type: 'FEATURE_CHECK', features: asked }, opts);
  const got = resp.features ?? {};
  return { memTrack: !!got.memTrack, lazyPages: !!got.lazyPages, pidfdStore: !!got.pidfdStore };
}

/** The errors for features asked for in `want` but missing from `have` (pure; empty when all are there). */
export function missingFeatureErrors(want: CriuFeatures, have: CriuFeatures): string[] {
  return (Object.keys(FEATURE_NEEDS) as (keyof CriuFeatures)[])
    .filter((key) => want[key] && !have[key])
    .map((key) => FEATURE_NEEDS[key]);
}

/** Checks the features set to true in `want`; throws one line naming every missing one. */
export async function featureCheck(want: CriuFeatures, opts: SwrkOptions = {}): Promise<void> {
  if (!Object.values(want).some(Boolean)) return;
  const missing = missingFeatureErrors(want, await probeFeatures(want, opts));
  if (missing.length > 0) throw new Error(missing.join('; '));
}
