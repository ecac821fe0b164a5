#!/usr/bin/python3
"""A userspace wide-area link emulator: a TCP proxy adding latency and bandwidth caps.

bench/wan.sh puts it between an HTTP client (regcache, curl) and a registry on loopback
(the kernel here has no netem). Model, per connection and direction (up: client to server,
down: server to client); R is the round trip, C and T are caps in MB/s (MB = 10^6 bytes):
  * Serialization at the sender's end: what is read leaves once two token buckets allow
    it, the connection's (C) and the direction's shared one (T: a runner's NIC), each at
    most 2 ms deep. After a turn of reads worth one piece (~2 ms of C), the sender is not
    read again until they have left, so TCP back-pressure slows it to the cap, and the
    connections sharing T take turns of equal size.
  * Propagation: a piece is delivered R/2 after it left, in order.
  * Set-up: a handshake costs a round trip: no client byte leaves before accept + R.
    (The upstream connection is opened at once, at accept.)
  * Half-close travels like data, behind the bytes before it. A connection is closed once
    both ends were delivered, or a side has gone and its end has reached the other side.
Timers use select() (microsecond timeouts; epoll rounds up to ms), hence at most ~500
connections at once. Timer lateness (~0.1 ms on an idle VM) is learnt and compensated.

  serve --listen 127.0.0.1:0 --upstream HOST:PORT --rtt-ms R --conn-mbps C --total-mbps T
        [--log FILE] [--port-file FILE]   proxy until SIGTERM/SIGINT (then exit 0)
  analyze LOG [--since T0] [--until T1] one JSON object for a window of the log
  check [--rtt-ms R --conn-mbps C --total-mbps T] [--size-mb N]  measure it with curl

Log, JSON lines: a header {"rtt_ms": R, "conn_mbps": C, "total_mbps": T, "start_unix": U},
then per event {"t": SECONDS_SINCE_START, "c": CONN_ID, "e": "open"|"up"|"down"|"close",
"n": BYTES}. up/down are logged on delivery to the far side; deliveries of one direction
of a connection with under 1 ms of idle link between them make one event (t of the
first, n the sum). open (at accept) and close have n = 0. Written every second and at exit.

analyze: connections (opens), requests (up events that are a connection's first or follow
a down event on it), bytes_up, bytes_down, and round_trips: the longest chain of exchanges
each starting at or after (1 ms tolerance) the end of the previous one. An open is
[t, t + R]; a request is [t_up - R/2, t_down], from the client sending its first byte to
it receiving the first byte of the answer (with no answer in the window: start + R).
"""

import argparse, asyncio, collections, http.server, json, math, os, selectors, shutil
import signal, subprocess, sys, tempfile, threading, time

MB = 1e6
BURST_S = 0.002          # token bucket depth, in seconds of its rate
PIECE_S = 0.002          # read size, in seconds of the per-connection cap
COALESCE_S = 0.001       # log: merge deliveries with less idle link between them
FLUSH_S = 1.0            # log: write the buffer this often
TOL_S = 0.001            # analyze: tolerance of "starts at or after the previous end"
EARLY_S = 0.00005        # deliver what is due this soon in the same go
MAX_LAG_S = 0.0005       # cap on the timer lateness compensated for
WRITE_HIGH = 1 << 20     # transport write buffer high-water mark


