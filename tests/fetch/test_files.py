"""FileFetcher reads file:// URLs from disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterlocal.errors import BlockedURLError, FetchError, ResponseTooLargeError
from meterlocal.fetch import FetchRequest, FileFetcher


async def test_reads_a_percent_encoded_path(tmp_path: Path) -> None:
    page = tmp_path / "my page.html"
    page.write_bytes(b"<h1>saved</h1>")
    url = page.as_uri()
    assert "%20" in url

    response = await FileFetcher().fetch(FetchRequest(url))

    assert response.body == b"<h1>saved</h1>"
    assert (response.url, response.status, response.content_type) == (url, 200, "text/html")
    assert response.charset is None


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.html", "text/html"),
        ("a.HTM", "text/html"),
        ("a.json", "application/json"),
        ("a.xml", "application/xml"),
        ("a.dat", "application/octet-stream"),
        ("noext", "application/octet-stream"),
    ],
)
async def test_content_type_follows_the_extension(tmp_path: Path, name: str, content_type: str) -> None:
    (tmp_path / name).write_bytes(b"x")

    response = await FileFetcher().fetch(FetchRequest((tmp_path / name).as_uri()))

    assert response.content_type == content_type


async def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.html"

    with pytest.raises(FetchError) as caught:
        await FileFetcher().fetch(FetchRequest(missing.as_uri()))

    assert str(caught.value) == f"File not found: {missing}"


async def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="is a directory, not a file"):
        await FileFetcher().fetch(FetchRequest(tmp_path.as_uri()))


async def test_paths_outside_root_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "in.html").write_text("in")
    (tmp_path / "out.html").write_text("out")
    (root / "link.html").symlink_to(tmp_path / "out.html")
    fetcher = FileFetcher(root=root)

    assert (await fetcher.fetch(FetchRequest((root / "in.html").as_uri()))).body == b"in"
    for escape in [
        (tmp_path / "out.html").as_uri(),
        (root / "link.html").as_uri(),
        f"file://{root}/../out.html",
    ]:
        with pytest.raises(BlockedURLError, match="is outside"):
            await fetcher.fetch(FetchRequest(escape))


async def test_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.html").write_bytes(b"b" * 2049)

    with pytest.raises(ResponseTooLargeError, match=r"larger than the 2 KiB limit \(max_response_bytes\)"):
        await FileFetcher(max_response_bytes=2048).fetch(FetchRequest((tmp_path / "big.html").as_uri()))


async def test_remote_file_host_is_refused() -> None:
    with pytest.raises(BlockedURLError, match=r"another host \(server\)"):
        await FileFetcher().fetch(FetchRequest("file://server/share/page.html"))
