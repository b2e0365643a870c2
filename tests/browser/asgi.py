"""The app as the browser tests' daphne serves it: static files too, with or without DEBUG,
and the error pages at /test-errors/<status>/ (tests/browser/urls.py).

daphne does not serve STATIC_URL by itself; websocket scopes pass through the wrapper.
"""

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from chatcounsel.asgi import application as chatcounsel_application

settings.ROOT_URLCONF = "tests.browser.urls"

application = ASGIStaticFilesHandler(chatcounsel_application)
