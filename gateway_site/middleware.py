"""Django's side of the front door (gateway_site/front_door.py reads the body, sets the
request id and counts the request): errors in the contract's shape, the route for the
metrics label, and Django's own middleware for the admin console only."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from gateway_site.errors import (
    GatewayError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from gateway_site.front_door import ENDPOINT_KEY, REQUEST_ID_KEY, contract_error
from gateway_site.request_ids import new_request_id

_STATUS_ERRORS: dict[int, type[GatewayError]] = {
    400: InvalidRequest,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


def request_id_of(request: HttpRequest) -> str:
    """The front door's id for this request (one is made up under WSGI, which has none)."""
    scope = getattr(request, "scope", None)
    if scope is not None and REQUEST_ID_KEY in scope:
        return scope[REQUEST_ID_KEY]
    request_id = getattr(request, "request_id", None)
    if request_id is None:
        request_id = request.request_id = new_request_id()
    return request_id


def error_response(error: BaseException, request: HttpRequest) -> HttpResponse:
    error, body = contract_error(error, request_id=request_id_of(request), path=request.path)
    response = HttpResponse(body, status=error.status, content_type="application/json")
    for name, value in error.headers.items():
        response[name] = value
    return response


def is_admin_api_path(path: str) -> bool:
    """The admin API (admin key, JSON): /admin/api/..., and its first paths, kept working.
    Exact paths, not prefixes, so /admin/cache/ stays a console page."""
    return path.startswith(settings.ADMIN_API_PREFIX) or path in settings.ADMIN_API_FIRST_PATHS


def is_console_path(path: str) -> bool:
    return path.startswith(settings.CONSOLE_PATH_PREFIXES) and not is_admin_api_path(path)


class ApiMiddleware:
    """First in Django's chain: no Django HTML error page reaches an API client, every
    answer carries the front door's request id, and the front door learns which route
    answered (its metrics label)."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        response = await self.get_response(request)
        if response.status_code >= 400 and not is_console_path(request.path):
            response = _as_contract_error(response, request)
            # contract_error logged what deserved it, once per cause; Django would add a
            # line per response ("Service Unavailable: /health" on every probe of an outage).
            response._has_been_logged = True
        match = getattr(request, "resolver_match", None)
        scope = getattr(request, "scope", None)
        if match is not None and scope is not None:
            scope[ENDPOINT_KEY] = "/" + match.route
        response["X-Request-ID"] = request_id_of(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_console_path(request.path):
            return None  # the admin console keeps Django's own handling (login redirects, 403 pages)
        return exception_response(exception, request)


def exception_response(exception: Exception, request: HttpRequest) -> HttpResponse:
    return error_response(as_gateway_error(exception), request)


def as_gateway_error(exception: BaseException) -> BaseException:
    """Django's own exceptions as the contract's errors; anything else is left as is."""
    if isinstance(exception, RequestDataTooBig):
        return PayloadTooLarge(f"Request body exceeds the limit of {settings.GATEWAY_MAX_BODY_BYTES} bytes")
    if isinstance(exception, Http404):
        return NotFound()
    if isinstance(exception, DjangoPermissionDenied):
        return PermissionDenied()
    if isinstance(exception, (BadRequest, SuspiciousOperation)):
        return InvalidRequest()
    return exception


def _as_contract_error(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    content_type = response.get("Content-Type", "")
    if content_type.startswith(("application/json", "text/event-stream")):
        return response
    error_class = _STATUS_ERRORS.get(response.status_code, InternalError)
    kept = {"Allow": response["Allow"]} if response.has_header("Allow") else None  # a 405 must name the methods
    return error_response(error_class(headers=kept), request)


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
