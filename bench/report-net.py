#!/usr/bin/env python3
"""Turns the data of one bench/run-net.sh run into RESULTS-net.md.

Reads data.tsv (one line per measured key: user, group, name, round, key,
value, command; key FAILED carries the reason), the machine facts and the
notes, and prints Markdown: machine, headline with ratios and goals, the
observations, then one table per group and user with medians, min, max and
ratios, and each exact command.
"""
import argparse
import statistics
import sys
from collections import OrderedDict

from benchlib import emit, header, observations, unique

DIRECT = "direct"
TITLES = {
    "tput": "Throughput: one {size} download (net_bench client)",
    "curl": "Throughput: the same download with curl",
    "rps": "Small requests: {reqs} GETs of {body} bytes, one after another, each on a new connection",
    "rps-ka": "Small requests: {ka} GETs of {body} bytes on one kept-alive connection (one tunnel)",
}


def load(path):
    rows = OrderedDict()  # (user, group, name) -> {"cmd", "vals": {key: [..]}, "failed": [...]}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 7:
                continue
            user, group, name, rnd, key, val, cmd = parts
            r = rows.setdefault((user, group, name), {"cmd": cmd, "vals": {}, "failed": []})
            if key == "FAILED":
                r["failed"].append(f"round {rnd}: {val}")
                continue
            try:
                v = float(val)
            except ValueError:
                continue
            r["vals"].setdefault(key, []).append(v)
    return rows


def med(r, key):
    v = r["vals"].get(key) if r else None
    return statistics.median(v) if v else None


def grp(rows, user, group):
    return OrderedDict((n, r) for (u, g, n), r in rows.items() if u == user and g == group)


def f1(x):
    return "n/a" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:.1f}")


def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def mode_of(name):
    return name.split(" ", 1)[1] if " " in name else ""


def srt_peer(g, name):
    """srt's row of the same mode (for 'harness CONNECT', 'srt CONNECT')."""
    if not name.startswith("harness "):
        return None
    return g.get("srt " + mode_of(name).split(",")[0])


def commands(out, intro, ok, g):
    """After a table: INTRO, the exact commands of its rows OK, and the failed
    runs of the group G."""
    out.append(intro)
    for i, (n, r) in enumerate(ok, 1):
        out.append(f"{i}. `{r['cmd']}`")
    out.append("")
    for n, r in g.items():
        for why in r["failed"]:
            out.append(f"- **{n}: failed** — {why} (`{r['cmd']}`)")
    out.append("")


def rate_table(out, rows, user, group, key, unit, title, cmd_prefix=""):
    g = grp(rows, user, group)
    if not g:
        return
    d = g.get(DIRECT)
    dm = med(d, key)
    out.append(f"### {title} — as {user}\n")
    out.append(f"| # | path | runs | median {unit} | min | max | × direct | harness × srt (same mode) |")
    out.append("|---|---|---|---|---|---|---|---|")
    ok = [(n, r) for n, r in g.items() if r["vals"].get(key)]
    for i, (n, r) in enumerate(ok, 1):
        v = r["vals"][key]
        m = statistics.median(v)
        s = srt_peer(g, n)
        sm = med(s, key)
        out.append(
            f"| {i} | {n} | {len(v)} | **{f1(m)}** | {f1(min(v))} | {f1(max(v))} | "
            f"{'1' if n == DIRECT else ratio(m, dm)} | {ratio(m, sm) if sm else ''} |"
        )
    out.append("")
    commands(out, "Exact commands (no shell; cwd: the user's scratch work dir, which holds `net_bench`):\n", ok, g)


def n0(x):
    return "n/a" if x is None else f"{x:,.0f}"


def mib(kb):
    return "n/a" if kb is None else f"{kb / 1024:.1f}"


