"""The client languages as staff pages name them. On its own (a label, a list: "Language:
Arabic", "Språk: Arabiska") a language is named by settings.LANGUAGES, with its capital.
Inside a sentence Swedish writes it in lower case ("på arabiska") where English keeps the
capital ("in Arabic"), so a sentence takes the whole phrase from IN_LANGUAGE, where each
catalogue says it in its own way, never a name from the table above."""

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

IN_LANGUAGE: dict[str, Promise] = {
    "sv": _("in Swedish"),
    "sv-x-ll": _("in Easy Swedish"),
    "en": _("in English"),
    "fi": _("in Finnish"),
    "ar": _("in Arabic"),
    "fa": _("in Persian"),
    "so": _("in Somali"),
    "uk": _("in Ukrainian"),
}


def client_language_names() -> dict[str, str]:
    """A client language other than the default, named on its own in the active language."""
    return {
        code: str(name)
        for code, name in settings.CLIENT_LANGUAGES
        if code != settings.LANGUAGE_CODE
    }


def in_language(code: str) -> str:
    """The phrase for "in <language>" inside a sentence ("på arabiska"), or "" for a code
    that is not a client language."""
    phrase = IN_LANGUAGE.get(code)
    return str(phrase) if phrase is not None else ""


def client_languages_in_text() -> dict[str, str]:
    """`in_language` of each client language other than the default."""
    return {
        code: in_language(code)
        for code, _name in settings.CLIENT_LANGUAGES
        if code != settings.LANGUAGE_CODE
    }
