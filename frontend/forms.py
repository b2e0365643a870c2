import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chat.errors import InvalidInput
from chat.models import CannedReply
from chat.parsing import parse_id
from chat.selectors.statistics import MAX_PERIOD_DAYS, Period


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
    standing_out = forms.BooleanField(
        required=False, label=_("Only reads to review (not a queue preview)")
    )

    def __init__(self, *args, staff=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if staff is not None:
            self.fields["actor"].queryset = staff  # type: ignore[attr-defined]


class CannedReplyForm(forms.Form):
    """A snippet: the unit's (for its supervisors) or the worker's own."""

    scope = forms.ChoiceField(label=_("For"))
    language = forms.ChoiceField(label=_("Language"), choices=CannedReply.Language.choices)
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


class ReferralForm(forms.Form):
    """The partner's referral, done in under a minute on a phone: only the way to reach the
    person and whether children are involved are asked for every time."""

    code_word = forms.BooleanField(label="", required=True)
    place = IdChoiceField(
        queryset=None, label=_("Where are you?"), widget=forms.RadioSelect, empty_label=None
    )
    contact = forms.ChoiceField(
        label=_("How does the person want contact?"), widget=forms.RadioSelect
    )
    phone = forms.CharField(
        label=_("Phone number to call"),
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"}),
    )
    safe_time = forms.CharField(
        label=_("When is it safe to call?"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    children = forms.ChoiceField(label=_("Are children involved?"), widget=forms.RadioSelect)
    language = forms.CharField(
        label=_("Language, if not Swedish"),
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    interpreter = forms.BooleanField(label=_("An interpreter is needed"), required=False)
    note = forms.CharField(
        label=_("Short note (optional)"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 300}),
    )

    def __init__(self, *args, places=None, code_word: str = "", **kwargs) -> None:
        from chat.models import Referral

        super().__init__(*args, **kwargs)
        place: IdChoiceField = self.fields["place"]  # type: ignore[assignment]
        place.queryset = places
        if places is not None and places.count() == 1:
            place.initial = places[0].pk
        self.fields["code_word"].label = _("The person used the code word “%(word)s”") % {
            "word": code_word
        }
        contact: forms.ChoiceField = self.fields["contact"]  # type: ignore[assignment]
        contact.choices = Referral.Contact.choices
        children: forms.ChoiceField = self.fields["children"]  # type: ignore[assignment]
        children.choices = Referral.Children.choices

    def clean(self):
        data = super().clean() or {}
        if data.get("contact") == "call_back" and not data.get("phone"):
            self.add_error("phone", _("Write the number to call."))
        return data


class StatisticsFilter(forms.Form):
    """The statistics page's choices: a period (a day, week or month around a date, or custom
    dates) and one of the reader's units or all of them. Every field is optional."""

    PERIODS = [
        ("", _("The last four weeks")),
        ("day", _("Day")),
        ("week", _("Week")),
        ("month", _("Month")),
        ("custom", _("Custom dates")),
    ]

    period = forms.ChoiceField(choices=PERIODS, required=False, label=_("Period"))
    date = forms.DateField(
        required=False,
        label=_("Including the date"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    start = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )
    unit = IdChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=_("Unit"),
        empty_label=_("All my units"),
    )

    def __init__(self, *args, units=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if units is not None:
            self.fields["unit"].queryset = units  # type: ignore[attr-defined]

    def clean(self):
        data = super().clean() or {}
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if start is None or end is None:
                raise forms.ValidationError(_("Custom dates need both a first and a last day."))
            if end < start:
                raise forms.ValidationError(_("The last day comes before the first."))
            if (end - start).days + 1 > MAX_PERIOD_DAYS:
                raise forms.ValidationError(_("Choose at most a year."))
        return data

    def to_period(self, today: dt.date) -> Period:
        """The chosen period (the last four weeks when nothing is chosen); call after
        is_valid()."""
        data = self.cleaned_data if self.is_bound and not self.errors else {}
        kind = data.get("period") or ""
        if kind == "custom":
            return Period("custom", data["start"], data["end"])
        if kind in ("day", "week", "month"):
            return Period.ending(kind, data.get("date") or today)
        # The default: the last four whole weeks up to today.
        return Period("custom", today - dt.timedelta(days=27), today)


class OwnStatisticsFilter(StatisticsFilter):
    """A worker's own statistics: the period only (their figures are theirs, in any unit)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["unit"]


class StaffingMinimumForm(forms.Form):
    """At least N staff serving on some weekdays between two hours."""

    HOURS = [(h, f"{h:02d}:00") for h in range(24)]
    WEEKDAYS = [
        (0, _("Monday")),
        (1, _("Tuesday")),
        (2, _("Wednesday")),
        (3, _("Thursday")),
        (4, _("Friday")),
        (5, _("Saturday")),
        (6, _("Sunday")),
    ]

    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        label=_("Days"),
        error_messages={"required": _("Choose at least one day.")},
    )
    first_hour = forms.TypedChoiceField(
        choices=HOURS, coerce=int, label=_("From the hour starting"), initial=8
    )
    last_hour = forms.TypedChoiceField(
        choices=HOURS, coerce=int, label=_("Through the hour starting"), initial=16
    )
    minimum = forms.IntegerField(
        min_value=0,
        max_value=50,
        label=_("At least this many staff serving (0 removes the minimum)"),
        initial=1,
    )

    def clean(self):
        data = super().clean() or {}
        first, last = data.get("first_hour"), data.get("last_hour")
        if first is not None and last is not None and last < first:
            raise forms.ValidationError(_("The last hour comes before the first."))
        return data


class StaffingLendersForm(forms.Form):
    """The priority list: up to five other units to borrow staff from, in order."""

    SLOTS = 5

    def __init__(self, *args, units=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for n in range(1, self.SLOTS + 1):
            self.fields[f"lender_{n}"] = IdChoiceField(
                queryset=units if units is not None else User.objects.none(),
                required=False,
                label=_("Borrow from, choice %(n)s") % {"n": n},
                empty_label="–",
            )

    def clean(self):
        data = super().clean() or {}
        chosen = [data.get(f"lender_{n}") for n in range(1, self.SLOTS + 1)]
        lenders = [unit for unit in chosen if unit is not None]
        if len({unit.pk for unit in lenders}) != len(lenders):
            raise forms.ValidationError(_("Choose each unit at most once."))
        data["lenders"] = lenders
        return data
