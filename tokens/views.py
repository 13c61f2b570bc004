"""POST /tokens/: the signed-in user's ACS chat token, for the browser's chat client."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from tokens import acs, ratelimit, services


def _error(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


@never_cache
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    """Return ``{token, expiresOn, communicationUserId, endpoint, scopes}``; call again to refresh.

    The token carries ACS's ``chat.join.limited`` scope: it reads and writes messages in the
    user's threads, but cannot add or remove participants, rename or delete threads, so it
    cannot undo Kwebbel's rules. (Kwebbel's own token for the user never leaves the server.)

    CSRF-protected by the middleware (a 403 for a missing or wrong token). Anonymous callers get
    a 401 JSON error, not a redirect to the sign-in page: this is an API for scripts.
    """
    if not request.user.is_authenticated:
        return _error(401, "NotAuthenticated", "Sign in to get a chat token.")
    limit, window = settings.TOKENS_RATE_LIMIT
    retry_after = ratelimit.hit(f"tokens:{request.user.pk}", limit, window)
    if retry_after is not None:
        return _error(
            429,
            "TooManyRequests",
            f"Too many token requests; try again in {retry_after} s.",
            **{"Retry-After": str(retry_after)},
        )
    try:
        acs_token = services.get_browser_token(request.user)
        endpoint = acs.endpoint()
    except (services.AcsError, acs.AcsNotConfigured):
        return _error(
            503, "AcsUnavailable", "Chat is unavailable right now; please try again shortly."
        )
    return JsonResponse(
        {
            "token": acs_token.token,
            "expiresOn": acs_token.expires_on.isoformat(),
            "communicationUserId": acs_token.communication_user_id,
            "endpoint": endpoint,
            "scopes": services.BROWSER_SCOPES,
        }
    )
