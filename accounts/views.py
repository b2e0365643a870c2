"""Staff login pages beyond Django's own: the second factor and log out everywhere."""

import base64
import re
from urllib.parse import urlencode

import django_otp
from django import forms
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator, RegexValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import services
from accounts.qr import qr_svg_data_uri


class StaffLoginForm(AuthenticationForm):
    """Django's login form sets the username's max_length after its validators are built,
    so an overlong name reached authenticate() (and the lockout table). Check it first."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length or 150))  # type: ignore[attr-defined]


class CodeForm(forms.Form):
    # ASCII letters and digits only: the authenticator's code is read with int(), which
    # would take the same digits in another script ("１２３４５６") or with a sign.
    code = forms.CharField(
        label=_("Code"),
        max_length=16,
        validators=[RegexValidator(r"\A[0-9A-Za-z]+\Z", flags=re.ASCII)],
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/console/"


@never_cache
@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan, type a code, get backup codes once. Someone who
    already has one must pass the second factor first: a password alone never replaces
    the owner's authenticator."""
    if services.has_confirmed_device(user=request.user) and not request.user.is_verified():  # type: ignore[arg-type,union-attr]
        return redirect(f"{reverse('two-factor-verify')}?{urlencode({'next': _next(request)})}")
    device = services.totp_device_for_enrolment(user=request.user)  # type: ignore[arg-type]
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.totp_confirm(
            user=request.user,  # type: ignore[arg-type]
            device=device,
            token=form.cleaned_data["code"],
        )
        if codes is not None:
            django_otp.login(request, device)
            return render(
                request,
                "frontend/two_factor_backup_codes.html",
                {"codes": codes, "next": _next(request)},
            )
        form.add_error("code", _("That code did not match. Try the newest code in the app."))
    return render(
        request,
        "frontend/two_factor_setup.html",
        {
            "form": form,
            "qr": qr_svg_data_uri(device.config_url),
            "secret": base64.b32encode(device.bin_key).decode().rstrip("="),
            "next": _next(request),
        },
    )


@never_cache
@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the app, or a backup code."""
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = django_otp.match_token(request.user, form.cleaned_data["code"].strip())
        if device is not None:
            django_otp.login(request, device)
            return redirect(_next(request))
        form.add_error("code", _("That code did not match. Try again, or use a backup code."))
    return render(
        request, "frontend/two_factor_verify.html", {"form": form, "next": _next(request)}
    )


@require_POST
@login_required
def log_out_everywhere(request: HttpRequest) -> HttpResponse:
    services.user_log_out_everywhere(user=request.user)  # type: ignore[arg-type]
    logout(request)
    return redirect("login")
