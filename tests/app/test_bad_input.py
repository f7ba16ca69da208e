"""Hostile or malformed input answers a 4xx that names the problem, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest_service import auth

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("where", ["ratio", "settings"])
def test_non_finite_numbers_in_a_job_answer_422(api_client, owner_key, number, where):
    value = number if where == "ratio" else f'{{"lr": {number}}}'
    body = f'{{"dataset_id": "d", "method": "random", "{where}": {value}}}'
    response = api_client.post("/condense", content=body, headers=auth(owner_key) | JSON)
    assert response.status_code == 422, response.text
    assert where in response.text


def test_the_422_echo_of_a_huge_value_is_short(api_client, owner_key):
    huge = "x" * 500_000
    response = api_client.post(
        "/condense", json={"dataset_id": "d", "method": huge}, headers=auth(owner_key)
    )
    assert response.status_code == 422
    assert len(response.content) < 5_000, len(response.content)
    assert response.json()["detail"][0]["loc"] == ["body", "method"]


def test_an_empty_dataset_id_is_invalid_not_missing(api_client, owner_key):
    response = api_client.post(
        "/condense", json={"dataset_id": "", "method": "random"}, headers=auth(owner_key)
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "dataset_id"]


@pytest.mark.parametrize(
    "query",
    ["offset=9223372036854775808", "offset=-1", "created_after=0.5", "created_after=1700000000"],
)
def test_out_of_range_listing_parameters_answer_422(api_client, owner_key, query):
    response = api_client.get(f"/jobs?{query}", headers=auth(owner_key))
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("when", ["2026-01-31", "2026-01-31T12:00:00", "2026-01-31T12:00:00Z"])
def test_iso_dates_filter_the_listing(api_client, owner_key, when):
    response = api_client.get("/jobs", params={"created_after": when}, headers=auth(owner_key))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("row_id", ["%00", "a%00b", "x" * 300])
def test_ids_no_row_can_have_answer_404(api_client, owner_key, row_id):
    for path in (f"/jobs/{row_id}", f"/datasets/{row_id}", f"/teachers/{row_id}"):
        assert api_client.get(path, headers=auth(owner_key)).status_code == 404, path


def test_a_non_ascii_download_signature_answers_403(local_settings):
    from app.main import create_app

    with TestClient(create_app(local_settings)) as client:
        response = client.get(
            "/downloads/a/b.zip?expires=9999999999&filename=b.zip&signature=%C3%B2"
        )
    assert response.status_code == 403, response.text


@pytest.mark.parametrize(
    "change",
    [
        {"settings": {"iterations": 10**12}},
        {"settings": {"instances_per_batch": 10**9}},
        {"settings": {"num_freqs": 10**9}},
        {"iterations": 10**12},
        {"teacher": {"mode": "train", "step": 10**9}},
        {"teacher": {"mode": "train", "iterations": 10**12}},
    ],
)
def test_no_way_in_gets_past_the_caps(api_client, owner_key, change):
    body = {"dataset_id": "d", "method": "kcenter", "teacher": {"mode": "train"}} | change
    response = api_client.post("/condense", json=body, headers=auth(owner_key))
    assert response.status_code == 422, response.text
    assert "at most" in response.text or "less than or equal" in response.text


def test_a_json_body_is_not_read_before_the_key_is_checked(api_client):
    # Without the early check FastAPI parsed the body first and answered this with 422.
    response = api_client.post("/condense", content=b"{not json", headers=JSON)
    assert response.status_code == 401, response.text
    wrong = {"Authorization": "Bearer idc_nope_nope"} | JSON
    assert api_client.post("/condense", content=b"{not json", headers=wrong).status_code == 401


def test_json_bodies_are_bounded(api_client, owner_key, api_settings):
    padding = "x" * (api_settings.json_max_bytes + 1)
    body = {"dataset_id": "d", "method": "random", "settings": {"note": padding}}
    response = api_client.post("/condense", json=body, headers=auth(owner_key))
    assert response.status_code == 413, response.text[:300]
    assert len(response.content) < 1000
