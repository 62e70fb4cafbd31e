/**
 * In a warm worker, native spawn() and waitPid() go through the caller's bin/stasis process: it starts the
 * child (so the helper, and the container, descend from whoever ran stasis, as with a cold start) and
 * reports its exit on a notes channel. Everything above this (src/helper/launcher.ts) is unchanged: it
 * still spawns, listens for SIGCHLD and calls waitPid(pid, true); here a reported exit raises that SIGCHLD.
 */
import * as net from 'node:net';
import type { StasisNative } from '../native';
import { decodeNotes, decodeSpawnReply, encodeSpawn } from './protocol';
import { errnoName } from '../util/errno';

type Exit = { pid: number; code: number | null; signal: number | null };

/**
 * Made before a call arrives (a worker prepares everything it can while it waits); `adopt(conn)` then
 * replaces n.spawn and n.waitPid with versions served by the caller's process over conn.
 */
export function prepareSpawnThroughCaller(n: StasisNative): { adopt(conn: number): void } {
  const localWait = n.waitPid.bind(n);
  const [notesOurs, notesTheirs] = n.streamPair();
  const ours = new Set<number>();
  const exited = new Map<number, Exit>();
  let pending = '';
  const notes = new net.Socket({ fd: notesOurs, readable: true, writable: false });
  notes.setEncoding('utf8');
  notes.unref(); // the command's own work keeps the worker alive; this only listens
  notes.on('data', (chunk: string) => {
    const { exits, rest } = decodeNotes(pending + chunk);
    pending = rest;
    for (const e of exits) exited.set(e.pid, e);
    if (exits.length > 0) process.emit('SIGCHLD', 'SIGCHLD');
  });
  notes.on('error', () => undefined);

  let conn = -1;
  const spawn: StasisNative['spawn'] = (path, argv, env, fds, setsid, execFd) => {
    const slots: number[] = [];
    const sent = [notesTheirs];
    const hasExecFd = execFd !== undefined && execFd >= 0;
    if (hasExecFd) sent.push(execFd);
    fds.forEach((fd, slot) => {
      if (fd < 0) return;
      slots.push(slot);
      sent.push(fd);
    });
    n.sendMsg(conn, encodeSpawn({ path, argv, env, setsid, slots, hasExecFd }), sent);
    const reply = decodeSpawnReply(n.recvMsg(conn, 4096).data);
    if ('errno' in reply) {
      const name = errnoName(reply.errno) ?? `E${reply.errno}`;
      const err = new Error(`posix_spawn: ${name}`) as NodeJS.ErrnoException;
      err.errno = reply.errno;
      err.code = name;
      err.syscall = 'posix_spawn';
      throw err;
    }
    ours.add(reply.pid);
    return reply.pid;
  };

  const waitPid: StasisNative['waitPid'] = (pid, noHang) => {
    if (!ours.has(pid)) return localWait(pid, noHang);
    const e = exited.get(pid);
    if (e) {
      ours.delete(pid);
      exited.delete(pid);
      return e;
    }
    if (noHang) return null;
    // A blocking wait would stall the very event loop that receives the exit: the callers that need one
    // (restore) run cold.
    throw Object.assign(new Error('waitPid: a blocking wait for a child of the caller is not possible in a warm worker'), { code: 'ENOTSUP' });
  };

  return {
    adopt(c: number) {
      conn = c;
      Object.assign(n, { spawn, waitPid });
    },
  };
}
