"""A stand-in Singer tap, driven by its config file, for the unit tests.

Config keys: `catalog` (printed on --discover), `messages` (written as JSON lines), `raw_stdout`
(lines written verbatim after the messages), `stderr` (lines), `exit_code`, `sleep` (seconds to
wait before exiting), `log_to` (a file that receives the arguments and the catalog and state
files' contents). On --discover, `discover_stderr` and `discover_exit_code` apply instead.
A first argument `--legacy` makes `--help` offer only `--properties`.
"""

import argparse
import json
import sys
import time

legacy = len(sys.argv) > 1 and sys.argv[1] == "--legacy"
argv = sys.argv[2:] if legacy else sys.argv[1:]
parser = argparse.ArgumentParser(prog="fake-tap")
parser.add_argument("--config", required=True)
parser.add_argument("--discover", action="store_true")
parser.add_argument("--state")
if legacy:
    parser.add_argument("--properties")
else:
    parser.add_argument("--catalog")
    parser.add_argument("--properties", help=argparse.SUPPRESS)
args = parser.parse_args(argv)
with open(args.config) as file:
    config = json.load(file)


def read(path):
    if path is None:
        return None
    with open(path) as file:
        return json.load(file)


if config.get("log_to"):
    with open(config["log_to"], "a") as file:
        logged = {
            "argv": argv,
            "catalog": read(getattr(args, "catalog", None) or args.properties),
            "state": read(args.state),
            "discover": args.discover,
        }
        file.write(json.dumps(logged) + "\n")

prefix = "discover_" if args.discover else ""
for line in config.get(prefix + "stderr", []):
    print(line, file=sys.stderr, flush=True)
if args.discover:
    print(json.dumps(config.get("catalog", {"streams": []})))
else:
    for message in config.get("messages", []):
        print(json.dumps(message), flush=True)
    for line in config.get("raw_stdout", []):
        print(line, flush=True)
time.sleep(config.get(prefix + "sleep", 0))
sys.exit(config.get(prefix + "exit_code", 0))
