"""`{% client_catalogue "frontend/client.js" %}`: the page's own JavaScript strings, inlined
(frontend/client_catalogue.py), and the small script that reads them."""

import json
from typing import Any

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

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


@register.filter
def unit_name(text: object) -> SafeString:
    """A unit's name (selectors.UnitText) inside a sentence: isolated from the text around
    it, and marked with its own language when it is the Swedish fallback."""
    name, language = getattr(text, "name", str(text)), getattr(text, "language", "")
    if language and language != get_language():
        return format_html('<bdi lang="{}">{}</bdi>', language, name)
    return format_html("<bdi>{}</bdi>", name)


@register.filter
def quick_answers(followup: Any) -> list[Any]:
    """A follow-up question's quick answers in the page's language (FollowUp.quick_answers)."""
    return list(followup.quick_answers(get_language() or "sv"))


@register.filter
def answer_in_language(followup: Any) -> Any:
    return followup.answer_in(get_language() or "sv")