def mem_table(out, rows, user, conns):
    g = grp(rows, user, "mem")
    if not g:
        return
    out.append(f"### Memory with {conns:,} connections open through the proxy — as {user}\n")
    out.append(
        "| # | what | runs | connections | VmRSS MiB (all open) | VmHWM MiB (end) | PSS MiB (all open) "
        "| KiB per connection (RSS over idle) | s to open them | req/s while open |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    ok = [(n, r) for n, r in g.items() if r["vals"].get("conns")]
    for i, (n, r) in enumerate(ok, 1):
        rss, hwm, pss = med(r, "ready_rss_kb"), med(r, "after_hwm_kb"), med(r, "ready_pss_kb")
        idle = g.get(n.replace(" CONNECT", ", idle")) if n.endswith(" CONNECT") else None
        per = ""
        c = med(r, "conns")
        if idle and rss is not None and c:
            irss = med(idle, "ready_rss_kb")
            if irss is not None:
                per = f"{(rss - irss) / c:.1f}"
        runs = len(r["vals"]["conns"])
        o = med(r, "open_s")
        opn = "" if o is None else f"{o:.2f}"
        tool_note = ""
        if med(r, "ready_helpers_out") is not None:
            tool_note = (
                f" (+ {n0(med(r, 'ready_helpers_out'))} socat outside, PSS {mib(med(r, 'ready_helpers_out_pss_kb'))} MiB; "
                f"{n0(med(r, 'ready_helpers_in'))} socat inside the sandbox, PSS {mib(med(r, 'ready_helpers_in_pss_kb'))} MiB)"
            )
        out.append(
            f"| {i} | {n} | {runs} | {n0(c)} | {'' if rss is None else '**' + mib(rss) + '**'} | {mib(hwm) if hwm is not None else ''} "
            f"| {mib(pss) if pss is not None else ''}{tool_note} | {per} | {opn} "
            f"| {f1(med(r, 'rps'))} |"
        )
    out.append("")
    commands(out, "Exact commands (started in the background; memory sampled once all connections are open, and again "
             "after the requests made while they are open):\n", ok, g)


def headline(rows, user, a):
    out = []
    t = grp(rows, user, "tput")
    d = med(t.get(DIRECT), "MBps")
    for mode in ("CONNECT", "HTTP", "SOCKS5"):
        h = med(t.get("harness " + mode), "MBps")
        s = med(t.get("srt " + mode), "MBps")
        if h is None or d is None:
            continue
        goal = "met" if h / d >= 0.8 else "**not met**"
        line = (f"- Throughput ({user}, {mode}): harness {f1(h)} MB/s = **{h / d:.2f}× direct** ({f1(d)} MB/s); "
                f"goal ≥ 0.8× direct: {goal}")
        if s is not None:
            line += f"; srt {f1(s)} MB/s = {s / d:.2f}× direct, harness = {h / s:.1f}× srt"
        out.append(line + ".")
    c = grp(rows, user, "curl")
    cd = med(c.get(DIRECT), "MBps")
    ch = med(c.get("harness CONNECT"), "MBps")
    if cd and ch:
        cs = med(c.get("srt CONNECT"), "MBps")
        out.append(f"- With curl ({user}, CONNECT via `-p`): harness {f1(ch)} MB/s = {ch / cd:.2f}× direct ({f1(cd)} MB/s)"
                   + (f"; srt {f1(cs)} MB/s = {cs / cd:.2f}× direct" if cs else "") + ".")
    r = grp(rows, user, "rps")
    d = med(r.get(DIRECT), "rps")
    for mode in ("HTTP", "CONNECT", "SOCKS5"):
        h = med(r.get("harness " + mode), "rps")
        s = med(r.get("srt " + mode), "rps")
        if h is None or d is None:
            continue
        line = (f"- Small requests ({user}, {mode}, new connection each): harness {f1(h)} req/s = "
                f"{h / d:.2f}× direct ({f1(d)} req/s; {1e6 / h:.0f} µs vs {1e6 / d:.0f} µs a request)")
        if s is not None:
            line += f"; srt {f1(s)} req/s = {s / d:.2f}× direct, harness = {h / s:.1f}× srt"
        out.append(line + ".")
    hj = med(r.get("harness CONNECT, --audit jsonl"), "rps")
    hn = med(r.get("harness CONNECT, --no-audit"), "rps")
    hs = med(r.get("harness CONNECT"), "rps")
    if hs and hn:
        out.append(f"- What the audit record costs ({user}, CONNECT, 2 records a request): default SQLite store {f1(hs)} req/s, "
                   + (f"`--audit jsonl:` {f1(hj)} req/s, " if hj else "")
                   + f"`--no-audit` {f1(hn)} req/s: the default store costs {1e6 / hs - 1e6 / hn:.0f} µs a request "
                   f"({hn / hs:.1f}× fewer requests a second).")
    k = grp(rows, user, "rps-ka")
    kd, kh, ks = (med(k.get(n), "rps") for n in (DIRECT, "harness CONNECT", "srt CONNECT"))
    if kd and kh:
        out.append(f"- Round trips on one kept-alive tunnel ({user}): harness {f1(kh)} req/s = {kh / kd:.2f}× direct "
                   f"({f1(kd)} req/s; {1e6 / kh:.0f} µs vs {1e6 / kd:.0f} µs a round trip)"
                   + (f"; srt {f1(ks)} req/s = {ks / kd:.2f}× direct" if ks else "") + ".")
    m = grp(rows, user, "mem")
    hi, hc = m.get("harness, idle"), m.get("harness CONNECT")
    if hi and hc and med(hc, "ready_rss_kb"):
        c = med(hc, "conns")
        line = (f"- Supervisor memory ({user}): VmRSS {mib(med(hi, 'ready_rss_kb'))} MiB idle, **{mib(med(hc, 'ready_rss_kb'))} MiB "
                f"with {c:,.0f} connections open** (VmHWM {mib(med(hc, 'after_hwm_kb'))} MiB), "
                f"{(med(hc, 'ready_rss_kb') - med(hi, 'ready_rss_kb')) / c:.1f} KiB a connection")
        si, sc = m.get("srt, idle"), m.get("srt CONNECT")
        if sc and med(sc, "ready_rss_kb"):
            tot = med(sc, "ready_pss_kb") + (med(sc, "ready_helpers_out_pss_kb") or 0)
            line += (f"; srt's proxy (node) {mib(med(sc, 'ready_rss_kb'))} MiB RSS with the same connections "
                     f"({mib(med(si, 'ready_rss_kb')) if si else 'n/a'} MiB idle), plus "
                     f"{n0(med(sc, 'ready_helpers_out'))} socat relays outside the sandbox: "
                     f"{mib(tot)} MiB PSS outside the sandbox in all, against harness's {mib(med(hc, 'ready_pss_kb'))} MiB PSS")
        out.append(line + ".")
        ni, nc = m.get("harness --no-audit, idle"), m.get("harness --no-audit CONNECT")
        ir, cr = med(ni, "rps") if ni else None, med(nc, "rps") if nc else None
        if ir and cr:
            slow = f"{ir / cr:.1f}× slower" if cr < ir else "no slower"
            line = (f"- Small requests while {c:,.0f} connections are open ({user}, CONNECT, new tunnel each, `--no-audit`): "
                    f"harness {f1(cr)} req/s against {f1(ir)} req/s with none open ({slow}; "
                    f"opening the {c:,.0f} took {med(nc, 'open_s'):.2f} s)")
            dr = med(m.get(DIRECT), "rps")
            if dr:
                line += f"; direct with {c:,.0f} open: {f1(dr)} req/s"
            si, sc = m.get("srt, idle"), m.get("srt CONNECT")
            sc_r, si_r = med(sc, "rps") if sc else None, med(si, "rps") if si else None
            if sc_r and si_r:
                line += f"; srt {f1(sc_r)} against {f1(si_r)} req/s (opening took {med(sc, 'open_s'):.2f} s)"
            out.append(line + ".")
    return out


def main():
    ap = argparse.ArgumentParser()
    for k in ("data", "facts", "notes", "scratch", "harness", "server"):
        ap.add_argument("--" + k, required=True)
    for k in ("bytes", "rounds", "srt-rounds", "curl-rounds", "user-rounds", "requests", "ka-requests",
              "conns", "held-requests", "mem-rounds", "body"):
        ap.add_argument("--" + k, type=int, required=True)
    a = ap.parse_args()
    rows = load(a.data)
    users = unique(u for u, _, _ in rows)
    size = f"{a.bytes / 2**30:g} GiB" if a.bytes >= 2**30 else f"{a.bytes / 2**20:g} MiB"

    out = header(
        "harness egress proxy: benchmark results",
        "Written by `bench/run-net.sh` (`make bench-net`); every figure below comes from one run on the machine "
        "described here, all paths measured side by side. Do not edit by hand: rerun. "
        "See bench/README.md for what each benchmark measures.",
        a.facts,
    )
    out.append(
        f"Method: one client (`bench/net_bench.c`, built by the script) and one server (`net_bench serve` on "
        f"{a.server}, the host's loopback) for every row; inside the sandboxes the client takes the proxy from "
        "`HTTP_PROXY` (HTTP, CONNECT) or the first socks5 URL of `ALL_PROXY`/`FTP_PROXY` (SOCKS5; srt's is in "
        "`FTP_PROXY`; harness's `ALL_PROXY` names its HTTP proxy, so the client falls back to harness's documented "
        "SOCKS5 address, 127.0.0.1:1080), with srt's "
        "credentials when its URL carries them, and ignores `NO_PROXY`. Each run is timed by the client itself, "
        "from before `connect()` to the last byte (sandbox start-up is not in the figures; for srt, the client "
        "first waits, untimed, until the proxy port inside the sandbox accepts). MB = 10^6 bytes. "
        f"Rounds: {a.rounds} for direct and harness (srt: the first {a.srt_rounds}; curl: {a.curl_rounds}; the "
        f"second user: {a.user_rounds}), every command once a round, the order reversed in every other round; "
        f"medians over rounds. Small requests: {a.requests} a run with a new TCP connection each (through the "
        "proxies: a new forwarded request, tunnel or SOCKS session each, so each proxied request also opens one "
        f"upstream connection, the same number the direct client opens), and {a.ka_requests} a run on one "
        f"kept-alive connection (one tunnel). Memory: {a.mem_rounds} rounds (the second user: 1), {a.conns:,} "
        "CONNECT tunnels opened one after another, each with one small request relayed, then held while "
        f"{a.held_requests} more requests go through new tunnels. Scratch tree: `{a.scratch}` (deleted afterwards)."
    )
    out.append("")
    out.append("## Headline\n")
    for u in users:
        out += headline(rows, u, a)
    out.append("")
    out += observations(a.notes)
    out.append("## Details\n")
    for u in users:
        rate_table(out, rows, u, "tput", "MBps", "MB/s", TITLES["tput"].format(size=size))
        rate_table(out, rows, u, "curl", "MBps", "MB/s", TITLES["curl"].format(size=size))
        rate_table(out, rows, u, "rps", "rps", "req/s", TITLES["rps"].format(reqs=a.requests, body=a.body))
        rate_table(out, rows, u, "rps-ka", "rps", "req/s", TITLES["rps-ka"].format(ka=a.ka_requests, body=a.body))
        mem_table(out, rows, u, a.conns)
    emit(out)


if __name__ == "__main__":
    sys.exit(main())
