"""CODEOWNERS import: every path gets the owner GitHub would give it, or the line is reported.

The reference evaluates CODEOWNERS directly: each line's pattern through
pathspec's gitignore translation (GitHub's one documented difference applied:
a final lone ``*`` owns direct entries only), last match wins. lanewarden's
answer is what its ownership index says about the generated draft.
"""
from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import pytest
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from conftest import git, lanewarden
from lanewarden.orchestrator.adoption.codeowners import Lane, import_codeowners, name_lanes, translate
from lanewarden.orchestrator.adoption.draft import validate
from lanewarden.orchestrator.adoption.proposal import from_codeowners
from lanewarden.workers.ownership import OwnershipIndex
from lanewarden.workers.policy import Policy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_codeowners import generate_codeowners, generate_paths

_CARRY = "(?:(?P<ps_d>/)|$)"

TRICKY = """\
# defaults first
*       @org/default
*.js    @org/js
docs/*  docs@example.com
/build/logs/ @doctocat
**/logs @org/logs
/apps/ @octocat
/apps/github
/scripts/ @org/infra @org/default
docs/ @org/docs2
/services/a/ @team-a
*.md @org/docs
/services/a/docs/ @team-a
/ONE_FILE.txt @Org/Default
!negated @x
[Ss]rc/ @x
\\#hash @x
/src/foo**/x @x
/x/ not-an-owner
[Backend]
/y?z/ @org/js
"""
TRICKY_PATHS = [
    "a.js", "x/y/z.js", "a.js/b", "docs/a.md", "docs/a/b.md", "docs/index.js", "docs", "q/docs/r/s", "q/docs/t",
    "x/docs/a/b.md", "build/logs/x", "build/logs/a/b", "a/build/logs/x", "logs", "logs/a", "a/logs", "a/b/logs/c",
    "apps/x", "apps/github", "apps/github/x", "apps/githubx/y", "scripts/s.sh", "scripts/docs/x.md",
    "services/a/x.py", "services/a/x.md", "services/a/docs/y.md", "services/a/docs/z.js", "services/b/x.md",
    "README.md", "ONE_FILE.txt", "ONE_FILE.txt/x", "yaz/q", "src/foo1/x", "x/y", "negated", "Src/a",
]


def github_regex(raw: str) -> re.Pattern[str]:
    regex, _ = GitIgnoreSpecPattern.pattern_to_regex(raw)
    assert isinstance(regex, str)
    if not raw.endswith("/") and raw.rsplit("/", 1)[-1] == "*" and regex.endswith(_CARRY):
        regex = regex[: -len(_CARRY)] + "$"  # GitHub: 'docs/*' does not own 'docs/a/b'
    return re.compile(regex)


def draft_policy(text: str) -> tuple[Policy, OwnershipIndex, list[tuple[tuple[str, ...], re.Pattern[str]]]]:
    imported = import_codeowners(text, "CODEOWNERS")
    policy = validate(from_codeowners(imported, set()), "lanewarden.yaml")
    # The reference reads the raw lines lanewarden translated, newest first.
    reference = [(r.owners, github_regex(r.text.split()[0])) for r in reversed(imported.rules)]
    return policy, OwnershipIndex(policy), reference


def assert_same_owners(text: str, paths: list[str]) -> None:
    policy, index, reference = draft_policy(text)
    wrong = []
    for path in paths:
        want = next((owners for owners, rx in reference if rx.match(path)), ())
        exp = index.explain(path)
        writers = {(policy.workers[w].description or "").lower() for w in exp.writers}
        if not want:
            ok = exp.owner == "root" and not exp.writers
        else:
            ok = writers == set(want) and (policy.workers[exp.owner].description or "").lower() in want
        if not ok:
            wrong.append(f"{path}: CODEOWNERS {want}, lanewarden owner {exp.owner} writers {exp.writers} ({exp.rule})")
    assert not wrong, "\n".join(wrong[:20])


@pytest.mark.parametrize(("raw", "patterns"), [
    ("*", ("**",)),
    ("**", ("**",)),
    ("/*", ("*",)),
    ("docs/*", ("docs/*",)),
    ("docs/", ("**/docs/**",)),
    ("/docs/", ("docs/**",)),
    ("/build/logs/", ("build/logs/**",)),
    ("/build/logs", ("build/logs",)),
    ("build/logs", ("build/logs",)),
    ("**/logs", ("**/logs", "**/logs/**")),
    ("logs", ("**/logs", "**/logs/**")),
    ("*.js", ("**/*.js", "**/*.js/**")),
    ("/a/**/b", ("a/**/b", "a/**/b/**")),
    ("/a/**", ("a/**",)),
    ("*/", ("**/*/**",)),
])
def test_translation_of_each_pattern_shape(raw: str, patterns: tuple[str, ...]) -> None:
    assert translate(raw) == (patterns, None)


@pytest.mark.parametrize(("raw", "reason"), [
    ("!x", "negation"), ("[Ss]rc", "character ranges"), ("\\#x", "escapes"), ("a/***", "'***'"),
    ("/", "matches no file"), ("foo/**/", "trailing '**/'"), ("/src/foo**/x", "'**' must be a whole"),
    ("/a/.git/", "'.git' components"), ("/a/../b", "'..' components"),
])
def test_untranslatable_patterns_say_why(raw: str, reason: str) -> None:
    patterns, why = translate(raw)
    assert patterns == () and why is not None and reason in why


def test_tricky_file_gives_every_path_the_codeowners_owner() -> None:
    assert_same_owners(TRICKY, TRICKY_PATHS)


