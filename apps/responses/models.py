from __future__ import annotations

from django.db import models


class StoredResponse(models.Model):
    """One answer of POST /v1/responses kept for `previous_response_id`: the whole
    conversation up to it (input items, earlier turns included) and what the model said.
    Only its own key may continue it; past `expires_at` it is ignored, then pruned."""

    id = models.CharField(max_length=64, primary_key=True)  # resp_<request id>
    # No database constraint: a key deleted while its responses wait in the write buffer
    # must not make the batch fail. Rows of a deleted key are never readable anyway.
    api_key = models.ForeignKey("keys.ApiKey", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    model = models.CharField(max_length=100)
    input_items = models.JSONField()
    output_items = models.JSONField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.id
