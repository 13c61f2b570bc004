"""``POST /events/acs/``: the Event Grid webhook for ACS chat events (see chat.actions.events).

Machine to machine: no session, no CSRF token (Event Grid cannot send one; the shared secret
stands in for it), JSON errors in English like ``POST /tokens/``.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from chat.actions.events import (
    MAX_BODY,
    SECRET_HEADER,
    SECRET_PARAMETER,
    Outcome,
    check_events_request,
    do_allow_origin,
    do_receive_events,
    refusal,
)


def _answer(outcome: Outcome) -> JsonResponse:
    return JsonResponse(outcome.body, status=outcome.status, headers=outcome.headers)


@csrf_exempt
@never_cache
@require_http_methods(["POST", "OPTIONS"])
async def acs_events(request: HttpRequest) -> JsonResponse:
    refused = check_events_request(
        request.headers.get(SECRET_HEADER), request.GET.get(SECRET_PARAMETER)
    )
    if refused is not None:
        return _answer(refused)
    if request.method == "OPTIONS":
        return _answer(await do_allow_origin(request.headers.get("WebHook-Request-Origin")))
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    body = request.read(MAX_BODY + 1) if declared <= MAX_BODY else b""
    if declared > MAX_BODY or len(body) > MAX_BODY:
        return _answer(refusal(413, "TooLarge", f"A delivery may hold at most {MAX_BODY} bytes."))
    return _answer(await do_receive_events(body, request.content_type or ""))
