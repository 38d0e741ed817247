"""The .deb CPack makes (cmake/RooInstall.cmake): its control fields and files, and, as root with
ROO_TEST_DEB_INSTALL=1 (.ci/run sets it), installed with apt-get, run from /usr/bin, and removed without a trace."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO, clean_env, run_alphabet

PYTHON_DIR = "/usr/lib/roo/python"
# Packages a build needs and a run must not: none may appear in Depends.
BUILD_ONLY = {"cmake", "ninja-build", "g++", "gcc", "ccache", "pkg-config", "python3-dev", "pybind11-dev",
              "libboost-dev", "libgtest-dev", "libgmock-dev", "python3-pytest", "clang", "dpkg-dev"}


@pytest.fixture(scope="module")
def deb(build_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    result = subprocess.run(["cpack", "-G", "DEB", "-B", str(out), "--config",
                             os.path.join(build_dir, "CPackConfig.cmake")],
                            cwd=build_dir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    debs = [f for f in os.listdir(str(out)) if f.endswith(".deb")]
    assert len(debs) == 1, debs
    return os.path.join(str(out), debs[0])


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb, name], check=True, capture_output=True, text=True).stdout.strip()


def depends(deb):
    """Depends as {package: [version constraints]}."""
    found = {}
    for item in field(deb, "Depends").split(","):
        match = re.match(r"^\s*([a-z0-9.+-]+)(?:\s*\(([^)]*)\))?\s*$", item)
        assert match, item
        found.setdefault(match.group(1), []).extend([match.group(2)] if match.group(2) else [])
    return found


def contents(deb):
    """{path: (mode string, size, link target or None)} of the data archive, paths as /usr/..."""
    listing = subprocess.run(["dpkg-deb", "-c", deb], check=True, capture_output=True, text=True).stdout
    entries = {}
    for line in listing.splitlines():
        parts = line.split(None, 5)
        name, target = (parts[5].split(" -> ") + [None])[:2]
        path = name[1:].rstrip("/") or "/"
        entries[path] = (parts[0], int(parts[2]), target)
    return entries


def test_control_fields(deb, version):
    assert os.path.basename(deb) == "roo_%s_amd64.deb" % version
    assert field(deb, "Package") == "roo"
    assert field(deb, "Version") == version
    assert field(deb, "Architecture") == "amd64"
    needs = depends(deb)
    # The embedded interpreter's standard library and /usr/bin/python3 (sys.executable), then what
    # dpkg-shlibdeps found the binary linked to.
    assert "libpython3.11-stdlib" in needs
    assert sorted(needs["python3-minimal"]) == ["<< 3.12", ">= 3.11"]
    for package in ("libc6", "libstdc++6", "libssl3", "librdkafka1", "libspdlog1.10-fmt9", "zlib1g", "libexpat1"):
        assert package in needs, package
    assert not [p for p in needs if p.endswith("-dev") or p in BUILD_ONLY]
    # Installed-Size counts roo once (not once per symlink to it) and the package is stripped.
    files = contents(deb)
    unpacked = sum(size for mode, size, _ in files.values() if mode.startswith("-"))
    assert int(field(deb, "Installed-Size")) == (unpacked + 1023) // 1024
    assert files["/usr/bin/roo"][1] < 40 * 1024 * 1024


def test_every_dependency_is_satisfied_here(deb):
    """By an installed package of that name or one that provides it (libspdlog1.10-fmt9 is libspdlog1.10's)."""
    listing = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Package}|${Provides}\\n"],
                             check=True, capture_output=True, text=True).stdout
    present = set()
    for line in listing.splitlines():
        status, package, provides = line.split("|")
        if status.startswith("ii"):
            present.add(package)
            present.update(re.sub(r"\(.*?\)", "", p).strip() for p in provides.split(",") if p.strip())
    assert not [p for p in depends(deb) if p not in present]


