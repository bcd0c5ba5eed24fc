#!/usr/bin/python3
"""A scripted fake model server for driving real coding-agent CLIs.

It speaks enough of two wire protocols for Claude Code and Codex CLI to run
a whole agent loop against it, on 127.0.0.1 only, with the standard library
only:

  Anthropic Messages API   POST /v1/messages (SSE when "stream": true, JSON
                           otherwise), POST /v1/messages/count_tokens,
                           GET /v1/models[/ID], and benign answers to probes.
  OpenAI Responses API     POST /v1/responses (SSE), GET /v1/models, ...

The agent conversation follows a SCRIPT: a list of steps. The step a request
gets is the number of tool results it already carries (Anthropic
`tool_result` blocks; OpenAI `*_call_output` items), so a client that
retries or re-sends its history gets the same step again. A step is one of

  {"write": PATH, "content": TEXT}      create a file
  {"edit": PATH, "old": TEXT, "new": TEXT}   replace text in a file (whole
                                        lines, for Codex's apply_patch)
  {"shell": COMMAND}                    run a shell command
  {"read": PATH}                        read a file
  {"text": TEXT}                        the final answer (ends the turn)

and the server maps it onto the tools the client offered in that request's
`tools` (Claude Code: Write/Edit/Bash/Read; Codex: its shell tool, whichever
name and parameter schema this version uses, and apply_patch). Past the end
of the script the answer is a final text. Requests that offer no tools (title
generation, quota probes, summaries...) are "side" requests: they get a short
text and do not advance the script.

Every request (method, path, headers, body) is kept in `requests` and, with
a log path, appended to a JSONL file, so a test can check that a canary
never reached the model: `fake.leaks(token)`.

Module use:
    fm = FakeModel(script, log_path=None).start(); fm.port; fm.stop()
CLI use:
    fakemodel.py --script FILE.json [--log FILE.jsonl] [--port N]
prints the port on stdout, then serves until SIGTERM/SIGINT.
"""

import argparse
import gzip
import http.server
import json
import signal
import sys
import threading
import time
import uuid
import zlib

SIDE_TEXT = "OK"
FINAL_TEXT = "Done."


def _id(prefix):
    return prefix + uuid.uuid4().hex[:24]


