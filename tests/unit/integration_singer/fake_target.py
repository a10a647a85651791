"""A stand-in Singer target, driven by its config file, for the unit tests.

It appends every line it reads to `out`, as it came, and, by `echo`: `each` prints each STATE's
value as soon as it is read (as a real target does after committing), `message` prints it
wrapped as a STATE message, `never` prints none. At the end of its input it appends
`{"type": "END"}` (where a real target commits what it buffered). `fail_after_records: n` makes
it write to stderr and exit 3 after n records; `exit_code` is its exit code otherwise.
"""

import json
import sys

with open(sys.argv[sys.argv.index("--config") + 1]) as file:
    config = json.load(file)
records = 0
with open(config["out"], "a") as out:
    for line in sys.stdin:
        message = json.loads(line)
        out.write(line)
        out.flush()
        if message["type"] == "RECORD":
            records += 1
            if records == config.get("fail_after_records"):
                print("loading failed: disk full", file=sys.stderr, flush=True)
                sys.exit(3)
        if message["type"] == "STATE" and config.get("echo", "each") != "never":
            value = message["value"]
            if config.get("echo") == "message":
                value = {"type": "STATE", "value": value}
            print("not json, a log line on stdout", flush=True)
            print(json.dumps(value), flush=True)
    out.write(json.dumps({"type": "END"}) + "\n")
sys.exit(config.get("exit_code", 0))
