"""The client child of the SSE bench: ``n`` subscribers on raw non-blocking sockets and one epoll loop,
dating every frame by the kernel's receive time."""

from __future__ import annotations

import os
import queue
import re
import select
import socket
import time
from array import array
from typing import Any

from sse_bench.common import (
    CLIENT_CPU,
    CONNECT_IN_FLIGHT,
    become_child,
    emit,
    raise_nofile,
    run_delay,
    stdin_commands,
)

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
"""Linux: ask for the kernel's receive time of the data each ``recvmsg`` returns (CLOCK_REALTIME)."""
TIMESPEC = __import__("struct").Struct("@qq")
CMSG_SPACE = socket.CMSG_SPACE(TIMESPEC.size)
ID = re.compile(rb"id: (\d+)\n")
"""An SSE frame's id line (a frame's ``data:`` is one line of JSON, which never ends in digits)."""
KEEPALIVE = b": keep-alive"
"""The workbench servers' comment frame (no id), sent on a stream idle for the heartbeat's interval."""


def chunk_lines(data: bytes) -> int:
    """Bytes of the chunked encoding's lines between chunks (``\\r\\n{size}\\r\\n``) in ``data``, which are no frame's
    (an SSE frame never holds a carriage return)."""
    total = 0
    start = data.find(b"\r")  # one byte: memchr, much faster than a two-byte search
    while start >= 0:
        stop = data.find(b"\r", start + 2)
        if stop < 0:
            break
        total += stop + 2 - start
        start = data.find(b"\r", stop + 2)
    return total
READ_SIZE = int(os.environ.get("SSE_BENCH_READ_SIZE", "4096"))
"""Bytes per read. The kernel's receive time is that of the last segment a read takes, so a reader
that fell behind and took many segments at once would date early frames late; a read of about one
server write (a batch of ~20 frames is ~4 KB) keeps each frame dated by its own segment. The scale
bench reads more at a time (``$SSE_BENCH_READ_SIZE``): with thousands of subscribers, 4 KB reads
are too many for one process, which then falls behind for good and holds the servers back."""


