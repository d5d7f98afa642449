# The benchmarks' handler (scripts/bench-fleet.sh, scripts/bench-control.sh): answers `init`
# and acks every batch (docs/handler-protocol.md), nothing else, so an instance costs what the
# worker and a Python interpreter cost.
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg["type"] == "init":
        print('{"type":"ready","version":1}', flush=True)
    elif msg["type"] == "batch":
        print(json.dumps({"type": "ack", "id": msg["id"]}), flush=True)
    elif msg["type"] == "shutdown":
        print('{"type":"bye"}', flush=True)
        break
