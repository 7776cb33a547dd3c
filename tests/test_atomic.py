"""The atomic writer and the checks before work, on real failing file systems.

Full disk: a 64 KiB tmpfs (needs mount rights, as root in CI) and, anywhere, a file size limit
(RLIMIT_FSIZE, EFBIG) in a subprocess. Read-only: the tmpfs remounted read-only, and a 0o555 folder
written by a subprocess that drops to ``nobody`` (root ignores permission bits).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from emotalk_blender.engine.atomic import (
    OutputError, atomic_open, atomic_path, check_outputs, check_writable, save_npy, write_bytes, write_text,
)
from emotalk_blender.engine.network.devices import DeviceError, available_devices, check_device

REPO = Path(__file__).resolve().parent.parent
OLD = b"the old file, which must survive"


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _mount(args: list[str]) -> bool:
    mount = shutil.which("mount")
    return mount is not None and subprocess.run([mount, *args], capture_output=True).returncode == 0


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs holding ``old.npy``; yields its folder; unmounted afterwards."""
    d = tmp_path / "disk"
    d.mkdir()
    if not _mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)]):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights); the RLIMIT_FSIZE test covers a full disk")
    try:
        (d / "old.npy").write_bytes(OLD)
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


def test_save_npy_writes_exactly_the_name(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_npy(tmp_path / "weights.partial", a)  # np.save(path) would append .npy
    assert listing(tmp_path) == ["weights.partial"]
    np.testing.assert_array_equal(np.load(tmp_path / "weights.partial"), a)


def test_replace_keeps_permissions_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "take.csv"
    target.write_bytes(OLD)
    os.chmod(target, 0o640)
    write_text(target, "a,b\n1,2\n", newline="")
    assert target.read_text() == "a,b\n1,2\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert listing(tmp_path) == ["take.csv"]


def test_new_file_gets_the_usual_umask_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        write_bytes(tmp_path / "x.bin", b"1")
    finally:
        os.umask(umask)
    assert (tmp_path / "x.bin").stat().st_mode & 0o777 == 0o644


def test_full_disk_tmpfs(tiny_disk):
    before = listing(tiny_disk)
    with pytest.raises(OutputError) as err:
        save_npy(tiny_disk / "old.npy", np.zeros(100_000, np.float32))  # 400 kB onto 64 kB
    assert str(err.value) == f"{tiny_disk / 'old.npy'}: cannot write (disk full)"
    assert (tiny_disk / "old.npy").read_bytes() == OLD
    assert listing(tiny_disk) == before == ["old.npy"]


def test_full_disk_path_writer(tiny_disk):
    """A writer that takes a path (as Blender and ffmpeg do) and fails with its own OSError."""
    with pytest.raises(OutputError, match=r"old\.npy: cannot write \(disk full\)$"):
        with atomic_path(tiny_disk / "old.npy") as tmp:
            assert tmp.parent == tiny_disk and tmp.suffix == ".npy"
            tmp.write_bytes(b"\0" * 200_000)
    assert (tiny_disk / "old.npy").read_bytes() == OLD
    assert listing(tiny_disk) == ["old.npy"]


def test_read_only_mount(tiny_disk):
    if not _mount(["-o", "remount,ro", str(tiny_disk)]):
        pytest.skip("cannot remount read-only here")
    target = tiny_disk / "old.npy"
    with pytest.raises(OutputError) as err:
        check_writable(target)
    assert str(err.value) == f"{target}: cannot write (read-only file system)"
    with pytest.raises(OutputError) as err:
        save_npy(target, np.zeros(3))
    assert str(err.value) == f"{target}: cannot write (read-only file system)"
    assert target.read_bytes() == OLD and listing(tiny_disk) == ["old.npy"]
    with pytest.raises(OutputError, match=r"new/x\.npy: cannot write \(read-only file system\)$"):
        save_npy(tiny_disk / "new" / "x.npy", np.zeros(3))


_CHILD = """
import os, pwd, resource, sys
import numpy as np
from emotalk_blender.engine.atomic import OutputError, check_writable, save_npy
mode, target = sys.argv[1], sys.argv[2]
if mode == "fsize":
    resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))  # Python ignores SIGXFSZ: writes get EFBIG
elif mode == "nobody" and os.geteuid() == 0:
    nobody = pwd.getpwnam("nobody")
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
try:
    if mode == "nobody":
        check_writable(target)
    save_npy(target, np.zeros(100_000, np.float32))
except OutputError as exc:
    print(exc)
    sys.exit(1)
"""


def _child(mode: str, target: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", _CHILD, mode, str(target)], capture_output=True, text=True, env=env)


def test_file_size_limit_efbig(tmp_path):
    target = tmp_path / "old.npy"
    target.write_bytes(OLD)
    r = _child("fsize", target)
    assert r.returncode == 1, r.stderr
    assert r.stdout.strip() == (f"{target}: cannot write (file too large for the file system "
                                "or the process's file size limit)")
    assert r.stderr == ""
    assert target.read_bytes() == OLD and listing(tmp_path) == ["old.npy"]


def test_permission_denied_folder():
    """A 0o555 folder, written by an unprivileged process (root bypasses permission bits)."""
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    if os.geteuid() == 0:
        try:
            import pwd
            pwd.getpwnam("nobody")
        except (ImportError, KeyError):
            pytest.skip("no 'nobody' user to drop to")
    base = Path(tempfile.mkdtemp(prefix="emotalk-ro-"))  # not under pytest's 0o700 folder: nobody must reach it
    try:
        os.chmod(base, 0o755)
        folder = base / "locked"
        folder.mkdir()
        (folder / "old.npy").write_bytes(OLD)
        os.chmod(folder, 0o555)
        r = _child("nobody", folder / "old.npy")
        assert r.returncode == 1, r.stderr
        assert r.stdout.strip() == f"{folder / 'old.npy'}: cannot write (permission denied)"
        assert (folder / "old.npy").read_bytes() == OLD and listing(folder) == ["old.npy"]
    finally:
        os.chmod(base / "locked", 0o755)
        shutil.rmtree(base)


def test_interrupt_and_writer_errors_leave_nothing(tmp_path):
    target = tmp_path / "take.npy"
    target.write_bytes(OLD)
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target) as fh:
            fh.write(b"half a file")
            raise KeyboardInterrupt
    with pytest.raises(ValueError, match="the writer's own"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise ValueError("the writer's own error")
    assert target.read_bytes() == OLD and listing(tmp_path) == ["take.npy"]


def test_missing_folder(tmp_path):
    target = tmp_path / "a" / "b" / "x.npy"
    check_writable(target)  # can be made
    assert not (tmp_path / "a").exists()  # the check makes nothing
    with pytest.raises(OutputError, match=r"x\.npy: cannot write \(folder .*b does not exist\)$"):
        with atomic_path(target, make_folder=False):
            pass
    save_npy(target, np.zeros(2))
    assert listing(target.parent) == ["x.npy"]


def test_checks_before_work(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(OutputError, match=r"file/x\.npy: cannot write \(.*file is a file, not a folder\)$"):
        check_writable(tmp_path / "file" / "x.npy")
    with pytest.raises(OutputError, match=r": cannot write \(it is a folder\)$"):
        check_writable(tmp_path)
    with pytest.raises(OutputError, match=r"cannot write \(disk full: needs"):
        check_writable(tmp_path / "huge.npy", size=1 << 62)
    assert listing(tmp_path) == ["file"]


def test_check_outputs_collisions(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OutputError) as err:
        check_outputs([("a/x.wav", out / "x.blend"), ("b/x.wav", out / "x.blend")])
    assert str(err.value) == f"a/x.wav and b/x.wav would both write {out / 'x.blend'}; give them different names"
    (tmp_path / "taken.npy").write_bytes(OLD)
    with pytest.raises(OutputError, match=r"taken\.npy: already exists \(from a\.wav\)$"):
        check_outputs([("a.wav", tmp_path / "taken.npy")], overwrite=False)
    check_outputs([("a.wav", out / "a.npy"), ("b.wav", out / "b.npy")])
    assert not out.exists()


def test_devices():
    available = available_devices()
    assert available[0] == "cpu"
    assert check_device("cpu") == "cpu" and check_device(" CPU ") == "cpu"
    fastest = next((d for d in available if d != "cpu" and d != "mps"), "cpu")
    assert check_device(None) == check_device("auto") == fastest
    listing_ = ", ".join(available)
    for name in ("cuda:99", "cuda", "mps"):
        if check_name_present(name, available):
            continue
        with pytest.raises(DeviceError) as err:
            check_device(name)
        why = "" if importlib.util.find_spec("torch") else " (PyTorch is not installed: only the CPU is available)"
        assert str(err.value) == f"device {name!r} is not available on this machine{why}; available here: {listing_}"
    with pytest.raises(DeviceError, match=r"^unknown device 'xpu'; use cpu, cuda, cuda:N or mps \(available here: cpu"):
        check_device("xpu")


def check_name_present(name: str, available: list[str]) -> bool:
    return (name if ":" in name or name == "mps" else f"{name}:0") in available


def test_devices_without_torch():
    """The numpy backend's world: torch cannot be imported, only the CPU is there."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from emotalk_blender.engine.network.devices import DeviceError, available_devices, check_device\n"
        "assert available_devices() == ['cpu'] and check_device(None) == 'cpu'\n"
        "try:\n    check_device('cuda')\nexcept DeviceError as e:\n    print(e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("device 'cuda' is not available on this machine (PyTorch is not installed: "
                                "only the CPU is available); available here: cpu")
