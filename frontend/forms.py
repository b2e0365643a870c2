from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chat.errors import InvalidInput
from chat.parsing import parse_id


class IdField(forms.IntegerField):
    """A row's id typed into a form or a query string, by chat/parsing.py's rule: ASCII
    digits only. Django's IntegerField also takes "١٢", "+1", " 1 " and "1.0"."""

    def __init__(self, **kwargs) -> None:
        super().__init__(min_value=1, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_id(value)
        except InvalidInput:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class IdChoiceField(forms.ModelChoiceField):
    """A choice of rows by id, by the same rule: the model field would take "١٢" as 12."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            parse_id(value)
        except InvalidInput:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None
        return super().to_python(value)


class AccessLogFilter(forms.Form):
    """Filters of the read-access review; every field is optional."""

    actor = IdChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=_("Staff member"),
        empty_label=_("Everyone"),
    )
    conversation = IdField(required=False, label=_("Conversation"))
    since = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, staff=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if staff is not None:
            self.fields["actor"].queryset = staff  # type: ignore[attr-defined]


class CannedReplyForm(forms.Form):
    """A snippet: the unit's (for its supervisors) or the worker's own."""

    scope = forms.ChoiceField(label=_("For"))
    language = forms.ChoiceField(
        label=_("Language"), choices=[("sv", _("Swedish")), ("en", _("English"))]
    )
    title = forms.CharField(label=_("Title"), max_length=80)
    body = forms.CharField(
        label=_("Text"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )

    def __init__(self, *args, units=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        scope: forms.ChoiceField = self.fields["scope"]  # type: ignore[assignment]
        scope.choices = [("mine", _("Only me"))] + [(str(unit.pk), unit.name) for unit in units]


class RiskRuleForm(forms.Form):
    """One of a unit's risk rules: its name, its phrases (one a line) and what it does."""

    unit = forms.ChoiceField(label=_("Unit"))
    label = forms.CharField(
        label=_("Name"),
        max_length=80,
        help_text=_("Shown to staff as the reason, e.g. “Suicide risk”."),
    )
    phrases = forms.CharField(
        label=_("Phrases, one a line, in Swedish or English"),
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        max_length=20000,
    )
    action = forms.ChoiceField(label=_("What a phrase found in a client's message does"))
    active = forms.BooleanField(label=_("In use"), required=False, initial=True)

    def __init__(self, *args, units=(), **kwargs) -> None:
        from chat.models import RiskRule

        super().__init__(*args, **kwargs)
        unit: forms.ChoiceField = self.fields["unit"]  # type: ignore[assignment]
        unit.choices = [(str(u.pk), u.name) for u in units]
        action: forms.ChoiceField = self.fields["action"]  # type: ignore[assignment]
        action.choices = RiskRule.Action.choices


class RiskTryForm(forms.Form):
    """A sentence to try a unit's rules on; it is not stored."""

    unit = forms.ChoiceField(label=_("Unit"))
    text = forms.CharField(
        label=_("A made-up message"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )

    def __init__(self, *args, units=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        unit: forms.ChoiceField = self.fields["unit"]  # type: ignore[assignment]
        unit.choices = [(str(u.pk), u.name) for u in units]