def hostport(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class Bucket:
    """A token bucket kept as a virtual clock: tb is when its current debt is paid off."""

    def __init__(self, mbps, tb=0.0):
        self.rate, self.tb = mbps * MB, tb

    def take(self, now, n):
        """Takes n bytes of tokens; returns the time by which they have all accrued."""
        self.tb = max(self.tb, now - BURST_S) + n / self.rate
        return self.tb


class Pipe:
    """One direction of a connection: a paced sender, then a delay line to the receiver."""

    def __init__(self, emu, conn, name, bucket):
        self.emu, self.conn, self.name, self.bucket = emu, conn, name, bucket
        self.total = emu.total[name]
        self.queue = collections.deque()     # (arrival time, piece, or None for the end)
        self.src = self.dst = self.timer = None   # transports read from / written to
        self.last_dep = self.armed = 0.0     # when the last piece left; timer target
        self.sleeps = False                  # the timer is a real wait (to measure lag)
        self.paused = set()                  # why src is paused: "rate", "dst"
        self.round = 0                       # bytes read since the last pause for rate
        self.eof = self.done = False         # end read from src / delivered (or dropped)
        self.ev, self.ev_gen, self.ev_t = None, -1, 0.0   # log event being coalesced

    def feed(self, piece):
        if self.done:
            return                           # the receiver is gone
        emu, n = self.emu, len(piece)
        now = emu.loop.time()
        sent = now - emu.lag                 # the bytes came in about one wake-up ago
        t = max(sent, self.last_dep, self.bucket.take(now, n), self.total.take(now, n))
        self.last_dep = t
        self.queue.append((t + emu.half, piece))
        self.round += n
        if self.round >= emu.piece:          # a piece's worth read: a turn is over
            self.round = 0
            if t > now + EARLY_S:            # read no more until the link is free
                self.pause("rate")
                emu.loop.call_at(t, self.pause, "rate", False)
        self.arm()

    def feed_eof(self):
        if self.eof:
            return
        self.eof = True
        if not self.done:
            sent = self.emu.loop.time() - self.emu.lag
            self.queue.append((max(sent, self.last_dep) + self.emu.half, None))
            self.arm()

    def pause(self, why, on=True):
        """Pauses (on) or resumes reading the sender, for a reason: "rate" or "dst"."""
        if on:
            self.paused.add(why)
        else:
            self.paused.discard(why)
        if self.src is not None and not self.eof:   # (both are no-ops if already so)
            if self.paused:
                self.src.pause_reading()
            else:
                self.src.resume_reading()

    def arm(self):
        if self.timer is None and self.queue and self.dst is not None:
            loop = self.emu.loop
            self.armed = self.queue[0][0] - self.emu.lag      # it wakes up ~lag late
            self.sleeps = self.armed > loop.time() + 0.0002
            self.timer = loop.call_at(self.armed, self.deliver)

    def deliver(self):
        self.timer = None
        emu, q, dst, n = self.emu, self.queue, self.dst, 0
        now = emu.loop.time()
        if self.sleeps:                      # learn the wake-up lateness (EWMA)
            emu.lag = min(MAX_LAG_S, max(0.0, emu.lag + (now - self.armed - emu.lag) / 16))
        while q and q[0][0] <= now + EARLY_S:
            p = q.popleft()[1]
            if p is None:                    # the sender's end
                if not dst.is_closing() and dst.can_write_eof():
                    try:
                        dst.write_eof()
                    except OSError:              # the receiver went first (ENOTCONN)
                        pass
                self.done = True
                break
            if not dst.is_closing():
                dst.write(p)
            n += len(p)
        if n:
            self.log(now, n)
        if self.done:
            self.conn.maybe_close()
        else:
            self.arm()

    def drop(self):
        """The receiver is gone: forget what is in flight, discard what comes."""
        self.queue.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.done = True
        self.pause("dst", False)
        self.conn.maybe_close()

    def log(self, now, n):
        emu, conn = self.emu, self.conn
        busy = n / self.bucket.rate          # link time of these bytes
        if (conn.last_ev is self.ev and self.ev_gen == emu.gen
                and now - self.ev_t <= COALESCE_S + busy):
            self.ev[3] += n
        else:
            self.ev, self.ev_gen = emu.event(now, conn.id, self.name, n), emu.gen
            conn.last_ev = self.ev
        self.ev_t = now


class Conn:
    """A proxied connection: the accepted client, one upstream connection, two pipes."""

    def __init__(self, emu, client):
        self.emu, self.id = emu, emu.next_id
        emu.next_id += 1
        now = emu.loop.time()
        self.up = Pipe(emu, self, "up", Bucket(emu.conn_mbps, tb=now + emu.rtt))  # handshake
        self.down = Pipe(emu, self, "down", Bucket(emu.conn_mbps))
        self.up.src = self.down.dst = client
        self.closed, self.last_ev = False, None
        emu.event(now, self.id, "open", 0)
        emu.loop.create_task(self.connect())

    async def connect(self):
        try:
            await self.emu.loop.create_connection(lambda: Side(self.emu, self), *self.emu.upstream)
        except OSError as e:
            print(f"link_emulator: connection {self.id}: upstream: {e}", file=sys.stderr)
            self.close()

    def maybe_close(self):
        if self.up.done and self.down.done:
            self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        for pipe in (self.up, self.down):
            pipe.done = True
            if pipe.timer is not None:
                pipe.timer.cancel()
            if pipe.src is not None:
                pipe.src.close()             # flushes what is buffered, then closes
        self.emu.event(self.emu.loop.time(), self.id, "close", 0)


class Side(asyncio.BufferedProtocol):
    """One end of a connection: the accepted client (conn=None) or the upstream server.
    Each turn reads one piece's worth (in one read or several), so connections sharing the
    total cap take turns of equal size, however full their socket buffers happen to be."""

    def __init__(self, emu, conn=None):
        self.emu, self.conn, self.buf = emu, conn, None

    def connection_made(self, tr):
        tr.set_write_buffer_limits(high=WRITE_HIGH)
        if self.conn is None:                # an accepted client
            self.conn = Conn(self.emu, tr)
            self.out, self.inp = self.conn.up, self.conn.down
        else:                                # upstream connected
            c = self.conn
            self.out, self.inp = c.down, c.up
            c.down.src = c.up.dst = tr
            if c.closed:
                tr.close()
            else:
                c.up.arm()

    def get_buffer(self, sizehint):
        if self.buf is None:
            self.buf = bytearray(self.emu.piece)
        return memoryview(self.buf)[:self.emu.piece - self.out.round]   # the turn's rest

    def buffer_updated(self, n):
        if n <= 16384:                       # small: copy it, keep the buffer
            self.out.feed(bytes(memoryview(self.buf)[:n]))
        else:                                # big: the queue keeps the buffer
            self.out.feed(memoryview(self.buf)[:n])
            self.buf = None

    def eof_received(self):
        self.out.feed_eof()
        return True                          # half-close: keep writing to this side

    def connection_lost(self, exc):
        self.out.feed_eof()
        self.inp.drop()

    def pause_writing(self):
        self.inp.pause("dst")

    def resume_writing(self):
        self.inp.pause("dst", False)


class Emu:
    """Settings, the shared (total) buckets, the timer lag and the in-memory log."""

    def __init__(self, args, loop):
        self.loop, self.rtt = loop, args.rtt_ms / 1000
        self.half, self.conn_mbps = self.rtt / 2, args.conn_mbps
        self.total = {"up": Bucket(args.total_mbps), "down": Bucket(args.total_mbps)}
        self.piece = int(min(256 << 10, max(16 << 10, args.conn_mbps * MB * PIECE_S)))
        self.upstream = hostport(args.upstream)
        self.t0, self.next_id, self.lag = loop.time(), 1, 0.0
        self.events, self.gen, self.log_path = [], 0, args.log
        if self.log_path:
            head = {"rtt_ms": args.rtt_ms, "conn_mbps": args.conn_mbps,
                    "total_mbps": args.total_mbps, "start_unix": round(time.time(), 6)}
            with open(self.log_path, "w") as f:
                f.write(json.dumps(head) + "\n")

    def event(self, now, cid, e, n):
        ev = [now - self.t0, cid, e, n]
        self.events.append(ev)
        return ev

    def flush(self):
        events, self.events = self.events, []
        self.gen += 1                        # written events take no more bytes
        if self.log_path and events:
            with open(self.log_path, "a") as f:
                f.write("".join(f'{{"t": {t:.6f}, "c": {c}, "e": "{e}", "n": {n}}}\n'
                                for t, c, e, n in events))


async def serve_main(args):
    loop = asyncio.get_running_loop()
    emu = Emu(args, loop)
    host, port = hostport(args.listen)
    server = await loop.create_server(lambda: Side(emu), host, port, backlog=1024,
                                      reuse_address=True)
    if args.port_file:
        tmp = f"{args.port_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{server.sockets[0].getsockname()[1]}\n")
        os.replace(tmp, args.port_file)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def periodic():
        emu.flush()
        loop.call_later(FLUSH_S, periodic)
    loop.call_later(FLUSH_S, periodic)
    await stop.wait()
    server.close()
    emu.flush()


