"""`{% client_catalogue "frontend/client.js" %}`: the page's own JavaScript strings, inlined
(frontend/client_catalogue.py), and the small script that reads them."""

import json

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from frontend.client_catalogue import current_client_catalogue

register = template.Library()

# As Django's json_script, but the letters stay letters: escaped, each Arabic or Cyrillic
# letter would take six bytes instead of two.
_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.simple_tag
def client_catalogue(entry: str) -> SafeString:
    return format_html(
        '{}<script defer src="{}"></script>',
        mark_safe(  # noqa: S308 - JSON with <, > and & escaped, inside a data block
            '<script id="client-catalogue" type="application/json">'
            + json.dumps(current_client_catalogue(entry), ensure_ascii=False).translate(
                _SCRIPT_ESCAPES
            )
            + "</script>"
        ),
        static("frontend/i18n.js"),
    )
