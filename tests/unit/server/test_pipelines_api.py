"""Pipelines and blocks over the API: Mage's files read and written back, checked first."""

from __future__ import annotations

import yaml

from tests.unit.server.conftest import Api
from weir.pipeline.pipeline import load_pipeline
from weir.project.project import load_project
from weir.server import Role


def metadata(api: Api, uuid: str = "etl") -> dict:
    return yaml.safe_load((api.root / "pipelines" / uuid / "metadata.yaml").read_text())


def test_list_and_read(api: Api) -> None:
    listed = api.client.get("/api/pipelines", headers=api.as_(Role.VIEWER)).json()
    assert listed == [
        {
            "uuid": "etl",
            "name": None,
            "type": "python",
            "description": None,
            "tags": [],
            "block_count": 2,
            "error": None,
        }
    ]
    one = api.client.get("/api/pipelines/etl", headers=api.as_(Role.VIEWER)).json()
    assert [b["uuid"] for b in one["blocks"]] == ["load", "double"]
    assert one["blocks"][1]["upstream_blocks"] == ["load"]
    assert one["metadata"] == metadata(api)


def test_a_broken_pipeline_is_listed_with_its_error(api: Api) -> None:
    broken = api.root / "pipelines" / "broken"
    broken.mkdir()
    (broken / "metadata.yaml").write_text("blocks:\n- uuid: a\n  type: transformer\n")
    listed = {
        p["uuid"]: p for p in api.client.get("/api/pipelines", headers=api.as_(Role.VIEWER)).json()
    }
    assert listed["etl"]["error"] is None
    assert "has no code file" in listed["broken"]["error"]
    assert api.client.get("/api/pipelines/broken", headers=api.as_(Role.VIEWER)).json()["error"]


def test_unknown_pipeline_is_404(api: Api) -> None:
    for path in (
        "/api/pipelines/nope",
        "/api/pipelines/nope/blocks",
        "/api/pipelines/etl/blocks/nope",
    ):
        response = api.client.get(path, headers=api.as_(Role.VIEWER))
        assert response.status_code == 404, path
        assert "nope" in response.json()["detail"]


