from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import (
    ClosedDay,
    OpeningHours,
    PartnerOrganisation,
    PartnerPlace,
    Unit,
    UnitTranslation,
    User,
)


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class UnitTranslationInline(admin.StackedInline):
    """The unit's name and description in the client languages: the client page shows
    them in the page's language, the Swedish where there is none."""

    model = UnitTranslation
    extra = 0


class ClosedDayInline(admin.TabularInline):
    model = ClosedDay
    extra = 0


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "default_capacity",
        "auto_assign",
        "referral_order",
        "is_active",
    ]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [OpeningHoursInline, ClosedDayInline, UnitTranslationInline]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "is_active"]
    list_filter = ["role", "units", "partner_organisation", "is_active"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("chatcounsel", {"fields": ["role", "units", "partner_organisation"]}),
    )


class PartnerPlaceInline(admin.TabularInline):
    model = PartnerPlace
    extra = 1


@admin.register(PartnerOrganisation)
class PartnerOrganisationAdmin(admin.ModelAdmin):
    """A partner with its places; its staff are users with the role partner staff and this
    organisation (same sign-in rules as staff)."""

    list_display = ["name", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    inlines = [PartnerPlaceInline]
