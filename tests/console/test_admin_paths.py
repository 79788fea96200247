"""/admin/ is the console (pages, a session) except the admin API (JSON, an admin key)."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_serves_the_cache_page_to_a_staff_session(operator):
    page = operator.get("/admin/cache/")
    assert page.status_code == 200 and b"Exact cache" in page.content and b"Semantic cache" in page.content


def test_it_answers_unknown_console_paths_with_a_404_page(operator):
    for path in ("/admin/cache/nothing-here", "/admin/no-such-page/", "/admin/cache/stats/extra"):
        page = operator.get(path)
        assert page.status_code == 404 and page["Content-Type"].startswith("text/html"), path


def test_it_keeps_the_admin_api_at_both_paths(client, admin_key):
    for path in ("/admin/api/cache/stats", "/admin/cache/stats"):
        response = client.get(path, HTTP_X_API_KEY=admin_key)
        assert response.status_code == 200 and "redis" in response.json(), path


def test_it_answers_unknown_admin_api_paths_in_the_contracts_shape(client, admin_key):
    response = client.get("/admin/api/nothing", HTTP_X_API_KEY=admin_key)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_it_clears_a_namespace_from_the_cache_page(operator):
    page = operator.post("/admin/cache/", {"namespace": "team-a"}, follow=True)
    assert page.status_code == 200 and "Cleared namespace team-a" in page.content.decode()


def test_it_shows_the_configuration_in_effect_and_reloads_it(operator):
    page = operator.get("/admin/config/")
    html = page.content.decode()
    assert page.status_code == 200 and "gpt-4o" in html and "openai" in html
    reloaded = operator.post("/admin/config/", follow=True)
    assert "Configuration reloaded" in reloaded.content.decode()


def test_it_hides_the_view_site_link_and_names_the_gateway(operator):
    html = operator.get("/admin/").content.decode()
    assert "View site" not in html and "Prometheus Gateway" in html and "Django administration" not in html
