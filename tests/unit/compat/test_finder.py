from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from weir.compat import (
    SUPPORTED_MODULES,
    install_mage_compat,
    mage_compat_installed,
    uninstall_mage_compat,
)


def test_every_supported_module_imports_and_exposes_its_stand_in() -> None:
    assert install_mage_compat() is True
    for name, target in SUPPORTED_MODULES.items():
        module = importlib.import_module(name)
        stand_in = importlib.import_module(target)
        assert module.__name__ == name
        assert module.__all__ == stand_in.__all__
        for public in stand_in.__all__:
            assert getattr(module, public) is getattr(stand_in, public), (name, public)


def test_template_imports_resolve_to_weir() -> None:
    install_mage_compat()
    from mage_ai.data_preparation.decorators import data_loader
    from mage_ai.io.config import ConfigFileLoader
    from mage_ai.io.postgres import Postgres
    from mage_ai.settings.repo import get_repo_path

    from weir.blocks.decorators import data_loader as weir_data_loader
    from weir.compat.mage.io.config import ConfigFileLoader as WeirLoader
    from weir.compat.mage.io.postgres import Postgres as WeirPostgres
    from weir.compat.mage.settings.repo import get_repo_path as weir_get_repo_path

    assert data_loader is weir_data_loader
    assert ConfigFileLoader is WeirLoader
    assert Postgres is WeirPostgres
    assert get_repo_path is weir_get_repo_path


def test_unsupported_module_names_itself_and_the_supported_ones() -> None:
    install_mage_compat()
    with pytest.raises(ModuleNotFoundError) as caught:
        importlib.import_module("mage_ai.io.bigquery")
    message = str(caught.value)
    assert "mage_ai.io.bigquery" in message
    assert "supports only" in message
    assert "mage_ai.io.postgres" in message
    assert caught.value.name == "mage_ai.io.bigquery"


def test_unsupported_nested_module_names_the_first_missing_package() -> None:
    install_mage_compat()
    # Python imports parents first, so the first unsupported one is named (as Python does).
    with pytest.raises(ImportError, match=r"No module named 'mage_ai\.data_preparation\.models'"):
        importlib.import_module("mage_ai.data_preparation.models.pipeline")


def test_other_packages_are_not_touched() -> None:
    install_mage_compat()
    assert importlib.import_module("json").__name__ == "json"
    with pytest.raises(ModuleNotFoundError, match="mage_ai_extras"):
        importlib.import_module("mage_ai_extras")


def _fake_mage(folder: Path) -> Path:
    package = folder / "mage_ai"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("FAKE = 'real mage'\n")
    return folder


def test_not_installed_when_a_real_mage_ai_is_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(_fake_mage(tmp_path)))
    monkeypatch.delitem(sys.modules, "mage_ai", raising=False)
    try:
        assert install_mage_compat() is False
        assert not mage_compat_installed()
        assert importlib.import_module("mage_ai").FAKE == "real mage"
    finally:
        sys.modules.pop("mage_ai", None)


def test_a_mage_ai_installed_later_still_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert install_mage_compat() is True
    monkeypatch.syspath_prepend(str(_fake_mage(tmp_path)))
    importlib.invalidate_caches()
    try:
        assert importlib.import_module("mage_ai").FAKE == "real mage"
    finally:
        sys.modules.pop("mage_ai", None)


def test_install_is_idempotent_and_uninstall_forgets_the_modules() -> None:
    assert install_mage_compat() is True
    assert install_mage_compat() is True
    assert sum(type(f).__name__ == "MageCompatFinder" for f in sys.meta_path) == 1
    importlib.import_module("mage_ai.io.file")
    uninstall_mage_compat()
    assert not mage_compat_installed()
    assert "mage_ai.io.file" not in sys.modules
    assert "mage_ai" not in sys.modules
