"""Runs commands of a Python CLI in processes forked from one interpreter.

The e2e tests run the openstack CLI some thousand times; each run spends about a
second of CPU importing the client and its plugins before it sends a request. This
server imports them once, then forks one process per command, which runs the CLI's
own main() with the command's argv, environment and working directory, its stdout
and stderr on the caller's pipe, and exits as the installed script would
(sys.exit(main())). The caller gets the process's real exit status.

Usage: python3 cli_forkserver.py SOCKET MODULE SCRIPT
  MODULE is the module whose main() the script calls (openstackclient.shell) and
  SCRIPT the installed script (its argv[0], for usage and error messages).
Protocol, on a SOCK_SEQPACKET unix socket, one connection per command: the caller
sends {"argv": [...], "env": ["K=V", ...], "dir": "..."} with the write end of its
output pipe attached (SCM_RIGHTS); the server answers "pid N", then, once the
process is gone, "exit N" or "signal N". The server exits when its stdin closes.
(The command ends with os._exit once done, see exit_status.)
"""

import atexit
import functools
import gc
import importlib
import importlib.metadata
import json
import os
import random
import select
import signal
import socket
import sys
import threading


def preload(module):
    """Imports the CLI and every plugin module it loads on each run."""
    cli = importlib.import_module(module)
    for group in importlib.metadata.entry_points().groups:
        if not group.startswith(("openstack.", "keystoneauth1.", "cliff.")):
            continue
        for ep in importlib.metadata.entry_points(group=group):
            try:
                importlib.import_module(ep.module)
            except Exception:  # the CLI itself skips a plugin that fails to load
                pass
    # cliff computes, for every command's help epilog, which distribution provides
    # it: a scan of every installed package (0.2 s), the same answer each time.
    try:
        import importlib_metadata

        importlib_metadata.packages_distributions = functools.cache(importlib_metadata.packages_distributions)
        importlib_metadata.packages_distributions()
    except ImportError:
        pass
    return cli


def run_command(cli, script, msg, out_fd, server_files):
    """In the forked process: becomes the command, and never returns."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for f in server_files:  # the server's sockets and pipes are not the command's
        if isinstance(f, int):
            os.close(f)
        else:
            f.close()
    req = json.loads(msg)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(null)
    os.close(out_fd)
    os.environ.clear()
    os.environ.update(kv.split("=", 1) for kv in req["env"] if "=" in kv)
    os.chdir(req["dir"])
    random.seed()  # as a new interpreter would be
    sys.argv = [script] + req["argv"]
    os._exit(exit_status(lambda: cli.main(req["argv"])))


def exit_status(main):
    """Runs sys.exit(main()) and ends as the interpreter would, returning the exit
    status: non-daemon threads joined, atexit handlers run, stdio flushed. Only the
    teardown of the modules is left out: in a process forked from this big
    interpreter it costs seconds (every page copied) and prints nothing."""
    try:
        sys.exit(main())
    except SystemExit as e:
        code = e.code
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return code & 0xFF


def main():
    sock_path, module, script = sys.argv[1:4]
    sys.argv = [script]  # cliff names the program after argv[0] on import
    cli = preload(module)
    gc.freeze()  # the collector of a command leaves the preloaded objects (and their pages) alone
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(sock_path)
    srv.listen(128)
    print("ready", flush=True)
    running = {}  # pid -> the connection waiting for its exit status
    while True:
        ready, _, _ = select.select([srv, 0, wake_r], [], [])
        if 0 in ready and not os.read(0, 4096):
            return
        if wake_r in ready:
            os.read(wake_r, 4096)
        if srv in ready:
            conn, _ = srv.accept()
            msg, fds, _, _ = socket.recv_fds(conn, 1 << 20, 1)
            if len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                conn.close()
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                run_command(cli, script, msg, fds[0], [srv, wake_r, wake_w, conn, *running.values()])
            os.close(fds[0])
            conn.send(b"pid %d" % pid)
            running[pid] = conn
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = running.pop(pid, None)
            if conn is None:
                continue
            if os.WIFSIGNALED(status):
                reply = b"signal %d" % os.WTERMSIG(status)
            else:
                reply = b"exit %d" % os.waitstatus_to_exitcode(status)
            try:
                conn.send(reply)
            except OSError:
                pass
            conn.close()


if __name__ == "__main__":
    main()
