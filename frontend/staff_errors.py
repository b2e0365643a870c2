"""What the error pages say under a staff path (chatcounsel.middleware.is_staff_path): the
same titles as a client's (frontend/error_views.py), with words for staff and a way back to
their own start page. In Swedish or English, like every staff page, so these strings are
not in the client languages' catalogues."""

from django.utils.translation import gettext_lazy as _

STAFF_TEXTS = {
    400: _("The page could not use what your browser sent. Go back and try again."),
    403: _("Your account does not give access to this page."),
    404: _("The address may be wrong, or the page has moved."),
    500: _("We could not show this page. Wait a moment and try again."),
    "csrf": _(
        "The form could not be sent: the page was open too long, or you signed out in "
        "another tab. Go back, reload the page and try again."
    ),
}

# Where a staff member goes on from an error: partner staff to their referral form, the
# others to the console (which sends anyone not signed in to the sign-in page).
PARTNER_PREFIX = "/partner/"
