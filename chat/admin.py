from django.contrib import admin

from chat.models import AccessLog, Conversation, PurgeReport, RiskFlag, RiskOverride


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
