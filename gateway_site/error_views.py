"""Django's error handlers, in the contract's shape (the console keeps Django's pages)."""

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from gateway_site.errors import InternalError, InvalidRequest, NotFound, PermissionDenied
from gateway_site.middleware import error_response, is_console_path


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_response(InvalidRequest(), request)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_console_path(request.path):
        return defaults.permission_denied(request, exception)
    return error_response(PermissionDenied(), request)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_console_path(request.path):
        return defaults.page_not_found(request, exception)
    return error_response(NotFound(f"No route for {request.method} {request.path}"), request)


def server_error(request: HttpRequest) -> HttpResponse:
    return error_response(InternalError(), request)
