"""Service discovery for replay: every entry point's module-level SPEC, and a word for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.cli.discovery import service_specs

SPECLESS = "kyodo_test_specless"
BROKEN = "kyodo_test_broken"
WITH_SPEC = "kyodo_test_with_spec"


@pytest.fixture
def declared_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three services declared through distribution metadata first on sys.path: one with a
    SPEC, one without, one whose module fails to import."""
    (tmp_path / f"{WITH_SPEC}.py").write_text(
        "from shared.service import ServiceSpec\n"
        "SPEC = ServiceSpec(name='spec', title='with a spec')\n"
        "def bootstrap(settings): ...\n"
    )
    (tmp_path / f"{SPECLESS}.py").write_text("def bootstrap(settings): ...\n")
    (tmp_path / f"{BROKEN}.py").write_text("import kyodo_test_module_that_does_not_exist\n")
    dist_info = tmp_path / "kyodo_test-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: kyodo-test\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[kyodo.services]\n"
        f"spec = {WITH_SPEC}:bootstrap\n"
        f"specless = {SPECLESS}:bootstrap\n"
        f"broken = {BROKEN}:bootstrap\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("declared_services")
def test_a_service_without_a_spec_is_named_not_left_out_silently() -> None:
    discovered = service_specs()
    assert discovered.specs["spec"].title == "with a spec"
    assert discovered.unavailable["specless"] == f"{SPECLESS} has no module-level SPEC"
    assert "ModuleNotFoundError" in discovered.unavailable["broken"]
    assert "specless" not in discovered.specs and "broken" not in discovered.specs
