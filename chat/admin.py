from django.contrib import admin

from chat.models import (
    AccessLog,
    Conversation,
    PurgeReport,
    Referral,
    ReferralEvent,
    RiskFlag,
    RiskOverride,
)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Metadata only: message text is read in the console, where reads are logged."""

    list_display = ["pk", "unit", "state", "priority", "created_at", "ended_at", "legal_hold"]
    list_filter = ["unit", "state", "legal_hold"]
    fields = ["unit", "state", "priority", "created_at", "ended_at", "legal_hold", "purged_at"]
    readonly_fields = ["unit", "state", "priority", "created_at", "ended_at", "purged_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_name", "unit_name", "conversation_id", "action", "took_part"]
    list_filter = ["action", "took_part"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PurgeReport)
class PurgeReportAdmin(admin.ModelAdmin):
    list_display = ["ran_at", "counts"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReferralEventInline(admin.TabularInline):
    """The referral's audit trail, as it was written: read only."""

    model = ReferralEvent
    fields = readonly_fields = ("at", "kind", "actor_name", "unit_name")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    """Urgent referrals and their audit trail. Metadata only: the number to call and the
    partner's note are for the unit's staff, in the conversation."""

    list_display = ["pk", "created_at", "place", "contact", "state", "unit", "accepted_at"]
    list_filter = ["state", "contact", "place__organisation"]
    fields = readonly_fields = (
        "created_at",
        "partner",
        "place",
        "contact",
        "children",
        "interpreter",
        "state",
        "unit",
        "conversation",
        "accepted_at",
        "escalation_step",
        "chat_opened_at",
    )
    inlines = [ReferralEventInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RiskFlag)
class RiskFlagAdmin(ReadOnlyAdmin):
    """What the risk rules did, without the client's words (read in the console)."""

    list_display = ["created_at", "conversation_id", "unit_id", "rule_label", "effect", "held"]
    list_filter = ["effect", "held", "raised"]
    fields = ["created_at", "conversation", "unit_id", "rule_label", "action", "effect", "held"]


@admin.register(RiskOverride)
class RiskOverrideAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "conversation_id", "actor_name", "reason"]