def serve(args):
    try:  # Linux: 1 ns timer slack (PR_SET_TIMERSLACK) for punctual wake-ups
        import ctypes
        ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    asyncio.set_event_loop(loop)
    loop.run_until_complete(serve_main(args))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)                              # skip tearing down live connections


def analyze(path, since=None, until=None):
    rtt, events = 0.0, []
    with open(path) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                if "rtt_ms" in d:
                    rtt = d["rtt_ms"] / 1000
                elif (since is None or d["t"] >= since) and (until is None or d["t"] <= until):
                    events.append(d)
    events.sort(key=lambda d: d["t"])
    res = {"connections": 0, "requests": 0, "bytes_up": 0, "bytes_down": 0}
    exchanges, last_dir, waiting = [], {}, {}
    for d in events:
        t, c, e = d["t"], d["c"], d["e"]
        if e == "open":
            res["connections"] += 1
            exchanges.append([t, t + rtt])
        elif e == "up":
            res["bytes_up"] += d["n"]
            if last_dir.get(c) != "up":      # a new request
                res["requests"] += 1
                waiting[c] = [t - rtt / 2, None]
                exchanges.append(waiting[c])
        elif e == "down":
            res["bytes_down"] += d["n"]
            if waiting.get(c):               # the first byte of the answer
                waiting.pop(c)[1] = t
        last_dir[c] = e
    # The longest chain of non-overlapping exchanges: greedy by earliest end is optimal.
    chain, last_end = 0, -math.inf
    for start, end in sorted(((s, s + rtt if e is None else e) for s, e in exchanges),
                             key=lambda x: x[1]):
        if start >= last_end - TOL_S:
            chain, last_end = chain + 1, end
    res["round_trips"] = chain
    return res