def _tokens(text):
    """A rough token count (4 bytes a token), for realistic usage numbers."""
    return max(1, len(text) // 4)


# ------------------------------------------------------------- requests ---


def count_tool_results(body, api):
    """How many tool results the request's conversation carries."""
    n = 0
    if api == "anthropic":
        for m in body.get("messages") or []:
            c = m.get("content")
            if isinstance(c, list):
                n += sum(1 for b in c if isinstance(b, dict) and b.get("type") == "tool_result")
    else:
        inp = body.get("input")
        if isinstance(inp, list):
            n += sum(1 for it in inp if isinstance(it, dict)
                     and str(it.get("type", "")).endswith("_call_output"))
    return n


def all_tools(body):
    """Every tool the request offers: its `tools`, plus those in Codex's
    `additional_tools` input items; namespaces are flattened."""
    found = list(body.get("tools") or [])
    inp = body.get("input")
    if isinstance(inp, list):
        for it in inp:
            if isinstance(it, dict) and it.get("type") == "additional_tools":
                found.extend(it.get("tools") or [])
    out = []
    while found:
        t = found.pop(0)
        if not isinstance(t, dict):
            continue
        if t.get("type") == "namespace":
            found.extend(t.get("tools") or [])
        else:
            out.append(t)
    return out


def _tool_name(t):
    return t.get("name") or (t.get("function") or {}).get("name") or t.get("type")


def tool_names(body):
    return [n for n in map(_tool_name, all_tools(body)) if n]


def _tool(body, name):
    for t in all_tools(body):
        if _tool_name(t) == name:
            return t
    return None


def _params(tool):
    """The JSON schema properties of a function tool (Anthropic or OpenAI)."""
    if tool is None:
        return {}
    schema = tool.get("input_schema") or tool.get("parameters") or \
        (tool.get("function") or {}).get("parameters") or {}
    return schema.get("properties") or {}


def _heredoc(path, content):
    tag = "HARNESS_FAKEMODEL_EOF"
    return f"cat > {_shq(path)} <<'{tag}'\n{content.rstrip(chr(10))}\n{tag}\n"


def _shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


def _edit_cmd(path, old, new):
    prog = ("import sys,json;p,o,n=json.loads(sys.argv[1]);"
            "s=open(p).read();assert o in s,'old text not found';"
            "open(p,'w').write(s.replace(o,n,1))")
    return f"python3 -c {_shq(prog)} {_shq(json.dumps([path, old, new]))}"


def _patch(path, old, new):
    minus = "".join("-" + l + "\n" for l in old.rstrip("\n").split("\n"))
    plus = "".join("+" + l + "\n" for l in new.rstrip("\n").split("\n"))
    return f"*** Begin Patch\n*** Update File: {path}\n@@\n{minus}{plus}*** End Patch\n"


def step_to_call_anthropic(step, body):
    """(tool name, input dict) for Claude Code's tools, or None for text."""
    names = tool_names(body)

    def has(n):
        return n in names
    if "write" in step and has("Write"):
        return "Write", {"file_path": step["write"], "content": step["content"]}
    if "edit" in step and has("Edit"):
        return "Edit", {"file_path": step["edit"], "old_string": step["old"],
                        "new_string": step["new"], "replace_all": False}
    if "read" in step and has("Read"):
        return "Read", {"file_path": step["read"]}
    cmd = _step_command(step)
    if cmd is not None and has("Bash"):
        return "Bash", {"command": cmd, "description": "scripted step"}
    return None


def _step_command(step):
    """The shell command a step amounts to, when done through a shell."""
    if "shell" in step:
        return step["shell"]
    if "write" in step:
        return _heredoc(step["write"], step["content"])
    if "edit" in step:
        return _edit_cmd(step["edit"], step["old"], step["new"])
    if "read" in step:
        return "cat " + _shq(step["read"])
    return None


def step_to_call_openai(step, body):
    """An output item for Codex (function_call, custom_tool_call or
    local_shell_call), or None for text."""
    names = tool_names(body)
    call_id = _id("call_")
    if "edit" in step and "apply_patch" in names:
        t = _tool(body, "apply_patch")
        patch = _patch(step["edit"], step["old"], step["new"])
        if t.get("type") == "custom":
            return {"type": "custom_tool_call", "id": _id("ctc_"), "call_id": call_id,
                    "name": "apply_patch", "input": patch, "status": "completed"}
        return _fcall("apply_patch", {"input": patch}, call_id)
    cmd = _step_command(step)
    if cmd is None:
        return None
    for name in ("shell_command", "exec_command", "shell", "container.exec", "local_shell"):
        if name not in names:
            continue
        t = _tool(body, name)
        if t.get("type") == "local_shell":
            return {"type": "local_shell_call", "id": _id("lsh_"), "call_id": call_id,
                    "status": "completed",
                    "action": {"type": "exec", "command": ["bash", "-lc", cmd],
                               "env": {}, "timeout_ms": 60000}}
        props = _params(t)
        args = {}
        if "cmd" in props:
            args["cmd"] = cmd
        elif "command" in props:
            typ = props["command"].get("type")
            args["command"] = ["bash", "-lc", cmd] if typ == "array" else cmd
        else:
            continue
        for k in ("timeout_ms", "yield_time_ms"):
            if k in props:
                args[k] = 60000 if k == "timeout_ms" else 10000
        return _fcall(name, args, call_id)
    return None


def _fcall(name, args, call_id):
    return {"type": "function_call", "id": _id("fc_"), "call_id": call_id, "name": name,
            "arguments": json.dumps(args), "status": "completed"}


# ------------------------------------------------------------ responses ---


def sse(events):
    out = []
    for ev in events:
        out.append(f"event: {ev['type']}\ndata: {json.dumps(ev)}\n\n")
    return "".join(out).encode()


def anthropic_message(body, text=None, call=None):
    """The message dict (non-streaming form) for a text or a tool call."""
    content = []
    if text is not None:
        content.append({"type": "text", "text": text})
    if call is not None:
        content.append({"type": "tool_use", "id": _id("toolu_"), "name": call[0],
                        "input": call[1]})
    in_tok = _tokens(json.dumps(body))
    out_tok = _tokens(json.dumps(content))
    return {
        "id": _id("msg_"), "type": "message", "role": "assistant",
        "model": body.get("model") or "claude-fake",
        "content": content,
        "stop_reason": "tool_use" if call is not None else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": in_tok, "output_tokens": out_tok,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "service_tier": "standard"},
    }


def anthropic_stream(msg):
    start = dict(msg, content=[], stop_reason=None,
                 usage=dict(msg["usage"], output_tokens=1))
    evs = [{"type": "message_start", "message": start}, {"type": "ping"}]
    for i, block in enumerate(msg["content"]):
        if block["type"] == "text":
            evs.append({"type": "content_block_start", "index": i,
                        "content_block": {"type": "text", "text": ""}})
            t = block["text"]
            for j in range(0, len(t), 40) or [0]:
                evs.append({"type": "content_block_delta", "index": i,
                            "delta": {"type": "text_delta", "text": t[j:j + 40]}})
        else:
            evs.append({"type": "content_block_start", "index": i,
                        "content_block": {"type": "tool_use", "id": block["id"],
                                          "name": block["name"], "input": {}}})
            js = json.dumps(block["input"])
            for j in range(0, len(js), 64):
                evs.append({"type": "content_block_delta", "index": i,
                            "delta": {"type": "input_json_delta", "partial_json": js[j:j + 64]}})
        evs.append({"type": "content_block_stop", "index": i})
    evs.append({"type": "message_delta",
                "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                "usage": msg["usage"]})
    evs.append({"type": "message_stop"})
    return sse(evs)


def openai_response(body, text=None, item=None):
    rid = _id("resp_")
    output = []
    if text is not None:
        output.append({"type": "message", "id": _id("msg_"), "status": "completed",
                       "role": "assistant",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]})
    if item is not None:
        output.append(item)
    in_tok = _tokens(json.dumps(body))
    out_tok = _tokens(json.dumps(output))
    usage = {"input_tokens": in_tok, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": out_tok, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": in_tok + out_tok}
    return {"id": rid, "object": "response", "created_at": int(time.time()),
            "status": "completed", "model": body.get("model") or "gpt-fake",
            "output": output, "usage": usage, "error": None, "incomplete_details": None,
            "parallel_tool_calls": False, "tool_choice": body.get("tool_choice", "auto"),
            "tools": []}


def openai_stream(resp):
    seq = [0]

    def ev(d):
        d["sequence_number"] = seq[0]
        seq[0] += 1
        return d
    pending = dict(resp, status="in_progress", output=[], usage=None)
    evs = [ev({"type": "response.created", "response": pending}),
           ev({"type": "response.in_progress", "response": pending})]
    for i, item in enumerate(resp["output"]):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            evs.append(ev({"type": "response.output_item.added", "output_index": i,
                           "item": dict(item, status="in_progress", content=[])}))
            part = {"type": "output_text", "text": "", "annotations": []}
            evs.append(ev({"type": "response.content_part.added", "item_id": item["id"],
                           "output_index": i, "content_index": 0, "part": part}))
            for j in range(0, len(text), 40) or [0]:
                evs.append(ev({"type": "response.output_text.delta", "item_id": item["id"],
                               "output_index": i, "content_index": 0,
                               "delta": text[j:j + 40], "logprobs": []}))
            evs.append(ev({"type": "response.output_text.done", "item_id": item["id"],
                           "output_index": i, "content_index": 0, "text": text,
                           "logprobs": []}))
            evs.append(ev({"type": "response.content_part.done", "item_id": item["id"],
                           "output_index": i, "content_index": 0,
                           "part": dict(part, text=text)}))
        elif item["type"] == "function_call":
            evs.append(ev({"type": "response.output_item.added", "output_index": i,
                           "item": dict(item, status="in_progress", arguments="")}))
            a = item["arguments"]
            for j in range(0, len(a), 64):
                evs.append(ev({"type": "response.function_call_arguments.delta",
                               "item_id": item["id"], "output_index": i,
                               "delta": a[j:j + 64]}))
            evs.append(ev({"type": "response.function_call_arguments.done",
                           "item_id": item["id"], "output_index": i, "arguments": a}))
        elif item["type"] == "custom_tool_call":
            evs.append(ev({"type": "response.output_item.added", "output_index": i,
                           "item": dict(item, status="in_progress", input="")}))
            evs.append(ev({"type": "response.custom_tool_call_input.delta",
                           "item_id": item["id"], "output_index": i, "delta": item["input"]}))
            evs.append(ev({"type": "response.custom_tool_call_input.done",
                           "item_id": item["id"], "output_index": i, "input": item["input"]}))
        else:
            evs.append(ev({"type": "response.output_item.added", "output_index": i,
                           "item": item}))
        evs.append(ev({"type": "response.output_item.done", "output_index": i, "item": item}))
    evs.append(ev({"type": "response.completed", "response": resp}))
    return sse(evs)


MODELS_ANTHROPIC = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]


def anthropic_models():
    data = [{"type": "model", "id": m, "display_name": m,
             "created_at": "2025-01-01T00:00:00Z"} for m in MODELS_ANTHROPIC]
    return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}


