from django.conf import settings
from django.db import models


class AcsIdentity(models.Model):
    """The ACS identity of one site user, or of Kwebbel itself, and the last tokens issued to it.

    Exactly one of ``user`` and ``service_name`` is set. The tokens are a cache: the services
    module reuses them until they get close to expiry, so most requests cost no ACS call.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="acs_identity",
    )
    service_name = models.CharField(max_length=64, null=True, blank=True, unique=True)
    communication_user_id = models.CharField("ACS user id", max_length=255, unique=True)
    # The server token (scope chat), used only by Kwebbel itself.
    token = models.TextField(blank=True, editable=False)
    token_expires_on = models.DateTimeField(null=True, blank=True, editable=False)
    # The browser token (scope chat.join.limited), the one POST /tokens/ hands out.
    browser_token = models.TextField(blank=True, editable=False)
    browser_token_expires_on = models.DateTimeField(null=True, blank=True, editable=False)
    tokens_revoked_on = models.DateTimeField(null=True, blank=True, editable=False)
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "ACS identity"
        verbose_name_plural = "ACS identities"
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, service_name__isnull=True)
                    | models.Q(user__isnull=True, service_name__isnull=False)
                ),
                name="tokens_acsidentity_user_xor_service",
            )
        ]

    def __str__(self) -> str:
        owner = self.service_name if self.user_id is None else f"user {self.user_id}"
        return f"{self.communication_user_id} ({owner})"