def test_tricky_file_reports_each_untranslated_line_with_its_reason() -> None:
    imported = import_codeowners(TRICKY, "CODEOWNERS")
    skipped = {i.line: i.reason for i in imported.skipped}
    assert set(skipped) == {15, 16, 17, 18, 19, 20}
    assert "negation" in skipped[15] and "character ranges" in skipped[16] and "escapes" in skipped[17]
    assert "foo**" in skipped[18] and "not-an-owner" in skipped[19] and "GitLab section" in skipped[20]
    notes = {i.line: i.reason for i in imported.issues if i.kind == "note"}
    assert "several owners" in notes[9] and "one byte" in notes[21]


def test_later_lines_become_carve_outs_and_owners_regain_paths_in_a_second_lane() -> None:
    policy, _, _ = draft_policy(TRICKY)
    team_a = policy.workers["team-a"]
    assert team_a.allow == ("services/a/**",)
    assert "services/a/docs/**" in team_a.deny  # line 13 gives services/a/docs/ back to @team-a ...
    assert policy.workers["team-a.2"].allow == ("services/a/docs/**",)  # ... through its second lane
    assert policy.workers["team-a.2"].description == "@team-a"
    assert "apps/github" in policy.workers["octocat"].deny  # a line without owners un-owns
    assert policy.workers["default"].description == "@org/default"  # first spelling kept
    assert "ONE_FILE.txt" in policy.workers["default.3"].allow or any(
        "ONE_FILE.txt" in w.allow for w in policy.workers.values() if w.description == "@org/default")


def test_worker_ids_are_valid_deterministic_and_keep_the_owner() -> None:
    lanes = [Lane(o, 1) for o in ("@org/team-name", "user@example.com", "@alice", "@other/team-name",
                                  "@root", "alice@example.org")]
    name_lanes(lanes, {"root"})
    ids = {lane.owner: lane.worker_id for lane in lanes}
    assert ids == {"@org/team-name": "org-team-name", "@other/team-name": "other-team-name",
                   "user@example.com": "user", "@alice": "alice", "alice@example.org": "alice-example.org",
                   "@root": "root-2"}
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", i) for i in ids.values())


def test_a_large_real_world_shaped_codeowners_routes_exactly() -> None:
    text, components = generate_codeowners(3000, seed=21, teams=60)
    assert sum(1 for ln in text.splitlines() if ln.strip() and not ln.startswith("#")) >= 3000
    paths = generate_paths(components, 2500, seed=5)
    rng = random.Random(4)
    # Paths that stress the globs: folders named like files, nested logs and docs, the root.
    paths += [f"{rng.choice(components)}/{x}" for x in ("a.snap/b", "x/docs/y", "migrations/m/1.sql",
                                                        "vendor/v/w.go", "Dockerfile", "deploy/x.md")]
    paths += ["x.snap", "docs/a/b.md", "docs/a.md", ".github/CODEOWNERS", "Dockerfile", "a/b/Dockerfile/c"]
    assert_same_owners(text, paths)
    imported = import_codeowners(text, "CODEOWNERS")
    assert [i.line for i in imported.skipped] == [n for n, ln in enumerate(text.splitlines(), 1)
                                                  if ln.startswith(("!", "/services/[", "\\"))]


@pytest.fixture
def owned_repo(make_repo) -> Path:  # type: ignore[no-untyped-def]
    repo: Path = make_repo("wallet-platform")
    (repo / "lanewarden.yaml").unlink()
    (repo / ".github").mkdir()
    (repo / ".github" / "CODEOWNERS").write_text(
        "* @acme/platform\n/services/wallet-api/ @acme/wallet\n/services/kms-api/ kms@acme.example\n"
        "/contracts/ @acme/api-council\n*.md @acme/docs\n!/services/hd-manager/ @acme/hd\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "codeowners")
    return repo


def test_cli_import_writes_a_checked_draft_and_lists_untranslated_lines(owned_repo: Path) -> None:
    result = lanewarden("init", "--repo", str(owned_repo), "--from-codeowners", "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["written"] and report["draft"]["source"] == ".github/CODEOWNERS"
    assert [(i["line"], i["kind"]) for i in report["draft"]["issues"]] == [(6, "skipped")]
    assert {w["id"]: w["owner"] for w in report["draft"]["workers"]} == {
        "platform": "@acme/platform", "wallet": "@acme/wallet", "kms": "kms@acme.example",
        "api-council": "@acme/api-council", "docs": "@acme/docs"}
    check = lanewarden("policy", "check", "--repo", str(owned_repo))
    assert check.exit_code == 0, check.stdout + check.stderr
    explained = lanewarden("explain", "--repo", str(owned_repo), "--format", "json",
                          "services/wallet-api/README.md", "services/wallet-api/src/wallet_api/app.py")
    owners = [json.loads(line)["owner"] for line in explained.stdout.splitlines()]
    assert owners == ["docs", "wallet"]  # *.md comes later than /services/wallet-api/: it wins
    text = lanewarden("init", "--repo", str(owned_repo), "--from-codeowners")
    assert text.exit_code == 2 and "already exists" in text.stderr  # never overwritten without --force


def test_cli_import_names_a_missing_or_unreadable_file(repo: Path) -> None:
    missing = lanewarden("init", "--repo", str(repo), "--from-codeowners", "--force")
    assert missing.exit_code == 2 and "no CODEOWNERS file" in missing.stderr and "tip:" in missing.stderr
    (repo / "CODEOWNERS").write_bytes(b"* @a\n/x/ \xff@b\n")
    bad = lanewarden("init", "--repo", str(repo), "--from-codeowners", str(repo / "CODEOWNERS"), "--force")
    assert bad.exit_code == 2 and "CODEOWNERS:2: not UTF-8" in bad.stderr
