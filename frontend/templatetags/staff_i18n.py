"""`{{ code|in_language }}`: a client language inside a sentence of a staff page ("på
arabiska", "in Arabic"; frontend/languages.py)."""

from django import template

from frontend.languages import in_language as in_language_phrase

register = template.Library()


@register.filter
def in_language(code: str) -> str:
    return in_language_phrase(code)