def client_main(ports: list[int], path: str, authorization: str, n: int, last_id: int, out: str) -> None:
    """``n`` subscribers on raw non-blocking sockets and one epoll loop, spread round robin over ``ports``
    (one server, or the replicas of one cluster: subscriber i goes to ``ports[i % len(ports)]``).

    Each subscriber records, per event id up to ``last_id``, when the data that completed the
    event's frame reached the client's kernel (``SO_TIMESTAMPNS`` on ``recvmsg``: the arrival of the
    last segment of the read; ``time.time()`` after the read where the kernel gives none), so the
    subscribers' own processing and scheduling delays are not counted as the server's. It is done when it has event ``last_id`` or the
    run's terminal event, or the server closed the stream (``last_id`` 0: idle mode, nothing
    recorded). Commands on stdin: ``{"deadline": t}`` (stop at wall time t)
    and ``{"close": true}`` (stop now). Writes the receipt times (float64, n × (last_id + 1), id
    0 unused) to ``out`` and a JSON summary to stdout.
    """
    become_child(CLIENT_CPU)
    raise_nofile()
    requests = [(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {authorization}\r\n"
                 f"Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n").encode() for port in ports]
    ep = select.epoll()
    socks: list[socket.socket | None] = [None] * n
    fd_index: dict[int, int] = {}
    state = [0] * n  # 0 not yet opened, 1 waiting for headers, 2 streaming, 3 done
    head = [b""] * n
    pending = [b""] * n
    times = [array("d", bytes(8 * (last_id + 1))) for _ in range(n)] if last_id else []
    last_seen = [0] * n
    frames = [0] * n
    frame_bytes = [0] * n
    reads = [0] * n
    problems: list[str] = []
    disorder = 0
    failed = 0
    deadline = [float("inf")]
    close_now = [False]
    commands: queue.Queue[dict[str, Any]] = queue.Queue()
    stdin_commands(commands.put)
    opened = 0
    in_flight = 0
    connected = 0
    done = 0
    announced = False
    cpu0 = os.times()
    t_connected = 0.0
    kernel_stamps = 0
    client_lag = array("d")

    def finish(i: int, reason: str | None = None) -> None:
        nonlocal done, failed
        sock = socks[i]
        if sock is not None:
            try:
                ep.unregister(sock.fileno())
            except (OSError, ValueError):
                pass
            sock.close()
            socks[i] = None
        if state[i] != 3:
            state[i] = 3
            done += 1
            if reason:
                failed += 1
                if len(problems) < 5:
                    problems.append(f"subscriber {i}: {reason}")

    def consume(i: int, data: bytes, now: float) -> None:
        # Per read, not per frame: the ids come from one regex pass, the frames' bytes are the read's less
        # its chunk-size lines, and a run of consecutive ids is dated with one slice, so that one process
        # keeps up with thousands of subscribers (each pass over the bytes counts: 600,000 frames/s are
        # 125 MB/s). The stream's first frames (the retry frame, the run's start), a keep-alive, the run's
        # end (in a read's last frame: nothing comes after it) and ids out of order take the frame-by-frame path.
        nonlocal disorder
        buf = pending[i] + data if pending[i] else data
        end = buf.rfind(b"\n\n")
        if end < 0:
            pending[i] = buf
            return
        complete, pending[i] = buf[:end + 2], buf[end + 2:]
        ids = list(map(int, ID.findall(complete)))
        first = last_seen[i] + 1
        if (not ids or not frames[i] or disorder or complete.find(KEEPALIVE) >= 0
                or complete.find(b"\nevent: execution:", complete.rfind(b"id: ")) >= 0  # the end: the last frame
                or ids != list(range(first, first + len(ids)))):
            frame_by_frame(i, complete, now)
            return
        frames[i] += len(ids)
        frame_bytes[i] += len(complete) - chunk_lines(complete)
        last_seen[i] = ids[-1]
        if last_id:
            lo, hi = max(first, 1), min(ids[-1], last_id)
            if hi >= lo:  # all new (in order, none seen before): dated at once
                times[i][lo:hi + 1] = array("d", [now]) * (hi - lo + 1)
            if ids[-1] >= last_id:
                finish(i)

    def frame_by_frame(i: int, complete: bytes, now: float) -> None:
        nonlocal disorder
        arr = times[i] if last_id else None
        for part in complete.split(b"\n\n")[:-1]:
            j = part.find(b"id: ", 0, 24)  # after a chunk-size line at most
            if j < 0:
                continue
            k = part.index(b"\n", j)
            eid = int(part[j + 4:k])
            frames[i] += 1
            frame_bytes[i] += len(part) - j + 2
            if eid != last_seen[i] + 1:
                disorder += 1
            last_seen[i] = eid
            if arr is not None and 0 < eid <= last_id:
                if arr[eid] == 0.0:
                    arr[eid] = now
                if eid == last_id:
                    finish(i)
                    return
            if b"\nevent: execution:" in part and b"\nevent: execution:started\n" not in part:
                finish(i)  # the terminal event: the stream ends here
                return

    while done < n:
        # Open more connections while few are waiting for their headers.
        while opened < n and in_flight < CONNECT_IN_FLIGHT:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            except OSError:
                pass
            sock.connect(("127.0.0.1", ports[opened % len(ports)]))
            sock.sendall(requests[opened % len(ports)])
            sock.setblocking(False)
            socks[opened] = sock
            fd_index[sock.fileno()] = opened
            state[opened] = 1
            ep.register(sock.fileno(), select.EPOLLIN)
            opened += 1
            in_flight += 1
        if not announced and connected + failed == n:
            announced = True
            t_connected = time.time()
            emit({"connected": connected, "failed": failed, "problems": problems[:3]})
        while not commands.empty():
            msg = commands.get()
            if msg.get("cmd") == "quit" or msg.get("close"):
                close_now[0] = True
            if "deadline" in msg:
                deadline[0] = msg["deadline"]
        if close_now[0] or time.time() > deadline[0]:
            break
        for fd, _ in ep.poll(0.05):
            i = fd_index[fd]
            reader = socks[i]
            if reader is None:
                continue
            try:
                data, ancillary, _, _ = reader.recvmsg(READ_SIZE, CMSG_SPACE)
            except BlockingIOError:
                continue
            except OSError as exc:
                if state[i] == 1:
                    in_flight -= 1
                finish(i, f"recv failed: {exc}")
                continue
            now = after = time.time()
            if ancillary:  # when the kernel got the last of these bytes: our own scheduling delays don't count
                sec, nsec = TIMESPEC.unpack_from(ancillary[0][2])
                now = sec + nsec * 1e-9
                kernel_stamps += 1
                if len(client_lag) < 200_000:
                    client_lag.append(after - now)
            if not data:
                if state[i] == 1:
                    in_flight -= 1
                finish(i, None if state[i] == 2 and not last_id else
                       (f"the server closed the stream after event {last_seen[i]}" if state[i] == 2 else "closed before the headers"))
                continue
            reads[i] += 1
            if state[i] == 1:
                head[i] += data
                end = head[i].find(b"\r\n\r\n")
                if end < 0:
                    continue
                in_flight -= 1
                status = head[i].split(b" ", 2)[1:2]
                if status != [b"200"]:
                    finish(i, f"status {head[i][:80]!r}")
                    continue
                state[i] = 2
                connected += 1
                data = head[i][end + 4:]
                head[i] = b""
                if not data:
                    continue
            consume(i, data, now)
    cpu1 = os.times()
    t_end = time.time()
    cpu_total = cpu1.user + cpu1.system
    unfinished = sum(1 for s in state if s != 3)
    for i in range(n):
        if socks[i] is not None:
            socks[i].close()  # type: ignore[union-attr]
    if last_id:
        with open(out, "wb") as f:
            for arr in times:
                arr.tofile(f)
    emit({
        "done": True, "connected": connected, "failed": failed, "unfinished": unfinished,
        "problems": problems, "disorder": disorder, "frames": sum(frames), "frame_bytes": sum(frame_bytes),
        "frame_bytes_min": min(frame_bytes) if n else 0, "frame_bytes_max": max(frame_bytes) if n else 0,
        "kernel_stamps": kernel_stamps,
        "client_lag_p99_ms": sorted(client_lag)[int(len(client_lag) * 0.99)] * 1000 if client_lag else 0.0,
        "reads": sum(reads), "cpu": cpu_total - (cpu0.user + cpu0.system), "cpu_total": cpu_total,
        "wait_total": run_delay(os.getpid()),
        "t_connected": t_connected, "t_end": t_end,
    })
