"""The Install PyTorch code path for real: pip in a subprocess, a local package index, a temporary folder.

A tiny pure-Python wheel written here is served as a PEP 503 index (``file://``); the installer puts
it into a temporary target folder and the package imports. Failures give their one-line reasons
from pip's real output; cancel kills pip. The Preferences operator runs the same path in Blender.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from emotalk_blender.engine.install import pip_install

ROOT = Path(__file__).resolve().parents[1]
PROBE = "emotalk_probe_pkg"


def write_wheel(folder: Path, name: str = PROBE, version: str = "0.1", files: dict | None = None) -> Path:
    """A pure-Python wheel by hand: the package, METADATA, WHEEL and a RECORD with hashes."""
    dist = f"{name}-{version}"
    content = {f"{name}/__init__.py": f"VALUE = 42\n__version__ = {version!r}\n".encode(), **(files or {})}
    content[f"{dist}.dist-info/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    content[f"{dist}.dist-info/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                                          b"Tag: py3-none-any\n")
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
              f"{len(data)}" for path, data in content.items()]
    content[f"{dist}.dist-info/RECORD"] = ("\n".join(record + [f"{dist}.dist-info/RECORD,,"]) + "\n").encode()
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name_in_zip, data in content.items():
            zf.writestr(name_in_zip, data)
    return path


def write_index(folder: Path, wheels: list[Path]) -> str:
    """A PEP 503 "simple" index folder for the wheels; returns its file:// URL."""
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        by_project.setdefault(wheel.name.split("-")[0].replace("_", "-").lower(), []).append(wheel)
    for project, files in by_project.items():
        (folder / project).mkdir(parents=True, exist_ok=True)
        links = "".join(f'<a href="{w.resolve().as_uri()}">{w.name}</a>\n' for w in files)
        (folder / project / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return folder.resolve().as_uri()


@pytest.fixture(scope="module")
def local_index(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("index")
    (d / "wheels").mkdir()
    big = {f"{PROBE}_big/data.bin": os.urandom(256 * 1024)}  # incompressible: fills a tiny disk
    wheels = [write_wheel(d / "wheels"), write_wheel(d / "wheels", f"{PROBE}_big", "1.0", big)]
    return write_index(d / "simple", wheels)


def install(packages, target, index_url, **kw) -> pip_install.InstallResult:
    job = pip_install.PipInstall(packages, str(target), index_url, log_path=str(target) + ".log", **kw)
    result = job.start().wait(300)
    assert result is not None, "pip did not finish in 300 s"
    return result


def test_installs_a_package_from_a_local_index_and_imports_it(local_index, tmp_path):
    target = tmp_path / "site-packages"
    result = install(["emotalk-probe-pkg"], target, local_index)
    assert result.ok, result.reason
    assert result.reason == "Successfully installed emotalk-probe-pkg-0.1"
    log = Path(result.log_path).read_text()
    assert "--target" in log and local_index in log and "Successfully installed" in log
    assert PROBE not in sys.modules
    try:
        ok, status = pip_install.activate(str(target), PROBE)
        assert ok, status
        assert status == f"{PROBE} 0.1 is ready"
        module = sys.modules[PROBE]
        assert module.VALUE == 42 and Path(module.__file__).is_relative_to(target)
    finally:
        sys.modules.pop(PROBE, None)
        sys.path.remove(str(target))


def test_a_package_that_does_not_exist_says_so(local_index, tmp_path):
    result = install(["emotalk-no-such-package"], tmp_path / "t", local_index)
    assert not result.ok and not result.cancelled
    assert result.reason.startswith("no package found for emotalk-no-such-package on ")
    assert "\n" not in result.reason and "this platform (Python 3." in result.reason


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_index_says_no_network(tmp_path):
    port = _closed_port()
    result = install(["emotalk-probe-pkg"], tmp_path / "t", f"http://127.0.0.1:{port}/simple")
    assert not result.ok
    assert result.reason.startswith(f"no network: could not reach 127.0.0.1:{port}"), result.reason


def test_a_full_disk_says_no_disk_space(local_index, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 64 kB tmpfs here: {mounted.stderr.strip()}")
    try:
        job = pip_install.PipInstall([f"{PROBE}-big"], str(small / "t"), local_index)
        result = job.start().wait(300)
        assert not result.ok and result.reason == f"no disk space left (installing into {small / 't'})"
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_too_little_free_space_stops_before_pip(local_index, tmp_path):
    result = install(["emotalk-probe-pkg"], tmp_path / "t", local_index, min_free_bytes=10**18)
    assert not result.ok and result.reason.startswith(f"not enough disk space in {tmp_path / 't'}: ")
    assert "$ " not in Path(result.log_path).read_text()  # pip never ran


def test_cancel_kills_pip(tmp_path):
    # An index that accepts connections and never answers: pip waits on it until cancelled.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        job = pip_install.PipInstall(["emotalk-probe-pkg"], str(tmp_path / "t"),
                                     f"http://127.0.0.1:{server.getsockname()[1]}/simple").start()
        deadline = time.monotonic() + 60
        while (job._proc is None or "Looking in indexes" not in " ".join(job.tail(50))) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert job.running and job._proc.poll() is None, job.tail(20)
        started = time.monotonic()
        job.cancel()
        result = job.wait(15)
        assert result is not None and result.cancelled and not result.ok and result.reason == "cancelled"
        assert job._proc.poll() is not None  # the pip process is gone
        assert time.monotonic() - started < 10
    finally:
        server.close()


# The Preferences operator in a fresh Blender: the add-on enabled as an extension (so the folder is
# bpy.utils.extension_path_user's), the package index set in the Preferences, Install run
# synchronously (background mode has no event loop).
OPERATOR_SCRIPT = r'''
import json, os, sys
import bpy
import addon_utils
sys.path.insert(0, os.environ["EMOTALK_ROOT"])
import build
repo_dir, index_url, out, phase = sys.argv[-4:]
report = {}
bpy.ops.wm.read_factory_settings(use_empty=True)
prefs = bpy.context.preferences
prefs.extensions.repos.new(name="t", module="emotalk_t", custom_directory=repo_dir, source="USER")
if phase == "install":
    build.stage(os.path.join(repo_dir, "emotalk_blender"))
mod = "bl_ext.emotalk_t.emotalk_blender"
addon_utils.enable(mod, default_set=True)
ap = prefs.addons[mod].preferences
installer = sys.modules[mod + ".emotalk_blender.blender.installer"]
report["folder"] = installer.install_folder()
report["extension_folder"] = bpy.utils.extension_path_user(mod, path="site-packages")

def run(**kw):
    try:
        return sorted(bpy.ops.emotalk.install_torch(**kw))
    except RuntimeError as exc:  # an ERROR report in background mode
        return str(exc).strip()

if phase == "install":
    prefs.system.use_online_access = False
    ap.package_index = ""  # PyTorch's own index: online, refused while online access is off
    report["offline"] = run(build="cpu")
    ap.package_index = index_url
    report["missing"] = run(build="cpu", packages="emotalk-no-such-package", module="emotalk_no_such_package")
    report["install"] = run(build="cpu", packages="emotalk-probe-pkg", module="emotalk_probe_pkg")
    report["status"] = installer.status_text()
    report["tail"] = installer.log_tail(20)
    report["log"] = installer.log_path()
import emotalk_probe_pkg
report["module_file"] = emotalk_probe_pkg.__file__
json.dump(report, open(out, "w"))
'''


def test_preferences_operator_installs_from_the_configured_index(local_index, tmp_path):
    script = tmp_path / "op.py"
    script.write_text(OPERATOR_SCRIPT)
    repo = tmp_path / "repo"
    repo.mkdir()
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"), EMOTALK_ROOT=str(ROOT))

    def blender(phase):
        out = tmp_path / f"{phase}.json"
        proc = subprocess.run([sys.executable, str(script), str(repo), local_index, str(out), phase],
                              capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return json.loads(out.read_text())

    report = blender("install")
    folder = report["folder"]
    assert folder == report["extension_folder"] and folder.startswith(str(tmp_path / "user"))
    assert "online access is off" in report["offline"].lower()
    assert "no package found for emotalk-no-such-package" in report["missing"]
    assert report["install"] == ["FINISHED"]
    assert report["module_file"].startswith(folder)  # importable at once, no restart
    assert "emotalk_probe_pkg 0.1 is ready" in report["status"]
    assert any("Successfully installed emotalk-probe-pkg-0.1" in line for line in report["tail"])
    assert "Successfully installed" in Path(report["log"]).read_text()
    # The next start: register() puts the folder on sys.path, so the package imports straight away.
    again = blender("restart")
    assert again["module_file"].startswith(folder)
