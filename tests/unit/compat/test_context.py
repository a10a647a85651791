from __future__ import annotations

import contextvars
import threading
from pathlib import Path

import pytest

from weir.compat import (
    BlockContext,
    block_context,
    context,
    current_block_context,
    current_project_root,
    enter_block_context,
    mage_compat_installed,
)
from weir.compat.mage.settings import repo


def test_enter_block_context_installs_the_finder_and_binds_the_project(tmp_path: Path) -> None:
    seen: list[object] = []

    def block_thread() -> None:
        enter_block_context(tmp_path, block_uuid="load", pipeline_uuid="p", pipeline_run_id=7)
        seen.append(current_block_context())
        seen.append(repo.get_repo_path())

    thread = threading.Thread(target=block_thread)
    thread.start()
    thread.join()
    assert seen == [BlockContext(tmp_path.resolve(), "load", "p", 7), str(tmp_path.resolve())]
    assert mage_compat_installed()


def test_concurrent_blocks_of_two_projects_each_see_their_own(tmp_path: Path) -> None:
    roots = [tmp_path / "a", tmp_path / "b"]
    both_bound = threading.Barrier(2)
    seen: dict[str, str] = {}

    def block(root: Path) -> None:
        enter_block_context(root)
        both_bound.wait(timeout=5)  # the other thread has bound its project by now
        seen[root.name] = repo.get_repo_path()

    threads = [threading.Thread(target=block, args=(root,)) for root in roots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": str(roots[0].resolve()), "b": str(roots[1].resolve())}


def test_block_context_restores_the_previous_binding(tmp_path: Path) -> None:
    outer, inner = BlockContext(tmp_path / "outer"), BlockContext(tmp_path / "inner")
    with block_context(outer):
        with block_context(inner):
            assert current_project_root() == tmp_path / "inner"
        assert current_project_root() == tmp_path / "outer"


def test_a_thread_started_with_a_copied_context_keeps_the_project(tmp_path: Path) -> None:
    seen: list[Path] = []
    with block_context(BlockContext(tmp_path)):
        copied = contextvars.copy_context()
    thread = threading.Thread(
        target=copied.run, args=(lambda: seen.append(current_project_root()),)
    )
    thread.start()
    thread.join()
    assert seen == [tmp_path]


def test_unbound_thread_falls_back_to_the_only_project_of_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context, "_BOUND_ROOTS", set())
    with block_context(BlockContext(tmp_path)):
        pass
    seen: list[Path] = []
    thread = threading.Thread(target=lambda: seen.append(current_project_root()))
    thread.start()
    thread.join()
    assert seen == [tmp_path]


def test_unbound_with_several_projects_uses_mage_repo_path_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context, "_BOUND_ROOTS", {tmp_path / "a", tmp_path / "b"})
    monkeypatch.setenv("MAGE_REPO_PATH", str(tmp_path / "from_env"))
    seen: list[Path] = []

    def unbound() -> None:
        seen.append(current_project_root())
        monkeypatch.delenv("MAGE_REPO_PATH")
        monkeypatch.chdir(tmp_path)
        seen.append(current_project_root())

    thread = threading.Thread(target=unbound)
    thread.start()
    thread.join()
    assert seen == [tmp_path / "from_env", tmp_path]


def test_repo_helpers(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEIR_DATA_DIR", raising=False)
    assert repo.get_repo_path() == str(project)
    assert repo.get_repo_path(absolute_path=False) == "proj"
    assert repo.get_repo_name() == "proj"
    assert repo.get_repo_name("/x/other") == "other"
    assert repo.get_metadata_path() == str(project / "metadata.yaml")
    assert repo.get_variables_dir() == str(project / ".weir")
