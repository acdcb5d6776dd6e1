"""Installing runtimes from a loopback server: verification, atomicity, safety, caching."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pybuildpack.errors import PyBuildpackError
from pybuildpack.provision.api import MARKER, InstallResult, install_python
from pybuildpack.version import PythonVersion

from .archives import (
    compress,
    dir_entry,
    downloads_doc,
    fake_archive,
    fake_runtime_entries,
    file_entry,
    heroku_name,
    link_entry,
    pbs_name,
    sha256,
    tar_bytes,
    write_json,
)
from .loopback import LoopbackServer, serve

V = "3.12.1"
VERSION = PythonVersion.parse(V)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """The loopback server speaks plain http: allowed explicitly, as a user would."""
    monkeypatch.setenv("PYBUILDPACK_ALLOW_INSECURE_HTTP", "1")
    with serve() as s:
        yield s


def _system_tar() -> str | None:
    from pybuildpack.provision.systar import system_tar

    return system_tar("auto")


@pytest.fixture(autouse=True, params=["python", "tar"])
def unpacker(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with both unpackers (children inherit the variable)."""
    if request.param == "tar" and _system_tar() is None:
        pytest.skip("no GNU tar or bsdtar on PATH to unpack with")
    monkeypatch.setenv("PYBUILDPACK_UNPACKER", request.param)
    return str(request.param)


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBUILDPACK_HTTP_TIMEOUT", "5")
    monkeypatch.setenv("PYBUILDPACK_HTTP_RETRIES", "2")


@dataclass
class Published:
    downloads: Path
    url: str
    path: str
    sha256: str
    data: bytes


def publish_pbs(
    server: LoopbackServer,
    tmp_path: Path,
    data: bytes | None = None,
    *,
    version: str = V,
    sha_in_metadata: bool = True,
    sums: bool = False,
) -> Published:
    data = fake_archive(version, "pbs") if data is None else data
    name = pbs_name(version)
    path = f"/20260101/{name}"
    server.files[path] = data
    entry = {"version": version, "release": "20260101", "target": "x86_64-unknown-linux-gnu",
             "flavor": "install_only", "file": name}  # fmt: skip
    if sha_in_metadata:
        entry["sha256"] = sha256(data)
    if sums:
        server.files["/20260101/SHA256SUMS"] = f"{sha256(data)}  {name}\n".encode()
    downloads = write_json(tmp_path / "downloads.json", downloads_doc(server.url, [entry]))
    return Published(downloads, server.url + path, path, sha256(data), data)


def install(pub: Published, dest: Path, cache: Path, **kwargs: object) -> InstallResult:
    options: dict[str, object] = {"arch": "amd64", "cache_dir": cache, "downloads": pub.downloads,
                                  "progress": False}  # fmt: skip
    options.update(kwargs)
    return install_python(VERSION, dest, **options)  # type: ignore[arg-type]


def run_python(dest: Path, *args: str) -> str:
    proc = subprocess.run([str(dest / "bin" / "python3"), *args], capture_output=True, text=True)
    return (proc.stdout + proc.stderr).strip()


def assert_nothing_installed(dest: Path) -> None:
    assert not dest.exists()
    leftovers = [p.name for p in dest.parent.iterdir() if p.name.startswith(f".{dest.name}.")]
    assert leftovers == []


# --------------------------------------------------------------------------- success paths


