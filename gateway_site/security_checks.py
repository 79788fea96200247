"""`manage.py check --deploy` for the admin console's middleware.

Django's own security checks look for SecurityMiddleware, CSRF and clickjacking protection
in settings.MIDDLEWARE. Here they sit in CONSOLE_MIDDLEWARE (run by ConsoleMiddleware for
/admin/ only, so the API path stays lean), where Django would report them missing
(security.W001-W003, silenced in settings) and then skip every check that needs them:
HSTS, the https redirect, secure CSRF cookies. This check runs Django's security checks
again as if the console's middleware were the site's, and reports what that adds.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks.registry import registry
from django.test.utils import override_settings


@register(Tags.security, deploy=True)
def check_console_security(app_configs, **kwargs) -> list[CheckMessage]:
    without = _django_security_messages(app_configs)
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, *settings.CONSOLE_MIDDLEWARE]):
        with_console = _django_security_messages(app_configs)
    return [message for message in with_console if message not in without]


def _django_security_messages(app_configs) -> list[CheckMessage]:
    checks = registry.get_checks(include_deployment_checks=True)
    messages: list[CheckMessage] = []
    for check in checks:
        if Tags.security in getattr(check, "tags", ()) and check is not check_console_security:
            messages.extend(check(app_configs=app_configs, databases=None))
    return messages
