#!/usr/bin/env python3
"""A gateway that holds at the edge: a normal client's service while linkgate is attacked.

Starts one `linkgate serve` (temp data dir, free port), prepares a bucket, a 4 MiB and
a 4 KiB object and two stream links to the 4 KiB object (one without a use limit, one
with max_uses 10,000,000), then for `--duration` seconds runs at once:

  attackers (asyncio raw sockets, this process)
    --slow-readers 1000  GET the 4 MiB object through a presigned URL, read the
                         response head, then hold the response. Half of them
                         (`--reader-mode mix`, the default) read nothing more
                         ("stalled"); the other half read `--trickle-bytes` every
                         `--trickle-interval` seconds ("trickle": slow but alive).
                         16 KiB / 2 s by default: TCP reopens a full receive window
                         only once most of the buffer has been read (here about every
                         12 s), so 1 KiB every few seconds looks stalled to the server.
    --idle 2000          connect and send nothing.
    --stalled-forms 50   POST /bench with multipart/form-data, a 10 MB Content-Length,
                         the first part header started and never finished, then silence.
  a normal client (a second process, one thread per operation, each paced by
  `--client-pause` seconds, every operation bounded by `--op-timeout` seconds, no
  retries), in a loop until the end:
    put-1MiB             boto3 PutObject of 1 MiB (boto3's keep-alive pool)
    get-4KiB             GET of the 4 KiB object through a presigned URL (new connection)
    link-unlimited       GET /l/{token} of the link without use limit (new connection)
    link-max-uses        GET /l/{token} of the max_uses link (new connection)

Attacker sockets advertise a 1460-byte MSS (`--attacker-mss`), as a client across an
Ethernet path would. With loopback's 64 KiB MSS the server's kernel autotunes its send
buffer to 4 MiB, so the whole object would sit in kernel memory instead of in the
server (and 1000 such readers push the host's TCP memory into pressure, disturbing
everything else on the machine); with 1460 it holds ~0.8 MiB per reader.

Every second it samples the server's RSS (VmRSS), threads (/proc/PID/status Threads) and
open fds (/proc/PID/fd); every 5 s it prints a line of that timeline to stderr.

The server's edge limits are set through the environment (config keys limits.*):
`--idle-timeout 10 --header-timeout 5 --body-timeout 10 --send-timeout 30` by default,
short enough to show their effect within the run; `--max-connections` is only passed
when given. `--server-nofile N` lowers the server's RLIMIT_NOFILE (e.g. 1024, a common
default) to show fd exhaustion.

    .venv/bin/python bench/attack_bench.py                      # ~2 minutes
    .venv/bin/python bench/attack_bench.py --server-nofile 1024
    .venv/bin/python bench/attack_bench.py --duration 30 --slow-readers 200 --idle 500 --bin /path/to/linkgate

What the final tables mean:
  attackers       per kind: sockets opened, connects that failed, sockets the server
                  closed during the run (seen as EOF/RST, or a TCP state other than
                  ESTABLISHED for stalled readers) with the median time from connect to
                  close, and "open at end": sockets still open after the run. The
                  end check reads every socket not yet known closed for `--drain-secs`:
                  EOF or RST there means the server had closed it; a response that keeps
                  flowing (or silence) means it is still held. Stalled readers, idle
                  sockets and stalled forms should all be closed by the server's
                  send / idle / header / body timeouts; trickle readers are legitimate.
  normal client   per operation: attempted / succeeded / failed, success rate, p50 /
                  p99 / max latency over all attempts (a failure counts with the time
                  it took to fail, e.g. the op timeout) and the most common errors.
  server          peak RSS (max of the 1 s samples and VmHWM), peak threads, peak fds,
                  the RLIMIT_NOFILE it ran with, and the host's TCP buffer memory
                  (/proc/net/sockstat: what the kernel holds for all sockets).

Exit status: 0 if every operation kind of the normal client succeeded at least
`--min-success` of the time (default 0.99), 1 if not, 2 if the setup failed.
Everything it starts (server, client process, sockets, temp dir) is stopped and
removed at the end, also on Ctrl-C or failure (`--keep` keeps the temp dir and its
server log).
"""