def test_installs_verified_runtime(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    dest = tmp_path / "rt" / "python"
    result = install(pub, dest, tmp_path / "cache")
    assert run_python(dest, "--version") == f"Python {V}"
    assert (result.url, result.sha256, result.bytes) == (pub.url, pub.sha256, len(pub.data))
    assert result.cache_hit is False and result.already_installed is False
    assert (dest / "lib" / "python3.12" / "os.py").is_file()  # python/ top folder stripped
    assert json.loads((dest / MARKER).read_text())["sha256"] == pub.sha256
    assert server.hits[pub.path] == 1


def test_checksum_from_sha256sums(tmp_path: Path) -> None:
    data = fake_archive(V, "pbs")
    mirror = tmp_path / "mirror" / "20260101"
    mirror.mkdir(parents=True)
    (mirror / pbs_name(V)).write_bytes(data)
    (mirror / "SHA256SUMS").write_text(f"{sha256(data)}  {pbs_name(V)}\n")
    entry = {"version": V, "release": "20260101", "target": "x86_64-unknown-linux-gnu",
             "file": pbs_name(V)}  # fmt: skip
    downloads = write_json(tmp_path / "d.json", downloads_doc(mirror.parent.as_uri(), [entry]))
    result = install_python(VERSION, tmp_path / "py", downloads=downloads, arch="amd64",
                            cache_dir=tmp_path / "c", progress=False)  # fmt: skip
    assert result.sha256 == sha256(data) and not result.warnings


def test_plain_http_sha256sums_is_not_trusted(server: LoopbackServer, tmp_path: Path) -> None:
    """Over plain http (allowed), a SHA256SUMS from the same server proves nothing."""
    pub = publish_pbs(server, tmp_path, sha_in_metadata=False, sums=True)
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "install-python::insecure-checksum"
    assert server.hits[pub.path] == 0 and server.hits["/20260101/SHA256SUMS"] == 0
    assert_nothing_installed(tmp_path / "py")


def test_heroku_layout_tar_zst_with_long_window(server: LoopbackServer, tmp_path: Path) -> None:
    raw = tar_bytes(fake_runtime_entries(V))
    data = compress(raw, "zst", level=19, long_window=True)
    name = heroku_name(V, "24.04")
    server.files[f"/{name}"] = data
    doc = downloads_doc(server.url, [])
    doc["sources"]["heroku"]["archives"] = [{"version": V, "file": name, "sha256": sha256(data)}]
    downloads = write_json(tmp_path / "d.json", doc)
    dest = tmp_path / "py"
    result = install_python(
        VERSION, dest, source="heroku", stack="heroku-24", arch="amd64",
        downloads=downloads, cache_dir=tmp_path / "c", progress=False,
    )  # fmt: skip
    assert result.url == f"{server.url}/{name}"
    assert run_python(dest, "--version") == f"Python {V}"


def test_file_mirror(tmp_path: Path) -> None:
    data = fake_archive(V, "pbs")
    mirror = tmp_path / "mirror"
    (mirror / "20260101").mkdir(parents=True)
    (mirror / "20260101" / pbs_name(V)).write_bytes(data)
    entry = {"version": V, "release": "20260101", "target": "x86_64-unknown-linux-gnu",
             "file": pbs_name(V), "sha256": sha256(data)}  # fmt: skip
    downloads = write_json(
        tmp_path / "d.json", downloads_doc("https://unreachable.invalid", [entry])
    )
    dest = tmp_path / "py"
    result = install_python(VERSION, dest, mirror=f"file://{mirror}", downloads=downloads,
                            arch="amd64", cache_dir=tmp_path / "c", progress=False)  # fmt: skip
    assert result.url.startswith("file://") and run_python(dest, "--version") == f"Python {V}"


def test_mirror_env_var(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pub = publish_pbs(server, tmp_path)
    doc = json.loads(pub.downloads.read_text())
    doc["sources"]["pbs"]["base_url"] = "https://unreachable.invalid"
    pub.downloads.write_text(json.dumps(doc))
    monkeypatch.setenv("PYBUILDPACK_MIRROR", server.url)
    result = install(pub, tmp_path / "py", tmp_path / "cache")
    assert result.url == pub.url


def test_warm_install_makes_no_request(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    cache = tmp_path / "cache"
    install(pub, tmp_path / "a", cache)
    again = install(pub, tmp_path / "a", cache)
    assert again.already_installed and again.cache_hit
    other = install(pub, tmp_path / "b", cache)
    assert other.cache_hit and not other.already_installed
    assert run_python(tmp_path / "b", "--version") == f"Python {V}"
    assert server.hits[pub.path] == 1  # one download for three installs


def test_replaces_an_older_runtime(server: LoopbackServer, tmp_path: Path) -> None:
    old = publish_pbs(server, tmp_path, version="3.12.0")
    dest = tmp_path / "py"
    install_python(PythonVersion.parse("3.12.0"), dest, downloads=old.downloads, arch="amd64",
                   cache_dir=tmp_path / "c", progress=False)  # fmt: skip
    (dest / "leftover-from-old").write_text("x")
    new = publish_pbs(server, tmp_path)
    install(new, dest, tmp_path / "c")
    assert run_python(dest, "--version") == f"Python {V}"
    assert not (dest / "leftover-from-old").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".py.")] == []


def test_unbootstrappable_pip_is_broken(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path, fake_archive(V, "pbs", pip=False))
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    # The fake runtime has neither pip nor ensurepip: reported, nothing installed.
    assert exc.value.id == "install-python::broken-runtime"
    assert "ensurepip" in str(exc.value)
    assert_nothing_installed(tmp_path / "py")


# --------------------------------------------------------------------------- failures


def test_checksum_mismatch_installs_nothing(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    doc = json.loads(pub.downloads.read_text())
    doc["sources"]["pbs"]["archives"][0]["sha256"] = "0" * 64
    pub.downloads.write_text(json.dumps(doc))
    dest = tmp_path / "py"
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, dest, tmp_path / "cache")
    assert exc.value.id == "install-python::checksum-mismatch"
    assert_nothing_installed(dest)
    assert [p for p in (tmp_path / "cache").iterdir() if p.is_file()] == []


def test_no_checksum_is_an_error_unless_allowed(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path, sha_in_metadata=False)
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "install-python::insecure-checksum"  # plain http: pinned only
    assert server.hits[pub.path] == 0  # refused before downloading
    assert server.heads[pub.path] == 1  # the archive exists: the checksum is what is missing
    result = install(pub, tmp_path / "py", tmp_path / "cache", allow_unverified=True)
    assert [w.id for w in result.warnings] == ["install-python::unverified"]


def test_404_is_unknown_patch(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    del server.files[pub.path]
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "python-version::unknown-patch"
    assert pub.url in str(exc.value)
    assert_nothing_installed(tmp_path / "py")


def test_server_error_then_success(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    server.faults[pub.path] = ["500", "500"]
    install(pub, tmp_path / "py", tmp_path / "cache")
    assert server.hits[pub.path] == 3


def test_truncated_download_is_retried(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    server.faults[pub.path] = ["truncate"]
    install(pub, tmp_path / "py", tmp_path / "cache")
    assert server.hits[pub.path] == 2
    assert run_python(tmp_path / "py", "--version") == f"Python {V}"


def test_always_truncated_download_fails_cleanly(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    server.faults[pub.path] = ["truncate"] * 10
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "install-python::download-failed"
    assert server.hits[pub.path] == 3  # 1 + 2 retries
    assert_nothing_installed(tmp_path / "py")


def test_persistent_server_error(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    server.faults[pub.path] = ["500"] * 10
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "install-python::download-failed" and "HTTP 500" in str(exc.value)


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (file_entry("python/../evil.txt", b"x"), "outside"),
        (file_entry("/etc/evil.txt", b"x"), "absolute"),
        (link_entry("python/bin/escape", "../../../../etc/passwd"), "links outside"),
        (link_entry("python/bin/abs", "/etc/passwd"), "links outside"),
        (link_entry("python/bin/hard", "../etc/passwd", hard=True), "outside"),
    ],
    ids=["dotdot", "absolute", "symlink-escape", "symlink-absolute", "hardlink-escape"],
)
def test_unsafe_archives_are_rejected(
    server: LoopbackServer, tmp_path: Path, entry: tuple[tarfile.TarInfo, bytes | None], reason: str
) -> None:
    entries = [dir_entry("python"), *fake_runtime_entries(V, "python/"), entry]
    pub = publish_pbs(server, tmp_path, compress(tar_bytes(entries), "gz"))
    dest = tmp_path / "box" / "py"
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, dest, tmp_path / "cache")
    assert exc.value.id == "install-python::unsafe-archive"
    assert reason in str(exc.value)
    assert_nothing_installed(dest)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "box" / "evil.txt").exists()


def test_device_files_are_rejected(server: LoopbackServer, tmp_path: Path) -> None:
    dev = tarfile.TarInfo("python/bin/dev")
    dev.type = tarfile.CHRTYPE
    entries = [dir_entry("python"), *fake_runtime_entries(V, "python/"), (dev, None)]
    pub = publish_pbs(server, tmp_path, compress(tar_bytes(entries), "gz"))
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "install-python::unsafe-archive"


def test_not_an_archive(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path, b"<html>not a tarball</html>")
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "install-python::corrupt-archive"
    assert_nothing_installed(tmp_path / "py")


def test_wrong_version_inside_archive(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path, fake_archive("3.12.0", "pbs"))
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "install-python::broken-runtime" and "Python 3.12.0" in str(exc.value)
    assert_nothing_installed(tmp_path / "py")


def test_refuses_to_replace_a_non_runtime_directory(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, precious, tmp_path / "cache")
    assert exc.value.id == "cli::usage"
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_no_download_metadata_for_version(tmp_path: Path) -> None:
    downloads = write_json(tmp_path / "d.json", downloads_doc("http://127.0.0.1:9", []))
    with pytest.raises(PyBuildpackError) as exc:
        install_python(VERSION, tmp_path / "py", downloads=downloads, arch="amd64", progress=False)
    assert exc.value.id == "install-python::no-download"


def test_invalid_downloads_file(tmp_path: Path) -> None:
    bad = tmp_path / "d.json"
    bad.write_text('{"schema_version": 2}')
    with pytest.raises(PyBuildpackError) as exc:
        install_python(VERSION, tmp_path / "py", downloads=bad, arch="amd64", progress=False)
    assert exc.value.id == "install-python::invalid-downloads-file"


# --------------------------------------------------------------------------- concurrency, kill -9

_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from pybuildpack.provision.api import install_python
    from pybuildpack.version import PythonVersion
    dest, cache, downloads = map(Path, sys.argv[1:4])
    r = install_python(PythonVersion.parse(sys.argv[4]), dest, cache_dir=cache,
                       downloads=downloads, arch="amd64", progress=False)
    print("cache_hit" if r.cache_hit else "downloaded")
    """
)


def _child(dest: Path, cache: Path, pub: Published) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(dest), str(cache), str(pub.downloads), V],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYBUILDPACK_HTTP_RETRIES": "2"},
    )  # fmt: skip


def test_concurrent_installs_share_one_download(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    server.faults[pub.path] = ["slow"]  # keep the first download in flight for a while
    server.slow_delay = 0.005
    cache = tmp_path / "cache"
    procs = [_child(tmp_path / f"py{i}", cache, pub) for i in range(2)]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outputs.append(out.strip())
    assert sorted(outputs) == ["cache_hit", "downloaded"]
    assert server.hits[pub.path] == 1
    for i in range(2):
        assert run_python(tmp_path / f"py{i}", "--version") == f"Python {V}"


def test_kill_9_during_install_then_clean_reinstall(server: LoopbackServer, tmp_path: Path) -> None:
    entries = [dir_entry("python"), *fake_runtime_entries(V, "python/")]
    entries += [file_entry(f"python/lib/python3.12/m{i}.py", os.urandom(2048)) for i in range(300)]
    pub = publish_pbs(server, tmp_path, compress(tar_bytes(entries), "gz"))
    server.faults[pub.path] = ["slow"]
    server.slow_delay = 0.05
    dest = tmp_path / "py"
    proc = _child(dest, tmp_path / "cache", pub)
    deadline = time.monotonic() + 30
    while not any(p.name.startswith(".py.pybuildpack-tmp-") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline, "the install never started"
        time.sleep(0.02)
    time.sleep(0.3)  # mid-download, mid-extraction
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert not dest.exists()  # never half-installed
    assert any(p.name.startswith(".py.pybuildpack-tmp-") for p in tmp_path.iterdir())
    result = install(pub, dest, tmp_path / "cache")
    assert result.cache_hit is False  # the killed download was never published to the cache
    assert run_python(dest, "--version") == f"Python {V}"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".py.")] == []


def test_disk_full_is_reported(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unpacker: str
) -> None:
    import errno

    pub = publish_pbs(server, tmp_path)
    if unpacker == "tar":
        # A tar that fails the way GNU tar does on a full disk.
        message = "tar: python/lib/python3.12/os.py: Cannot write: No space left on device"
        fake_tar(monkeypatch, tmp_path, message)
    else:
        from pybuildpack.provision import tarsafe

        def full(self: object, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(tarsafe._FdSink, "write", full)
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "install-python::disk-full"
    assert_nothing_installed(tmp_path / "py")


def fake_tar(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stderr: str, status: int = 2) -> None:
    """Put first on PATH a 'GNU tar' that reads its input, prints ``stderr`` and fails."""
    bindir = tmp_path / "fake-bin"
    bindir.mkdir()
    script = bindir / "tar"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "tar (GNU tar) 1.34"; exit 0; fi\n'
        "cat >/dev/null\n"
        f"printf '%s\\n' '{stderr}' >&2\n"
        f"exit {status}\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("unpacker", ["tar"], indirect=True)
def test_tar_failure_names_tar_and_the_way_out(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pub = publish_pbs(server, tmp_path)
    fake_tar(monkeypatch, tmp_path, "tar: python/bin: Cannot mkdir: Permission denied")
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "install-python::unpack-failed"
    text = " ".join(str(exc.value).split())
    assert "Permission denied" in text and "PYBUILDPACK_UNPACKER=python" in text
    assert_nothing_installed(tmp_path / "py")


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        (file_entry("x.txt", b""), "x.txt"),
        (link_entry("python/bin/h", "other/file", hard=True), "other/file"),
    ],
    ids=["member", "hard-link-target"],
)
def test_member_outside_the_top_folder_is_refused(
    server: LoopbackServer, tmp_path: Path, entry: tuple[tarfile.TarInfo, None], named: str
) -> None:
    entries = [dir_entry("python"), *fake_runtime_entries(V, "python/"), entry]
    pub = publish_pbs(server, tmp_path, compress(tar_bytes(entries), "gz"))
    with pytest.raises(PyBuildpackError) as exc:
        install(pub, tmp_path / "py", tmp_path / "cache")
    assert exc.value.id == "install-python::corrupt-archive"
    text = " ".join(str(exc.value).split())
    assert f"'{named}' is outside the archive's top folder 'python/'" in text
    assert_nothing_installed(tmp_path / "py")


def test_setuid_bits_and_owners_are_dropped(server: LoopbackServer, tmp_path: Path) -> None:
    tool, _ = entry = file_entry("python/bin/tool", b"#!/bin/sh\n", 0o4755)
    tool.uid, tool.gid, tool.uname, tool.gname = 4242, 4242, "someone", "someone"
    entries = [dir_entry("python"), *fake_runtime_entries(V, "python/"), entry]
    pub = publish_pbs(server, tmp_path, compress(tar_bytes(entries), "gz"))
    dest = tmp_path / "py"
    install(pub, dest, tmp_path / "cache")
    st = (dest / "bin" / "tool").stat()
    assert st.st_mode & 0o7000 == 0 and st.st_mode & 0o700 == 0o700
    assert st.st_uid == os.geteuid()


def test_unknown_unpacker_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBUILDPACK_UNPACKER", "rust")
    with pytest.raises(PyBuildpackError) as exc:
        install_python(VERSION, tmp_path / "py", arch="amd64", progress=False)
    assert exc.value.id == "cli::usage" and "PYBUILDPACK_UNPACKER" in str(exc.value)


def test_insisting_on_tar_without_one_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tar here
    with pytest.raises(PyBuildpackError) as exc:
        install_python(VERSION, tmp_path / "py", arch="amd64", progress=False, unpacker="tar")
    assert exc.value.id == "cli::usage" and "PYBUILDPACK_UNPACKER=python" in str(exc.value)


def test_404_for_the_newest_patch_is_a_publishing_gap_not_a_bad_pin(
    server: LoopbackServer, tmp_path: Path
) -> None:
    from pybuildpack.catalog import load_bundled_catalog

    latest = load_bundled_catalog().default.latest
    pub = publish_pbs(server, tmp_path, fake_archive(str(latest), "pbs"), version=str(latest))
    del server.files[pub.path]
    with pytest.raises(PyBuildpackError) as exc:
        install_python(latest, tmp_path / "py", downloads=pub.downloads, arch="amd64",
                       cache_dir=tmp_path / "c", progress=False)  # fmt: skip
    assert exc.value.id == "install-python::download-failed"
    assert "has not been published" in str(exc.value)


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_missing_archive_without_sha256sums_is_reported_as_missing(
    server: LoopbackServer, tmp_path: Path, scheme: str
) -> None:
    """A wrong mirror (no archive, no SHA256SUMS) names the missing archive, not the checksum."""
    (tmp_path / "empty-mirror").mkdir()
    mirror = server.url if scheme == "http" else (tmp_path / "empty-mirror").as_uri()
    downloads = write_json(tmp_path / "d.json", downloads_doc(server.url, []))
    with pytest.raises(PyBuildpackError) as exc:
        install_python(VERSION, tmp_path / "py", source="heroku", stack="heroku-24",
                       arch="amd64", mirror=mirror, downloads=downloads,
                       cache_dir=tmp_path / "c", progress=False)  # fmt: skip
    assert exc.value.id == "python-version::unknown-patch"
    assert heroku_name(V, "24.04") in str(exc.value)
    assert_nothing_installed(tmp_path / "py")


_CONSOLE = (
    "import sys\n"
    "class Noisy:  # its finalizer prints at a normal exit, not after os._exit\n"
    "    def __del__(self): print('teardown ran', file=sys.stderr)\n"
    "keep = Noisy()\n"
    "from pybuildpack.cli import run\n"
    "sys.argv[0] = 'pybuildpack'\n"
    "run()\n"
)


def test_the_console_scripts_fast_exit_leaves_a_complete_install(
    server: LoopbackServer, tmp_path: Path, unpacker: str
) -> None:
    """``pybuildpack install`` ends with ``os._exit`` (no interpreter teardown) once the
    runtime is published: everything it wrote must be complete by then. The download cache
    holds the whole archive, a second install needs no download, and both runtimes run."""
    pub = publish_pbs(server, tmp_path)
    app = tmp_path / "app"
    app.mkdir()
    (app / ".python-version").write_text(f"{V}\n")

    def console(dest: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _CONSOLE, "install", str(app), "--dest", dest,
             "--cache-dir", str(tmp_path / "cache"), "--downloads", str(pub.downloads),
             "--arch", "amd64", "--unpacker", unpacker, "--json"],
            capture_output=True, text=True, check=False,
            env={**os.environ, "PYBUILDPACK_ALLOW_INSECURE_HTTP": "1"},
        )  # fmt: skip

    first = console(str(tmp_path / "py1"))
    assert first.returncode == 0, first.stderr
    assert "teardown ran" not in first.stderr  # the fast exit was taken
    assert json.loads(first.stdout)["cache_hit"] is False
    second = console(str(tmp_path / "py2"))
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["sha256"] == pub.sha256
    assert server.hits[pub.path] == 1  # no second download
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and not p.is_symlink()]
    assert pub.sha256 in {hashlib.sha256(p.read_bytes()).hexdigest() for p in cached}
    for dest in ("py1", "py2"):
        assert run_python(tmp_path / dest, "--version") == f"Python {V}"
