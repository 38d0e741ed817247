"""`cmake --install build --prefix P`: the layout, and the tree at work after a copy elsewhere (relocatable), run
from outside the repo with no PYTHONPATH or ROO_PYTHON_DIR: the binaries find lib/roo/python beside themselves."""
import os
import signal
import subprocess
import urllib.request

import pytest

from conftest import READY_LINE, REPO, clean_env, copy_alphabet_app, free_port, read, run_alphabet, wait_for_text


@pytest.fixture(scope="module")
def install_tree(build_dir, tmp_path_factory):
    """The tree `cmake --install` made, copied with `cp -a` to another folder; the original is removed."""
    first = tmp_path_factory.mktemp("prefix") / "roo"
    subprocess.run(["cmake", "--install", build_dir, "--prefix", str(first)], check=True, capture_output=True,
                   timeout=120)
    moved = tmp_path_factory.mktemp("moved") / "roo-copy"
    subprocess.run(["cp", "-a", str(first), str(moved)], check=True, timeout=60)
    subprocess.run(["rm", "-rf", str(first)], check=True, timeout=60)
    return str(moved)


def package_files(root):
    """The .py files of a wallaroo package folder, relative to it."""
    found = []
    for folder, _dirs, files in os.walk(root):
        found += [os.path.relpath(os.path.join(folder, f), root) for f in files if f.endswith(".py")]
    return sorted(found)


def test_layout(install_tree):
    bin_dir = os.path.join(install_tree, "bin")
    assert os.path.isfile(os.path.join(bin_dir, "roo")) and not os.path.islink(os.path.join(bin_dir, "roo"))
    assert os.access(os.path.join(bin_dir, "roo"), os.X_OK)
    for name in ("machida", "machida3", "cluster_shutdown", "cluster_shrinker"):
        assert os.readlink(os.path.join(bin_dir, name)) == "roo", name
    package = os.path.join(install_tree, "lib", "roo", "python", "wallaroo")
    assert package_files(package) == package_files(os.path.join(REPO, "python", "wallaroo"))
    assert "experimental/__init__.py" in package_files(package)
    assert not [f for _d, dirs, files in os.walk(install_tree) for f in dirs + files
                if f == "__pycache__" or f.endswith(".pyc")]
    assert tree_files(os.path.join(install_tree, "share", "roo", "dashboard")) == \
        tree_files(os.path.join(REPO, "dashboard"))
    assert "index.html" in tree_files(os.path.join(install_tree, "share", "roo", "dashboard"))


def tree_files(root):
    """Every file under `root`, relative to it."""
    return sorted(os.path.relpath(os.path.join(folder, f), root) for folder, _dirs, files in os.walk(root)
                  for f in files)


def test_copied_tree_serves_its_own_dashboard(install_tree, tmp_path):
    """--metrics-http serves share/roo/dashboard of the tree the binary is in (marked here to tell it from the
    source tree's), with no ROO_DASHBOARD_DIR."""
    index = os.path.join(install_tree, "share", "roo", "dashboard", "index.html")
    with open(index, "a") as f:
        f.write("<!-- the copied install tree's -->\n")
    with open(index, "rb") as f:
        expected = f.read()
    work_dir = str(tmp_path)
    copy_alphabet_app(work_dir)
    env = clean_env()
    env.pop("ROO_DASHBOARD_DIR", None)
    http_port = free_port()
    log = os.path.join(work_dir, "worker.stderr")
    with open(log, "wb") as stderr:
        worker = subprocess.Popen([os.path.join(install_tree, "bin", "roo"), "run", "--metrics-http",
                                   "127.0.0.1:%d" % http_port, "alphabet.py", "--in",
                                   "Alphabet@127.0.0.1:%d" % free_port(), "--out", "127.0.0.1:%d" % free_port()],
                                  stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL, cwd=work_dir,
                                  env=env)
    try:
        assert wait_for_text(log, READY_LINE, 30, worker), read(log)
        with urllib.request.urlopen("http://127.0.0.1:%d/" % http_port, timeout=10) as response:
            assert response.read() == expected
    finally:
        worker.kill()
        worker.wait()


def test_copied_tree_runs_alphabet_with_its_own_package(install_tree, tmp_path):
    stderr = run_alphabet(os.path.join(install_tree, "bin"), str(tmp_path))
    assert "wallaroo package: %s\n" % os.path.join(install_tree, "lib", "roo", "python", "wallaroo", "__init__.py") \
        in stderr


def test_launcher_names_report_their_version(install_tree, version):
    for name in ("roo", "machida", "machida3"):
        result = subprocess.run([os.path.join(install_tree, "bin", name), "--version"], capture_output=True,
                                text=True, timeout=10, env=clean_env(), cwd="/")
        assert result.returncode == 0, result.stderr
        assert result.stdout == ("roo %s\n" % version if name == "roo" else "%s (roo) %s\n" % (name, version))


def test_machida3_runs_an_app_with_the_install_trees_package(install_tree, tmp_path):
    """machida3 with Wallaroo's flags; PYTHONPATH names only the app's folder, as Wallaroo users set it."""
    work_dir = str(tmp_path)
    copy_alphabet_app(work_dir)
    env = clean_env()
    env["PYTHONPATH"] = work_dir
    flags = ["--in", "Alphabet@127.0.0.1:%d" % free_port(), "--out", "127.0.0.1:%d" % free_port(),
             "--metrics", "127.0.0.1:%d" % free_port(), "--control", "127.0.0.1:%d" % free_port(),
             "--data", "127.0.0.1:%d" % free_port(), "--external", "127.0.0.1:%d" % free_port(),
             "--cluster-initializer", "--worker-count", "1", "--ponythreads=1", "--ponynoblock"]
    log = os.path.join(work_dir, "machida3.stderr")
    with open(log, "wb") as stderr:
        worker = subprocess.Popen([os.path.join(install_tree, "bin", "machida3"), "--application-module",
                                   "located_alphabet"] + flags, stdout=subprocess.DEVNULL, stderr=stderr,
                                  stdin=subprocess.DEVNULL, cwd=work_dir, env=env)
    try:
        assert wait_for_text(log, READY_LINE, 30, worker), read(log)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, read(log)
        assert "wallaroo package: %s\n" % os.path.join(install_tree, "lib", "roo", "python", "wallaroo",
                                                       "__init__.py") in read(log)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
