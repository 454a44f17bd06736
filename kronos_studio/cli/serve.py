"""``kronos serve``: the studio as an HTTP service (FastAPI on uvicorn), models loaded once and kept warm."""
from __future__ import annotations

import dataclasses
import logging
import sys

from kronos.threads import SAMPLING_CONCURRENCY
from kronos_studio.desk import Limits
from kronos_studio.service.access import ACCESS_LOGGER

from .commands import add_command
from .common import CliError, add_threads_option, positive
from .models import add_models_dir_option


def register(sub) -> None:
    p = add_command(sub, "serve",
                    description="The studio as an HTTP service: POST /v1/forecast, /v1/evaluate, /v1/batch; "
                                "GET /v1/models, /v1/jobs/{id}, /v1/ledger/...; the OpenAPI schema at /docs. "
                                "Requests need an API key (kronos keys create) unless --open.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=positive(int), default=8000, help="port (default 8000)")
    p.add_argument("--open", action="store_true",
                   help="serve without API keys, every request in the default workspace (loopback hosts only)")
    for f in dataclasses.fields(Limits):  # one option per limit, its help and default from Limits
        setting = Limits.setting(f.name)
        p.add_argument(f"--{setting.replace('_', '-')}", dest=setting, type=positive(int), default=f.default, metavar="N",
                       help=f"{f.metadata['help']} (default {f.default})")
    add_models_dir_option(p)
    p.add_argument("--jobs-dir", default=None, help="folder for batch job files (default: a temporary folder)")
    p.add_argument("--access-log", default=None, metavar="FILE",
                   help="append the access log (one JSON line per request: time, key id, workspace, route, status, "
                        "duration) to FILE instead of stderr")
    p.add_argument("--decode", default=None, metavar="MODE",
                   help="how forecasts run the decode loop: eager (default), static, or compiled (torch.compile, "
                        "built in the background from start-up on; about 20%% faster on a CPU once built)")
    p.add_argument("--concurrency", type=positive(int), default=SAMPLING_CONCURRENCY, metavar="N",
                   help=f"forecasts sampled at once, each on its share of the cores (default {SAMPLING_CONCURRENCY}: "
                        "one at a time on all of them; the others wait)")
    add_threads_option(p)
    p.set_defaults(func=run_serve)


def limits_of(args):
    return Limits(**{f.name: getattr(args, Limits.setting(f.name)) for f in dataclasses.fields(Limits)})


def run_serve(args) -> int:
    try:
        import uvicorn  # noqa: F401 (the extra's server: said missing here, in one line)

        from kronos_studio.service.access import loopback
        from kronos_studio.service.app import ServiceConfig, create_app, serve
    except ModuleNotFoundError as e:
        raise CliError(f"{e.name} is not installed: pip install 'kronos-studio[serve]'") from None

    if args.open and not loopback(args.host):
        raise CliError(f"--open serves without API keys, so only on a loopback host (127.0.0.1, ::1, localhost), "
                       f"not {args.host}: drop --open and give each user a key (kronos keys create)")
    if args.decode:
        from kronos.accel import resolve_decode
        from kronos.device import default_device

        try:
            resolve_decode(args.decode, default_device())
        except ValueError as e:
            raise CliError(f"--decode: {e}") from None
    access_log(args.access_log)
    app = create_app(ServiceConfig(open_access=args.open, limits=limits_of(args), jobs_dir=args.jobs_dir,
                                   decode=args.decode, concurrency=args.concurrency,
                                   models_dirs=tuple(args.models_dir)))
    print(f"kronos serve: http://{args.host}:{args.port} ({'open, no keys' if args.open else 'API keys required'}; "
          f"OpenAPI at /docs)", file=sys.stderr)
    serve(app, args.host, args.port)  # SIGTERM or Ctrl-C: the work in flight stops, the server exits in seconds
    return 0


def access_log(path: str | None) -> None:
    """The service's access log (``kronos_studio.service.access``) as bare lines to ``path`` (None: stderr)."""
    try:
        handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stderr)
    except OSError as e:
        raise CliError(f"--access-log: cannot write '{path}': {e.strerror}") from None
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger(ACCESS_LOGGER)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
