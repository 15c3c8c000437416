"""Sync in a constant number of git processes: concurrent clones, stale locks, paths and URLs, lost races.

Real clones of a real bare remote; the concurrent case runs real ``lanewarden``
processes side by side.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, git, lanewarden
from conftest import expect as _ok
from lanewarden.handoffs import sync
from lanewarden.handoffs.model import Action, Handoff, Status, Transition, handoff_id
from lanewarden.handoffs.queue import PREFIX, Queue
from lanewarden.handoffs.sync import MIRROR, mirror_of
from lanewarden.workers import refstore
from lanewarden.workers.git import Git


def _record(tag: str, n: int) -> Handoff:
    problem = f"finding {n} from {tag}"
    stamp = "2026-01-01T00:00:00+00:00"
    return Handoff(id=handoff_id("wallet-api", "contracts", (), problem, None), status=Status.OPEN,
                   source_worker="wallet-api", target_worker="contracts", routing_reason="test", problem=problem,
                   created_at=stamp, created_by="tester",
                   history=(Transition(who="tester", when=stamp, action=Action.CREATE),))


def _clones(repo: Path, tmp_path: Path, n: int) -> tuple[Path, list[Path]]:
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    clones = [tmp_path / f"clone{i}" for i in range(n)]
    for clone in clones:
        git(tmp_path, "clone", "-q", str(origin), str(clone))
    return origin, clones


def _ids(repo: Path) -> set[str]:
    return {line.split()[-1][len(PREFIX):] for line in git(repo, "for-each-ref", PREFIX).splitlines()}


def test_eight_clones_syncing_at_once_through_one_remote_lose_no_handoff(repo: Path, tmp_path: Path) -> None:
    origin, clones = _clones(repo, tmp_path, 8)
    made: set[str] = set()
    for i, clone in enumerate(clones):
        queue = Queue(Git.discover(clone))
        for n in range(5):
            made.add(queue.create(_record(f"clone{i}", n))[0].handoff.id)
    assert len(made) == 40
    procs = [subprocess.Popen([str(BIN / "lanewarden"), "handoffs", "sync", "origin", "--repo", str(clone)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for clone in clones]
    results = [(p.wait(), p.stdout.read().decode() if p.stdout else "", p.stderr.read().decode() if p.stderr else "")
               for p in procs]
    for code, out, err in results:
        assert code == 0, f"exit {code}\n{out}\n{err}"
    assert _ids(origin) == made  # every clone's handoffs reached the remote
    for clone in clones:
        _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(clone)))
        assert _ids(clone) == made
    assert not git(origin, "for-each-ref", "refs/lanewarden-push/")  # staging refs never leave a clone
    assert not git(clones[0], "for-each-ref", "refs/lanewarden-push/")  # and are removed after the push


def test_a_stale_lock_from_an_interrupted_sync_is_recovered(repo: Path, tmp_path: Path) -> None:
    _, (a, b) = _clones(repo, tmp_path, 2)
    hid = Queue(Git.discover(a)).create(_record("a", 1))[0].handoff.id
    _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(a)))
    # b was killed while git held the lock of the ref it was fetching.
    lock = b / ".git" / "refs" / "lanewarden" / "handoffs" / f"{hid}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    hour_ago = time.time() - 3600
    os.utime(lock, (hour_ago, hour_ago))
    result = _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(b)))
    assert "removed a stale lock on refs/lanewarden/handoffs/" + hid in result.stdout
    assert not lock.exists()
    assert hid in _ids(b)


def test_a_fresh_lock_is_left_alone_and_its_ref_reported_not_overwritten(repo: Path, tmp_path: Path) -> None:
    _, (a, b) = _clones(repo, tmp_path, 2)
    hid = Queue(Git.discover(a)).create(_record("a", 1))[0].handoff.id
    other = Queue(Git.discover(a)).create(_record("a", 2))[0].handoff.id
    _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(a)))
    lock = b / ".git" / "refs" / "lanewarden" / "handoffs" / f"{hid}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")  # as if another git process were updating it right now
    result = _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(b)), 2)
    assert f"handoffs/{hid}: changed locally during sync" in result.stderr
    assert "another git process may be updating it" in result.stdout
    assert lock.exists() and hid not in _ids(b)
    assert other in _ids(b)  # the rest of the batch still lands


def test_a_ref_that_lost_a_compare_and_swap_race_is_reported_not_overwritten(repo: Path) -> None:
    g = Git.discover(repo)
    head = g.head_commit()
    assert head is not None
    first = Queue(g).create(_record("x", 1))[0].commit
    second = Queue(g).create(_record("x", 2))[0].commit
    g.update_ref("refs/lanewarden/test/raced", first, None)  # another writer got there first
    outcome = refstore.update(g, [refstore.Update("refs/lanewarden/test/raced", second, None),
                                  refstore.Update("refs/lanewarden/test/free", second, None),
                                  refstore.Update("refs/lanewarden/test/stale", second, head)])
    assert [u.ref for u in outcome.done] == ["refs/lanewarden/test/free"]
    lost = {u.ref: why for u, why in outcome.lost}
    assert set(lost) == {"refs/lanewarden/test/raced", "refs/lanewarden/test/stale"}
    assert "changed meanwhile" in lost["refs/lanewarden/test/raced"]
    assert g.ref_value("refs/lanewarden/test/raced") == first  # not overwritten
    assert g.ref_value("refs/lanewarden/test/stale") is None
    assert g.ref_value("refs/lanewarden/test/free") == second


def test_a_path_and_a_url_work_as_remotes(repo: Path, tmp_path: Path) -> None:
    origin, (a, b) = _clones(repo, tmp_path, 2)
    hid = Queue(Git.discover(a)).create(_record("a", 1))[0].handoff.id
    _ok(lanewarden("handoffs", "sync", str(origin), "--repo", str(a)))
    assert hid in _ids(origin)
    url = origin.as_uri()
    _ok(lanewarden("handoffs", "sync", url, "--repo", str(b)))
    assert hid in _ids(b)
    # What landed is written once: no mirror copy of it, not even FETCH_HEAD (issue 20: sync at git's cost).
    assert not git(b, "for-each-ref", MIRROR)
    assert not (b / ".git" / "FETCH_HEAD").exists()
    assert mirror_of(url).startswith(MIRROR + "url-") and mirror_of(str(origin)) != mirror_of(url)
    assert mirror_of("origin") == MIRROR + "origin/"


def test_a_namespace_with_a_held_back_ref_pushes_only_the_chosen_ones(repo: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    origin, (a,) = _clones(repo, tmp_path, 1)
    g = Git.discover(a)
    made = {Queue(g).create(_record("a", n))[0].handoff.id for n in range(3)}
    blob = g.write_blob(b"not a record")
    g.update_ref(PREFIX + "f" * 20, blob, None)  # damaged: must never reach the remote
    monkeypatch.setattr(sync, "EXPLICIT", 0)  # force the staging path even for three refs
    result = _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(a)))
    assert "names no commit" in result.stdout
    assert _ids(origin) == made
    assert not git(a, "for-each-ref", "refs/lanewarden-push/")


def test_the_mirror_follows_the_remote_when_refs_vanish_there(repo: Path, tmp_path: Path) -> None:
    origin, (a, b) = _clones(repo, tmp_path, 2)
    hid = Queue(Git.discover(a)).create(_record("a", 1))[0].handoff.id
    _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(a)))
    _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(b)))
    git(origin, "update-ref", "-d", PREFIX + hid)  # the remote lost it (restored from an old backup, say)
    _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(b)))
    assert hid in _ids(origin)  # b's stale mirror did not make it think the remote still had it


def test_staging_refs_of_a_killed_sync_are_removed(repo: Path, tmp_path: Path) -> None:
    _, (a,) = _clones(repo, tmp_path, 1)
    g = Git.discover(a)
    commit = Queue(g).create(_record("a", 1))[0].commit
    dead = subprocess.Popen(["true"])
    dead.wait()  # a process id that no longer runs
    ref = f"refs/lanewarden-push/{dead.pid}-0badc0de/handoffs/{'e' * 20}"
    g.update_ref(ref, commit, None)
    result = _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(a)))
    assert f"staging ref(s) refs/lanewarden-push/{dead.pid}-0badc0de/ left by an interrupted sync" in result.stdout
    assert g.ref_value(ref) is None
