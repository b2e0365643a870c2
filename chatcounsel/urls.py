from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from frontend import views

urlpatterns = [
    path("", views.client_page, name="client"),
    path("console/", views.console_page, name="console"),
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="frontend/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["frontend"]), name="javascript-catalog"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
