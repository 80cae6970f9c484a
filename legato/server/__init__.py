"""``legato server``: the REST API (``/api/v1``) and the web UI, on Starlette + uvicorn.

Install with ``pip install 'legato[server]'``. ``create_app(Api(control))`` is the
ASGI app; ``legato.server.serve`` runs it embedded or against a deployment.
"""

from legato.server.app import Api, create_app

__all__ = ["Api", "create_app"]
