"""A mesh spec's contracts and sources stay inside its folder (no '..', absolute paths or
symbolic links out) unless the user allows it; Mesh.save never copies a file from outside."""

from __future__ import annotations

import shutil

import pytest
import yaml

from meshkit import Mesh, SpecError
from meshkit.scenarios import load_scenario


@pytest.fixture()
def folder(tmp_path):
    """A saved retail mesh with one CSV source, and a secret beside (outside) its folder."""
    mesh_dir = tmp_path / "mesh"
    load_scenario("retail", scale=0.1).mesh.save(mesh_dir)
    spec = yaml.safe_load((mesh_dir / "mesh.yaml").read_text())
    product = spec["domains"][0]["products"][0]
    (mesh_dir / "files").mkdir()
    (mesh_dir / "files" / "data.csv").write_text("x\n1\n")
    (tmp_path / "secret.csv").write_text("salary\n123456\n")
    (tmp_path / "outside.yaml").write_text((mesh_dir / product["contract"]).read_text())
    return mesh_dir, spec, product


def _write(mesh_dir, spec):
    (mesh_dir / "mesh.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


@pytest.mark.parametrize("field", ["source", "contract"])
@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "folder-symlink"])
def test_paths_leaving_the_spec_folder_are_refused(folder, field, how):
    mesh_dir, spec, product = folder
    outside = mesh_dir.parent / ("secret.csv" if field == "source" else "outside.yaml")
    if how == "dotdot":
        product[field] = f"../{outside.name}"
    elif how == "absolute":
        product[field] = str(outside)
    elif how == "symlink":
        (mesh_dir / f"link{outside.suffix}").symlink_to(outside)
        product[field] = f"link{outside.suffix}"
    else:
        (mesh_dir / "up").symlink_to(mesh_dir.parent, target_is_directory=True)
        product[field] = f"up/{outside.name}"
    _write(mesh_dir, spec)
    with pytest.raises(SpecError) as err:
        Mesh.load(mesh_dir)
    assert "mesh.yaml" in err.value.where and field in err.value.where
    assert "allow_outside" in err.value.expected
    # the user's explicit allowance reads it
    loaded = Mesh.load(mesh_dir, allow_outside=True)
    if field == "source":
        assert loaded.product(product["name"]).source.resolve() == outside.resolve()


def test_paths_inside_the_folder_still_load_and_save(folder, tmp_path):
    mesh_dir, spec, product = folder
    (mesh_dir / "inner").symlink_to(mesh_dir / "files", target_is_directory=True)
    product["source"] = "files/../inner/data.csv"  # '..' that stays inside is fine
    _write(mesh_dir, spec)
    mesh = Mesh.load(mesh_dir)
    assert mesh.product(product["name"]).source.is_file()
    out = Mesh.load(mesh.save(tmp_path / "copy"))
    assert out.product(product["name"]).source.read_text() == "x\n1\n"


def test_save_never_copies_a_file_from_outside(folder, tmp_path):
    mesh_dir, spec, product = folder
    product["source"] = "../secret.csv"
    _write(mesh_dir, spec)
    mesh = Mesh.load(mesh_dir, allow_outside=True)
    with pytest.raises(SpecError, match="leaves the mesh spec's folder"):
        mesh.save(tmp_path / "exfiltrated")
    assert not (tmp_path / "exfiltrated").exists()  # nothing written
    # a mesh loaded safely and then pointed outside in code is refused the same way
    safe = Mesh.load(load_scenario("retail", scale=0.1).mesh.save(tmp_path / "safe"))
    moved = safe.with_sources({product["name"]: tmp_path / "secret.csv"})
    with pytest.raises(SpecError):
        moved.save(tmp_path / "exfiltrated")
    assert not (tmp_path / "exfiltrated").exists()
    # unless the user says so
    written = mesh.save(tmp_path / "allowed", allow_outside=True)
    assert "salary" in next((written.parent / "sources").iterdir()).read_text()
    shutil.rmtree(tmp_path / "allowed")
