# serve.py VARIANT (base, io_uring, bufs, unix), run in the work dir: start qemu-storage-daemon on vol.qcow2 as the file backend does
# (listening socket made here with TCP_NODELAY, passed as an fd), with one change.
import socket, os, subprocess, sys
v = sys.argv[1]
img = os.path.abspath("vol.qcow2")
if v == "unix":
    try: os.unlink("nbd.sock")
    except FileNotFoundError: pass
    s = socket.socket(socket.AF_UNIX); s.bind(os.path.abspath("nbd.sock"))
else:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if v == "bufs":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", 10899))
s.listen(16)
os.set_inheritable(s.fileno(), True)
aio = "io_uring" if v == "io_uring" else "native"
f = '{"driver":"file","filename":"%s","node-name":"file0","aio":"%s","cache":{"direct":true}}' % (img, aio)
subprocess.run(["qemu-storage-daemon", "--daemonize", "--pidfile", os.path.abspath("pid"), "--blockdev", f,
  "--blockdev", '{"driver":"qcow2","file":"file0","node-name":"vol0"}', "--nbd-server", "addr.type=fd,addr.str=%d" % s.fileno(),
  "--export", "nbd,id=e0,node-name=vol0,name=v,writable=on"], pass_fds=[s.fileno()], check=True)
