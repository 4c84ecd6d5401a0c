#!/usr/bin/env python3
"""arouter benchmark driver (run it through `bench/run`, which builds and installs the tools).

Starts three mock upstreams (short answers; ~100-chunk streams sent at once; the same paced
1 ms apart), the gateway and, when nginx is installed, nginx `proxy_pass` to the same mocks,
each pinned with taskset when the machine has
two cores or more (gateway and nginx on the first core, mocks and the load generator on the
second). Drives every scenario with wrk for a fixed duration and reads the gateway's CPU time
(utime + stime from /proc/<pid>/stat) before and after, so each row carries CPU µs per request
beside requests/s and latency, and the same figures straight against the mock (and through
nginx) taken in the same run. Streams: time to first event with a small socket client (this
file), per-chunk CPU from wrk runs of whole streams, RSS idle and with 1,000 open streams.

Writes the Markdown report to bench/results/<timestamp>.md and prints it.
Standard library only.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOCK_KEY = "sk-mock-arouter-upstream-key"
MGMT_KEY = "lr_mgmt_" + "be" * 24
PRICED = "openai/gpt-5.4-mini"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
# Extra words for the long-answer mock: 97 words + the greeting make 100 `data:` events.
LONG_EXTRA_WORDS = 87
# The paced stream's gap between events: tokens as a fast model sends them, too far apart for
# any proxy to join two events in one write.
PACED_CHUNK_DELAY_MS = 1
# Sent with every direct call to the Anthropic mock (which, like the real API, requires it).
ANTHROPIC_VERSION = "anthropic-version: 2023-06-01"


def chat(model, stream=False, content="hi"):
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":"))


def anthropic_body(model, stream=False):
    body = {"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":"))


GEMINI_BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, separators=(",", ":"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_times(pid):
    """(utime, stime) of the whole process (exited threads included), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid):
    """utime + stime of the whole process, in seconds."""
    return sum(cpu_times(pid))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_http(url, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"bench: {url} did not come up")


