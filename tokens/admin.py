from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from tokens import services
from tokens.models import AcsIdentity


@admin.register(AcsIdentity)
class AcsIdentityAdmin(admin.ModelAdmin):
    list_display = ["communication_user_id", "user", "service_name", "token_expires_on"]
    list_select_related = ["user"]
    search_fields = ["communication_user_id", "user__username", "service_name"]
    # The token itself is a credential: never shown, only its expiry.
    fields = [
        "communication_user_id",
        "user",
        "service_name",
        "token_expires_on",
        "tokens_revoked_on",
        "created_on",
    ]
    readonly_fields = fields
    actions = ["revoke_tokens"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Identities are created in ACS on first need, never typed in.
        return False

    @admin.action(description="Revoke ACS tokens of the selected identities")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[AcsIdentity]) -> None:
        revoked = 0
        for identity in queryset:
            try:
                services.revoke_identity_tokens(identity)
            except services.AcsError as exc:
                self.message_user(
                    request, f"{identity.communication_user_id}: {exc}", messages.ERROR
                )
            else:
                revoked += 1
        if revoked:
            self.message_user(request, f"Revoked the tokens of {revoked} identities.")
