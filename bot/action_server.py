"""The action server (rasa-sdk) behind a shared secret: ``python -m bot.action_server``.

rasa-sdk's server has no authentication and receives the whole tracker of a conversation with
every call. It listens on loopback only, and here it also refuses, with 401 and without
running anything, every request that lacks the header :data:`HEADER` carrying
:func:`bot.settings.action_secret`. Rasa sends the header from ``endpoints.yml``
(``action_endpoint: headers:``); ``/health`` stays open for readiness checks.

Otherwise this is rasa-sdk's own ``python -m rasa_sdk``: the same arguments, the same Sanic
app built by rasa-sdk, started the same way (the factory must be a module-level function so
that Sanic's workers can rebuild the app).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Sequence
from functools import partial
from typing import Any

from rasa_sdk import endpoint, utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.executor import ActionExecutor
from sanic import Request, Sanic, response
from sanic.worker.loader import AppLoader

from bot import settings

HEADER = "X-Companion-Action-Secret"
OPEN_PATHS = frozenset({"/health"})

logger = logging.getLogger(__name__)


def require_secret(app: Sanic, secret: bytes) -> None:
    """Refuse every request to ``app`` (but ``/health``) without the shared secret."""

    @app.on_request
    async def check_secret(request: Request) -> response.HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        sent = request.headers.get(HEADER, "").encode()
        if hmac.compare_digest(sent, secret):
            return None
        logger.warning("Refused a call to %s without the action server's secret", request.path)
        return response.json({"error": "unauthorized"}, status=401)


def create_app_for_serve(action_executor: ActionExecutor, **options: Any) -> Sanic:
    """rasa-sdk's app, with the secret checked before any action runs."""
    app = endpoint.create_app_for_serve(action_executor, **options)
    require_secret(app, settings.action_secret())
    return app


def main(argv: Sequence[str] | None = None) -> None:
    args = endpoint.create_argument_parser().parse_args(argv)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
        args.log_file,
        args.loglevel,
        args.logging_config_file,
    )
    utils.update_sanic_log_level()
    executor = ActionExecutor()
    executor.register_package(args.actions_module or args.actions)
    settings.action_secret()  # fail now, not on the first call, if the key cannot be read

    loader = AppLoader(
        factory=partial(
            create_app_for_serve,
            executor,
            cors_origins=args.cors,
            auto_reload=args.auto_reload,
            endpoints=args.endpoints,
        )
    )
    app = loader.load()
    app.prepare(
        host=os.environ.get("SANIC_HOST", "127.0.0.1"),
        port=args.port,
        workers=utils.number_of_sanic_workers(),
    )
    Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    main()