def test_create_update_delete(api: Api) -> None:
    headers = api.as_(Role.EDITOR)
    created = api.client.post(
        "/api/pipelines",
        json={
            "uuid": "daily",
            "name": "daily load",
            "tags": ["nightly"],
            "cache_block_output_in_memory": True,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert metadata(api, "daily") == {
        "uuid": "daily",
        "type": "python",
        "blocks": [],
        "name": "daily load",
        "tags": ["nightly"],
        "cache_block_output_in_memory": True,
    }
    again = api.client.post("/api/pipelines", json={"uuid": "daily"}, headers=headers)
    assert again.status_code == 409
    updated = api.client.patch(
        "/api/pipelines/daily",
        json={"description": "runs at night", "variables": {"n": 3}},
        headers=headers,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["description"] == "runs at night"
    assert metadata(api, "daily")["variables"] == {"n": 3}
    assert metadata(api, "daily")["tags"] == ["nightly"]  # keys not sent are kept
    assert api.client.delete("/api/pipelines/daily", headers=headers).status_code == 204
    assert not (api.root / "pipelines" / "daily").exists()
    assert api.client.delete("/api/pipelines/daily", headers=headers).status_code == 404


def test_invalid_changes_are_refused_and_nothing_is_written(api: Api) -> None:
    headers = api.as_(Role.EDITOR)
    before = (api.root / "pipelines" / "etl" / "metadata.yaml").read_bytes()
    cycle = metadata(api)["blocks"]
    cycle[0]["upstream_blocks"] = ["double"]
    cases = [
        ({"blocks": cycle}, "cycle"),
        ({"blocks": [{"uuid": "ghost", "type": "transformer"}]}, "no code file"),
        ({"blocks": [{"uuid": "x", "type": "not_a_type"}]}, "unknown type"),
        ({"type": "spaceship"}, "key 'type'"),
        ({"uuid": "renamed"}, "cannot change"),
        ({"blocks": [{"uuid": "../../etc/passwd", "type": "transformer"}]}, "not allowed"),
        ({"concurrency_config": {"block_run_limit": 0}}, "concurrency_config"),
    ]
    for changes, message in cases:
        response = api.client.patch("/api/pipelines/etl", json=changes, headers=headers)
        assert response.status_code == 422, (changes, response.text)
        assert message in response.json()["detail"], (changes, response.text)
    assert (api.root / "pipelines" / "etl" / "metadata.yaml").read_bytes() == before


def test_unsafe_pipeline_uuids_are_refused(api: Api) -> None:
    headers = api.as_(Role.EDITOR)
    for uuid in ("../escape", ".hidden", "a/b", ""):
        response = api.client.post("/api/pipelines", json={"uuid": uuid}, headers=headers)
        assert response.status_code == 422, uuid
    assert sorted(p.name for p in (api.root / "pipelines").iterdir()) == ["etl"]


def test_block_code_read_and_write(api: Api) -> None:
    headers = api.as_(Role.EDITOR)
    block = api.client.get("/api/pipelines/etl/blocks/double", headers=headers).json()
    assert block["path"] == "transformers/double.py"
    assert "def double" in block["content"]
    assert block["spec"]["upstream_blocks"] == ["load"]
    code = "@transformer\ndef double(rows, *args, **kwargs):\n    return rows\n"
    written = api.client.put(
        "/api/pipelines/etl/blocks/double", json={"content": code}, headers=headers
    )
    assert written.status_code == 200, written.text
    assert (api.root / "transformers" / "double.py").read_text() == code


def test_add_and_remove_blocks(api: Api) -> None:
    headers = api.as_(Role.EDITOR)
    added = api.client.post(
        "/api/pipelines/etl/blocks",
        json={"uuid": "exports/save", "type": "data_exporter", "upstream_blocks": ["double"]},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["path"] == "data_exporters/exports/save.py"
    assert "@data_exporter" in added.json()["content"]
    pipeline = load_pipeline(load_project(api.root), "etl")
    assert pipeline.dag.upstream_of("exports/save") == ("double",)
    assert pipeline.block("double").downstream_blocks == ("exports/save",)
    nested = api.client.get("/api/pipelines/etl/blocks/exports/save", headers=headers)
    assert nested.json()["uuid"] == "exports/save"
    assert (
        api.client.post(
            "/api/pipelines/etl/blocks",
            json={"uuid": "load", "type": "data_loader"},
            headers=headers,
        ).status_code
        == 409
    )
    refused = api.client.delete("/api/pipelines/etl/blocks/double", headers=headers)
    assert refused.status_code == 422
    assert "exports/save" in refused.json()["detail"]
    assert (
        api.client.delete("/api/pipelines/etl/blocks/exports/save", headers=headers).status_code
        == 204
    )
    assert load_pipeline(load_project(api.root), "etl").dag.blocks == ("load", "double")
    assert (api.root / "data_exporters" / "exports" / "save.py").is_file()  # code is kept


def test_sql_block_with_code(api: Api) -> None:
    response = api.client.post(
        "/api/pipelines/etl/blocks",
        json={
            "uuid": "total",
            "type": "transformer",
            "language": "sql",
            "upstream_blocks": ["double"],
            "content": "SELECT sum(twice) AS total FROM {{ df_1 }}",
        },
        headers=api.as_(Role.EDITOR),
    )
    assert response.status_code == 201, response.text
    assert (api.root / "transformers" / "total.sql").read_text().startswith("SELECT sum")


def test_block_files_outside_the_project_are_never_touched(api: Api) -> None:
    outside = api.root.parent / "secret.py"
    outside.write_text("TOKEN = 'x'\n")
    meta = metadata(api)
    meta["blocks"][1]["configuration"] = {"file_path": "../secret.py"}
    (api.root / "pipelines" / "etl" / "metadata.yaml").write_text(yaml.safe_dump(meta))
    headers = api.as_(Role.EDITOR)
    read = api.client.get("/api/pipelines/etl/blocks/double", headers=headers)
    assert read.status_code == 422
    assert "outside the project" in read.json()["detail"]
    write = api.client.put(
        "/api/pipelines/etl/blocks/double", json={"content": "x = 1"}, headers=headers
    )
    assert write.status_code == 422
    assert outside.read_text() == "TOKEN = 'x'\n"