class Handler(http.server.BaseHTTPRequestHandler):
    """check's origin: /big* is the big file (sent with sendfile), anything else 100 B; a PUT
    is read and dropped."""
    protocol_version = "HTTP/1.1"            # keep-alive
    disable_nagle_algorithm = True
    big_path, big_size = "", 0

    def do_GET(self):
        big = self.path.startswith("/big")
        self.send_response(200)
        self.send_header("Content-Length", str(self.big_size if big else 100))
        self.end_headers()
        if big:
            with open(self.big_path, "rb") as f:
                self.connection.sendfile(f)
        else:
            self.wfile.write(b"x" * 100)

    def do_PUT(self):
        left = int(self.headers["Content-Length"])
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class Origin(http.server.ThreadingHTTPServer):
    request_queue_size = 128                 # (b) connects N at once; 5 would drop SYNs
    daemon_threads = True


def curl_times(urls):
    """One curl for all urls (so one kept-alive connection); returns time_total per URL."""
    cmd = ["curl", "-s", "-w", "%{time_total} %{time_starttransfer}\n"]
    for u in urls:
        cmd += ["-o", "/dev/null", u]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [float(line.split()[0]) for line in out.splitlines()]


def run_linked(origin, args, log, fn):
    """Runs fn(link address) with `serve` in front of origin, logging to log."""
    pf = log + ".port"
    proc = subprocess.Popen([
        sys.executable, os.path.abspath(__file__), "serve", "--upstream", origin,
        "--rtt-ms", str(args.rtt_ms), "--conn-mbps", str(args.conn_mbps),
        "--total-mbps", str(args.total_mbps), "--log", log, "--port-file", pf])
    try:
        while not os.path.exists(pf) and proc.poll() is None:
            time.sleep(0.02)
        with open(pf) as f:
            return fn(f"127.0.0.1:{f.read().strip()}")
    finally:
        proc.terminate()
        proc.wait(10)


