"""Fetch the English sentiment training sentences at install time (``make setup``).

cxloop's English sentiment model is trained at first use on the 23,703
human-rated sentences that Hutto & Gilbert published with VADER (MIT). They
are in the ``vaderSentiment`` source distribution on PyPI, not in its wheel,
so the setup command downloads that sdist, checks its hash, and writes the
sentences to ``src/cxloop/text/data/vader_ground_truth.tsv.gz`` (ignored by
git: nothing written elsewhere is kept in the repository). Nothing is fetched
at run time. See src/cxloop/text/data/NOTICE.md for provenance and licence.

    python scripts/fetch_text_data.py [--force]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "3.3.2"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER = f"vaderSentiment-{VERSION}/additional_resources/hutto_ICWSM_2014.tar.gz"
INNER_SHA256 = "d5bb07d87474b3eb8d30b4deccbc23f19d742a6c5718fbacc65485b70b95c5fa"
SETS = (
    ("tweets", "tweets_GroundTruth.txt"),
    ("amazon", "amazonReviewSnippets_GroundTruth.txt"),
    ("movies", "movieReviewSnippets_GroundTruth.txt"),
    ("nyt", "nytEditorialSnippets_GroundTruth.txt"),
)
TARGET = Path(__file__).resolve().parent.parent / "src/cxloop/text/data/vader_ground_truth.tsv.gz"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download(folder: Path) -> bytes:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"vaderSentiment=={VERSION}",
            "-d",
            str(folder),
        ],
        check=True,
    )
    return (folder / f"vaderSentiment-{VERSION}.tar.gz").read_bytes()


def sentences(sdist: bytes) -> str:
    if _sha256(sdist) != SDIST_SHA256:
        raise SystemExit("vaderSentiment sdist: unexpected sha256, refusing to use it")
    with tarfile.open(fileobj=io.BytesIO(sdist)) as outer:
        member = outer.extractfile(INNER)
        assert member is not None
        inner = member.read()
    if _sha256(inner) != INNER_SHA256:
        raise SystemExit(f"{INNER}: unexpected sha256, refusing to use it")
    lines: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(inner)) as corpus:
        for name, file_name in SETS:
            member = corpus.extractfile(f"hutto_ICWSM_2014/{file_name}")
            assert member is not None
            for raw in member.read().decode("utf-8").splitlines():
                parts = raw.split("\t", 2)
                if len(parts) != 3:
                    continue
                text = re.sub(r"\s+", " ", parts[2]).strip()
                if text:
                    lines.append(f"{name}\t{float(parts[1]):.3f}\t{text}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="fetch again even if the file is there")
    args = parser.parse_args()
    if TARGET.exists() and not args.force:
        return
    with tempfile.TemporaryDirectory() as folder:
        text = sentences(_download(Path(folder)))
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    partial = TARGET.with_suffix(".partial")
    with gzip.GzipFile(partial, "wb", mtime=0) as out:
        out.write(text.encode("utf-8"))
    partial.replace(TARGET)
    print(f"wrote {TARGET.relative_to(TARGET.parents[4])}: {text.count(chr(10))} sentences")


if __name__ == "__main__":
    main()
