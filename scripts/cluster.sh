#!/usr/bin/env bash
# A local prefixcache cluster in one command: starts, stops and reports every node of a
# cluster config on this machine, each with its own spill folder and log under the run
# folder (see scripts/cluster.py for the details and exit codes).
#   scripts/cluster.sh start|stop|status CONFIG [--run-dir DIR] [--bin-dir DIR]
#   scripts/cluster.sh restart|kill CONFIG NODE_ID [--run-dir DIR] [--bin-dir DIR]
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/cluster.py" "$@"
