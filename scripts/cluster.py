"""A local prefixcache cluster in one command: the implementation of scripts/cluster.sh.

    cluster.sh start|stop|status CONFIG [--run-dir DIR] [--bin-dir DIR]
    cluster.sh restart|kill CONFIG NODE_ID [--run-dir DIR] [--bin-dir DIR]

Every node of CONFIG's cluster.nodes runs on this machine as `prefixcached --config CONFIG
--node-id ID`, with its own folder under the run folder (RUN/ID/): the spill tier (spill/),
the log (daemon.log: the daemon's stdout and stderr) and the pid file (pid). A node without
a metrics_address gets an ephemeral metrics port, so nodes never collide on the default.

start    starts every node that is not running and waits until each answers PING.
stop     sends SIGTERM to every running node and waits until each has exited.
status   one line per node: its id, address and "up" (running and answering PING) or
         "down".
restart  stops one node (SIGTERM) if it runs, then starts it on the same spill folder.
kill     sends SIGKILL to one node (its spill folder stays, for a restart).

Exit status: 0 when done (status: every node up), 1 when a node failed to start or stop
(status: a node is down), 2 for bad usage or a config that prefixcached rejects.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 60.0
PING_TIMEOUT_S = 1.0


def strip_comments(text):
    """The config's text without // and /* */ comments (the config allows them)."""
    out = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
            i += 1
        elif c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Node:
    def __init__(self, node_id, address, metrics_address, run_dir):
        self.id = node_id
        self.address = address
        self.metrics_address = metrics_address
        self.dir = os.path.join(run_dir, node_id)
        self.pid_file = os.path.join(self.dir, "pid")
        self.log_file = os.path.join(self.dir, "daemon.log")
        self.spill_dir = os.path.join(self.dir, "spill")

    def pid(self):
        """The pid of the running daemon, or None."""
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # A zombie or a recycled pid is not our daemon.
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                return None
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"prefixcached" not in f.read():
                    return None
        except OSError:
            return None
        return pid


def load_nodes(config_path, run_dir):
    try:
        with open(config_path) as f:
            config = json.loads(strip_comments(f.read()))
    except OSError as e:
        fail(2, f"cannot read {config_path}: {e.strerror}")
    except json.JSONDecodeError as e:
        fail(2, f"{config_path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}")
    entries = (config.get("cluster") or {}).get("nodes") or []
    if not entries:
        fail(2, f"{config_path}: cluster.nodes is empty: nothing to start")
    password = (config.get("security") or {}).get("password", "")
    nodes = [Node(e.get("id", ""), e.get("address", ""), e.get("metrics_address", ""), run_dir)
             for e in entries]
    return nodes, password


def fail(code, message):
    print(f"cluster.sh: {message}", file=sys.stderr)
    sys.exit(code)


def split_host_port(address):
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def read_reply(sock):
    """One RESP reply line (enough for +PONG, -ERR ..., +OK)."""
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def answers_ping(node, password):
    try:
        host, port = split_host_port(node.address)
        with socket.create_connection((host, port), timeout=PING_TIMEOUT_S) as sock:
            if password:
                pw = password.encode()
                sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(pw), pw))
                if not read_reply(sock).startswith(b"+OK"):
                    return False
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return read_reply(sock).startswith(b"+PONG")
    except (OSError, ValueError):
        return False


def log_tail(node, lines=20):
    try:
        with open(node.log_file, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)\n"