def openai_models():
    return {"object": "list", "data": [
        {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
        for m in ("gpt-5", "gpt-5-codex", "gpt-4.1")], "models": []}


# --------------------------------------------------------------- server ---


class FakeModel:
    def __init__(self, script=None, log_path=None, host="127.0.0.1", port=0,
                 side_text=SIDE_TEXT, final_text=FINAL_TEXT):
        self.script = list(script or [])
        self.log_path = log_path
        self.host = host
        self.want_port = port
        self.side_text = side_text
        self.final_text = final_text
        self.requests = []  # dicts: t, method, path, headers, body (str), json, api, kind, step
        self.lock = threading.Lock()
        self._srv = None
        self._thread = None

    # -- lifecycle
    def start(self):
        fm = self

        class Handler(_Handler):
            model = fm
        self._srv = _Server((self.host, self.want_port), Handler)
        self._srv.daemon_threads = True
        self._thread = threading.Thread(target=self._srv.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    @property
    def port(self):
        return self._srv.server_address[1]

    @property
    def base_url(self):
        return f"http://{self.host}:{self.port}"

    def stop(self):
        if self._srv:
            self._srv.shutdown()
            self._srv.server_close()
            self._srv = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    # -- what the tests look at
    def main_requests(self):
        return [r for r in self.requests if r["kind"] == "main"]

    def max_step_seen(self):
        """The highest script step any request reached (-1: none)."""
        return max((r["step"] for r in self.requests if r["kind"] == "main"), default=-1)

    def leaks(self, needle):
        """Requests in which NEEDLE appears (path, headers or body)."""
        hits = []
        for r in self.requests:
            blob = r["path"] + json.dumps(r["headers"]) + r["body"]
            if needle in blob:
                hits.append(r)
        return hits

    def tool_results(self):
        """The text of every tool result in the latest main request."""
        mains = self.main_requests()
        if not mains:
            return []
        body = mains[-1]["json"] or {}
        out = []
        if mains[-1]["api"] == "anthropic":
            for m in body.get("messages") or []:
                c = m.get("content")
                if isinstance(c, list):
                    for b in c:
                        if isinstance(b, dict) and b.get("type") == "tool_result":
                            out.append(_flatten(b.get("content")))
        else:
            for it in body.get("input") or []:
                if isinstance(it, dict) and str(it.get("type", "")).endswith("_call_output"):
                    out.append(_flatten(it.get("output")))
        return out

    # -- internals
    def _record(self, rec):
        with self.lock:
            self.requests.append(rec)
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(json.dumps({k: v for k, v in rec.items() if k != "json"}) + "\n")

    def respond(self, api, body):
        """(kind, step, payload) for a model request."""
        has_tools = bool(all_tools(body))
        if not has_tools:
            return "side", -1, (self.side_text, None)
        step = count_tool_results(body, api)
        if step < len(self.script):
            s = self.script[step]
            if "text" in s:
                return "main", step, (s["text"], None)
            call = (step_to_call_anthropic if api == "anthropic" else step_to_call_openai)(s, body)
            if call is None:
                return "main", step, (f"[fakemodel: no tool for step {step}: {s}; "
                                      f"offered {tool_names(body)}]", None)
            return "main", step, (None, call)
        return "main", step, (self.final_text, None)


def _flatten(c):
    if c is None:
        return ""
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        return "\n".join(_flatten(x) for x in c)
    if isinstance(c, dict):
        return str(c.get("text") or c.get("output") or c.get("content") or json.dumps(c))
    return str(c)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-request is not our concern


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    model = None  # set by FakeModel.start
    server_version = "fakemodel/1"

    def log_message(self, *a):
        pass

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not n and self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._read_chunked()
        enc = (self.headers.get("Content-Encoding") or "").lower()
        try:
            if enc == "gzip":
                raw = gzip.decompress(raw)
            elif enc == "deflate":
                raw = zlib.decompress(raw)
        except Exception:
            pass
        return raw

    def _read_chunked(self):
        out = b""
        while True:
            line = self.rfile.readline().strip()
            size = int(line.split(b";")[0] or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass
                return out
            out += self.rfile.read(size)
            self.rfile.readline()

    def _send(self, code, payload, ctype="application/json", extra=None):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
        elif isinstance(payload, str):
            payload = payload.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("request-id", _id("req_"))
        self.send_header("x-request-id", _id("req_"))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _handle(self):
        fm = self.model
        raw = self._read_body() if self.command in ("POST", "PUT", "PATCH") else b""
        body_text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(body_text) if body_text.strip() else None
        except ValueError:
            body = None
        target = self.path
        if "://" in target:  # absolute-form, as sent to a proxy
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path = target.split("?", 1)[0].rstrip("/")
        rec = {"t": time.time(), "method": self.command, "path": self.path,
               "headers": {k: v for k, v in self.headers.items()}, "body": body_text,
               "json": body, "api": None, "kind": "other", "step": -1}
        try:
            self._route(fm, path, body, rec)
        finally:
            fm._record(rec)

    def _route(self, fm, path, body, rec):
        body = body if isinstance(body, dict) else {}
        if self.command == "POST" and path.endswith("/messages/count_tokens"):
            rec["api"] = "anthropic"
            return self._send(200, {"input_tokens": _tokens(json.dumps(body))})
        if self.command == "POST" and path.endswith("/messages"):
            rec["api"] = "anthropic"
            kind, step, (text, call) = fm.respond("anthropic", body)
            rec["kind"], rec["step"] = kind, step
            msg = anthropic_message(body, text, call)
            if body.get("stream"):
                return self._send(200, anthropic_stream(msg), "text/event-stream")
            return self._send(200, msg)
        if self.command == "POST" and path.endswith("/responses"):
            rec["api"] = "openai"
            kind, step, (text, item) = fm.respond("openai", body)
            rec["kind"], rec["step"] = kind, step
            if item is not None:
                resp = openai_response(body, None, item)
            else:
                resp = openai_response(body, text, None)
            if body.get("stream", True):
                return self._send(200, openai_stream(resp), "text/event-stream")
            return self._send(200, resp)
        if self.command == "POST" and path.endswith("/chat/completions"):
            rec["api"] = "openai-chat"
            return self._send(200, {
                "id": _id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model") or "gpt-fake",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": fm.side_text}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        if self.headers.get("Upgrade", "").lower() == "websocket":
            # No WebSocket transport here: on 426 Codex falls back to HTTP
            # SSE at once (404, 405, 501 cost it ~6 s of retries first).
            return self._send(426, {"error": {"type": "upgrade_required",
                                              "message": "no websockets here"}})
        if self.command in ("GET", "HEAD") and path.endswith("/models"):
            if "anthropic-version" in self.headers or "x-api-key" in self.headers:
                return self._send(200, anthropic_models())
            return self._send(200, openai_models())
        if self.command in ("GET", "HEAD") and "/models/" in path:
            mid = path.rsplit("/", 1)[1]
            return self._send(200, {"type": "model", "id": mid, "display_name": mid,
                                    "created_at": "2025-01-01T00:00:00Z", "object": "model"})
        if self.command in ("GET", "HEAD"):
            return self._send(200, {})
        if self.command == "POST":
            return self._send(200, {})
        return self._send(404, {"error": {"type": "not_found", "message": path}})

    do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = _handle

    def do_OPTIONS(self):
        self._handle()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--script", help="JSON file: a list of steps")
    ap.add_argument("--log", help="append every request to this JSONL file")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    a = ap.parse_args(argv)
    script = []
    if a.script:
        with open(a.script) as f:
            script = json.load(f)
    fm = FakeModel(script, a.log, a.host, a.port).start()
    print(fm.port, flush=True)
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    stop.wait()
    fm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
