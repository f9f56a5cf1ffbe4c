"""fcnet.utils.file_utils.get_file: Keras's cache layout and arguments, hashes checked
before a download is kept, archives unpacked inside their folder only, and the error
without a network naming the file and the folder. Origins are file:// URLs or a
server on 127.0.0.1: nothing reaches outside the machine."""

import hashlib
import http.server
import io
import tarfile
import threading
import urllib.error
import zipfile
from pathlib import Path

import pytest

from fcnet.utils import file_utils
from fcnet.utils.file_utils import get_file

PAYLOAD = bytes(range(256)) * 300  # 76,800 bytes: several chunks of the download loop


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "src" / "data.bin"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith("."))


def test_downloads_into_cache_dir_and_subdir(source, tmp_path, capsys):
    cache = tmp_path / "cache"
    path = get_file("data.bin", origin=source.as_uri(), cache_dir=cache,
                    file_hash=sha256(PAYLOAD))
    assert path == str(cache / "datasets" / "data.bin")
    assert Path(path).read_bytes() == PAYLOAD
    assert f"Downloading data from {source.as_uri()}" in capsys.readouterr().out
    assert leftovers(cache / "datasets") == []


def test_keras_home_and_name_from_origin(source, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    path = get_file(origin=source.as_uri(), cache_subdir="models")
    assert path == str(tmp_path / "kh" / "models" / "data.bin")


def test_default_cache_is_home_dot_keras(source, tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = get_file("d.bin", origin=source.as_uri())
    assert path == str(tmp_path / ".keras" / "datasets" / "d.bin")


def test_cached_file_is_not_downloaded_again(source, tmp_path):
    get_file("data.bin", origin=source.as_uri(), cache_dir=tmp_path)
    source.write_bytes(b"changed")
    path = get_file("data.bin", origin=source.as_uri(), cache_dir=tmp_path)
    assert Path(path).read_bytes() == PAYLOAD
    path = get_file("data.bin", origin=source.as_uri(), cache_dir=tmp_path,
                    force_download=True)
    assert Path(path).read_bytes() == b"changed"


@pytest.mark.parametrize("kind", ["sha256", "md5", "md5_hash"])
def test_right_hashes_accepted(source, tmp_path, kind):
    digest = (hashlib.md5 if kind != "sha256" else hashlib.sha256)(PAYLOAD).hexdigest()
    kwargs = {"md5_hash": digest} if kind == "md5_hash" else {"file_hash": digest}
    path = get_file("data.bin", origin=source.as_uri(), cache_dir=tmp_path, **kwargs)
    assert Path(path).read_bytes() == PAYLOAD


def test_wrong_hash_is_refused_and_not_kept(source, tmp_path):
    with pytest.raises(ValueError, match="hash"):
        get_file("data.bin", origin=source.as_uri(), cache_dir=tmp_path,
                 file_hash=sha256(b"something else"))
    folder = tmp_path / "datasets"
    assert list(folder.iterdir()) == []  # neither the file nor a temporary one


def test_stale_cached_file_is_replaced_by_a_good_download(source, tmp_path):
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "data.bin").write_bytes(b"truncated")
    path = get_file("data.bin", origin=source.as_uri(), cache_dir=tmp_path,
                    file_hash=sha256(PAYLOAD))
    assert Path(path).read_bytes() == PAYLOAD


def test_offline_missing_file_names_file_and_folder(tmp_path, monkeypatch):
    def offline(origin, path):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "_fetch", offline)
    with pytest.raises(OSError) as info:
        get_file("mnist.npz", origin="https://example.invalid/mnist.npz", cache_dir=tmp_path)
    message = str(info.value)
    assert "URL fetch failure on https://example.invalid/mnist.npz" in message
    assert "'mnist.npz'" in message and str(tmp_path / "datasets") in message
    assert list((tmp_path / "datasets").iterdir()) == []


def test_offline_with_stale_file_removes_it(tmp_path):
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "x.bin").write_bytes(b"stale")
    missing = (tmp_path / "nowhere" / "x.bin").as_uri()
    with pytest.raises(OSError, match="x.bin"):
        get_file("x.bin", origin=missing, cache_dir=tmp_path, file_hash=sha256(b"good"))
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("kwargs, error", [
    ({"fname": "a/b.bin"}, "Paths are no longer accepted"),
    ({"origin": None}, "origin"),
    ({"hash_algorithm": "sha1"}, "hash_algorithm"),
    ({"fname": None, "origin": "https://example.invalid/"}, "Can't parse the file name"),
])
def test_bad_arguments(tmp_path, kwargs, error):
    args = {"fname": "x.bin", "origin": "file:///nonexistent", "cache_dir": tmp_path,
            **kwargs}
    with pytest.raises(ValueError, match=error):
        get_file(**args)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server hook name
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


def test_http_download_with_progress_bar(tmp_path, capsys):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/files/data.bin"
        path = get_file(origin=url, cache_dir=tmp_path, file_hash=sha256(PAYLOAD))
    finally:
        server.shutdown()
        server.server_close()
    assert Path(path).read_bytes() == PAYLOAD
    out = capsys.readouterr().out
    assert f"{len(PAYLOAD)}/{len(PAYLOAD)}" in out  # the bar reached the full length


def make_tar(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_extract_tar_in_keras_layout(tmp_path):
    archive = tmp_path / "src.tar.gz"
    make_tar(archive, {"top/a.txt": b"alpha", "top/sub/b.txt": b"beta"})
    path = get_file("things", origin=archive.as_uri(), cache_dir=tmp_path, extract=True,
                    file_hash=sha256(archive.read_bytes()))
    assert path == str(tmp_path / "datasets" / "things")
    assert (Path(path) / "top" / "sub" / "b.txt").read_bytes() == b"beta"
    assert (tmp_path / "datasets" / "things_archive").is_file()
    # a name with a suffix: kept under that name, unpacked into <stem>_extracted
    path = get_file("pack.tar.gz", origin=archive.as_uri(), cache_dir=tmp_path, untar=True)
    assert path == str(tmp_path / "datasets" / "pack_extracted")
    assert (Path(path) / "top" / "a.txt").read_bytes() == b"alpha"


def test_extract_zip(tmp_path):
    archive = tmp_path / "src.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("d/c.txt", b"gamma")
    path = get_file("z", origin=archive.as_uri(), cache_dir=tmp_path, extract=True)
    assert (Path(path) / "d" / "c.txt").read_bytes() == b"gamma"


def test_archive_climbing_out_is_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    make_tar(archive, {"ok.txt": b"fine", "../../escaped.txt": b"gotcha"})
    with pytest.raises(ValueError, match="outside the extraction folder"):
        get_file("evil", origin=archive.as_uri(), cache_dir=tmp_path, extract=True)
    assert not any(p.name == "escaped.txt" for p in tmp_path.rglob("*"))
    assert not (tmp_path / "datasets" / "evil").exists()
    assert leftovers(tmp_path / "datasets") == []
