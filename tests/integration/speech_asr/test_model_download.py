"""Model download against a LOCAL http.server on 127.0.0.1 (never the internet).

The archives are built here with a fake Vosk layout; what is checked is the download
(progress, HTTP errors, truncation), the verification of the archive and the atomic install.
"""

from __future__ import annotations

import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from speech.asr import vosk_model_problem
from speech.model_download import (
    MODELS,
    ModelDownloadError,
    download_model,
    model_url,
)

NAME = "vosk-model-small-ru-0.22"
SMALL_LAYOUT = {
    "am/final.mdl": b"acoustic model",
    "conf/mfcc.conf": b"--use-energy=false\n--sample-frequency=16000\n",
    "conf/model.conf": b"--min-active=200\n",
    "graph/HCLr.fst": b"hclr" * 1000,
    "graph/Gr.fst": b"gr" * 1000,
    "graph/disambig_tid.int": b"1\n",
    "graph/phones/word_boundary.int": b"1 nonword\n",
    "ivector/final.ie": b"ie",
    "README": b"a fake model for tests",
}


def make_zip(files: dict[str, bytes], root: str | None = NAME, *, stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(f"{root}/{name}" if root else name, data)
    return buffer.getvalue()


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_length: int | None = None  # lie about the length (then close early)


@dataclass
class Server:
    base: str
    routes: dict[str, Route]
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    routes: dict[str, Route] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            route = routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(route.status)
            self.send_header("Content-Type", "application/zip")
            length = route.content_length if route.content_length is not None else len(route.body)
            self.send_header("Content-Length", str(length))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(route.body)
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", routes, hits)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def leftovers(dest: Path, keep: str = NAME) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if p.name != keep) if dest.exists() else []


def test_default_urls() -> None:
    assert model_url("ru") == "https://alphacephei.com/vosk/models/vosk-model-small-ru-0.22.zip"
    assert model_url("en") == "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip"
    assert set(MODELS) == {"ru", "en"}
    with pytest.raises(ModelDownloadError, match="no Vosk model known"):
        model_url("de")


def test_download_extracts_the_model_atomically(server: Server, tmp_path: Path) -> None:
    archive = make_zip(SMALL_LAYOUT)
    server.routes[f"/models/{NAME}.zip"] = Route(archive)
    seen: list[tuple[int, int | None]] = []
    dest = tmp_path / "models"
    path = download_model(
        "ru", dest, url=server.url(f"/models/{NAME}.zip"), progress=lambda d, t: seen.append((d, t))
    )
    assert path == dest / NAME
    assert vosk_model_problem(path) is None
    assert (path / "graph" / "phones" / "word_boundary.int").read_bytes() == b"1 nonword\n"
    assert leftovers(dest) == []  # no partial download or staging directory left behind
    assert seen[0] == (0, len(archive))
    assert seen[-1] == (len(archive), len(archive))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_an_installed_model_is_not_downloaded_again(server: Server, tmp_path: Path) -> None:
    server.routes[f"/{NAME}.zip"] = Route(make_zip(SMALL_LAYOUT))
    url = server.url(f"/{NAME}.zip")
    first = download_model("ru", tmp_path, url=url)
    (first / "marker").write_text("old")
    assert download_model("ru", tmp_path, url=url) == first
    assert len(server.hits) == 1
    assert (first / "marker").exists()
    # force: downloaded again and swapped in whole.
    assert download_model("ru", tmp_path, url=url, force=True) == first
    assert len(server.hits) == 2
    assert not (first / "marker").exists()
    assert vosk_model_problem(first) is None
    assert leftovers(tmp_path) == []


def test_the_old_flat_layout_is_accepted(server: Server, tmp_path: Path) -> None:
    flat = {"final.mdl": b"am", "mfcc.conf": b"", "HCLG.fst": b"graph", "words.txt": b"a 1\n"}
    server.routes["/old-model.zip"] = Route(make_zip(flat, root=None))
    path = download_model("en", tmp_path, url=server.url("/old-model.zip"))
    assert path == tmp_path / "old-model"
    assert vosk_model_problem(path) is None


def test_http_404(server: Server, tmp_path: Path) -> None:
    with pytest.raises(ModelDownloadError, match="HTTP 404"):
        download_model("ru", tmp_path / "models", url=server.url(f"/{NAME}.zip"))
    assert leftovers(tmp_path / "models") == []


def test_a_failed_download_keeps_the_installed_model(server: Server, tmp_path: Path) -> None:
    server.routes[f"/{NAME}.zip"] = Route(make_zip(SMALL_LAYOUT))
    url = server.url(f"/{NAME}.zip")
    installed = download_model("ru", tmp_path, url=url)
    server.routes[f"/{NAME}.zip"] = Route(b"<html>maintenance</html>")
    with pytest.raises(ModelDownloadError, match="not a zip"):
        download_model("ru", tmp_path, url=url, force=True)
    assert vosk_model_problem(installed) is None
    assert leftovers(tmp_path) == []


def test_a_truncated_archive(server: Server, tmp_path: Path) -> None:
    archive = make_zip(SMALL_LAYOUT)
    server.routes["/cut.zip"] = Route(archive[: len(archive) // 2])
    with pytest.raises(ModelDownloadError, match="not a zip archive"):
        download_model("ru", tmp_path, url=server.url("/cut.zip"))
    assert leftovers(tmp_path) == []


def test_a_connection_closed_early(server: Server, tmp_path: Path) -> None:
    archive = make_zip(SMALL_LAYOUT)
    server.routes["/short.zip"] = Route(archive[:1000], content_length=len(archive))
    with pytest.raises(ModelDownloadError, match="truncated"):
        download_model("ru", tmp_path, url=server.url("/short.zip"))
    assert leftovers(tmp_path) == []


def test_an_archive_without_a_model(server: Server, tmp_path: Path) -> None:
    server.routes["/photos.zip"] = Route(make_zip({"a.jpg": b"x", "b.jpg": b"y"}, root="photos"))
    with pytest.raises(ModelDownloadError, match="not a Vosk model"):
        download_model("ru", tmp_path, url=server.url("/photos.zip"))
    partial = {k: v for k, v in SMALL_LAYOUT.items() if not k.startswith("graph/")}
    server.routes["/nograph.zip"] = Route(make_zip(partial))
    with pytest.raises(ModelDownloadError, match="decoding graph"):
        download_model("ru", tmp_path, url=server.url("/nograph.zip"))
    assert leftovers(tmp_path) == []


def test_an_archive_with_unsafe_paths(server: Server, tmp_path: Path) -> None:
    evil = make_zip({**SMALL_LAYOUT, "../../escaped.txt": b"boo"})
    server.routes["/evil.zip"] = Route(evil)
    dest = tmp_path / "models"
    with pytest.raises(ModelDownloadError, match="unsafe path"):
        download_model("ru", dest, url=server.url("/evil.zip"))
    assert not list(tmp_path.rglob("escaped.txt"))


def test_a_corrupt_archive(server: Server, tmp_path: Path) -> None:
    archive = bytearray(make_zip(SMALL_LAYOUT, stored=True))
    spot = archive.index(b"hclrhclr")
    archive[spot] ^= 0xFF
    server.routes["/crc.zip"] = Route(bytes(archive))
    with pytest.raises(ModelDownloadError, match="corrupt"):
        download_model("ru", tmp_path, url=server.url("/crc.zip"))
    assert leftovers(tmp_path) == []


def test_unreachable_server_and_bad_urls(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    with pytest.raises(ModelDownloadError, match="download failed"):
        download_model("ru", tmp_path, url=f"http://127.0.0.1:{port}/{NAME}.zip")
    with pytest.raises(ModelDownloadError, match="http"):
        download_model("ru", tmp_path, url=f"file:///etc/{NAME}.zip")
    assert leftovers(tmp_path) == []