def test_files(deb):
    files = contents(deb)
    assert files["/usr/bin/roo"][0] == "-rwxr-xr-x"
    for name in ("machida", "machida3", "cluster_shutdown", "cluster_shrinker"):
        assert files["/usr/bin/" + name][0].startswith("l") and files["/usr/bin/" + name][2] == "roo", name
    package = [p for p in files if p.startswith(PYTHON_DIR + "/") and p.endswith(".py")]
    source = os.path.join(REPO, "python")
    expected = sorted(os.path.join(PYTHON_DIR, os.path.relpath(os.path.join(d, f), source))
                      for d, _dirs, names in os.walk(source) for f in names if f.endswith(".py"))
    assert sorted(package) == expected
    assert PYTHON_DIR + "/wallaroo/__init__.py" in package
    assert PYTHON_DIR + "/wallaroo/experimental/__init__.py" in package
    assert files["/usr/share/roo/dashboard/index.html"][0] == "-rw-r--r--"
    allowed = ("/usr/bin/", "/usr/lib/roo/", "/usr/share/roo/dashboard/", "/usr/share/doc/roo/")
    assert not [p for p, (mode, _s, _t) in files.items()
                if not mode.startswith("d") and not p.startswith(allowed)]
    assert not [p for p in files if "__pycache__" in p or p.endswith(".pyc")]


def test_maintainer_scripts(deb, tmp_path):
    subprocess.run(["dpkg-deb", "-e", deb, str(tmp_path / "control")], check=True)
    for script in ("postinst", "prerm"):
        path = str(tmp_path / "control" / script)
        assert os.access(path, os.X_OK), script
        assert PYTHON_DIR in open(path).read(), script


@pytest.mark.skipif(os.geteuid() != 0 or os.environ.get("ROO_TEST_DEB_INSTALL") != "1",
                    reason="installs into /usr: only as root with ROO_TEST_DEB_INSTALL=1 (.ci/run)")
def test_install_run_and_remove(deb, version, tmp_path):
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "roo"], capture_output=True, text=True)
    if "installed" in installed.stdout and "not-installed" not in installed.stdout:
        pytest.skip("a roo package is already installed here; not replacing it")
    apt = ["apt-get", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=120"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(apt + ["install", deb], check=True, capture_output=True, env=env, timeout=300)
    try:
        listed = subprocess.run(["dpkg", "-L", "roo"], check=True, capture_output=True, text=True).stdout.split()
        for path in ("/usr/bin/roo", "/usr/bin/machida", "/usr/bin/machida3", PYTHON_DIR + "/wallaroo/__init__.py"):
            assert path in listed and os.path.lexists(path), path
        result = subprocess.run(["/usr/bin/roo", "--version"], capture_output=True, text=True, env=clean_env(),
                                cwd="/", timeout=10)
        assert result.stdout == "roo %s\n" % version
        result = subprocess.run(["/usr/bin/machida", "--version"], capture_output=True, text=True, env=clean_env(),
                                cwd="/", timeout=10)
        assert result.stdout == "machida (roo) %s\n" % version
        stderr = run_alphabet("/usr/bin", str(tmp_path))
        assert "wallaroo package: %s/wallaroo/__init__.py\n" % PYTHON_DIR in stderr
        # The systemd unit of docs/install.md: its syntax, and that its ExecStart is the installed binary.
        if shutil.which("systemd-analyze"):
            unit = os.path.join(REPO, "deploy", "systemd", "roo-worker.service")
            check = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True, timeout=60)
            assert check.returncode == 0 and check.stderr == "", check.stderr
        # postinst compiled the package: its __pycache__ folders, unknown to dpkg, must go at removal too.
        assert os.path.isdir(PYTHON_DIR + "/wallaroo/__pycache__")
    finally:
        subprocess.run(apt + ["remove", "roo"], check=True, capture_output=True, env=env, timeout=300)
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "roo"], capture_output=True, text=True).stdout
    assert status in ("", "unknown ok not-installed", "deinstall ok not-installed"), status
    shared = {"/.", "/usr", "/usr/bin", "/usr/lib", "/usr/share", "/usr/share/doc"}
    assert not [p for p in listed if p not in shared and os.path.lexists(p)]
    assert not os.path.lexists("/usr/lib/roo")
