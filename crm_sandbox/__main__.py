"""`python -m crm_sandbox [--port N ...]`: serve the sandbox CRM (same flags as `actionhouse crm serve`)."""

from __future__ import annotations

import argparse
import sys

from crm_sandbox.config import add_server_arguments, config_from_args
from crm_sandbox.server import serve


def main(argv: list[str] | None = None) -> int:
    """Parse the flags and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m crm_sandbox", description=__doc__)
    add_server_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    serve(config, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
