"""The risk rules page: a supervisor keeps the risk phrases of their units, and tries them
on a made-up message (nothing of it is stored)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from accounts.models import User
from chat.errors import ChatError, InvalidInput
from chat.parsing import parse_id
from chat.risk_match import GAP_WORDS, MAX_PHRASE_LENGTH, MAX_PHRASES, MIN_STEM
from chat.selectors.risk import risk_rule_get_for, risk_rule_list, risk_units_managed
from chat.services.risk import risk_matcher_for, risk_rule_delete, risk_rule_save
from frontend.decorators import staff_page
from frontend.forms import RiskRuleForm, RiskTryForm


def phrase_error_text(error: InvalidInput) -> str:
    """What is wrong with a rule, in the reader's language."""
    word = str(error.details.get("word", ""))
    texts = {
        "empty": _("Write a phrase."),
        "too_long": _("A phrase may be at most %(n)s characters.") % {"n": MAX_PHRASE_LENGTH},
        "gap_at_edge": _("“...” goes between two words."),
        "gap_twice": _("Write one “...” between two words."),
        "bad_word": _(
            "“%(word)s”: use letters, with * at the end of a word and | between its forms."
        )
        % {"word": word},
        "short_stem": _("“%(word)s”: write at least %(n)s letters before *.")
        % {"word": word, "n": MIN_STEM},
        "no_phrase": _("Write at least one phrase."),
        "too_many": _("A rule may have at most %(n)s phrases.") % {"n": MAX_PHRASES},
    }
    if error.code == "risk_label":
        return _("Write a name of at most 80 characters.")
    return texts.get(str(error.details.get("what")), _("Check the phrases."))


def _rule_or_none(user: User, value: str | None) -> Any:
    if not value:
        return None
    try:
        rule_id = parse_id(value, name="rule")
    except InvalidInput:
        return None
    return risk_rule_get_for(user=user, rule_id=rule_id)


@never_cache
@staff_page("chat.view_dashboard")
def risk_rules_page(request: HttpRequest) -> HttpResponse:
    """List, add, change, remove and try the risk rules of the supervisor's units."""
    user: User = request.user  # type: ignore[assignment]
    units = risk_units_managed(user=user)
    editing = _rule_or_none(user, request.GET.get("edit") or request.POST.get("rule"))
    if request.method == "POST" and "delete" in request.POST:
        try:
            rule_id = parse_id(request.POST["delete"], name="delete")
        except InvalidInput:
            return HttpResponseBadRequest()
        rule = risk_rule_get_for(user=user, rule_id=rule_id)
        if rule is not None:
            try:
                risk_rule_delete(actor=user, rule=rule)
            except ChatError:
                raise PermissionDenied from None
        return redirect("risk-rules")

    initial: dict[str, Any] = {"active": True}
    if editing is not None:
        initial = {
            "unit": str(editing.unit_id),
            "label": editing.label,
            "phrases": editing.phrases,
            "action": editing.action,
            "active": editing.active,
        }
    form = RiskRuleForm(
        request.POST if "save" in request.POST else None, units=units, initial=initial
    )
    tried = None
    try_form = RiskTryForm(request.POST if "try" in request.POST else None, units=units)
    if request.method == "POST" and "save" in request.POST and form.is_valid():
        unit = next(u for u in units if str(u.pk) == form.cleaned_data["unit"])
        try:
            saved = risk_rule_save(
                actor=user,
                unit=unit,
                rule=editing,
                label=form.cleaned_data["label"],
                phrases=form.cleaned_data["phrases"],
                action=form.cleaned_data["action"],
                active=form.cleaned_data["active"],
            )
        except InvalidInput as error:
            field = "label" if error.code == "risk_label" else "phrases"
            form.add_error(field, phrase_error_text(error))
        else:
            return redirect(reverse("risk-rules") + f"#rule-{saved.pk}")
    if request.method == "POST" and "try" in request.POST and try_form.is_valid():
        unit_id = int(try_form.cleaned_data["unit"])
        text = try_form.cleaned_data["text"]
        tried = [
            {
                "label": hit.label,
                "phrase": hit.phrase,
                "before": text[max(0, hit.start - 40) : hit.start],
                "matched": hit.matched,
                "after": text[hit.end : hit.end + 40],
                "held": hit.held,
                "action": hit.action,
            }
            for hit in risk_matcher_for(unit_id=unit_id).find(text)
        ]
    return render(
        request,
        "frontend/risk_rules.html",
        {
            "form": form,
            "try_form": try_form,
            "tried": tried,
            "editing": editing,
            "units": units,
            "rules": risk_rule_list(units=units),
            "min_stem": MIN_STEM,
            "gap_words": GAP_WORDS,
        },
    )
