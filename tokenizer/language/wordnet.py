"""WordNet 3.0 for nltk, found where nltk keeps it or provisioned without nltk's servers: Debian's
``wordnet-base`` + ``wordnet-sense-index`` are copied into ``<cache>/nltk_data/corpora/wordnet``
(nltk reads only under its own roots) with the ``lexnames`` file Debian leaves out. Every failure
ends in one WordNetUnavailableError listing the fixes, never an nltk traceback.

Finding WordNet never changes the system. Installing Debian's packages is a separate, explicit
step (``install_wordnet``, ``vqct-language-codebook install-wordnet``; ``make setup`` runs
it)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nltk is imported where WordNet is read: a second of start-up for every command else
    from nltk.corpus.reader import WordNetCorpusReader

from vqct.common.cache import cache_dir
from vqct.common.errors import UserError

log = logging.getLogger(__name__)

DEBIAN_DICT = Path("/usr/share/wordnet")
APT_PACKAGES = ("wordnet-base", "wordnet-sense-index")
# What nltk's WordNetCorpusReader opens, bar lexnames: index.sense is in wordnet-sense-index,
# the rest in wordnet-base (cntlist.rev included, so Lemma.count() works).
DICT_FILES = tuple(
    """cntlist.rev index.sense index.adj index.adv index.noun index.verb data.adj
data.adv data.noun data.verb adj.exc adv.exc noun.exc verb.exc""".split()
)
# The 45 lexicographer files of lexnames(5WN), in file-number order. Debian documents the
# lexnames file but does not ship it, and nltk will not load WordNet without it.
_LEXFILES = """adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute
noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group
noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession
noun.process noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body
verb.change verb.cognition verb.communication verb.competition verb.consumption verb.contact
verb.creation verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative
verb.weather adj.ppl""".split()
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}  # lexnames(5WN) syntactic categories
LEXNAMES = "".join(f"{i:02d}\t{n}\t{_CATEGORY[n.split('.')[0]]}\n" for i, n in enumerate(_LEXFILES))
_PROBES = (("dog", "n"), ("run", "v"), ("good", "a"), ("well", "r"))
_PARTIAL = ".wordnet-partial-"  # prefix of an unfinished copy: never a name nltk looks up
_FIXES = """Fix it one of these ways:
  1. with a network: python -c "import nltk; nltk.download('wordnet')"
  2. as root: vqct-language-codebook install-wordnet
     (apt-get install wordnet-base wordnet-sense-index; this toolkit then makes them readable by nltk)
  3. point NLTK_DATA at a folder that holds corpora/wordnet"""
_lock = threading.Lock()
_cached: tuple[WordNetCorpusReader, Path | None] | None = None


class WordNetUnavailableError(UserError, RuntimeError):
    """WordNet could not be found or provisioned; the message lists every way to fix it."""


def ensure_wordnet() -> WordNetCorpusReader:
    """A working WordNet reader: nltk's data, else a copy of Debian's files, else a download.
    Installs nothing (``install_wordnet`` does, when asked)."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = _provide()
        reader, data_dir = _cached
        if data_dir is not None:  # nltk re-checks every file open against nltk.data.path
            _add_path(data_dir)
        return reader


def install_wordnet() -> WordNetCorpusReader:
    """The explicit opt-in: where WordNet cannot be found, install Debian's packages with apt-get
    (as root), then provide it as ``ensure_wordnet`` does."""
    try:
        return ensure_wordnet()
    except WordNetUnavailableError:
        pass
    try:
        _apt_install()
    except Exception as exc:  # not root, no apt-get, or apt failed: one line, then the fixes
        text = " ".join(str(exc).split())
        raise WordNetUnavailableError(
            f"WordNet could not be installed: {type(exc).__name__}: {text}\n{_FIXES}"
        ) from None
    _reset()
    return ensure_wordnet()


def _reset() -> None:  # for tests
    global _cached
    _cached = None


def _provide() -> tuple[WordNetCorpusReader, Path | None]:
    problems: list[str] = []

    def attempt(label, step):
        try:
            return step()
        except Exception as exc:  # nltk fails in many shapes; each becomes one line of the error
            text = " ".join(str(exc).replace("[nltk_data]", "").split())
            problems.append(f"{label}: {type(exc).__name__}: {text[:240]}")

    if (reader := attempt("nltk.data.path", lambda: _load(None))) is not None:
        return reader, None
    data_dir = cache_dir() / "nltk_data"
    dict_dir = Path(os.environ.get("VQCT_WORDNET_DICT") or DEBIAN_DICT)
    reader = attempt(f"copy of {dict_dir}", lambda: _from_dict(dict_dir, data_dir))
    if reader is None:
        reader = attempt("nltk.download", lambda: _download(data_dir))
    if reader is None:
        tried = "".join(f"\n  - {p}" for p in problems)
        raise WordNetUnavailableError(f"WordNet is unavailable. Tried:{tried}\n{_FIXES}") from None
    return reader, data_dir


