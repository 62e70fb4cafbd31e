/**
 * A warm worker: a Node process `stasis service` started ahead of time, with stasis loaded. It takes one
 * call from bin/stasis, becomes that call (its stdio, working directory, umask, environment and argv),
 * runs it exactly as a cold start would, reports the exit status and ends. One call per worker, so no
 * state of one call can reach another: the service starts a fresh worker for the next.
 *
 * Its fds at start: 3 the service's listening socket, 4 a socket to the service (written once when a call
 * is taken; the service closing it means the service is gone and an idle worker ends).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { FlagTable } from '../cli/args';
import { native, type ReceivedMessage } from '../native';
import { coldReason, decodeRequest, encodeCold, encodeDie, encodeExit, encodeOk, encodeRequest, type WarmRequest } from './protocol';
import { prepareSpawnThroughCaller } from './remote-spawn';

const LISTEN_FD = 3;
const SERVICE_FD = 4;
const MAX_REQUEST = 1 << 20;
const NAMESPACES = ['mnt', 'pid', 'net', 'user', 'cgroup', 'ipc', 'uts'];

export interface WorkerDeps {
  /** The CLI (src/cli/main.ts main). */
  main(argv: string[]): Promise<number>;
  /** How the CLI ends a process (src/cli/exit.ts exitProcess). */
  exit(code: number): never;
  globalFlags: FlagTable;
  /** Loads every command module, so a call pays for none of that. */
  preload(): void;
  /** The bundle this worker runs, to notice a rebuild. */
  bundleFile: string;
  /** The launcher's path, for process.argv[1] as a cold start has it. */
  launcherFile: string;
}

function stamp(file: string): string {
  try {
    const st = fs.statSync(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return 'missing';
  }
}

function sameNamespaces(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    return NAMESPACES.every((ns) => fs.readlinkSync(`/proc/${pid}/ns/${ns}`) === fs.readlinkSync(`/proc/self/ns/${ns}`));
  } catch {
    return false;
  }
}

function receive(conn: number): { msg: ReceivedMessage; req: WarmRequest } | undefined {
  try {
    const msg = native().recvMsg(conn, MAX_REQUEST);
    return { msg, req: decodeRequest(msg.data) };
  } catch {
    return undefined;
  }
}

/** True once the caller answers "go" to our "ok": from then on the call is ours, and only ours. */
function committed(conn: number): boolean {
  try {
    return native().recvMsg(conn, 64).data.toString('latin1') === 'go\0';
  } catch {
    return false;
  }
}

/**
 * Runs what every call runs first, once, before any call: V8 executes a function's first calls slowest
 * (and Node loads some internals on first use), and this is time no caller waits for.
 */
function warmUp(deps: WorkerDeps): void {
  const sample = encodeRequest({ argv: ['--root', '/run/stasis', 'state', 'x'], env: { PATH: '/bin' }, umask: 0o22 });
  for (let i = 0; i < 3; i++) {
    stamp(deps.bundleFile);
    coldReason(decodeRequest(sample), deps.globalFlags, { sameUser: true, sameNamespaces: sameNamespaces(process.pid), stale: false });
  }
}

/** Waits for one call, runs it, and ends the process. */
export async function serveOneCall(deps: WorkerDeps): Promise<never> {
  const n = native();
  const loaded = stamp(deps.bundleFile);
  deps.preload();
  warmUp(deps);
  const spawner = prepareSpawnThroughCaller(n);
  const conn = n.acceptWatch(LISTEN_FD, SERVICE_FD);
  if (conn < 0) n.exitNow(0); // the service is gone
  const peer = n.peerCred(conn);
  try {
    os.setPriority(os.getPriority(peer.pid)); // the service started us at the lowest priority
  } catch {
    /* the caller is gone already, or in another pid namespace (then the call goes cold) */
  }
  try {
    fs.writeSync(SERVICE_FD, 'x'); // the service starts the next worker now
  } catch {
    /* service gone: this call is still ours to run */
  }
  fs.closeSync(LISTEN_FD);
  fs.closeSync(SERVICE_FD);

  const call = receive(conn);
  if (!call) return n.exitNow(0); // the caller went away or spoke nonsense: it runs cold, or not at all
  const { msg, req } = call;
  const [stdin, stdout, stderr, cwd] = msg.fds;
  const reason =
    msg.fds.length !== 4
      ? 'the caller sent no stdio'
      : coldReason(req, deps.globalFlags, {
          sameUser: peer.uid === process.getuid?.(),
          sameNamespaces: sameNamespaces(peer.pid),
          stale: stamp(deps.bundleFile) !== loaded,
        });
  if (reason !== undefined) {
    try {
      n.sendMsg(conn, encodeCold(reason));
    } finally {
      n.exitNow(0);
    }
  }
  n.sendMsg(conn, encodeOk(process.pid));
  if (!committed(conn)) n.exitNow(0); // the caller gave up waiting for us and runs the call cold

  // Become the call. process.stdout and friends do not exist yet (nothing touched them): made later, they
  // are made for these fds.
  n.dup2(stdin, 0);
  n.dup2(stdout, 1);
  n.dup2(stderr, 2);
  process.chdir(`/proc/self/fd/${cwd}`);
  for (const fd of msg.fds) fs.closeSync(fd);
  process.umask(req.umask);
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, req.env);
  process.argv = [process.argv[0], deps.launcherFile, ...req.argv];

  spawner.adopt(conn);
  let reported = false;
  const report = (code: number) => {
    if (reported) return;
    reported = true;
    try {
      n.sendMsg(conn, encodeExit(code));
    } catch {
      /* the caller is gone */
    }
  };
  // A call that SIGKILLs its own process (the fault-injection points do) takes the caller's bin/stasis with
  // it, as it would a cold process. (Catchable signals go through Node's handlers as usual.)
  const kill = process.kill.bind(process);
  process.kill = (pid: number, signal?: string | number) => {
    const num = typeof signal === 'string' ? os.constants.signals[signal as NodeJS.Signals] : signal;
    if (pid === process.pid && num === os.constants.signals.SIGKILL) {
      try {
        n.sendMsg(conn, encodeDie(num));
      } catch {
        /* the caller is gone */
      }
    }
    return kill(pid, signal);
  };
  const exitNow = n.exitNow.bind(n);
  Object.assign(n, { exitNow: (code: number) => (report(code), exitNow(code)) });
  process.on('exit', (code) => report(code));
  let code = 1;
  try {
    code = await deps.main(req.argv);
  } finally {
    deps.exit(code);
  }
}