def check(args):
    R, C, T = args.rtt_ms / 1000, args.conn_mbps, args.total_mbps
    size = int(args.size_mb * MB)
    tmp = tempfile.mkdtemp(prefix="link-check-")
    Handler.big_path, Handler.big_size = os.path.join(tmp, "big"), size
    with open(Handler.big_path, "wb") as f:
        f.truncate(size)                     # sparse: reads as zeros, no disk
    httpd = Origin(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    origin = f"127.0.0.1:{httpd.server_address[1]}"
    rows, failed = [], False

    def row(name, meas, exp, tol_abs=0.0):
        nonlocal failed
        ok = abs(meas - exp) <= 0.05 * exp + tol_abs
        failed |= not ok
        rows.append(f"{name:30} {meas:10.4f} {exp:10.4f} {(meas - exp) / exp * 100:+7.2f}%  "
                    + ("ok" if ok else "FAIL"))

    print(f"check: rtt {args.rtt_ms:g} ms, {C:g} MB/s per connection, {T:g} MB/s in all, "
          f"file {size / MB:g} MB", flush=True)
    try:
        # (a) one stream: the connect round trip + the request round trip + size / C
        t = run_linked(origin, args, os.path.join(tmp, "a.log"),
                       lambda addr: curl_times([f"http://{addr}/big"])[0])
        row("(a) 1 stream: time (s)", t, size / (C * MB) + 2 * R)
        row("(a) 1 stream: rate (MB/s)", size / MB / (t - 2 * R), C)

        # (b) N parallel streams (N connections): min(T, N*C) in all. One curl runs them all
        # (one process to start, not N at once: on 2 cores that alone took 0.1 s), each on its
        # own connection; the time is the slowest transfer's own.
        n = math.ceil(T / C) + 2
        rate = min(T, n * C)

        def parallel(addr):
            cmd = ["curl", "-s", "-Z", "--parallel-immediate", "--parallel-max", str(n),
                   "-w", "%{time_total} %{num_connects}\n"]
            for i in range(n):
                cmd += ["-o", "/dev/null", f"http://{addr}/big{i}"]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows = [line.split() for line in out.splitlines()]
            if len(rows) != n or sum(int(r[1]) for r in rows) != n:
                raise SystemExit(f"check: (b) wanted {n} transfers on {n} connections: {out!r}")
            return max(float(r[0]) for r in rows)
        t = run_linked(origin, args, os.path.join(tmp, "b.log"), parallel)
        row(f"(b) {n} streams: time (s)", t, n * size / (rate * MB) + 2 * R)
        row(f"(b) {n} streams: rate (MB/s)", n * size / MB / (t - 2 * R), rate)

        # (c) 20 small requests one after the other on one kept-alive connection: 21 R more
        # than without the link (which is measured too: the server's own time)
        urls = lambda addr: [f"http://{addr}/small{i}" for i in range(20)]
        base = sum(curl_times(urls(origin)))
        log = os.path.join(tmp, "c.log")
        t = run_linked(origin, args, log, lambda addr: sum(curl_times(urls(addr))))
        row("(c) 20 requests: time (s)", t, base + 21 * R, tol_abs=0.005)
        stats = analyze(log)
        ok = stats["round_trips"] == 21 and stats["requests"] == 20 and stats["connections"] == 1
        failed |= not ok

        # (d) one upload of the big file: as (a), the other way
        def upload(addr):
            t0 = time.monotonic()
            subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Expect:", "-T", Handler.big_path,
                            f"http://{addr}/up"], check=True)
            return time.monotonic() - t0
        t = run_linked(origin, args, os.path.join(tmp, "d.log"), upload)
        row("(d) 1 upload: time (s)", t, size / (C * MB) + 2 * R)
        row("(d) 1 upload: rate (MB/s)", size / MB / (t - 2 * R), C)
    finally:
        httpd.shutdown()
        shutil.rmtree(tmp)

    print(f"{'test':30} {'measured':>10} {'expected':>10} {'error':>8}")
    print("\n".join(rows))
    print(f"(c) analyze: {json.dumps(stats)}\n    want 21 round trips, 20 requests, "
          f"1 connection: {'ok' if ok else 'FAIL'}")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def link_opts(p, req, rtt=None, conn=None, total=None):
        p.add_argument("--rtt-ms", type=float, required=req, default=rtt, help="round trip R")
        p.add_argument("--conn-mbps", type=float, required=req, default=conn,
                       help="cap C on each connection, MB/s each way")
        p.add_argument("--total-mbps", type=float, required=req, default=total,
                       help="cap T on all connections together, MB/s each way")

    p = sub.add_parser("serve", help="run the proxy until SIGTERM/SIGINT")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any)")
    p.add_argument("--upstream", required=True, help="HOST:PORT of the server")
    link_opts(p, True)
    p.add_argument("--log", help="event log (JSON lines)")
    p.add_argument("--port-file", help="gets the port (atomically) once listening")
    p = sub.add_parser("analyze", help="counts and round trips from a log")
    p.add_argument("log")
    p.add_argument("--since", type=float, help="from this event time (s since start)")
    p.add_argument("--until", type=float, help="to this event time (s since start)")
    p = sub.add_parser("check", help="measure the emulator with curl")
    link_opts(p, False, 80.0, 25.0, 200.0)
    p.add_argument("--size-mb", type=float, default=100, help="big file (default 100 MB)")
    args = ap.parse_args()
    if args.cmd == "serve":
        serve(args)
    elif args.cmd == "analyze":
        print(json.dumps(analyze(args.log, args.since, args.until)))
    else:
        sys.exit(check(args))


if __name__ == "__main__":
    main()
