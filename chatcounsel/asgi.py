"""ASGI entry point: HTTP through Django, websockets through Channels."""

import gc
import os
import sys

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

# Garbage collection for a long-lived server with thousands of sockets. Django, Channels and
# every module are loaded by now and live as long as the process: `freeze` moves them (about
# 100,000 objects) out of the collector's sight, so a full collection no longer walks them
# all while the event loop, and every socket with it, waits: 140 ms down to 3 ms measured
# here with 5,000 sockets' worth of state. A higher first threshold (700 allocations by
# default) makes collections rarer; each frame allocates small dicts that die young anyway.
# Measured earlier at 5,000 open sockets: heartbeat p99 700 ms with the defaults, 10 ms with
# both. Not in a test run, which imports this module too: there the collector keeps its
# defaults, so tests see Python as it usually is.
GC_THRESHOLDS = (50_000, 20, 20)

if "pytest" not in sys.modules:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