def launch(node, config_path, bin_dir):
    binary = os.path.join(bin_dir, "prefixcached")
    if not os.access(binary, os.X_OK):
        fail(2, f"{binary} not found (build it, or pass --bin-dir)")
    os.makedirs(node.dir, exist_ok=True)
    argv = [binary, "--config", config_path, "--node-id", node.id,
            "--spill-path", node.spill_dir]
    if not node.metrics_address:
        argv += ["--metrics-listen", "127.0.0.1:0"]
    with open(node.log_file, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    with open(node.pid_file, "w") as f:
        f.write(f"{proc.pid}\n")
    return proc


def wait_up(started, password):
    """Waits until every (node, proc) answers PING; False (with the cause) on a failure."""
    ok = True
    deadline = time.monotonic() + START_TIMEOUT_S
    pending = list(started)
    while pending:
        still = []
        for node, proc in pending:
            code = proc.poll()
            if code is not None:
                print(f"{node.id} {node.address} down (exited with status {code})",
                      file=sys.stderr)
                sys.stderr.write(log_tail(node))
                ok = False
            elif answers_ping(node, password):
                print(f"{node.id} {node.address} up")
            elif time.monotonic() > deadline:
                print(f"{node.id} {node.address} down (no PONG after {START_TIMEOUT_S:.0f} s)",
                      file=sys.stderr)
                sys.stderr.write(log_tail(node))
                ok = False
            else:
                still.append((node, proc))
        pending = still
        if pending:
            time.sleep(0.05)
    return ok


def start(nodes, config_path, bin_dir, password):
    started = []
    for node in nodes:
        if node.pid() is not None:
            print(f"{node.id} {node.address} up (already running)")
            continue
        started.append((node, launch(node, config_path, bin_dir)))
    return wait_up(started, password)


def wait_gone(node, pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.pid() != pid:
            return True
        time.sleep(0.05)
    return False


def stop_node(node):
    pid = node.pid()
    if pid is None:
        print(f"{node.id} {node.address} down (not running)")
        return True
    os.kill(pid, signal.SIGTERM)
    if wait_gone(node, pid, STOP_TIMEOUT_S):
        print(f"{node.id} {node.address} down (stopped)")
        return True
    print(f"{node.id} {node.address} up (still running {STOP_TIMEOUT_S:.0f} s after SIGTERM)",
          file=sys.stderr)
    return False


def main():
    parser = argparse.ArgumentParser(prog="cluster.sh", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "restart", "kill"])
    parser.add_argument("config")
    parser.add_argument("node_id", nargs="?")
    parser.add_argument("--run-dir", default="prefixcache-run",
                        help="folder of the nodes' spill folders, logs and pid files "
                             "(default: ./prefixcache-run)")
    parser.add_argument("--bin-dir", default=os.environ.get("PREFIXCACHE_BIN_DIR", "build/bin"),
                        help="folder holding prefixcached (default: $PREFIXCACHE_BIN_DIR or "
                             "build/bin)")
    args = parser.parse_args()
    one_node = args.command in ("restart", "kill")
    if one_node != (args.node_id is not None):
        parser.error(f"{args.command} takes " + ("CONFIG NODE_ID" if one_node else "CONFIG only"))

    config_path = os.path.abspath(args.config)
    bin_dir = os.path.abspath(args.bin_dir)
    nodes, password = load_nodes(config_path, os.path.abspath(args.run_dir))

    if args.command == "start":
        return 0 if start(nodes, config_path, bin_dir, password) else 1
    if args.command == "stop":
        results = [stop_node(node) for node in nodes]
        return 0 if all(results) else 1
    if args.command == "status":
        all_up = True
        for node in nodes:
            up = node.pid() is not None and answers_ping(node, password)
            all_up &= up
            print(f"{node.id} {node.address} {'up' if up else 'down'}")
        return 0 if all_up else 1

    matching = [n for n in nodes if n.id == args.node_id]
    if not matching:
        fail(2, f"no node {args.node_id!r} in cluster.nodes of {args.config}")
    node = matching[0]
    if args.command == "kill":
        pid = node.pid()
        if pid is None:
            print(f"{node.id} {node.address} down (not running)")
            return 0
        os.kill(pid, signal.SIGKILL)
        wait_gone(node, pid, STOP_TIMEOUT_S)
        print(f"{node.id} {node.address} down (killed)")
        return 0
    # restart
    if not stop_node(node):
        return 1
    return 0 if start([node], config_path, bin_dir, password) else 1


if __name__ == "__main__":
    sys.exit(main())
