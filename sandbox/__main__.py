"""``python -m sandbox``: the stand-in Missing Table world.

    python -m sandbox [--fault NAME ...] [--layout helm|argocd]   explore by hand (prints URLs, credentials)
    python -m sandbox serve --ready-json ...                     started by the suite (one JSON line when ready)
    python -m sandbox deploy --version 1.29.3.1361 [--fault NAME]  ship a release into a running sandbox
    python -m sandbox faults                                      list the faults
    python -m sandbox state                                       what a running sandbox serves

``deploy`` and ``state`` find the running sandbox through ``MT_SANDBOX_CONTROL`` or ``--control URL``.
``MT_SANDBOX_HOME=DIR`` keeps the sandbox's state (its database) in DIR across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    for name in ("serve", "explore"):
        s = sub.add_parser(name)
        s.add_argument("--fault", action="append", default=[], help="switch a fault on (repeatable)")
        s.add_argument("--layout", choices=["helm", "argocd", "real", "none"], default="helm")
        s.add_argument("--state-dir", type=Path, default=None)
        s.add_argument("--ready-json", action="store_true", help="print one JSON line when ready; stop on stdin EOF")
        s.add_argument("--latency", default=None, metavar="PROFILE",
                       help="answer as slowly as the real app: 'contract' (sandbox/latency.py) or 'off' "
                            "(default: $MT_SANDBOX_LATENCY, else off)")
    d = sub.add_parser("deploy")
    d.add_argument("--version", required=True, help="<semver>.<build_id>, e.g. 1.29.3.1361")
    d.add_argument("--fault", action="append", default=[])
    d.add_argument("--control", default=os.environ.get("MT_SANDBOX_CONTROL"))
    f = sub.add_parser("set-faults")
    f.add_argument("fault", nargs="*")
    f.add_argument("--control", default=os.environ.get("MT_SANDBOX_CONTROL"))
    st = sub.add_parser("state")
    st.add_argument("--control", default=os.environ.get("MT_SANDBOX_CONTROL"))
    sub.add_parser("faults")
    return p


def _post(control: str | None, path: str, payload: dict[str, object] | None = None) -> dict[str, object]:
    if not control:
        sys.exit("no running sandbox: set MT_SANDBOX_CONTROL or pass --control URL")
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(control + path, data=data, method="GET" if data is None else "POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as err:
        sys.exit(f"sandbox refused: {err.read().decode(errors='replace')}")
    except OSError as err:
        sys.exit(f"cannot reach the sandbox at {control}: {err}")


def serve(args: argparse.Namespace) -> int:
    from sandbox.latency import from_environment as latency_from_environment
    from sandbox.server import all_faults, start

    # MT_SANDBOX_HOME keeps the world (its database) across runs; otherwise it goes away with the process.
    if args.state_dir is None and os.environ.get("MT_SANDBOX_HOME"):
        args.state_dir = Path(os.environ["MT_SANDBOX_HOME"])
    own_state = args.state_dir is None
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="mt-sandbox-"))
    try:
        sb = start(state_dir, faults=set(args.fault), layout=None if args.layout == "none" else args.layout,
                   smoke_password=os.environ.get("MT_SMOKE_PASSWORD") or None,
                   smoke_username=os.environ.get("MT_SMOKE_USERNAME") or None,
                   latency=args.latency if args.latency is not None else latency_from_environment())
    except (ValueError, OSError, RuntimeError) as exc:  # a real cluster that cannot start raises the latter two
        if own_state:
            shutil.rmtree(state_dir, ignore_errors=True)
        known = ", ".join(sorted(all_faults()))
        print(json.dumps({"error": str(exc), "known": known}) if args.ready_json else f"{exc}", flush=True)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.ready_json:
        print(json.dumps({"env": sb.urls}), flush=True)

        def watch_parent() -> None:  # the suite holds our stdin: EOF means it is gone, however it ended
            sys.stdin.read()
            stop.set()

        threading.Thread(target=watch_parent, daemon=True).start()
    else:
        print("# Missing Table sandbox. Paste these lines into another shell to point the suite at it:")
        for key, value in sb.urls.items():
            print(f"export {key}={shlex.quote(value)}")
        print("# Faults:", ", ".join(sorted(sb.world.faults)) or "none", "(python -m sandbox faults lists them)")
        print("# Then: pytest --env sandbox, mt-verify gate --env sandbox ...; Ctrl-C here stops the sandbox.",
              flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    sb.stop()
    if own_state:
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv.insert(0, "explore")
    args = _parser().parse_args(argv)
    command = args.command
    if command in ("serve", "explore"):
        return serve(args)
    if command == "faults":
        from sandbox.server import all_faults

        for name, text in sorted(all_faults().items()):
            print(f"{name:28} {text}")
        return 0
    if command == "deploy":
        state = _post(args.control, "/deploy", {"version": args.version, "faults": args.fault})
        print(f"deployed {state['release']['version']} with faults: {', '.join(state['faults']) or 'none'}")  # type: ignore[index]
        return 0
    if command == "set-faults":
        _post(args.control, "/faults", {"faults": args.fault})
        return 0
    if command == "state":
        print(json.dumps(_post(args.control, "/state"), indent=2))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
