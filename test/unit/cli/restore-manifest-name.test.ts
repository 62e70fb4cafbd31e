/** restore skips the archive code for a plain image directory by looking for the manifest by name. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PORTABLE_MANIFEST_FILE } from '../../../src/cli/commands/restore';
import { MANIFEST_FILE } from '../../../src/archive/manifest';

test('the restore command names the same manifest file as the archive code', () => {
  assert.equal(PORTABLE_MANIFEST_FILE, MANIFEST_FILE);
});
