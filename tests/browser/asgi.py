"""The app as the browser tests' daphne serves it: static files too, with or without DEBUG.

daphne does not serve STATIC_URL by itself; websocket scopes pass through the wrapper.
"""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from chatcounsel.asgi import application as chatcounsel_application

application = ASGIStaticFilesHandler(chatcounsel_application)
