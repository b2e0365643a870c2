from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from django_otp.admin import OTPAdminSite

from accounts import views as account_views
from frontend import (
    case_views,
    eid_views,
    partner_views,
    poster_views,
    risk_views,
    staffing_views,
    statistics_views,
    views,
)

if settings.STAFF_TWO_FACTOR:
    # The admin asks for the second factor too (django-otp's documented switch).
    admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("", views.client_page, name="client"),
    path("exit/", views.quick_exit, name="quick-exit"),
    path("console/", views.console_page, name="console"),
    path("console/replies/", views.canned_replies_page, name="canned-replies"),
    path("interpret/", views.interpreter_page, name="interpreter"),
    path("return/", case_views.return_page, name="return"),
    path("return/case/", case_views.return_case_page, name="return-case"),
    path("transcript/", case_views.client_transcript, name="client-transcript"),
    path("me/", eid_views.my_page, name="my-page"),
    path("me/cases/<int:case_id>/", eid_views.my_case_open, name="my-case"),
    path(
        "me/conversations/<int:conversation_id>/transcript/",
        eid_views.my_transcript,
        name="my-transcript",
    ),
    path("eid/start/", eid_views.eid_start, name="eid-start"),
    path("eid/callback/", eid_views.eid_callback, name="eid-callback"),
    path("eid/step-up/", eid_views.eid_step_up, name="eid-step-up"),
    path("eid/consent/", eid_views.eid_consent, name="eid-consent"),
    path("eid/sign-out/", eid_views.eid_sign_out, name="eid-sign-out"),
    path("console/inbox/", case_views.inbox_page, name="inbox"),
    path("console/cases/<int:case_id>/", case_views.case_page, name="case"),
    path(
        "console/conversations/<int:conversation_id>/transcript/",
        case_views.transcript_page,
        name="transcript",
    ),
    path(
        "console/conversations/<int:conversation_id>/transcript.txt",
        case_views.transcript_download,
        name="transcript-download",
    ),
    path("partner/", partner_views.referral_page, name="refer"),
    path(
        "partner/referrals/<int:referral_id>/",
        partner_views.receipt_page,
        name="referral-receipt",
    ),
    path(
        "partner/referrals/<int:referral_id>/status",
        partner_views.receipt_status,
        name="referral-status",
    ),
    path("console/posters/", poster_views.posters_page, name="posters"),
    path(
        "console/posters/unit/<int:unit_id>/<str:language>/",
        poster_views.unit_poster,
        name="unit-poster",
    ),
    path(
        "partner/referrals/<int:referral_id>/chat/",
        partner_views.referral_chat_page,
        name="referral-chat",
    ),
    path(
        "partner/referrals/<int:referral_id>/chat/exit",
        partner_views.referral_chat_exit,
        name="referral-chat-exit",
    ),
    path("partner/posters/", poster_views.partner_posters_page, name="partner-posters"),
    path(
        "partner/posters/place/<int:place_id>/<str:language>/",
        poster_views.place_poster,
        name="place-poster",
    ),
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/access-log/", views.access_log_page, name="access-log"),
    path("dashboard/surveys/", views.survey_page, name="surveys"),
    path("dashboard/risk-rules/", risk_views.risk_rules_page, name="risk-rules"),
    path("dashboard/access-log.csv", views.access_log_csv, name="access-log-csv"),
    path("dashboard/staffing/", staffing_views.staffing_page, name="staffing"),
    path("dashboard/statistics/", statistics_views.statistics_page, name="statistics"),
    path("dashboard/statistics.csv", statistics_views.statistics_csv, name="statistics-csv"),
    path("console/my-statistics/", statistics_views.own_statistics_page, name="own-statistics"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="frontend/login.html", authentication_form=account_views.StaffLoginForm
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/logout-everywhere/",
        account_views.log_out_everywhere,
        name="logout-everywhere",
    ),
    path("accounts/two-factor/", account_views.two_factor_verify, name="two-factor-verify"),
    path("accounts/two-factor/setup/", account_views.two_factor_setup, name="two-factor-setup"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["frontend"]), name="javascript-catalog"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]

# Error pages a client can read, in the client's language (frontend/error_views.py).
handler400 = "frontend.error_views.bad_request"
handler403 = "frontend.error_views.permission_denied"
handler404 = "frontend.error_views.page_not_found"
handler500 = "frontend.error_views.server_error"
