"""Network and IPC: the host's listeners (TCP and UDP on 127.0.0.1, an
abstract and a path unix socket in the host's /tmp) must see nothing from the
sandbox; host processes cannot be signalled; only loopback exists inside."""

import os
import subprocess
import time

import pytest

from conftest import CLEAN_PATH, HOST_PY, proc_state

CLIENT = r"""
import socket, sys
kind, addr = sys.argv[1], sys.argv[2]
def attempt(f):
    try:
        f()
        print("sent", kind)
    except OSError as e:
        print("error", kind, e)
if kind == "tcp":
    port = int(addr)
    for host in ("127.0.0.1", "localhost", "127.0.0.2", "0.0.0.0"):
        def go(host=host):
            s = socket.create_connection((host, port), timeout=2)
            s.sendall(b"hello from the sandbox")
            s.close()
        attempt(go)
    def v6():
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(("::ffff:127.0.0.1", port))
        s.sendall(b"v6")
    attempt(v6)
elif kind == "udp":
    port = int(addr)
    def go():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(3):
            s.sendto(b"hello from the sandbox", ("127.0.0.1", port))
    attempt(go)
    def conn():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", port))
        s.send(b"connected udp")
    attempt(conn)
elif kind == "abstract":
    def go():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect("\0" + addr)
        s.sendall(b"hello from the sandbox")
    attempt(go)
elif kind == "path":
    def go():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(addr)
        s.sendall(b"hello from the sandbox")
    attempt(go)
"""


def _targets(tcp_listener, udp_listener, abstract_listener, path_listener):
    return [("tcp", tcp_listener, str(tcp_listener.address[1])),
            ("udp", udp_listener, str(udp_listener.address[1])),
            ("abstract", abstract_listener, abstract_listener.address),
            ("path", path_listener, path_listener.address)]


def test_host_listeners_detect_a_bare_client(tcp_listener, udp_listener, abstract_listener,
                                             path_listener, tmp_path):
    """Control: the same client, run on the host without harness, reaches every
    listener, so the negative tests below can fail."""
    for kind, lst, addr in _targets(tcp_listener, udp_listener, abstract_listener, path_listener):
        subprocess.run([HOST_PY, "-c", CLIENT, kind, addr], cwd=str(tmp_path), timeout=30,
                       capture_output=True, env={"PATH": CLEAN_PATH})
        assert lst.seen(), f"the {kind} listener saw nothing from a bare client"


@pytest.mark.parametrize("kind", ["tcp", "udp", "abstract", "path"])
def test_host_listener_sees_nothing(harness, tcp_listener, udp_listener, abstract_listener,
                                    path_listener, kind):
    lst, addr = {k: (lst, a) for k, lst, a in _targets(tcp_listener, udp_listener,
                                                        abstract_listener, path_listener)}[kind]
    r = harness.run(["python3", "-c", CLIENT, kind, addr], timeout=60)
    assert r.rc == 0, r
    seen = lst.seen()
    assert not seen, f"the host's {kind} listener {lst.address} was reached: {seen}\n{r!r}"


def test_tcp_through_shell_tools_sees_nothing(harness, tcp_listener):
    port = tcp_listener.address[1]
    harness.sh(f"bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}'; "
               f"(command -v curl && curl -s -m 2 http://127.0.0.1:{port}/); "
               f"(command -v nc && echo hi | nc -w 2 127.0.0.1 {port}); true", timeout=60)
    assert not tcp_listener.seen()


def test_only_loopback_inside(harness, project):
    host_ifs = set(os.listdir("/sys/class/net")) - {"lo"}
    if not host_ifs:
        pytest.skip("the host has no interface but lo: nothing to tell apart")
    r = harness.sh("ls /sys/class/net > sys-net.txt; "
                   "python3 -c 'import socket; print(\"\\n\".join(n for _, n in socket.if_nameindex()))' "
                   "> ifaces.txt; (ip -o link || true) > ip-link.txt")
    assert r.rc == 0, r
    names = set((project / "ifaces.txt").read_text().split())
    assert names == {"lo"}, f"interfaces inside the sandbox: {names}"
    for f in ("sys-net.txt", "ip-link.txt"):
        text = (project / f).read_text()
        leaked = [i for i in host_ifs if i in text.replace(":", " ").split()]
        assert not leaked, f"host interfaces visible in {f}: {leaked}"


def test_cannot_signal_a_host_process(harness, host_sleep):
    p = host_sleep()
    r = harness.sh(f"kill -TERM {p.pid}; kill -KILL {p.pid}; kill -STOP {p.pid}; true")
    assert r.rc == 0, r
    time.sleep(0.2)
    assert p.poll() is None, "a host process was killed from inside the sandbox"
    st = proc_state(p.pid)
    assert st and st[0] in "SR", f"host process state: {st}"


def test_kill_minus_one_does_not_reach_the_host(harness, host_sleep):
    """kill(-1) as the caller's uid would hit every process the caller owns.
    Guarded: it refuses (exit 3) unless it really is in a new pid namespace,
    so a broken sandbox cannot take the test machine down."""
    p = host_sleep()
    ino = os.stat("/proc/self/ns/pid").st_ino
    code = ("import os, signal, sys\n"
            f"if os.stat('/proc/self/ns/pid').st_ino == {ino}: sys.exit(3)\n"
            "for s in (signal.SIGTERM, signal.SIGKILL):\n"
            "    try: os.kill(-1, s)\n"
            "    except OSError: pass\n")
    r = harness.run(["python3", "-c", code])
    assert r.rc != 3, "not in a new pid namespace"
    time.sleep(0.2)
    assert p.poll() is None, "kill(-1) from the sandbox reached a host process"