import argparse
import asyncio
import collections
import math
import multiprocessing
import os
import queue
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_bench import AK, SK, ROOT, free_port, s3_client, wait_port  # noqa: E402
from links_bench import create_link  # noqa: E402

BUCKET = "bench"
BIG_KEY, SMALL_KEY = "object-4MiB.bin", "object-4KiB.bin"
BIG, SMALL, PUT = 4 << 20, 4096, 1 << 20
OPS = ("put-1MiB", "get-4KiB", "link-unlimited", "link-max-uses")
TCP_ESTABLISHED = 1
KINDS = ("stalled reader", "trickle reader", "idle socket", "stalled form")
SHORT = {"stalled reader": "stalled", "trickle reader": "trickle", "idle socket": "idle", "stalled form": "form"}


def tcp_mem_mib():
    """The host's TCP buffer memory (/proc/net/sockstat, pages)."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    fields = line.split()
                    return int(fields[fields.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except (OSError, ValueError):
        pass
    return float("nan")


# ---------------------------------------------------------------- normal client


def client_main(endpoint, urls, deadline, op_timeout, pause, out):
    """The normal client (runs in its own process): one thread per operation kind,
    each looping until `deadline` (time.time()), putting one record per operation
    on `out`: (op, started_at, ok, seconds, error)."""
    import boto3  # noqa: F401  (imported here: the child is spawned)
    import requests
    from botocore.config import Config

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    body = os.urandom(PUT)

    def put_loop():
        import boto3 as b3
        s3 = b3.client("s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
                       region_name="us-east-1",
                       config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                     connect_timeout=op_timeout, read_timeout=op_timeout,
                                     retries={"max_attempts": 1, "mode": "standard"}))

        def op():
            r = s3.put_object(Bucket=BUCKET, Key="client/upload.bin", Body=body)
            code = r["ResponseMetadata"]["HTTPStatusCode"]
            if code != 200:
                raise RuntimeError(f"HTTP {code}")
        run("put-1MiB", op)

    def get_loop(name, url, expect_len):
        def op():
            # A new session per request: a new connection, as a separate user's would be.
            with requests.Session() as s:
                r = s.get(url, timeout=(op_timeout, op_timeout))
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}")
                if len(r.content) != expect_len:
                    raise RuntimeError(f"short body {len(r.content)}")
        run(name, op)

    def run(name, op):
        while time.time() < deadline:
            t0 = time.time()
            try:
                op()
                out.put((name, t0, True, time.time() - t0, ""))
            except Exception as e:  # noqa: BLE001 - every failure is a data point
                out.put((name, t0, False, time.time() - t0, short_error(e)))
            left = deadline - time.time()
            if left > 0:
                time.sleep(min(pause, left))

    threads = [threading.Thread(target=put_loop, daemon=True),
               threading.Thread(target=get_loop, args=("get-4KiB", urls["get"], SMALL), daemon=True),
               threading.Thread(target=get_loop, args=("link-unlimited", urls["unlimited"], SMALL), daemon=True),
               threading.Thread(target=get_loop, args=("link-max-uses", urls["max_uses"], SMALL), daemon=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(None)


def short_error(e):
    text = f"{type(e).__name__}: {e}"
    low = text.lower()
    if "timed out" in low or "timeout" in low:
        return "timeout"
    if "refused" in low:
        return "connection refused"
    if "reset" in low:
        return "connection reset"
    if "aborted" in low or "remotedisconnected" in low or "closed connection" in low:
        return "connection closed"
    if text.startswith("RuntimeError: "):
        return text[len("RuntimeError: "):]
    return text[:80]


# ---------------------------------------------------------------- attackers


class Conn:
    __slots__ = ("kind", "sock", "opened_at", "closed_at", "status", "received", "failed")

    def __init__(self, kind):
        self.kind, self.sock = kind, None
        self.opened_at = self.closed_at = None
        self.status, self.received, self.failed = None, 0, None


class Attack:
    def __init__(self, a, port, big_path):
        self.a, self.port = a, port
        self.host = f"127.0.0.1:{port}"
        self.big_request = (f"GET {big_path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: slow-reader\r\n"
                            "Accept: */*\r\n\r\n").encode()
        boundary = "----attackbench7MA4YWxkTrZu0gW"
        self.form_request = (f"POST /{BUCKET} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: stalled-form\r\n"
                             f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                             "Content-Length: 10000000\r\n\r\n"
                             f"--{boundary}\r\nContent-Disposition: form-data; name=\"key\"").encode()
        self.conns = []
        self.tasks = []
        self.closed_before_check = set()
        self.connect_gate = asyncio.Semaphore(a.connect_concurrency)

    def plan(self):
        a = self.a
        stalled = {"stall": a.slow_readers, "trickle": 0, "mix": a.slow_readers // 2}[a.reader_mode]
        kinds = (["stalled reader"] * stalled + ["trickle reader"] * (a.slow_readers - stalled)
                 + ["idle socket"] * a.idle + ["stalled form"] * a.stalled_forms)
        # Interleave the kinds so that every kind is opening from the first second.
        buckets = collections.defaultdict(list)
        for k in kinds:
            buckets[k].append(k)
        order = []
        while any(buckets.values()):
            for k in list(buckets):
                n = max(1, len(buckets[k]) * 100 // max(1, len(kinds)))
                order += buckets[k][:n]
                del buckets[k][:n]
        return order

    def start(self):
        loop = asyncio.get_running_loop()
        for kind in self.plan():
            c = Conn(kind)
            self.conns.append(c)
            self.tasks.append(loop.create_task(self.run(c)))

    async def connect(self, c):
        loop = asyncio.get_running_loop()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.a.attacker_mss:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, self.a.attacker_mss)
        s.setblocking(False)
        c.sock = s
        async with self.connect_gate:
            await asyncio.wait_for(loop.sock_connect(s, ("127.0.0.1", self.port)), self.a.op_timeout)
        c.opened_at = time.time()

    async def read_head(self, c):
        loop = asyncio.get_running_loop()
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = await asyncio.wait_for(loop.sock_recv(c.sock, 1024), self.a.op_timeout * 3)
            if not chunk:
                raise ConnectionError("closed before the response head")
            buf += chunk
            if len(buf) > 65536:
                raise ConnectionError("no end of response head")
        head, _, rest = buf.partition(b"\r\n\r\n")
        c.status = int(head.split(b" ", 2)[1])
        c.received = len(rest)

    async def wait_close(self, c):
        """Reads (and discards) until EOF or reset: the server closed the socket."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await loop.sock_recv(c.sock, 65536)
                if not data:
                    break
                c.received += len(data)
        except OSError:
            pass
        c.closed_at = time.time()

    async def run(self, c):
        loop = asyncio.get_running_loop()
        try:
            await self.connect(c)
        except (OSError, asyncio.TimeoutError) as e:
            c.failed = "connect timeout" if isinstance(e, asyncio.TimeoutError) else f"connect: {e.strerror or e}"
            return
        try:
            if c.kind == "idle socket":
                await self.wait_close(c)
            elif c.kind == "stalled form":
                await loop.sock_sendall(c.sock, self.form_request)
                await self.wait_close(c)
            else:
                await loop.sock_sendall(c.sock, self.big_request)
                try:
                    await self.read_head(c)
                except asyncio.TimeoutError:
                    c.failed = "no response head"
                    return
                if c.status != 200:
                    c.failed = f"HTTP {c.status}"
                    await self.wait_close(c)
                    return
                if c.kind == "stalled reader":
                    return  # holds the response; the poller watches its TCP state
                while True:  # trickle reader
                    await asyncio.sleep(self.a.trickle_interval)
                    data = await loop.sock_recv(c.sock, self.a.trickle_bytes)
                    if not data:
                        c.closed_at = time.time()
                        return
                    c.received += len(data)
        except ConnectionError as e:
            c.closed_at = c.closed_at or time.time()
            c.failed = c.failed or str(e)
        except OSError:
            c.closed_at = c.closed_at or time.time()

    def poll_states(self):
        """Marks stalled readers whose TCP state left ESTABLISHED (FIN or RST from the server)."""
        now = time.time()
        for c in self.conns:
            if c.kind == "stalled reader" and c.opened_at and c.closed_at is None and c.sock is not None:
                try:
                    state = c.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
                except OSError:
                    state = 0
                if state != TCP_ESTABLISHED:
                    c.closed_at = now

    def open_counts(self):
        counts = collections.Counter()
        for c in self.conns:
            if c.opened_at and c.closed_at is None:
                counts[c.kind] += 1
        return counts

    async def final_check(self):
        """For every socket not yet known closed: read for drain_secs; EOF/RST means the
        server had closed it, anything else (data still flowing, or silence) means open."""
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        loop = asyncio.get_running_loop()
        end = time.time() + self.a.drain_secs

        async def drain(c):
            try:
                while True:
                    left = end - time.time()
                    if left <= 0:
                        return
                    data = await asyncio.wait_for(loop.sock_recv(c.sock, 262144), left)
                    if not data:
                        c.closed_at = time.time()
                        return
            except asyncio.TimeoutError:
                return
            except OSError:
                c.closed_at = time.time()

        pending = [c for c in self.conns if c.opened_at and c.closed_at is None]
        self.closed_before_check = {id(c) for c in self.conns if c.closed_at is not None}
        self.end_check_started = time.time()
        await asyncio.gather(*(drain(c) for c in pending))

    def close_all(self):
        for c in self.conns:
            if c.sock is not None:
                try:
                    c.sock.close()
                except OSError:
                    pass


