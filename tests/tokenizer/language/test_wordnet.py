"""vqct.tokenizer.language.wordnet: WordNet from nltk's data, Debian's files, apt, or a download."""

import contextlib
import gzip
import logging
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import nltk
import pytest

from vqct.tokenizer.language import wordnet as w

DEBIAN = Path("/usr/share/wordnet")


@pytest.fixture
def debian_files():
    """Debian's dict files; install_wordnet() installs them first where it may (root + apt)."""
    with contextlib.suppress(w.WordNetUnavailableError):
        w.install_wordnet()
    w._reset()
    if not all((DEBIAN / n).is_file() for n in w.DICT_FILES):
        pytest.skip("needs apt-get install wordnet-base wordnet-sense-index")


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """No cached reader, and whatever the module adds to nltk.data.path is undone afterwards."""
    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))
    w._reset()
    yield
    w._reset()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """nltk sees no data of its own; our cache lives in tmp_path/cache."""
    empty = tmp_path / "no_nltk_data"
    empty.mkdir()
    monkeypatch.setattr(nltk.data, "path", [str(empty)])
    monkeypatch.delenv("NLTK_DATA", raising=False)
    monkeypatch.setenv("VQCT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "nltk_data" / "corpora"


def test_lexnames_matches_wordnet_format():
    lines = w.LEXNAMES.splitlines()
    assert len(lines) == 45
    assert all(re.fullmatch(r"\d\d\t[a-z]+\.[A-Za-z]+\t[1-4]", line) for line in lines)
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1"
    assert lines[18] == "18\tnoun.person\t1" and lines[44] == "44\tadj.ppl\t3"
    man = Path("/usr/share/man/man5/lexnames.5WN.gz")
    if man.is_file():  # the table in lexnames(5WN), as wordnet-base ships it
        rows = re.findall(r"^(\d\d)\t(\S+)\s*\t", gzip.decompress(man.read_bytes()).decode(), re.M)
        assert [f"{n}\t{name}" for n, name in rows] == [line.rsplit("\t", 1)[0] for line in lines]


@pytest.mark.slow
def test_works_here():
    start = time.perf_counter()
    wn = w.ensure_wordnet()
    first = time.perf_counter() - start
    assert len(set(wn.all_lemma_names("a"))) > 20_000
    assert len(set(wn.all_lemma_names("n"))) > 100_000
    assert wn.morphy("dogs", "n") == "dog"
    assert wn.synsets("dog")[0].lexname() == "noun.animal"  # uses lexnames
    assert wn.lemma("dog.n.01.dog").count() > 0  # uses cntlist.rev
    start = time.perf_counter()
    assert w.ensure_wordnet() is wn
    assert time.perf_counter() - start < 0.01 < first
    # nltk's own lazy corpus (WordNetLemmatizer uses it) now finds WordNet too.
    assert nltk.stem.WordNetLemmatizer().lemmatize("geese") == "goose"
    nltk.corpus.wordnet._unload()  # its root leaves nltk.data.path with this test's monkeypatch


@pytest.mark.slow
def test_copies_debian_files_into_cache(debian_files, isolated, tmp_path, monkeypatch):
    monkeypatch.setenv("VQCT_WORDNET_DICT", str(DEBIAN))
    # nltk's path holds a WordNet that loads but is cut short: it must be passed over.
    broken = tmp_path / "no_nltk_data" / "corpora" / "wordnet"
    broken.mkdir(parents=True)
    for name in w.DICT_FILES:
        shutil.copyfile(DEBIAN / name, broken / name)
    (broken / "lexnames").write_text(w.LEXNAMES)
    with open(broken / "data.noun", "r+b") as f:
        f.truncate(100_000)
    old_umask = os.umask(0o002)  # group-writable files would make nltk refuse the copy
    try:
        wn = w.ensure_wordnet()
    finally:
        os.umask(old_umask)
    target = isolated / "wordnet"
    assert Path(wn.root.path) == target
    assert sorted(p.name for p in target.iterdir()) == sorted((*w.DICT_FILES, "lexnames"))
    assert (target / "lexnames").read_text() == w.LEXNAMES
    assert [p.name for p in isolated.iterdir()] == ["wordnet"]  # no partial copy left behind
    assert len(set(wn.all_lemma_names("a"))) > 20_000 and wn.morphy("dogs", "n") == "dog"
    assert wn.lemma("dog.n.01.dog").count() > 0
    assert nltk.data.path[0] == str(isolated.parent)  # before the broken copy

    # A later process reuses the copy, even once Debian's files are gone.
    w._reset()
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "no_such_dir")])
    monkeypatch.setenv("VQCT_WORDNET_DICT", str(tmp_path / "no_such_dir"))
    monkeypatch.setattr(w, "_copy", lambda *a: pytest.fail("copied again"))
    assert Path(w.ensure_wordnet().root.path) == target


