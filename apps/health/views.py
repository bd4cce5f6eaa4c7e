"""Liveness endpoint for the container HEALTHCHECK and load balancers.

Cheap on purpose: no database query, no template, no session. It proves the process
serves requests through the whole middleware stack.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """GET/HEAD /healthz/ -> 200 {"status": "ok"}."""
    return JsonResponse({"status": "ok"})
