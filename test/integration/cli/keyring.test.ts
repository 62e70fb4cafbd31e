/**
 * Session keyrings: by default a container joins a keyring of its own (`_ses.<id>`), so it cannot reach keys
 * linked into the caller's session keyring; --no-new-keyring keeps the caller's.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import type { Spec } from '../../../src/spec/types';

const skip = bundleSkipReason();
const env = new TestEnv('keyring');
after(() => env.dispose());

// /proc/keys lists the keyrings the process may view; the default profile masks it, so unmask it here.
const unmaskKeys = (s: Spec) => {
  s.linux!.maskedPaths = (s.linux!.maskedPaths ?? []).filter((p) => p !== '/proc/keys');
};

test('a container gets its own session keyring', { skip }, async (t) => {
  const { c, r } = await env.runOnce(t, { args: ['cat', '/proc/keys'], tweak: unmaskKeys });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, new RegExp(`keyring\\s+_ses\\.${c.id}:`));
});

test('--no-new-keyring keeps the caller session keyring', { skip }, async (t) => {
  const { c, r } = await env.runOnce(t, { args: ['cat', '/proc/keys'], tweak: unmaskKeys, flags: ['--no-new-keyring'] });
  assert.equal(r.code, 0, show(r));
  assert.doesNotMatch(r.stdout, new RegExp(`_ses\\.${c.id}:`));
});

leakTest(env);