# ---------------------------------------------------------------- server


def admin_get(endpoint, path, timeout):
    """GET on the admin API, SigV4-signed as root (as links_bench.create_link signs its POST)."""
    import hashlib
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="GET", url=f"{endpoint}{path}")
    req.headers["x-amz-content-sha256"] = hashlib.sha256(b"").hexdigest()
    SigV4Auth(Credentials(AK, SK), "s3", "us-east-1").add_auth(req)
    r = requests.get(req.url, headers=dict(req.headers), timeout=timeout)
    r.raise_for_status()
    return r.json()


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


def nofile_of(pid):
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return line.split()[3]
    except OSError:
        pass
    return "?"


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]  # nearest rank


class Interrupted(BaseException):  # not swallowed by `except Exception`
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "linkgate"), help="linkgate binary")
    ap.add_argument("--duration", type=float, default=90, help="seconds of attack (default 90)")
    ap.add_argument("--slow-readers", type=int, default=1000)
    ap.add_argument("--reader-mode", choices=("mix", "stall", "trickle"), default="mix",
                    help="slow readers: half stalled / half trickle (mix), all stalled, all trickle")
    ap.add_argument("--trickle-bytes", type=int, default=16384, help="trickle readers read this much ...")
    ap.add_argument("--trickle-interval", type=float, default=2.0, help="... every this many seconds")
    ap.add_argument("--attacker-mss", type=int, default=1460,
                    help="MSS the attacker sockets advertise (0: loopback's 64 KiB); see the module docstring")
    ap.add_argument("--idle", type=int, default=2000, help="idle sockets")
    ap.add_argument("--stalled-forms", type=int, default=50)
    ap.add_argument("--connect-concurrency", type=int, default=256, help="attacker connects in flight at once")
    ap.add_argument("--op-timeout", type=float, default=10, help="normal client: timeout per operation, seconds")
    ap.add_argument("--client-pause", type=float, default=0.2, help="normal client: pause between operations")
    ap.add_argument("--drain-secs", type=float, default=5, help="end check: how long to read each still-open socket")
    ap.add_argument("--min-success", type=float, default=0.99)
    ap.add_argument("--idle-timeout", type=int, default=10, help="limits.idle_timeout_secs")
    ap.add_argument("--header-timeout", type=int, default=5, help="limits.header_timeout_secs")
    ap.add_argument("--body-timeout", type=int, default=10, help="limits.body_timeout_secs")
    ap.add_argument("--send-timeout", type=int, default=30, help="limits.send_timeout_secs")
    ap.add_argument("--max-connections", type=int, help="limits.max_connections (server default if not given)")
    ap.add_argument("--server-nofile", type=int, help="RLIMIT_NOFILE of the server process (e.g. 1024)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (data and server log)")
    a = ap.parse_args()

    if not os.access(a.bin, os.X_OK):
        sys.exit(f"{a.bin}: not an executable (build it: cargo build --release -p linkgate, or pass --bin)")

    # Our own sockets: every attacker, plus headroom.
    need = a.slow_readers + a.idle + a.stalled_forms + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            sys.exit(f"RLIMIT_NOFILE hard limit {hard} < {need} sockets needed: raise `ulimit -Hn` or use fewer attackers")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

    def on_term(signum, frame):
        raise Interrupted()
    signal.signal(signal.SIGTERM, on_term)

    work = tempfile.mkdtemp(prefix="linkgate-attack-bench-")
    log_path = os.path.join(work, "server.log")
    proc = client = None
    rc = 2
    try:
        port = free_port()
        env = dict(os.environ, LINKGATE_ROOT_ACCESS_KEY=AK, LINKGATE_ROOT_SECRET_KEY=SK, LINKGATE_LOG="warn",
                   LINKGATE_LIMITS__IDLE_TIMEOUT_SECS=str(a.idle_timeout),
                   LINKGATE_LIMITS__HEADER_TIMEOUT_SECS=str(a.header_timeout),
                   LINKGATE_LIMITS__BODY_TIMEOUT_SECS=str(a.body_timeout),
                   LINKGATE_LIMITS__SEND_TIMEOUT_SECS=str(a.send_timeout))
        if a.max_connections is not None:
            env["LINKGATE_LIMITS__MAX_CONNECTIONS"] = str(a.max_connections)

        def child_limits():
            if a.server_nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (a.server_nofile, a.server_nofile))

        with open(log_path, "w") as log:
            proc = subprocess.Popen([a.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(work, "data")],
                                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=child_limits)
        wait_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        s3 = s3_client(port)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=BIG_KEY, Body=os.urandom(BIG))
        s3.put_object(Bucket=BUCKET, Key=SMALL_KEY, Body=os.urandom(SMALL))
        big_url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": BIG_KEY}, ExpiresIn=3600)
        links = {
            "link-unlimited": create_link(endpoint, {"bucket": BUCKET, "key": SMALL_KEY, "expires_in": 86400}),
            "link-max-uses": create_link(endpoint, {"bucket": BUCKET, "key": SMALL_KEY, "expires_in": 86400,
                                                    "max_uses": 10_000_000}),
        }
        urls = {
            "get": s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": SMALL_KEY}, ExpiresIn=3600),
            "unlimited": links["link-unlimited"]["url"],
            "max_uses": links["link-max-uses"]["url"],
        }
        parts = urlsplit(big_url)
        big_path = parts.path + ("?" + parts.query if parts.query else "")
        limits = (f"idle {a.idle_timeout}s, header {a.header_timeout}s, body {a.body_timeout}s, send {a.send_timeout}s"
                  + (f", max_connections {a.max_connections}" if a.max_connections is not None else ""))
        print(f"linkgate {a.bin} pid {proc.pid} on {endpoint}; limits {limits}; server RLIMIT_NOFILE {nofile_of(proc.pid)}",
              file=sys.stderr)

        ctx = multiprocessing.get_context("spawn")
        results_q = ctx.Queue()
        start = time.time()
        deadline = start + a.duration
        client = ctx.Process(target=client_main, args=(endpoint, urls, deadline, a.op_timeout, a.client_pause, results_q),
                             daemon=True)
        client.start()

        records = []
        samples = []
        link_state = {}
        attack = Attack(a, port, big_path)

        def drain_results():
            done = False
            while True:
                try:
                    item = results_q.get_nowait()
                except queue.Empty:
                    return done
                if item is None:
                    done = True
                else:
                    records.append(item)

        async def run_attack():
            attack.start()
            client_done = False
            next_print = start + 5
            last_n = 0
            while time.time() < deadline or not client_done:
                await asyncio.sleep(1)
                now = time.time()
                attack.poll_states()
                st = proc_status(proc.pid)
                if st:
                    st["tcpmem"] = tcp_mem_mib()
                    samples.append((now - start, st))
                client_done = drain_results() or client_done or not client.is_alive()
                if proc.poll() is not None:
                    print(f"  server exited with status {proc.returncode}", file=sys.stderr)
                    break
                if now >= next_print or (now >= deadline and client_done):
                    next_print += 5
                    opened = collections.Counter(c.kind for c in attack.conns if c.opened_at)
                    open_now = attack.open_counts()
                    new = records[last_n:]
                    last_n = len(records)
                    ok = sum(1 for r in new if r[2])
                    kinds = " ".join(f"{SHORT[k]}={open_now[k]}/{opened[k]}" for k in KINDS)
                    print(f"  t={now - start:5.1f}s rss={st.get('VmRSS', 0) / 1024:.0f}MiB threads={st.get('Threads', 0)} "
                          f"fds={st.get('fds', 0)} tcpmem={tcp_mem_mib():.0f}MiB | open/opened {kinds} | "
                          f"client ok={ok} failed={len(new) - ok}", file=sys.stderr)
                if now > deadline + a.op_timeout * 2 + 10:
                    print("  normal client did not finish in time", file=sys.stderr)
                    break
            # Before letting go of the attackers: what the server has recorded of the
            # client's redemptions (uses counted write-behind, audit rows batched).
            loop = asyncio.get_running_loop()
            for op, link in links.items():
                try:
                    link_state[op] = await loop.run_in_executor(None, admin_get, endpoint, f"/-/api/v1/links/{link['id']}",
                                                                a.op_timeout)
                except Exception as e:  # noqa: BLE001
                    link_state[op] = short_error(e)
            await attack.final_check()

        try:
            asyncio.run(run_attack())
        finally:
            attack.close_all()
        drain_results()
        end_status = proc_status(proc.pid)
        server_alive = proc.poll() is None

        # ------------------------------------------------------------ report
        print(f"\n## Edge attack, {a.duration:.0f} s, against {a.bin}\n")
        print(f"Server limits: {limits}; server RLIMIT_NOFILE {nofile_of(proc.pid) if server_alive else '?'}; "
              f"normal client: one thread per operation, pause {a.client_pause}s, timeout {a.op_timeout}s, no retries.\n")
        print("| attacker | sockets | connect failed | closed by server during run | median s to close "
              "| open at end | expected at end | median KiB received |")
        print("|---|---|---|---|---|---|---|---|")
        expected = {"stalled reader": f"0 (send timeout {a.send_timeout}s)",
                    "trickle reader": "all (a slow reader is fine)",
                    "idle socket": f"0 (idle timeout {a.idle_timeout}s)",
                    "stalled form": f"0 (header {a.header_timeout}s / body {a.body_timeout}s timeout)"}
        extra = collections.Counter()
        for kind in KINDS:
            cs = [c for c in attack.conns if c.kind == kind]
            if not cs:
                continue
            failed_connect = sum(1 for c in cs if not c.opened_at)
            during = [c for c in cs if c.closed_at is not None and id(c) in attack.closed_before_check]
            still = sum(1 for c in cs if c.opened_at and c.closed_at is None)
            ttc = [c.closed_at - c.opened_at for c in during if c.opened_at]
            med = f"{statistics.median(ttc):.1f}" if ttc else "-"
            kib = statistics.median(c.received for c in cs) / 1024
            print(f"| {kind} | {len(cs)} | {failed_connect} | {len(during)} | {med} | **{still}** | {expected[kind]} | {kib:.1f} |")
            for c in cs:
                if c.failed and c.opened_at:
                    extra[(kind, c.failed)] += 1
        trickle = [c for c in attack.conns if c.kind == "trickle reader"]
        if trickle:
            print(f"\nTrickle readers that received body bytes during the run: {sum(1 for c in trickle if c.received)}"
                  f" of {len(trickle)}.")
        if extra:
            print("\nAttacker anomalies: " + "; ".join(f"{k}: {why} ×{n}" for (k, why), n in sorted(extra.items())))

        print("\n| normal client | attempted | succeeded | failed | success | p50 ms | p99 ms | max ms | errors |")
        print("|---|---|---|---|---|---|---|---|---|")
        below = []
        for op in OPS:
            rs = [r for r in records if r[0] == op]
            okn = sum(1 for r in rs if r[2])
            lat = [r[3] * 1000 for r in rs]
            rate = okn / len(rs) if rs else 0.0
            if rate < a.min_success:
                below.append(op)
            errs = collections.Counter(r[4] for r in rs if not r[2])
            err_text = ", ".join(f"{e} ×{n}" for e, n in errs.most_common(3))
            print(f"| {op} | {len(rs)} | {okn} | {len(rs) - okn} | {rate:.1%} | {pct(lat, 50):.1f} | {pct(lat, 99):.1f} | "
                  f"{max(lat) if lat else float('nan'):.1f} | {err_text} |")

        print("\n| link | client redemptions granted | server's `uses` at the end of the attack | audit rows |")
        print("|---|---|---|---|")
        for op in links:
            got = sum(1 for r in records if r[0] == op and r[2])
            st = link_state.get(op)
            if isinstance(st, dict):
                audit = st.get("audit")
                rows = len(audit) if isinstance(audit, list) else "-"
                rows = "1000 (the API's cap)" if rows == 1000 else rows
                print(f"| {op} | {got} | {st.get('uses')} | {rows} |")
            else:
                print(f"| {op} | {got} | admin API: {st} | - |")

        peak_rss = max([s.get("VmRSS", 0) for _, s in samples] + [end_status.get("VmHWM", 0)]) / 1024
        peak_threads = max((s.get("Threads", 0) for _, s in samples), default=0)
        peak_fds = max((s.get("fds", 0) for _, s in samples), default=0)
        print("\n| server | peak | at end |")
        print("|---|---|---|")
        print(f"| RSS MiB | {peak_rss:.1f} | {end_status.get('VmRSS', 0) / 1024:.1f} |")
        print(f"| threads | {peak_threads} | {end_status.get('Threads', '-')} |")
        print(f"| open fds | {peak_fds} | {end_status.get('fds', '-')} |")
        print(f"| host TCP memory MiB | {max((s.get('tcpmem', 0) for _, s in samples), default=0):.0f} | {tcp_mem_mib():.0f} |")
        if not server_alive:
            print(f"\nThe server exited during the run (status {proc.returncode}); last log lines:")
        with open(log_path, errors="replace") as f:
            lines = f.readlines()
        if lines:
            def gist(line):  # no colours, timestamps, request ids or file ids: one message, one row
                line = re.sub(r"\x1b\[[0-9;]*m", "", line)
                line = re.sub(r'\b(request_id|file)=("[^"]*"|\S+)', r"\1=…", line)
                return " ".join(line.split()[1:])[:150]
            notable = collections.Counter(gist(line) for line in lines)
            print(f"\nServer log: {len(lines)} lines; most frequent:")
            for text, n in notable.most_common(5):
                print(f"    {n:6} × {text}")
        if below:
            print(f"\nFAIL: success below {a.min_success:.0%} for: {', '.join(below)}")
            rc = 1
        else:
            print(f"\nOK: every operation kind succeeded at least {a.min_success:.0%} of the time")
            rc = 0
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted: stopping", file=sys.stderr)
        rc = 130
    except Exception as e:
        print(f"attack_bench: {type(e).__name__}: {e}", file=sys.stderr)
        try:
            with open(log_path, errors="replace") as f:
                tail = f.readlines()[-20:]
            if tail:
                print("server log (tail):\n" + "".join(tail), file=sys.stderr)
        except OSError:
            pass
        rc = 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if client is not None and client.is_alive():
            client.terminate()
            client.join(5)
            if client.is_alive():
                client.kill()
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except Exception:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                proc.wait()
        if a.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(rc)


if __name__ == "__main__":
    main()
