"""Runs fakepve (a Proxmox VE API simulator) inside its own venv, controlled over stdin.

Started by tests/integrations/test_proxmox.py with the pve environment's Python; fakepve is
AGPL-3.0 and lives only in that throw-away venv. Prints `{"port": N}` once listening, then
answers one JSON line per JSON command line:

    {"latency": 0.7}     every response delayed by 0.7 PVE seconds
    {"requests": true}   {"total": N, "paths": {path: count}} seen so far
    {"backup": 101}      start a vzdump of VM 101 (holds its `backup` lock for an hour)
"""

import argparse
import asyncio
import collections
import json
import sys
import threading

from fakepve.server import FakePve

AUDIT_PRIVILEGES = ("Sys.Audit", "VM.Audit", "Datastore.Audit")
"""What the PVEAuditor role grants that pve-exporter reads (nodes, guests, storage)."""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--guests", type=int, default=2)
    parser.add_argument("--token-id", required=True)
    parser.add_argument("--token-secret", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args))


async def serve(args):
    pve = FakePve(user="root@pam", password="not-used-by-the-tests", host="127.0.0.1", port=0)
    pve.time_scale = 1.0
    for n in range(args.guests):
        pve.add_vm(101 + n, f"k3s-node-{n + 1}", node="pve1", status="running")
    pve.apitokens[args.token_id] = args.token_secret
    pve.grant(args.token_id, "/", *AUDIT_PRIVILEGES)
    await pve.start(args.cert, args.key)
    print(json.dumps({"port": pve.port}), flush=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    tasks = set()

    def read():
        for line in sys.stdin:
            command = json.loads(line)
            future = asyncio.run_coroutine_threadsafe(handle(pve, command, tasks), loop)
            print(json.dumps(future.result(30)), flush=True)
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=read, daemon=True).start()
    await done.wait()
    await pve.stop()


async def handle(pve, command, tasks):
    if "latency" in command:
        pve.slow_network(float(command["latency"]))
        return {"latency": command["latency"]}
    if "requests" in command:
        paths = collections.Counter(path for _method, path, _body in pve.requests)
        return {"total": len(pve.requests), "paths": dict(paths)}
    if "backup" in command:
        task = asyncio.ensure_future(pve.backup(int(command["backup"]), secs=3600))
        tasks.add(task)
        await asyncio.sleep(0.2)
        return {"backup": command["backup"]}
    return {"error": f"unknown command {sorted(command)}"}


if __name__ == "__main__":
    main()
