from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts import services
from chat.permissions import can

View = Callable[..., HttpResponse]


def staff_page(permission: str) -> Callable[[View], View]:
    """Signed in, allowed by `permission`, and past the second factor when it is on:
    a staff member without an authenticator is sent to enrol first."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not can(user, permission):
                if getattr(user, "is_partner", False):
                    # Partner staff have one page: the referral form (their sign-in lands
                    # here too, as sign-in goes to the console).
                    return redirect("refer")
                raise PermissionDenied
            if services.two_factor_required(user) and not user.is_verified():  # type: ignore[union-attr,attr-defined]  # django-otp adds it
                target = (
                    "two-factor-verify"
                    if services.has_confirmed_device(user=user)  # type: ignore[arg-type]
                    else "two-factor-setup"
                )
                response = redirect(target)
                response["Location"] += "?" + urlencode({"next": request.get_full_path()})
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
