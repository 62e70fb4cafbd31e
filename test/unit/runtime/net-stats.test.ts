import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetDev } from '../../../src/runtime/net-stats';

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1234      12    0    0    0     0          0         0     1234      12    0    0    0     0       0          0
  eth0: 98765432  654321    1    2    0     0          0        10 12345678  123456    3    4    0     0       0          0
`;

test('/proc/net/dev parses into runc network_interfaces entries', () => {
  assert.deepEqual(parseNetDev(NET_DEV), [
    { name: 'lo', rx_bytes: 1234, rx_packets: 12, rx_errors: 0, rx_dropped: 0, tx_bytes: 1234, tx_packets: 12, tx_errors: 0, tx_dropped: 0 },
    { name: 'eth0', rx_bytes: 98765432, rx_packets: 654321, rx_errors: 1, rx_dropped: 2, tx_bytes: 12345678, tx_packets: 123456, tx_errors: 3, tx_dropped: 4 },
  ]);
});

test('malformed lines are skipped', () => {
  assert.deepEqual(parseNetDev('h1\nh2\nbroken line\n  x: 1 2 3\n'), []);
});
