from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import ClosedDay, OpeningHours, Unit, UnitTranslation, User


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
    list_display = ["name", "slug", "default_capacity", "auto_assign", "is_active"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [OpeningHoursInline, ClosedDayInline, UnitTranslationInline]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "is_active"]
    list_filter = ["role", "units", "is_active"]
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("chatcounsel", {"fields": ["role", "units"]}))
