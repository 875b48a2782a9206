"""Crafted input and unexpected errors: always a 4xx/5xx JSON body in the spec's shape, never a
crash page. The PostgreSQL run matters most here: it is PostgreSQL that refuses NUL characters,
unpaired surrogates, infinite numbers in `jsonb` and offsets past a bigint."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from core.parsers import MAX_JSON_DEPTH, json_depth
from swarms.models import Swarm
from tests.conftest import OBJECTIVE

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000


def post_raw(client, url, text, **extra):
    return client.generic("POST", url, text.encode("utf-8"), content_type="application/json", **extra)


def json_error(response, status):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["error"] and "message" in body
    return body


def create_body(**fields):
    return json.dumps({"objective": OBJECTIVE, **fields})


# --- JSON the parser refuses --------------------------------------------------------------------


def test_deeply_nested_json_is_refused_even_before_authentication(anon_client):
    body = json_error(
        post_raw(anon_client, "/api/auth/token", '{"username": ' + DEEP + ', "password": "x"}'), 400
    )
    assert body["error"] == "Invalid JSON"
    assert "nested deeper than" in body["message"]


def test_nesting_a_little_past_the_limit_is_refused_and_within_it_accepted(client_of_alice):
    too_deep = {"objective": OBJECTIVE, "options": json.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)}
    json_error(post_raw(client_of_alice, "/api/swarm/create", json.dumps(too_deep)), 400)
    assert post_raw(client_of_alice, "/api/swarm/create", create_body()).status_code == 201


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert json_depth(json.dumps({"a": "[[[[{{{{" * 50, "b": ['x"]]]\\"']})) == 2


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (create_body(options={"note": "a\x00b"}), "options.note"),
        (create_body(options={"a\x00": 1}), "options.a\\x00"),
        (create_body(name="bad \ud800 name"), "name"),
        (create_body(options={"list": ["ok", "\udc00"]}), "options.list.1"),
        (json.dumps({"objective": OBJECTIVE + " \udfff"}), "objective"),
    ],
)
def test_nul_characters_and_unpaired_surrogates_are_refused(client_of_alice, text, field):
    body = json_error(post_raw(client_of_alice, "/api/swarm/create", text), 400)
    assert body["error"] == "Validation failed"
    assert field in {d["field"] for d in body["details"]}, body
    assert Swarm.objects.count() == 0


def test_a_surrogate_pair_is_a_character_like_any_other(client_of_alice):
    response = post_raw(client_of_alice, "/api/swarm/create", create_body(name="rocket \U0001f680"))
    assert response.status_code == 201
    assert Swarm.objects.get().name == "rocket \U0001f680"


@pytest.mark.parametrize(
    "fragment", ['{"x": 1e309}', '{"x": -1e309}', '{"x": NaN}', '{"x": Infinity}', '{"x": -Infinity}']
)
def test_numbers_json_cannot_represent_are_refused(client_of_alice, fragment):
    text = f'{{"objective": "{OBJECTIVE}", "options": {fragment}}}'
    assert json_error(post_raw(client_of_alice, "/api/swarm/create", text), 400)["error"] == "Invalid JSON"
    text = f'{{"objective": "{OBJECTIVE}", "maxAgents": {fragment[6:-1]}}}'
    json_error(post_raw(client_of_alice, "/api/swarm/create", text), 400)


def test_nul_and_surrogates_in_login_fields_are_a_400(anon_client):
    for username in ("a\x00b", "a\ud800b"):
        text = json.dumps({"username": username, "password": "x"})
        json_error(post_raw(anon_client, "/api/auth/token", text), 400)


# --- size --------------------------------------------------------------------------------------


def test_a_json_body_over_max_json_bytes_is_a_413(client_of_alice, settings):
    settings.MAX_JSON_BYTES = 2048
    big = create_body(options={"padding": "x" * 3000})
    body = json_error(post_raw(client_of_alice, "/api/swarm/create", big), 413)
    assert body["error"] == "Payload too large" and "2048" in body["message"]
    assert Swarm.objects.count() == 0
    assert post_raw(client_of_alice, "/api/swarm/create", create_body()).status_code == 201


def test_the_limit_holds_when_the_declared_length_is_missing(client_of_alice, settings):
    from io import BytesIO

    from rest_framework.test import APIRequestFactory

    from core.parsers import StrictJSONParser

    settings.MAX_JSON_BYTES = 1024
    request = APIRequestFactory().post("/api/swarm/create")
    request.META.pop("CONTENT_LENGTH", None)
    from core.errors import PayloadTooLarge

    with pytest.raises(PayloadTooLarge):
        StrictJSONParser().parse(BytesIO(b"[" + b"1," * 2000 + b"1]"), parser_context={"request": request})


def test_the_default_limit_is_64_kib():
    from django.conf import settings

    assert settings.MAX_JSON_BYTES == 65536


# --- query parameters and path ids -----------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "offset=9223372036854775808",
        "offset=9223372036854775807",
        "offset=99999999999999999999999",
        "limit=101",
    ],
)
def test_paging_parameters_out_of_range_are_a_400(client_of_alice, query):
    body = json_error(client_of_alice.get("/api/swarms?" + query), 400)
    assert body["error"] == "Validation failed"


@pytest.mark.parametrize(
    "path",
    [
        "/api/swarm/swarm_x%00y",
        "/api/swarm/swarm_x%00y/tasks",
        "/api/swarm/swarm_x%00y/agents/agent_%00",
        "/api/swarm/swarm_x/tasks/task%00/assign",
    ],
)
def test_a_nul_in_a_path_id_is_a_json_404(client_of_alice, path):
    json_error(client_of_alice.get(path), 404)


def test_a_nul_in_an_api_key_id_is_a_json_404(client_of_alice):
    json_error(client_of_alice.delete("/api/keys/key_%00"), 404)


def test_a_nul_in_a_ui_path_is_a_404_page(alice, client):
    client.force_login(alice)
    assert client.get("/swarms/swarm_%00/results").status_code == 404


# --- unknown paths and unexpected errors ----------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nope", "/api/swarm/x/y/z", "/api/", "/api/swarms/"])
def test_unknown_api_paths_are_a_json_404_for_anyone(anon_client, path):
    body = json_error(anon_client.get(path), 404)
    assert body["error"] == "Not found"


def test_unknown_pages_outside_the_api_stay_html(anon_client):
    response = anon_client.get("/no-such-page")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_is_a_json_500_naming_the_request(
    client_of_alice, swarm_of_alice, monkeypatch, settings, debug
):
    settings.DEBUG = debug

    def broken(**kwargs):
        raise RuntimeError("boom: a secret detail")

    monkeypatch.setattr("swarms.api.swarms.SwarmPauseApi.service", staticmethod(broken))
    response = client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/pause", HTTP_X_REQUEST_ID="req-42")
    body = json_error(response, 500)
    assert body == {
        "error": "Internal server error",
        "message": "An unexpected error occurred; quote request id req-42",
    }
    assert "secret" not in response.content.decode()


def test_the_django_500_handler_answers_json_under_the_api(rf):
    from core.errors import server_error

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        response = server_error(rf.get("/api/swarms"))
    assert response.status_code == 500 and json.loads(response.content)["error"] == "Internal server error"


def test_a_database_outage_seen_by_the_500_handler_is_a_503(rf):
    from django.db import OperationalError

    from core.errors import server_error

    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(rf.get("/api/swarms"))
    assert response.status_code == 503 and response["Retry-After"]
    assert json.loads(response.content)["error"] == "Service unavailable"


# --- tokens -------------------------------------------------------------------------------


def test_a_deleted_users_refresh_token_is_a_401(anon_client, alice):
    tokens = anon_client.post("/api/auth/token", {"username": "alice", "password": "pw-alice"}, format="json")
    refresh = tokens.json()["refresh"]
    get_user_model().objects.filter(pk=alice.pk).delete()
    response = anon_client.post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert json_error(response, 401)["error"] == "Authentication failed"


# --- the broker, refusing connections for real --------------------------------------------------


@pytest.fixture
def unreachable_broker():
    """A RedisBroker pointed at a port nobody listens on, installed as the global broker."""
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    from tests.stack import free_port

    previous = dramatiq.get_broker()
    broker = RedisBroker(url=f"redis://127.0.0.1:{free_port()}/0")
    dramatiq.actor(lambda *args: None, actor_name="probe", broker=broker)
    dramatiq.set_broker(broker)
    yield broker
    dramatiq.set_broker(previous)


def test_work_is_refused_with_a_503_while_the_broker_is_unreachable(client_of_alice, unreachable_broker):
    body = json_error(post_raw(client_of_alice, "/api/swarm/create", create_body()), 503)
    assert body["error"] == "Service unavailable" and "nothing was changed" in body["message"]
    assert Swarm.objects.count() == 0


def test_a_message_the_broker_refuses_after_commit_is_logged_not_raised(unreachable_broker, caplog):
    from core import jobs

    jobs.send("probe", "swarm_x")  # the commit it follows stands; the housekeeping re-sends
    assert "broker unavailable, probe('swarm_x',) not sent" in caplog.text


def test_djangos_own_4xx_exceptions_keep_their_status_under_the_api(rf):
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from core.middleware import ApiErrorMiddleware

    middleware = ApiErrorMiddleware(lambda request: None)
    for exception in (Http404(), PermissionDenied()):
        assert middleware.process_exception(rf.get("/api/swarms"), exception) is None
    assert middleware.process_exception(rf.get("/api/swarms"), KeyError("x")).status_code == 500
    assert (
        middleware.process_exception(rf.get("/swarms/x"), KeyError("x")) is None
    )  # the UI keeps Django's page


def test_a_refused_value_is_echoed_back_bounded(client_of_alice):
    long_text = "x" * 30_000
    for options, field, echoed in [
        ({"notes": long_text}, "options.notes", "x" * 200 + "…"),
        ({"unknownKey": {"a": long_text}}, "options.unknownKey", None),  # a large object: not echoed at all
    ]:
        response = post_raw(client_of_alice, "/api/swarm/create", create_body(options=options))
        body = json_error(response, 400)
        assert {d["field"]: d["value"] for d in body["details"]} == {field: echoed}
        assert len(response.content) < 2_000
