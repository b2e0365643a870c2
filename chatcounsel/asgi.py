"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatcounsel.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs Django set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.liveness import LivenessFlusher  # noqa: E402
from chat.timers import TimedRulesInProcess  # noqa: E402
from chatcounsel.origins import OriginValidator  # noqa: E402
from chatcounsel.routing import websocket_urlpatterns  # noqa: E402

# The timed rules' in-process timer wraps it all: it starts with the first connection when
# TIMED_RULES is `process` (the embedded default) and does nothing otherwise. The
# heartbeats' flusher (chat/liveness.py) starts with the first connection in every process.
application = TimedRulesInProcess(
    LivenessFlusher(
        ProtocolTypeRouter(
            {
                "http": django_asgi_app,
                # Full origins (scheme, host, port), as for CSRF: see chatcounsel/origins.py.
                "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
            }
        )
    )
)
