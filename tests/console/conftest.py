import pytest
from django.contrib.auth.models import User


@pytest.fixture
def operator(client):
    """A staff user's logged-in browser session (Django's test client)."""
    user = User.objects.create_superuser("operator", "op@example.com", "a-long-test-password")
    client.force_login(user)
    return client
