"""DRF fields stricter than DRF's own, for JSON APIs."""

from __future__ import annotations

from typing import ClassVar

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField turns `0` into `"0"`, which lets a
    wrongly typed JSON value through."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
