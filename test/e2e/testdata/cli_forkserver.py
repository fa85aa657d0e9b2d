"""Runs commands of a Python CLI in processes forked from one interpreter.

The e2e tests run the openstack CLI some thousand times; each run spends about a
second of CPU importing the client and its plugins before it sends a request. This
server imports them once, then forks one process per command, which runs the CLI's
own main() with the command's argv, environment and working directory, its stdout
and stderr on the caller's pipes, and exits as the installed script would
(sys.exit(main())). The caller gets the process's real exit status.

Usage: python3 cli_forkserver.py SOCKET SCRIPT MODULE [GROUP_PREFIX...]
  SCRIPT is the installed script (the commands' argv[0]), MODULE the module whose
  main() it calls (openstackclient.shell); the modules of the entry points in
  groups starting with a GROUP_PREFIX (the CLI's plugins) are imported too.
Protocol, on a SOCK_SEQPACKET unix socket, one connection per command: the caller
sends {"argv": [...], "env": ["K=V", ...], "dir": "..."} (argv without argv[0])
with the write ends of its stdout and stderr pipes attached (SCM_RIGHTS, the same
pipe twice for combined output); the server answers "pid N", then, once the
process is gone, "exit N" or "signal N". The server exits when its stdin closes.
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


def preload(module, group_prefixes):
    """Imports the CLI and every plugin module it loads on each run."""
    cli = importlib.import_module(module)
    for group in importlib.metadata.entry_points().groups:
        if not group.startswith(tuple(group_prefixes)):
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


def run_command(cli, msg, out_fds, server_files):
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
    os.dup2(out_fds[0], 1)
    os.dup2(out_fds[1], 2)
    for fd in [null, *out_fds]:
        os.close(fd)
    os.environ.clear()
    os.environ.update(kv.split("=", 1) for kv in req["env"] if "=" in kv)
    os.chdir(req["dir"])
    random.seed()  # as a new interpreter would be
    # In place: a CLI may hold the list (swiftclient's "from sys import argv").
    sys.argv[1:] = req["argv"]
    os._exit(exit_status(cli.main))


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
    sock_path, script, module, *group_prefixes = sys.argv[1:]
    sys.argv = [script]  # cliff names the program after argv[0] on import
    cli = preload(module, group_prefixes)
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
            msg, fds, _, _ = socket.recv_fds(conn, 1 << 20, 2)
            if len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                conn.close()
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                run_command(cli, msg, fds, [srv, wake_r, wake_w, conn, *running.values()])
            for fd in fds:
                os.close(fd)
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
