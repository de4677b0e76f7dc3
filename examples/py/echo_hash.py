# SPDX-License-Identifier: MIT
# Both at once, in asyncio: a server on one loop whose requests carry CPU
# work (a hash of the payload, iterated WORK times), which it hands to an
# executor so that the loop keeps serving while the work is done.  The
# clients run in the same process and check every answer.
#
#     python3 examples/py/echo_hash.py [WORKERS]
#
# The executor is a ThreadPoolExecutor: the GIL lets one hash run at a
# time (chapter 5 of the tutorial), so the work does not get faster with
# more workers; the loop stays free either way.  C: examples/echo_hash.c.
import asyncio
import concurrent.futures
import sys
import time

CLIENTS, REQUESTS, WORK = 8, 10, 200


def fnv_rounds(payload, work):              # the CPU work: FNV-1a, WORK times
    h = 0xcbf29ce484222325
    for _ in range(work):
        for b in payload:
            h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


async def connection(reader, writer, pool):
    loop = asyncio.get_running_loop()
    while line := await reader.readline():   # "WORK PAYLOAD"
        work, payload = line.split()
        h = await loop.run_in_executor(pool, fnv_rounds, payload, int(work))
        writer.write(b"%016x\n" % h)         # the loop served others meanwhile
        await writer.drain()
    writer.close()


async def client(port, k):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for i in range(REQUESTS):
        payload = b"client-%d-request-%d" % (k, i)
        writer.write(b"%d %s\n" % (WORK, payload))
        answer = int(await reader.readline(), 16)
        assert answer == fnv_rounds(payload, WORK), "wrong hash"
    writer.close()
    await writer.wait_closed()


async def main(workers):
    handlers = []                            # the server's connection tasks

    def accept(reader, writer):
        handlers.append(asyncio.create_task(connection(reader, writer, pool)))

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        t0 = time.monotonic()
        async with asyncio.TaskGroup() as tg:
            for k in range(CLIENTS):
                tg.create_task(client(port, k))
        secs = time.monotonic() - t0
        await asyncio.gather(*handlers)      # each ends at its client's EOF
        server.close()
        await server.wait_closed()
    print("echo_hash.py: %d requests answered and checked, %d executor threads"
          % (CLIENTS * REQUESTS, workers))
    return secs


if __name__ == "__main__":
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    asyncio.run(main(workers))
