"""Request id, body size limit and contract-shaped errors for every response."""

from __future__ import annotations

import logging
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

from apps.keys.limiter import arate_limit_annotate
from apps.stats import metrics
from gateway_site.errors import (
    GatewayError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    render_error_body,
)
from gateway_site.request_ids import new_request_id

logger = logging.getLogger("gateway.errors")

_STATUS_ERRORS: dict[int, type[GatewayError]] = {
    400: InvalidRequest,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


def request_id_of(request: HttpRequest) -> str:
    request_id = getattr(request, "request_id", None)
    if request_id is None:
        request_id = request.request_id = new_request_id()
    return request_id


def error_response(error: GatewayError, request: HttpRequest) -> JsonResponse:
    request_id = request_id_of(request)
    response = JsonResponse(render_error_body(error, request_id), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def is_console_path(path: str) -> bool:
    return path.startswith(settings.CONSOLE_PATH_PREFIXES) and not path.startswith(("/admin/cache/", "/admin/reload-config"))


class ApiMiddleware:
    """First in the chain: gives each request an id, refuses oversized bodies before they
    are read, and makes sure no Django HTML error page reaches an API client."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request.request_id = new_request_id()
        if _declared_length(request) > settings.GATEWAY_MAX_BODY_BYTES:
            response = error_response(_too_large(), request)
        else:
            response = await self.get_response(request)
            if response.status_code >= 400 and not is_console_path(request.path):
                response = _as_contract_error(response, request)
            await arate_limit_annotate(request, response)
        response["X-Request-ID"] = request.request_id
        _observe(request, response, started)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_console_path(request.path):
            return None  # the admin console keeps Django's own handling (login redirects, 403 pages)
        return exception_response(exception, request)


def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    endpoint = "/" + match.route if match is not None else "unmatched"
    metrics.observe_request(request.method, endpoint, response.status_code, started)


def exception_response(exception: Exception, request: HttpRequest) -> HttpResponse:
    if isinstance(exception, GatewayError):
        return error_response(exception, request)
    if isinstance(exception, RequestDataTooBig):
        return error_response(_too_large(), request)
    django_error = _from_django_exception(exception)
    if django_error is not None:
        return error_response(django_error, request)
    logger.exception("unhandled error request_id=%s path=%s", request_id_of(request), request.path)
    return error_response(InternalError(), request)


def _from_django_exception(exception: Exception) -> GatewayError | None:
    if isinstance(exception, Http404):
        return NotFound()
    if isinstance(exception, DjangoPermissionDenied):
        return PermissionDenied()
    if isinstance(exception, (BadRequest, SuspiciousOperation)):
        return InvalidRequest()
    return None


def _too_large() -> GatewayError:
    return PayloadTooLarge(f"Request body exceeds the limit of {settings.GATEWAY_MAX_BODY_BYTES} bytes")


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _as_contract_error(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    content_type = response.get("Content-Type", "")
    if content_type.startswith(("application/json", "text/event-stream")):
        return response
    error_class = _STATUS_ERRORS.get(response.status_code, InternalError)
    return error_response(error_class(), request)


class ConsoleMiddleware:
    """Runs Django's session, auth, CSRF and messages middleware for the admin console
    only. Admin views keep their own csrf_protect decorators, so CSRF still holds."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        handler = get_response
        for path in reversed(settings.CONSOLE_MIDDLEWARE):
            handler = import_string(path)(handler)
        self.console_handler = handler
        assert iscoroutinefunction(get_response)
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_console_path(request.path):
            return await self.console_handler(request)
        return await self.get_response(request)
