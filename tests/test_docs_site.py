"""The docs site builds with ``mkdocs build --strict`` (what ``make docs`` runs) and shows what it should.

One build into a temporary directory serves every test here. Strict mode turns any warning into a failure:
a broken link or anchor, a page missing from the files, a docstring griffe cannot parse, an unresolved
cross-reference.
"""

from __future__ import annotations

import html
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs", reason="the docs site needs mkdocs: pip install -e '.[docs]'")

import tinygrad_lite as tl  # noqa: E402 - after the skip, like the build itself

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_SOURCE_LINK = re.compile(r"\]\((\.\./tinygrad_lite/[^)\s#]+\.py)\)")

pytestmark = pytest.mark.slow  # a full build takes about five seconds


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The built site's directory and the build's log."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # the theme's notice about its own future, not ours
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return out, log


def page_text(path: Path) -> str:
    """The text of a built page's content (its <article>: no navigation, no scripts), tags removed and
    whitespace collapsed."""
    raw = path.read_text(encoding="utf-8")
    start, end = raw.find("<article"), raw.rfind("</article>")
    assert 0 <= start < end, f"{path}: no <article>"
    text = re.sub(r"<[^>]+>", "", raw[start:end])
    return " ".join(html.unescape(text).split())


def built_page(site_dir: Path, doc: Path) -> Path:
    """Where mkdocs writes a docs/ Markdown file: api/ops.md -> api/ops.html (no directory URLs)."""
    return site_dir / doc.relative_to(DOCS).with_suffix(".html")


def test_build_logs_no_warning(site: tuple[Path, str]) -> None:
    _, log = site
    problems = [line for line in log.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", line)]
    assert not problems, "\n".join(problems)


def test_every_docs_page_is_rendered_with_its_title(site: tuple[Path, str]) -> None:
    site_dir, _ = site
    docs = sorted(DOCS.rglob("*.md"))
    assert len(docs) > 10 and DOCS / "api" / "tensor.md" in docs
    for doc in docs:
        title = next(line[2:].strip() for line in doc.read_text(encoding="utf-8").splitlines()
                     if line.startswith("# "))
        page = built_page(site_dir, doc)
        assert page.is_file(), f"{doc.relative_to(ROOT)} was not rendered"
        assert title.replace("`", "") in page_text(page), f"{doc.name}: its title is not on its page"


def test_tensor_reference_shows_backward_and_its_docstring(site: tuple[Path, str]) -> None:
    site_dir, _ = site
    page = built_page(site_dir, DOCS / "api" / "tensor.md")
    raw = page.read_text(encoding="utf-8")
    assert 'id="tinygrad_lite.tensor.Tensor.backward"' in raw
    # The first words of the docstring as it is now, so the test follows edits of the docstring.
    words = inspect.getdoc(tl.Tensor.backward).replace("`", "").split()[:8]
    assert len(words) == 8 and " ".join(words) in page_text(page)


def test_reference_pages_document_their_modules(site: tuple[Path, str]) -> None:
    site_dir, _ = site
    for doc in sorted((DOCS / "api").glob("*.md")):
        raw = built_page(site_dir, doc).read_text(encoding="utf-8")
        for module in re.findall(r"^::: +([\w.]+)", doc.read_text(encoding="utf-8"), re.MULTILINE):
            assert f'id="{module}"' in raw, f"{doc.name}: no section for {module}"
        assert ":::" not in page_text(built_page(site_dir, doc)), f"{doc.name}: a ::: line was left as text"


def test_reference_pages_show_no_restructuredtext_roles(site: tuple[Path, str]) -> None:
    site_dir, _ = site
    for page in sorted((site_dir / "api").glob("*.html")):
        text = page_text(page)
        assert not re.search(r":(func|class|meth|mod|data|attr|exc|obj):", text), page
        assert "~tinygrad_lite" not in text, page


def test_links_to_source_files_lead_to_the_api_reference(site: tuple[Path, str]) -> None:
    """On GitHub ../tinygrad_lite/engine.py opens the file; on the site it opens the module's API section."""
    site_dir, _ = site
    checked = 0
    for doc in sorted(DOCS.glob("*.md")):
        sources = _SOURCE_LINK.findall(doc.read_text(encoding="utf-8"))
        if not sources:
            continue
        page = built_page(site_dir, doc)
        hrefs = re.findall(r'href="([^"]+)"', page.read_text(encoding="utf-8"))
        assert not [h for h in hrefs if h.endswith(".py")], f"{doc.name} still links to a .py file"
        for source in sources:
            module = source.removeprefix("../").removesuffix(".py").replace("/", ".")
            # The module's own section, or its package's when the reference has none for the module itself.
            target = next((h for h in hrefs if "#" in h and (module + ".").startswith(h.split("#")[1] + ".")), None)
            assert target is not None, f"{doc.name}: no link to the reference of {module}"
            path, anchor = target.split("#")
            section = (page.parent / path).resolve()
            assert f'id="{anchor}"' in section.read_text(encoding="utf-8"), f"{target}: no such section"
            checked += 1
    assert checked, "no page links to a source file any more: this test checks nothing"


def test_site_works_from_the_file_system(site: tuple[Path, str]) -> None:
    """README says: open site/index.html. So every relative link of every page names a file that exists (a
    link to a directory, as mkdocs' default directory URLs write, would show a file listing)."""
    site_dir, _ = site
    pages = sorted(set(site_dir.rglob("*.html")) - {site_dir / "404.html"})  # a web server's page, root-relative
    assert site_dir / "index.html" in pages and site_dir / "api" / "tensor.html" in pages
    for page in pages:
        for href in re.findall(r'(?:href|src)="([^"#]+)', page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:|//", href):
                continue  # an absolute URL (a font, a polyfill, mailto:)
            assert (page.parent / href).resolve().is_file(), f"{page.relative_to(site_dir)}: {href} is no file"
