# SPDX-License-Identifier: MIT
"""echo_hash.py - the "both at once" server in asyncio (bench/w7_cpu.sh).

The protocol of examples/echo_hash.c: one line per request,
"WORK PAYLOAD\\n", answered with the 64-bit FNV-1a hash of PAYLOAD iterated
WORK times, in 16 hex digits.  The hashing is pure Python (it holds the
GIL, as most Python CPU work does) and goes to an executor with
loop.run_in_executor, so the event loop keeps serving meanwhile:

    python3 echo_hash.py PORT thread|process WORKERS [LIFETIME_S]
    python3 echo_hash.py --time WORK        CPU ms of one request's work

thread: a ThreadPoolExecutor (the GIL lets one worker hash at a time);
process: a ProcessPoolExecutor (each request's arguments and result are
pickled to and from a worker process).  Prints "listening PORT".
"""
import asyncio
import concurrent.futures
import sys
import time

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
M64 = (1 << 64) - 1


def fnv_rounds(payload, work):
    h = FNV_OFFSET
    for _ in range(work):
        for b in payload:
            h = ((h ^ b) * FNV_PRIME) & M64
    return h


async def handle(reader, writer, pool):
    loop = asyncio.get_running_loop()
    try:
        while line := await reader.readline():
            work, payload = line.split()
            h = await loop.run_in_executor(pool, fnv_rounds, payload, int(work))
            writer.write(b"%016x\n" % h)
            await writer.drain()
    except (ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def serve(port, pool, lifetime):
    server = await asyncio.start_server(lambda r, w: handle(r, w, pool), "127.0.0.1", port,
                                        backlog=4096)
    print("listening", port, flush=True)
    async with server:
        if lifetime > 0:
            await asyncio.sleep(lifetime)
        else:
            await server.serve_forever()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--time":
        work = int(sys.argv[2])
        payload = b"abcdefghijklmnopqrstuvwxyzabcdef"
        t0 = time.process_time()
        reps = 5
        for _ in range(reps):
            fnv_rounds(payload, work)
        print("%.4f" % ((time.process_time() - t0) * 1e3 / reps))
        return
    if len(sys.argv) < 4 or sys.argv[2] not in ("thread", "process"):
        sys.exit("usage: echo_hash.py PORT thread|process WORKERS [LIFETIME_S] | --time WORK")
    port, kind, workers = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    lifetime = float(sys.argv[4]) if len(sys.argv) > 4 else 0
    ex = (concurrent.futures.ThreadPoolExecutor if kind == "thread"
          else concurrent.futures.ProcessPoolExecutor)
    with ex(max_workers=workers) as pool:
        if kind == "process":
            # Start the workers before the load comes (as a real server would).
            list(pool.map(fnv_rounds, [b"x"] * workers, [1] * workers))
        asyncio.run(serve(port, pool, lifetime))


if __name__ == "__main__":
    main()
