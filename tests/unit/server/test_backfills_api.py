"""Backfills over the API: one queued run per interval, listed, cancelled."""

from __future__ import annotations

from tests.unit.server.conftest import Api
from weir.server import Role


def test_create_list_read_and_cancel(api: Api) -> None:
    editor = api.as_(Role.EDITOR)
    created = api.client.post(
        "/api/backfills",
        json={
            "pipeline_uuid": "etl",
            "start_datetime": "2025-01-01T00:00:00Z",
            "end_datetime": "2025-01-03T00:00:00Z",
            "interval_type": "day",
            "variables": {"source": "archive"},
        },
        headers=editor,
    )
    assert created.status_code == 201, created.text
    backfill = created.json()
    assert (backfill["status"], backfill["run_counts"]) == ("running", {"queued": 3})
    runs = api.client.get(
        "/api/pipeline_runs", params={"pipeline_uuid": "etl"}, headers=editor
    ).json()["items"]
    assert [(r["execution_date"], r["backfill_id"]) for r in reversed(runs)] == [
        (f"2025-01-0{day}T00:00:00Z", backfill["id"]) for day in (1, 2, 3)
    ]
    assert runs[-1]["variables"] == {
        "source": "archive",
        "interval_start_datetime": "2025-01-01T00:00:00+00:00",
        "interval_end_datetime": "2025-01-02T00:00:00+00:00",
    }
    listed = api.client.get("/api/backfills", params={"pipeline_uuid": "etl"}, headers=editor)
    assert [b["id"] for b in listed.json()] == [backfill["id"]]
    one = api.client.get(f"/api/backfills/{backfill['id']}", headers=editor).json()
    assert one["name"].startswith("etl: 2025-01-01 00:00 .. 2025-01-03 00:00")
    cancelled = api.client.post(f"/api/backfills/{backfill['id']}/cancel", headers=editor).json()
    assert (cancelled["status"], cancelled["run_counts"]) == ("cancelled", {"cancelled": 3})


def test_invalid_backfills(api: Api) -> None:
    editor = api.as_(Role.EDITOR)
    base = {"pipeline_uuid": "etl", "start_datetime": "2025-01-02T00:00:00Z"}
    cases = [
        ({**base, "end_datetime": "2025-01-01T00:00:00Z"}, 422, "before the start"),
        (
            {**base, "end_datetime": "2025-01-03T00:00:00Z", "timezone": "Nowhere/City"},
            422,
            "Nowhere",
        ),
        (
            {**base, "end_datetime": "2040-01-01T00:00:00Z", "interval_type": "second"},
            422,
            "more than",
        ),
        ({**base, "end_datetime": "2025-01-03T00:00:00Z", "interval_type": "fortnight"}, 422, ""),
        ({**base, "pipeline_uuid": "nope", "end_datetime": "2025-01-03T00:00:00Z"}, 404, "nope"),
    ]
    for body, code, message in cases:
        response = api.client.post("/api/backfills", json=body, headers=editor)
        assert response.status_code == code, (body, response.text)
        assert message in str(response.json()["detail"])
    assert api.client.get("/api/backfills/99", headers=editor).status_code == 404
    assert api.client.post("/api/backfills/99/cancel", headers=editor).status_code == 404
    assert api.client.get("/api/pipeline_runs", headers=editor).json()["total"] == 0