def test_unavailable_error_names_every_fix(isolated, tmp_path, monkeypatch):
    monkeypatch.setenv("VQCT_WORDNET_DICT", str(tmp_path / "no_nltk_data"))
    downloads, installs = [], []
    monkeypatch.setattr(nltk, "download", lambda *a, **k: downloads.append(k) or False)
    monkeypatch.setattr(w, "_apt_install", lambda: installs.append(1))
    with pytest.raises(w.WordNetUnavailableError) as caught:
        w.ensure_wordnet()
    err = caught.value
    message = str(err)
    assert "nltk.download('wordnet')" in message
    assert "apt-get install wordnet-base wordnet-sense-index" in message
    assert "NLTK_DATA" in message and "corpora/wordnet" in message
    assert "*****" not in message  # nltk's LookupError banner is summarised, not pasted
    assert err.__suppress_context__ and err.__cause__ is None  # no nltk traceback chained
    assert installs == []  # finding WordNet never installs it
    assert downloads and Path(downloads[0]["download_dir"]) == isolated.parent
    assert not (isolated / "wordnet").exists()


@pytest.mark.slow
def test_half_written_cache_is_not_trusted(debian_files, isolated, monkeypatch):
    monkeypatch.setenv("VQCT_WORDNET_DICT", str(DEBIAN))
    monkeypatch.setattr(nltk, "download", lambda *a, **k: False)
    real_copy, copied = shutil.copyfile, []

    def interrupted(src, dst):  # Ctrl-C in the middle of the copy
        if len(copied) == 3:
            raise KeyboardInterrupt
        copied.append(dst)
        return real_copy(src, dst)

    monkeypatch.setattr(w.shutil, "copyfile", interrupted)
    with pytest.raises(KeyboardInterrupt):
        w.ensure_wordnet()
    assert list(isolated.iterdir()) == []  # neither a wordnet/ nor a partial folder
    monkeypatch.setattr(w.shutil, "copyfile", real_copy)

    # What a killed process leaves: an old partial copy, plus a wordnet/ missing files
    # (as a non-atomic copy would). A fresh partial may be another process's copy in flight.
    stale, live = isolated / f"{w._PARTIAL}dead", isolated / f"{w._PARTIAL}live"
    damaged = isolated / "wordnet"
    for folder in (stale, live, damaged):
        folder.mkdir()
        (folder / "lexnames").write_text(w.LEXNAMES)
        shutil.copyfile(DEBIAN / "index.noun", folder / "index.noun")
    os.utime(stale, (time.time() - 7200,) * 2)
    wn = w.ensure_wordnet()
    assert Path(wn.root.path) == damaged
    assert sorted(p.name for p in damaged.iterdir()) == sorted((*w.DICT_FILES, "lexnames"))
    assert not stale.exists() and live.exists()
    assert wn.morphy("dogs", "n") == "dog" and len(wn.synsets("run", "v")) > 10


def _fake_apt(monkeypatch, tmp_path, install_results):
    """Root with apt-get, whose `install` gives install_results in turn (True installs)."""
    fake_dict = tmp_path / "fake_debian_dict"
    fake_dict.mkdir()
    monkeypatch.setattr(w, "DEBIAN_DICT", fake_dict)
    monkeypatch.delenv("VQCT_WORDNET_DICT", raising=False)
    monkeypatch.setattr(w.os, "geteuid", lambda: 0)
    monkeypatch.setattr(w.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(nltk, "download", lambda *a, **k: False)
    commands, results = [], iter(install_results)

    def run(cmd, **kwargs):
        commands.append(" ".join(cmd))
        ok = cmd[1] == "update" or next(results)
        if cmd[1] == "install" and ok:
            for name in w.DICT_FILES:
                (fake_dict / name).write_text(f"{name}\n")
        return subprocess.CompletedProcess(cmd, 0 if ok else 100, "", "E: Unable to locate package")

    monkeypatch.setattr(w.subprocess, "run", run)
    return commands


def test_apt_install_updates_lists_and_retries_once(isolated, tmp_path, monkeypatch, caplog):
    commands = _fake_apt(monkeypatch, tmp_path, [False, True])
    real_load = w._load
    monkeypatch.setattr(w, "_load", lambda d: "reader" if d else real_load(d))  # fake files
    with caplog.at_level(logging.INFO, logger=w.__name__):
        assert w.install_wordnet() == "reader"
    install = "apt-get install -y -q --no-install-recommends wordnet-base wordnet-sense-index"
    assert commands == [install, "apt-get update -q", install]
    assert [r.getMessage() for r in caplog.records] == ["installing WordNet from Debian packages"]
    assert (isolated / "wordnet" / "lexnames").read_text() == w.LEXNAMES


def test_apt_failure_is_reported_not_raised(isolated, tmp_path, monkeypatch):
    commands = _fake_apt(monkeypatch, tmp_path, [False, False])
    with pytest.raises(w.WordNetUnavailableError) as caught:
        w.ensure_wordnet()
    assert commands == [] and "apt-get: " not in str(caught.value)  # finding never installs
    with pytest.raises(w.WordNetUnavailableError, match="apt-get install failed") as caught:
        w.install_wordnet()
    assert len(commands) == 3 and caught.value.__suppress_context__
