"""The browser tests' URLs: the project's, and one page per error status that renders
exactly what the project's handler renders (chatcounsel/urls.py handler400...), under a
client path and under a staff path (the staff layout). The live
server runs with DEBUG on, where Django shows its own debug pages instead of the handlers';
a refused CSRF check needs no such page: the tests provoke a real one."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils.module_loading import import_string

from chatcounsel import urls as project

handler400 = project.handler400
handler403 = project.handler403
handler404 = project.handler404
handler500 = project.handler500

_EXCEPTIONS = {400: SuspiciousOperation, 403: PermissionDenied, 404: Http404}


def error_page(request: HttpRequest, status: int) -> HttpResponse:
    if status == 500:
        return import_string(handler500)(request)
    handler = import_string({400: handler400, 403: handler403, 404: handler404}[status])
    return handler(request, _EXCEPTIONS[status]())


urlpatterns = [
    *project.urlpatterns,
    path("test-errors/<int:status>/", error_page),
    path("console/test-errors/<int:status>/", error_page),
]