def _load(data_dir: Path | None) -> WordNetCorpusReader:
    import nltk
    from nltk.corpus.reader import CorpusReader, WordNetCorpusReader
    from nltk.corpus.util import LazyCorpusLoader

    paths = nltk.data.path if data_dir is None else [str(data_dir)]
    try:
        root = nltk.data.find("corpora/wordnet", paths=paths)
    except LookupError:  # nltk's own text is a 20-line banner about its downloader
        raise LookupError(f"no corpora/wordnet in {paths}") from None
    # The Open Multilingual WordNet hook nltk.corpus.wordnet gets too (only read when used).
    omw = LazyCorpusLoader("omw-2.0", CorpusReader, r".*/wn-data-.*\.tab", encoding="utf8")
    reader = WordNetCorpusReader(root, omw)
    # data.* open lazily and a cut-short one just yields None synsets (and warns): probe each.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = [reader.synsets(word, pos) for word, pos in _PROBES]
        if not all(synsets and None not in synsets for synsets in found):
            raise OSError(f"{root} is damaged: no synsets for some of {_PROBES}")
    return reader


def _add_path(data_dir: Path) -> None:
    import nltk

    # First, so no broken corpora/wordnet shadows ours (nltk's reader re-finds it while loading).
    if str(data_dir) not in nltk.data.path:
        nltk.data.path.insert(0, str(data_dir))


def _private_dirs(data_dir: Path) -> Path:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    for folder in (data_dir, data_dir / "corpora"):  # 0700 whatever the umask: nltk ignores
        folder.mkdir(mode=0o700, exist_ok=True)  # data dirs that group or others can write
    _add_path(data_dir)
    return data_dir / "corpora"


def _complete(folder: Path, names=DICT_FILES) -> bool:
    return all((folder / n).is_file() and (folder / n).stat().st_size > 0 for n in names)


def _from_dict(dict_dir: Path, data_dir: Path) -> WordNetCorpusReader:
    corpora = _private_dirs(data_dir)
    target = corpora / "wordnet"
    for partial in corpora.glob(_PARTIAL + "*"):  # left by a killed process
        with contextlib.suppress(OSError):  # another process may be removing it too
            if time.time() - partial.stat().st_mtime > 3600:  # a copy takes < 1 s: owner died
                shutil.rmtree(partial)
    if target.is_dir() and not _complete(target, (*DICT_FILES, "lexnames")):
        shutil.rmtree(target)  # our own folder, damaged by hand or by an older non-atomic copy
    if not target.is_dir() and not (corpora / "wordnet.zip").is_file():
        if missing := [n for n in DICT_FILES if not (dict_dir / n).is_file()]:
            raise FileNotFoundError(f"{dict_dir} lacks {' '.join(missing)}")
        _copy(dict_dir, target)
    return _load(data_dir)


def _copy(dict_dir: Path, target: Path) -> None:
    # Build beside the target, then rename: a crash leaves a _PARTIAL folder, never a half wordnet/.
    tmp = Path(tempfile.mkdtemp(prefix=_PARTIAL, dir=target.parent))  # mode 0700
    try:
        for name in DICT_FILES:
            shutil.copyfile(dict_dir / name, tmp / name)  # copies: nltk rejects symlinks out
        (tmp / "lexnames").write_text(LEXNAMES)
        for f in tmp.iterdir():
            f.chmod(0o644)  # never group-writable whatever the umask, or nltk refuses them
        try:
            tmp.rename(target)
        except OSError:  # another process finished first; fine if its copy is whole
            if not _complete(target, (*DICT_FILES, "lexnames")):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # no-op once renamed


def _apt_install() -> bool:
    if getattr(os, "geteuid", lambda: -1)() != 0:
        raise PermissionError("not root, so apt-get install was not tried")
    if shutil.which("apt-get") is None:
        raise FileNotFoundError("no apt-get on this system")
    log.warning("installing WordNet from Debian packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Without recommends: they would add the wordnet CLI and a Tk GUI nltk never uses.
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:  # usually empty or stale package lists (fresh container images)
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=900)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"apt-get install failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return True


def _download(data_dir: Path) -> WordNetCorpusReader:
    _private_dirs(data_dir)
    import nltk

    errors = io.StringIO()  # nltk prints its error to stderr even when quiet=True
    if not nltk.download("wordnet", download_dir=str(data_dir), quiet=True, print_error_to=errors):
        raise ConnectionError(errors.getvalue().strip() or "nltk.download returned False")
    return _load(data_dir)