def http_json(method, url, body=None, key=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if key:
        req.add_header("authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


class Procs:
    """Child processes, stopped in reverse order at exit."""

    def __init__(self):
        self.children = []

    def start(self, name, argv, cpus, env=None, log_dir=None, stdout=None):
        if cpus:
            argv = ["taskset", "-c", cpus] + argv
        out = stdout or open(Path(log_dir) / f"{name}.out", "w")
        err = open(Path(log_dir) / f"{name}.err", "w")
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=err, start_new_session=True)
        self.children.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.children:
            self.children.remove(p)

    def stop_all(self):
        for p in reversed(list(self.children)):
            self.stop(p)


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="arouter-bench-"))
        self.procs = Procs()
        ncpu = len(os.sched_getaffinity(0))
        cpus = sorted(os.sched_getaffinity(0))
        if ncpu >= 2 and not args.no_pin:
            self.gw_cpus, self.load_cpus = str(cpus[0]), str(cpus[1])
        else:
            self.gw_cpus = self.load_cpus = None
        self.gw_threads = args.gateway_threads or (1 if self.gw_cpus else ncpu)
        self.rows = []  # result rows for the table
        self.targets = []  # (target, measured, ok)
        self.notes = []

    # ---------- processes ----------

    def start_mock(self, name, extra_words, chunk_delay_ms=0):
        port = free_port()
        env = dict(os.environ, RUST_LOG="warn", TOKIO_WORKER_THREADS="1")
        argv = [self.args.mock_bin or self.args.bin, "mock", "--listen", f"127.0.0.1:{port}", "--chunk-delay-ms", str(chunk_delay_ms),
                "--extra-words", str(extra_words)]
        p = self.procs.start(name, argv, self.load_cpus, env, self.tmp)
        wait_http(f"http://127.0.0.1:{port}/v1beta/models?key={MOCK_KEY}")
        return p, f"http://127.0.0.1:{port}"

    def start_gateway(self, valgrind=None, extra_env=None):
        cfg = self.tmp / "bench.toml"
        cfg.write_text(
            f'[providers.longoai]\nbase_url = "{self.long_url}/v1"\napi_key_env = "BENCH_MOCK_KEY"\n\n'
            f'[providers.longant]\nkind = "anthropic"\nbase_url = "{self.long_url}"\napi_key_env = "BENCH_MOCK_KEY"\n\n'
            f'[providers.pacedoai]\nbase_url = "{self.paced_url}/v1"\napi_key_env = "BENCH_MOCK_KEY"\n'
        )
        db = self.tmp / f"gateway-{time.time_ns()}.db"
        env = dict(
            os.environ,
            RUST_LOG="warn",
            TOKIO_WORKER_THREADS=str(self.gw_threads),
            AROUTER_LISTEN="127.0.0.1:0",
            AROUTER_DATABASE_URL=f"sqlite://{db}",
            AROUTER_MANAGEMENT_KEY=MGMT_KEY,
            AROUTER_CONFIG=str(cfg),
            BENCH_MOCK_KEY=MOCK_KEY,
            OPENAI_BASE_URL=f"{self.mock_url}/v1",
            OPENAI_API_KEY=MOCK_KEY,
            ANTHROPIC_BASE_URL=self.mock_url,
            ANTHROPIC_API_KEY=MOCK_KEY,
            GEMINI_BASE_URL=self.mock_url,
            GEMINI_API_KEY=MOCK_KEY,
        )
        env.update(extra_env or {})
        argv = [self.args.bin, "serve"]
        if valgrind:
            argv = valgrind + argv
        out_path = self.tmp / f"gateway-{len(self.procs.children)}.out"
        out = open(out_path, "w")
        p = self.procs.start("gateway", argv, self.gw_cpus, env, self.tmp, stdout=out)
        deadline = time.time() + (120 if valgrind else 20)
        while time.time() < deadline:
            m = re.search(r"listening on (http://[0-9.:]+)", out_path.read_text())
            if m:
                break
            if p.poll() is not None:
                raise SystemExit(f"bench: gateway exited; see {self.tmp}/gateway.err")
            time.sleep(0.05)
        else:
            raise SystemExit("bench: gateway did not start")
        url = m.group(1)
        wait_http(f"{url}/healthz")
        return p, url

    def start_nginx(self):
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        if not nginx or self.args.no_nginx:
            return None, None
        d = self.tmp / "nginx"
        d.mkdir(exist_ok=True)
        # One proxy_pass server per mock: (name, mock URL, port nginx listens on).
        proxied = [(name, url, free_port()) for name, url in
                   (("mock", self.mock_url), ("long", self.long_url), ("paced", self.paced_url))]
        blocks = "".join(f"""
  upstream {name} {{ server 127.0.0.1:{url.rsplit(":", 1)[1]}; keepalive 512; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      proxy_pass http://{name}; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}""" for name, url, port in proxied)
        (d / "nginx.conf").write_text(f"""
daemon off; master_process off; worker_processes 1;
error_log {d}/error.log warn; pid {d}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;{blocks}
}}
""")
        port, long_port, paced_port = (port for _, _, port in proxied)
        p = self.procs.start("nginx", [nginx, "-p", str(d), "-c", str(d / "nginx.conf")], self.gw_cpus, None, self.tmp)
        url = f"http://127.0.0.1:{port}"
        self.ngx_long_url = f"http://127.0.0.1:{long_port}"
        self.ngx_paced_url = f"http://127.0.0.1:{paced_port}"
        try:
            wait_http(f"{url}/v1beta/models?key={MOCK_KEY}", 5)
        except SystemExit:
            self.notes.append("nginx did not start; its columns are empty")
            self.procs.stop(p)
            return None, None
        return p, url

    # ---------- load ----------

    def wrk(self, url, body, key=None, key_header=None, conc=32, duration=None, pid=None):
        duration = duration or self.args.duration
        env = dict(os.environ, BENCH_BODY=body, BENCH_KEY=key or "", BENCH_KEY_HEADER=key_header or "",
                   BENCH_EXTRA_HEADER=ANTHROPIC_VERSION if key_header == "x-api-key" else "")
        argv = ["wrk", "-t1", f"-c{conc}", f"-d{duration}s", "--timeout", "10s", "-s", str(ROOT / "bench/post.lua"), url]
        if self.load_cpus:
            argv = ["taskset", "-c", self.load_cpus] + argv
        t0 = cpu_times(pid) if pid else None
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
        t1 = cpu_times(pid) if pid else None
        m = re.search(r"BENCH (.*)", out)
        if not m:
            raise SystemExit(f"bench: wrk printed no summary:\n{out}")
        r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        if r["non2xx"] or r["sockerr"]:
            self.notes.append(f"{url}: {r['non2xx']} non-2xx, {r['sockerr']} socket errors in {r['requests']} requests")
        if pid:
            cpu0, cpu1 = sum(t0), sum(t1)
            r["cpu_us"] = (cpu1 - cpu0) * 1e6 / max(r["requests"], 1)
            # Of that, the kernel's part (syscalls, socket work, wake-ups).
            r["sys_share"] = (t1[1] - t0[1]) / max(cpu1 - cpu0, 1e-9)
            # Share of the pinned core the process used while the load ran.
            r["cpu_share"] = (cpu1 - cpu0) / (r["duration_us"] / 1e6)
        return r

    # ---------- report helpers ----------

    def row(self, scenario, gw, direct=None, nginx=None, note=""):
        self.rows.append((scenario, gw, direct, nginx, note))

    def target(self, name, measured, ok):
        self.targets.append((name, measured, "yes" if ok else "**no**"))

    # ---------- scenarios ----------

    def run(self):
        a = self.args
        try:
            self.mock, self.mock_url = self.start_mock("mock", 0)
            self.long, self.long_url = self.start_mock("mock-long", LONG_EXTRA_WORDS)
            self.paced, self.paced_url = self.start_mock("mock-paced", LONG_EXTRA_WORDS, PACED_CHUNK_DELAY_MS)
            self.gw, self.gw_url = self.start_gateway()
            self.idle_rss = rss_kb(self.gw.pid)
            self.key = http_json("POST", f"{self.gw_url}/api/v1/keys", {"name": "bench"}, MGMT_KEY)["key"]
            self.limited = http_json("POST", f"{self.gw_url}/api/v1/keys", {"name": "limited", "limit": 1000000}, MGMT_KEY)["key"]
            self.ngx_long_url = None
            self.ngx_paced_url = None
            self.ngx, self.ngx_url = self.start_nginx()
            if a.callgrind:
                return self.callgrind()
            self.warmup()
            self.scenarios()
        finally:
            self.procs.stop_all()
        return self.report()

    def warmup(self):
        body = chat(PRICED)
        self.wrk(f"{self.gw_url}/v1/chat/completions", body, self.key, conc=32, duration=a_warm(self.args))
        self.wrk(f"{self.mock_url}/v1/chat/completions", chat("gpt-5.4-mini"), MOCK_KEY, conc=32, duration=a_warm(self.args))
        if self.ngx_url:
            self.wrk(f"{self.ngx_url}/v1/chat/completions", chat("gpt-5.4-mini"), MOCK_KEY, conc=32, duration=a_warm(self.args))

    def scenarios(self):
        gw, gp = self.gw_url, self.gw.pid
        direct_body = chat("gpt-5.4-mini")
        same = {}
        for conc in (1, 32, 256):
            g = self.wrk(f"{gw}/v1/chat/completions", chat(PRICED), self.key, conc=conc, pid=gp)
            d = self.wrk(f"{self.mock_url}/v1/chat/completions", direct_body, MOCK_KEY, conc=conc, pid=self.mock.pid)
            n = None
            if self.ngx_url:
                n = self.wrk(f"{self.ngx_url}/v1/chat/completions", direct_body, MOCK_KEY, conc=conc, pid=self.ngx.pid)
            same[conc] = (g, d, n)
            self.row(f"OpenAI→OpenAI, non-stream, c={conc}", g, d, n)
        g1, d1, _ = same[1]
        added = g1["p50_us"] - d1["p50_us"]
        best = max(same[c][0]["rps"] for c in same)
        cpu = same[32][0]["cpu_us"]
        self.target("same-format ≥ 15,000 req/s", f"{best:,.0f} req/s (best of c=1/32/256); one-core capacity 1e6/CPU = {1e6 / cpu:,.0f}", best >= 15000)
        self.target("same-format added p50 at c=1 ≤ 100 µs", f"{added} µs", added <= 100)
        self.target("same-format gateway CPU ≤ 60 µs/request", f"{cpu:.1f} µs (c=32)", cpu <= 60)

        # Translated.
        ta = self.wrk(f"{gw}/v1/chat/completions", chat("anthropic/claude-haiku-4.5"), self.key, conc=32, pid=gp)
        da = self.wrk(f"{self.mock_url}/v1/messages", anthropic_body("claude-haiku-4-5"), MOCK_KEY, "x-api-key", conc=32, pid=self.mock.pid)
        self.row("OpenAI→Anthropic, non-stream, c=32", ta, da, None, "direct = mock /v1/messages")
        tg = self.wrk(f"{gw}/v1/chat/completions", chat("google/gemini-2.5-flash"), self.key, conc=32, pid=gp)
        dg = self.wrk(f"{self.mock_url}/v1beta/models/gemini-2.5-flash:generateContent", GEMINI_BODY, MOCK_KEY, "x-goog-api-key", conc=32, pid=self.mock.pid)
        self.row("OpenAI→Gemini, non-stream, c=32", tg, dg, None, "direct = mock :generateContent")
        worst = min(ta["rps"], tg["rps"])
        self.target("translated ≥ 8,000 req/s", f"{ta['rps']:,.0f} (Anthropic), {tg['rps']:,.0f} (Gemini); CPU {ta['cpu_us']:.0f} / {tg['cpu_us']:.0f} µs", worst >= 8000)

        # Embeddings.
        emb = json.dumps({"model": "openai/text-embedding-3-small", "input": "hello world"})
        ge = self.wrk(f"{gw}/v1/embeddings", emb, self.key, conc=32, pid=gp)
        de = self.wrk(f"{self.mock_url}/v1/embeddings", json.dumps({"model": "text-embedding-3-small", "input": "hello world"}), MOCK_KEY, conc=32, pid=self.mock.pid)
        self.row("embeddings, c=32", ge, de)

        # Accounting: unlimited vs limited key, alternated.
        runs = {"free": [], "limited": []}
        for _ in range(2):
            runs["free"].append(self.wrk(f"{gw}/v1/chat/completions", chat(PRICED), self.key, conc=32, pid=gp))
            runs["limited"].append(self.wrk(f"{gw}/v1/chat/completions", chat(PRICED), self.limited, conc=32, pid=gp))
        free, lim = merge(runs["free"]), merge(runs["limited"])
        self.row("key without limit, c=32 (mean of 2)", free)
        self.row("key with spend limit, c=32 (mean of 2)", lim)
        cost = 1 - lim["rps"] / free["rps"]
        self.target("accounting (limited key) costs ≤ 10 % throughput", f"{cost * 100:+.1f} % req/s, CPU {lim['cpu_us'] - free['cpu_us']:+.1f} µs/request", cost <= 0.10)

        # Streams: whole 100-chunk streams under load (per-chunk CPU), then time to first event.
        chunks = count_events(f"{gw}/v1/chat/completions", chat("longoai/gpt-5.4-mini", True), self.key)
        chunks_ant = count_events(f"{self.long_url}/v1/messages", anthropic_body("claude-haiku-4-5", True), MOCK_KEY, "x-api-key")
        sp = self.wrk(f"{gw}/v1/chat/completions", chat("longoai/gpt-5.4-mini", True), self.key, conc=32, pid=gp)
        ds = self.wrk(f"{self.long_url}/v1/chat/completions", chat("gpt-5.4-mini", True), MOCK_KEY, conc=32, pid=self.long.pid)
        st = self.wrk(f"{gw}/v1/chat/completions", chat("longant/claude-haiku-4-5", True), self.key, conc=32, pid=gp)
        dst = self.wrk(f"{self.long_url}/v1/messages", anthropic_body("claude-haiku-4-5", True), MOCK_KEY, "x-api-key", conc=32, pid=self.long.pid)
        base = same[32][0]["cpu_us"]
        base_t = ta["cpu_us"]
        per_chunk = (sp["cpu_us"] - base) / chunks
        per_chunk_t = (st["cpu_us"] - base_t) / chunks_ant
        ns, ngx_note = None, ""
        if self.ngx_url and self.ngx_long_url and same[32][2]:
            ns = self.wrk(f"{self.ngx_long_url}/v1/chat/completions", chat("gpt-5.4-mini", True), MOCK_KEY, conc=32, pid=self.ngx.pid)
            ngx_chunk = (ns["cpu_us"] - same[32][2]["cpu_us"]) / chunks
            ngx_note = f"; nginx proxy_pass {ngx_chunk:.2f} µs/chunk ({ns.get('sys_share', 0) * 100:.0f} % kernel)"
        self.row(f"stream OpenAI→OpenAI, {chunks} events, c=32", sp, ds, ns,
                 f"CPU/chunk {per_chunk:.2f} µs marginal, {sp['cpu_us'] / chunks:.2f} µs all-in{ngx_note}")
        self.row(f"stream OpenAI→Anthropic, {chunks_ant} upstream events, c=32", st, dst, None,
                 f"CPU/chunk {per_chunk_t:.2f} µs marginal, {st['cpu_us'] / chunks_ant:.2f} µs all-in")
        # The same stream paced as real models pace it: each event is its own write for every proxy.
        pp = self.wrk(f"{gw}/v1/chat/completions", chat("pacedoai/gpt-5.4-mini", True), self.key, conc=32, pid=gp)
        dp = self.wrk(f"{self.paced_url}/v1/chat/completions", chat("gpt-5.4-mini", True), MOCK_KEY, conc=32, pid=self.paced.pid)
        per_chunk_p = (pp["cpu_us"] - base) / chunks
        np_, ngx_note_p = None, ""
        if self.ngx_url and same[32][2]:
            np_ = self.wrk(f"{self.ngx_paced_url}/v1/chat/completions", chat("gpt-5.4-mini", True), MOCK_KEY, conc=32, pid=self.ngx.pid)
            ngx_note_p = f"; nginx proxy_pass {(np_['cpu_us'] - same[32][2]['cpu_us']) / chunks:.2f} µs/chunk"
        self.row(f"stream OpenAI→OpenAI, {chunks} events {PACED_CHUNK_DELAY_MS} ms apart, c=32", pp, dp, np_,
                 f"CPU/chunk {per_chunk_p:.2f} µs marginal{ngx_note_p}")
        self.target("gateway CPU ≤ 5 µs per passed-through chunk", f"{per_chunk:.2f} µs (stream CPU − non-stream CPU) / {chunks}{ngx_note}", per_chunk <= 5)
        self.target("gateway CPU ≤ 15 µs per translated chunk", f"{per_chunk_t:.2f} µs (stream CPU − translated non-stream CPU) / {chunks_ant}", per_chunk_t <= 15)

        n = self.args.ttfe_requests
        tg_ = ttfe(f"{gw}/v1/chat/completions", chat("longoai/gpt-5.4-mini", True), self.key, None, n)
        td_ = ttfe(f"{self.long_url}/v1/chat/completions", chat("gpt-5.4-mini", True), MOCK_KEY, None, n)
        tt_ = ttfe(f"{gw}/v1/chat/completions", chat("longant/claude-haiku-4-5", True), self.key, None, n)
        tdt = ttfe(f"{self.long_url}/v1/messages", anthropic_body("claude-haiku-4-5", True), MOCK_KEY, "x-api-key", n)
        self.row(f"time to first event, OpenAI→OpenAI (c=1, {n} streams)", tg_, td_)
        self.row(f"time to first event, OpenAI→Anthropic (c=1, {n} streams)", tt_, tdt)
        added_t = max(tg_["p50_us"] - td_["p50_us"], tt_["p50_us"] - tdt["p50_us"])
        self.target("streaming added time to first event ≤ 1 ms", f"+{tg_['p50_us'] - td_['p50_us']} µs passthrough, +{tt_['p50_us'] - tdt['p50_us']} µs translated (p50)", added_t <= 1000)

        # Memory.
        after_load = rss_kb(gp)
        held = asyncio.run(hold_streams(gw, self.key, self.args.open_streams, gp))
        per_stream = (held["rss_kb"] - held["rss_before_kb"]) * 1024 / self.args.open_streams
        self.notes.append(
            f"RSS: {self.idle_rss / 1024:.1f} MB idle at start, {after_load / 1024:.1f} MB idle after the load, "
            f"{held['rss_kb'] / 1024:.1f} MB with {held['open']} open streams "
            f"({per_stream / 1024:.1f} KB per stream over the {held['rss_before_kb'] / 1024:.1f} MB before them); "
            f"opening them took {held['open_s']:.2f} s")
        self.target("idle RSS ≤ 20 MB", f"{self.idle_rss / 1024:.1f} MB at start, {after_load / 1024:.1f} MB after load", self.idle_rss <= 20 * 1024)
        self.target("≤ 64 KB per open stream", f"{per_stream / 1024:.1f} KB ({held['open']} streams)", per_stream <= 64 * 1024 and held["open"] == self.args.open_streams)

        if self.args.busy_poll_us:
            self.busy_polling(same)

    def busy_polling(self, same):
        """c=1 again with a gateway started with `--busy-poll-us` (opt-in: its workers poll
        instead of sleeping between requests), against the same mock, direct and nginx."""
        us = self.args.busy_poll_us
        self.procs.stop(self.gw)
        gw, url = self.start_gateway(extra_env={"AROUTER_BUSY_POLL_US": str(us)})
        key = http_json("POST", f"{url}/api/v1/keys", {"name": "bench"}, MGMT_KEY)["key"]
        self.wrk(f"{url}/v1/chat/completions", chat(PRICED), key, conc=32, duration=a_warm(self.args))
        g = self.wrk(f"{url}/v1/chat/completions", chat(PRICED), key, conc=1, pid=gw.pid)
        d = self.wrk(f"{self.mock_url}/v1/chat/completions", chat("gpt-5.4-mini"), MOCK_KEY, conc=1, pid=self.mock.pid)
        n = None
        if self.ngx_url:
            n = self.wrk(f"{self.ngx_url}/v1/chat/completions", chat("gpt-5.4-mini"), MOCK_KEY, conc=1, pid=self.ngx.pid)
        self.row(f"OpenAI→OpenAI, non-stream, c=1, `--busy-poll-us {us}`", g, d, n,
                 "opt-in; CPU/req includes the polling (the core is busy while requests flow)")
        added = g["p50_us"] - d["p50_us"]
        default = same[1][0]["p50_us"] - same[1][1]["p50_us"]
        self.target(f"same-format added p50 at c=1 ≤ 100 µs, with `--busy-poll-us {us}` (opt-in)",
                    f"{added} µs (default: {default} µs)", added <= 100)

    # ---------- callgrind ----------

    def callgrind(self):
        """Instructions per request with the gateway under callgrind (slow: fixed request count)."""
        self.procs.stop(self.gw)
        out = self.tmp / "callgrind.out"
        # One dump file per thread, so the SQLite worker thread (the ledger's commits, whose
        # batch sizes depend on timing) can be told apart from the request path.
        vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", "--dump-instr=no", "--separate-threads=yes"]
        self.gw, self.gw_url = self.start_gateway(valgrind=vg)
        key = http_json("POST", f"{self.gw_url}/api/v1/keys", {"name": "bench"}, MGMT_KEY)["key"]
        limited = http_json("POST", f"{self.gw_url}/api/v1/keys", {"name": "limited", "limit": 1000000}, MGMT_KEY)["key"]
        n = self.args.callgrind_requests
        cases = [
            ("OpenAI→OpenAI non-stream", chat(PRICED), key, 1),
            ("OpenAI→OpenAI non-stream, limited key", chat(PRICED), limited, 1),
            ("OpenAI→Anthropic non-stream", chat("anthropic/claude-haiku-4.5"), key, 1),
            ("OpenAI→Gemini non-stream", chat("google/gemini-2.5-flash"), key, 1),
            ("stream OpenAI→OpenAI (per stream)", chat("longoai/gpt-5.4-mini", True), key, 1),
            ("stream OpenAI→Anthropic (per stream)", chat("longant/claude-haiku-4-5", True), key, 1),
            # Events 1 ms apart: each is its own read, task wake-up and write (a fifth as many
            # streams, they take 0.1 s each).
            ("stream OpenAI→OpenAI, events 1 ms apart (per stream)", chat("pacedoai/gpt-5.4-mini", True), key, 5),
        ]
        lines = [f"Instructions per request, gateway under `valgrind --tool=callgrind`, {n} sequential requests per case after {n // 5} warm-up requests "
                 "(a new connection each). \"Without SQLite\" leaves out the SQLite worker thread, whose commits (one per ledger batch) vary with timing.", "",
                 "| Case | instructions / request | without SQLite |", "|---|---:|---:|"]
        if self.args.callgrind_only:
            cases = [c for c in cases if self.args.callgrind_only in c[0]]
        for name, body, k, fewer in cases:
            count = n // fewer
            sequential(f"{self.gw_url}/v1/chat/completions", body, k, max(1, count // 5))
            time.sleep(0.5)
            subprocess.run(["callgrind_control", "-z", str(self.gw.pid)], capture_output=True, check=True)
            sequential(f"{self.gw_url}/v1/chat/completions", body, k, count)
            time.sleep(0.5)  # let the ledger commit inside the window
            subprocess.run(["callgrind_control", "-d", str(self.gw.pid)], capture_output=True, check=True)
            ir, sqlite = latest_dump_ir(self.tmp)
            lines.append(f"| {name} | {ir / count:,.0f} | {(ir - sqlite) / count:,.0f} |")
        lines += ["", f"Dumps in {self.tmp} (`callgrind_annotate <file>`)."]
        text = "\n".join(lines)
        return self.write(text)

    # ---------- output ----------

    def report(self):
        machine = describe_machine(self.gw_cpus, self.load_cpus, self.gw_threads)
        lines = [f"# arouter benchmark {time.strftime('%Y-%m-%d %H:%M:%S')}", "", machine, "",
                 f"Each load run: wrk, 1 thread, {self.args.duration} s. CPU µs/req: utime+stime of that process over the run ÷ requests "
                 "(steady even when wall-clock numbers are noisy); \"kernel %\" is the stime part of it. \"1-core cap\" = 1e6 ÷ CPU µs/req: what the process could serve with the core to itself.", "",
                 "| Scenario | arouter req/s | p50 µs | p99 µs | CPU µs/req | kernel % | 1-core cap | direct to mock req/s | p50 µs | p99 µs | nginx req/s | p50 µs | nginx CPU µs/req | arouter ÷ direct | added p50 µs | notes |",
                 "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for scenario, g, d, n, note in self.rows:
            cells = [scenario]
            cells += [fmt(g.get("rps")), fmt(g.get("p50_us")), fmt(g.get("p99_us")), fmt(g.get("cpu_us"), 1),
                      f"{g['sys_share'] * 100:.0f}" if "sys_share" in g else "–",
                      fmt(1e6 / g["cpu_us"]) if g.get("cpu_us") else "–"]
            cells += [fmt(d.get("rps")), fmt(d.get("p50_us")), fmt(d.get("p99_us"))] if d else ["–"] * 3
            cells += [fmt(n.get("rps")), fmt(n.get("p50_us")), fmt(n.get("cpu_us"), 1)] if n else ["–"] * 3
            if d and g.get("rps") and d.get("rps"):
                cells += [f"{g['rps'] / d['rps']:.2f}×", f"{g['p50_us'] - d['p50_us']:+,}"]
            elif d:
                cells += ["–", f"{g['p50_us'] - d['p50_us']:+,}"]
            else:
                cells += ["–", "–"]
            cells.append(note)
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "| Target | Measured | Met |", "|---|---|---|"]
        lines += [f"| {t} | {m} | {ok} |" for t, m, ok in self.targets]
        if self.notes:
            lines += [""] + [f"- {n}" for n in self.notes]
        return self.write("\n".join(lines))

    def write(self, text):
        results = ROOT / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        path = results / f"{time.strftime('%Y%m%d-%H%M%S')}{'-callgrind' if self.args.callgrind else ''}.md"
        path.write_text(text + "\n")
        print(text)
        print(f"\nwritten to {path.relative_to(ROOT)}")
        return 0


def a_warm(args):
    return max(1, args.warmup)


def merge(runs):
    total_req = sum(r["requests"] for r in runs)
    out = {
        "requests": total_req,
        "rps": statistics.mean(r["rps"] for r in runs),
        "p50_us": int(statistics.mean(r["p50_us"] for r in runs)),
        "p99_us": int(statistics.mean(r["p99_us"] for r in runs)),
    }
    if all("cpu_us" in r for r in runs):
        out["cpu_us"] = sum(r["cpu_us"] * r["requests"] for r in runs) / total_req
    return out


def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def describe_machine(gw_cpus, load_cpus, threads):
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ncpu = os.cpu_count()
    load = os.getloadavg()[0]
    pin = (f"gateway (and nginx) pinned to CPU {gw_cpus} with {threads} tokio worker thread(s); mocks and wrk pinned to CPU {load_cpus}"
           if gw_cpus else f"no pinning; gateway with {threads} tokio worker threads")
    return f"Machine: {ncpu} × {model}, {os.uname().release}; load average {load:.2f} at the end. {pin}."


def request_bytes(url, body, key, key_header):
    host, path = url.split("//", 1)[1].split("/", 1)
    auth = f"{key_header}: {key}" if key_header else f"authorization: Bearer {key}"
    if key_header == "x-api-key":
        auth += "\r\n" + ANTHROPIC_VERSION
    head = (f"POST /{path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n{auth}\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    hostname, port = host.rsplit(":", 1)
    return (hostname, int(port)), head.encode() + body.encode()


def ttfe(url, body, key, key_header, n):
    """Sequential streams on fresh connections: µs from sending the request to the first SSE
    `data:` line (whole stream read to the end each time)."""
    addr, req = request_bytes(url, body, key, key_header)
    times = []
    for _ in range(n):
        s = socket.create_connection(addr)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter_ns()
        s.sendall(req)
        buf = b""
        first = None
        while True:
            data = s.recv(65536)
            if not data:
                break
            buf += data
            if first is None:
                head_end = buf.find(b"\r\n\r\n")
                if head_end >= 0 and (buf.find(b"data:", head_end) >= 0 or buf.find(b"event:", head_end) >= 0):
                    first = time.perf_counter_ns()
        s.close()
        if first is None:
            raise SystemExit(f"bench: no event from {url}: {buf[:300]!r}")
        times.append((first - t0) / 1000)
    times.sort()
    return {"p50_us": int(times[len(times) // 2]), "p99_us": int(times[min(len(times) - 1, int(len(times) * 0.99))])}


def count_events(url, body, key, key_header=None):
    addr, req = request_bytes(url, body, key, key_header)
    s = socket.create_connection(addr)
    s.sendall(req)
    buf = b""
    while True:
        data = s.recv(65536)
        if not data:
            break
        buf += data
    s.close()
    return len(re.findall(rb"(?m)^data:", buf))


def sequential(url, body, key, n):
    addr, req = request_bytes(url, body, key, None)
    for _ in range(n):
        s = socket.create_connection(addr)
        s.sendall(req)
        while s.recv(65536):
            pass
        s.close()


def latest_dump_ir(tmp):
    """Instructions in the newest dump, summed over its threads' files, and those of the SQLite
    worker thread(s) among them."""
    # callgrind.out.<pid>.<dump>-<thread>; the files without <dump> hold the final totals.
    dumps = [(int(m.group(1)), p) for p in Path(tmp).glob("callgrind.out.*")
             if (m := re.fullmatch(r"callgrind\.out\.\d+\.(\d+)-\d+", p.name))]
    newest = max(dump for dump, _ in dumps)
    total = sqlite = 0
    for dump, p in dumps:
        if dump != newest:
            continue
        text = p.read_text(errors="replace")
        ir = int(re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M).group(1))
        total += ir
        if "sqlite3_step" in text and "multi_thread::worker::run" not in text:  # sqlx's own thread
            sqlite += ir
    return total, sqlite


async def hold_streams(base, key, count, pid):
    """Opens `count` streams that stay open (`fault-silent`: one event, then silence), waits
    until each has its first event, reads the gateway's RSS, then closes them."""
    host, port = base.split("//", 1)[1].rsplit(":", 1)
    body = chat("openai/fault-silent", True)
    req = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
           f"authorization: Bearer {key}\r\ncontent-length: {len(body)}\r\n\r\n{body}").encode()
    gate = asyncio.Semaphore(64)
    writers = []

    async def one():
        async with gate:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(req)
            await writer.drain()
            buf = b""
            while b"data:" not in buf:
                data = await asyncio.wait_for(reader.read(4096), 10)
                if not data:
                    raise RuntimeError(f"stream closed early: {buf[:200]!r}")
                buf += data
            writers.append(writer)

    rss_before = rss_kb(pid)
    t0 = time.time()
    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    open_s = time.time() - t0
    await asyncio.sleep(0.5)
    rss = rss_kb(pid)
    for w in writers:
        w.close()
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        print(f"bench: {len(errors)} streams failed to open, e.g. {errors[0]!r}", file=sys.stderr)
    return {"rss_before_kb": rss_before, "rss_kb": rss, "open": len(writers), "open_s": open_s}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True, help="release arouter binary")
    p.add_argument("--mock-bin", help="arouter binary for the mock upstreams (default: --bin); compare gateway builds against one mock")
    p.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", 5)), help="seconds per load run (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per target")
    p.add_argument("--ttfe-requests", type=int, default=300, help="streams per time-to-first-event measurement")
    p.add_argument("--open-streams", type=int, default=1000)
    p.add_argument("--gateway-threads", type=int, default=0, help="TOKIO_WORKER_THREADS for the gateway (default: 1 when pinned)")
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument("--no-nginx", action="store_true")
    p.add_argument("--busy-poll-us", type=int, default=1000,
                   help="also measure c=1 with the gateway's opt-in busy polling for this window (0: skip)")
    p.add_argument("--callgrind", action="store_true", help="instructions per request under callgrind instead of the load table")
    p.add_argument("--callgrind-requests", type=int, default=500)
    p.add_argument("--callgrind-only", default="", help="only the callgrind cases whose name contains this text (e.g. stream)")
    args = p.parse_args()
    sys.exit(Bench(args).run())


if __name__ == "__main__":
    main()
