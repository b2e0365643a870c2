from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User


class AccessLogFilter(forms.Form):
    """Filters of the read-access review; every field is optional."""

    actor = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=_("Staff member"),
        empty_label=_("Everyone"),
    )
    conversation = forms.IntegerField(required=False, min_value=1, label=_("Conversation"))
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
