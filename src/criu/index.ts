/** CRIU support: options mapping, the swrk RPC, capability checks and statistics. */
export * from './types';
export * from './swrk';
export * from './check';
export * from './options';
export * from './stats';
export * from './run';
