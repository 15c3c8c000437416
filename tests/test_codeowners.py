"""CODEOWNERS as ordered ownership rules: every path gets the owner GitHub (or GitLab) would give it.

The reference below evaluates CODEOWNERS directly and independently of
lanewarden's matcher and of pathspec: gitignore rules written out as regular
expressions here (``*`` and ``?`` never cross ``/``, ``**`` spans folders, a
slash at the start or in the middle anchors, a trailing slash owns folders
only, a pattern owns a path when it matches the path or one of its folders;
GitHub's one documented difference: a final lone ``*`` owns direct entries
only), last match wins. lanewarden's answer is what ``explain`` says about the
generated draft.
"""
from __future__ import annotations

import functools
import json
import random
import re
import sys
from pathlib import Path

import pytest

from conftest import git, lanewarden
from lanewarden.orchestrator.adoption.codeowners import SKIP_MARK, import_codeowners, name_workers
from lanewarden.orchestrator.adoption.draft import validate
from lanewarden.orchestrator.adoption.proposal import from_codeowners
from lanewarden.workers.codeowners import translate, translate_gitlab
from lanewarden.workers.ownership import OwnershipIndex, PathClass
from lanewarden.workers.policy import Policy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_codeowners import generate_codeowners, generate_nuttx, generate_paths


def _glob(body: str) -> str:
    out = []
    parts = body.split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        out.append("".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in part))
        if not last:
            out.append("/")
    return "".join(out)


class Reference:
    """One CODEOWNERS line as GitHub documents it, matched with ``re`` only."""

    def __init__(self, raw: str) -> None:
        self.dir_only = raw.endswith("/")
        body = raw.strip("/") if raw.startswith("/") else raw.rstrip("/")
        anchored = raw.startswith("/") or "/" in body
        self.lone_star = not self.dir_only and body.split("/")[-1] == "*"
        self.rx = re.compile(("" if anchored else "(?:[^/]*/)*") + _glob(body))

    def owns(self, path: str) -> bool:
        parts = path.split("/")
        folders = ["/".join(parts[:i]) for i in range(1, len(parts))]
        if self.lone_star:
            return self.rx.fullmatch(path) is not None
        candidates = folders if self.dir_only else [*folders, path]
        return any(self.rx.fullmatch(c) for c in candidates)


@functools.cache
def _reference_rules(text: str, skipped: frozenset[int]) -> list[tuple[Reference, tuple[str, ...]]]:
    rules = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if tokens and not tokens[0].startswith("#") and number not in skipped:
            rules.append((Reference(tokens[0]), tuple(o.lower() for o in tokens[1:])))
    return rules


def reference_owners(text: str, path: str, skipped: set[int]) -> tuple[str, ...]:
    """GitHub's answer: the last line (GitHub also skips the lines lanewarden reports) that owns the path.
    Every line is checked for every path: slow on purpose, nothing shared with the index."""
    found: tuple[str, ...] = ()
    for rule, owners in _reference_rules(text, frozenset(skipped)):
        if rule.owns(path):
            found = owners
    return found


def draft_policy(text: str, source: str = "CODEOWNERS") -> tuple[Policy, OwnershipIndex, set[int]]:
    imported = import_codeowners(text, source)
    policy = validate(from_codeowners(imported, set()), "lanewarden.yaml")
    return policy, OwnershipIndex(policy), {i.line for i in imported.skipped}


def assert_same_owners(text: str, paths: list[str]) -> None:
    policy, index, skipped = draft_policy(text)
    wrong = []
    for path in paths:
        want = reference_owners(text, path, skipped)
        exp = index.explain(path)
        writers = {(policy.workers[w].description or "").lower() for w in exp.writers}
        if not want:
            ok = exp.owner == "root" and not exp.writers
        else:
            ok = writers == set(want) and (policy.workers[exp.owner].description or "").lower() == want[0]
        if not ok:
            wrong.append(f"{path}: CODEOWNERS {want}, lanewarden owner {exp.owner} writers {exp.writers} ({exp.rule})")
    assert not wrong, "\n".join(wrong[:20])


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
/y?z/ @org/js
"""
TRICKY_PATHS = [
    "a.js", "x/y/z.js", "a.js/b", "docs/a.md", "docs/a/b.md", "docs/index.js", "docs", "q/docs/r/s", "q/docs/t",
    "x/docs/a/b.md", "build/logs/x", "build/logs/a/b", "a/build/logs/x", "logs", "logs/a", "a/logs", "a/b/logs/c",
    "apps/x", "apps/github", "apps/github/x", "apps/githubx/y", "scripts/s.sh", "scripts/docs/x.md",
    "services/a/x.py", "services/a/x.md", "services/a/docs/y.md", "services/a/docs/z.js", "services/b/x.md",
    "README.md", "ONE_FILE.txt", "ONE_FILE.txt/x", "yaz/q", "src/foo1/x", "x/y", "negated", "Src/a",
]


@pytest.mark.parametrize(("raw", "patterns"), [
    ("*", ("**",)), ("**", ("**",)), ("/*", ("*",)), ("docs/*", ("docs/*",)), ("docs/", ("**/docs/**",)),
    ("/docs/", ("docs/**",)), ("/build/logs/", ("build/logs/**",)), ("/build/logs", ("build/logs",)),
    ("build/logs", ("build/logs",)), ("**/logs", ("**/logs", "**/logs/**")), ("logs", ("**/logs", "**/logs/**")),
    ("*.js", ("**/*.js", "**/*.js/**")), ("/a/**/b", ("a/**/b", "a/**/b/**")), ("/a/**", ("a/**",)),
    ("*/", ("**/*/**",)), ("/src/d1/f.c", ("src/d1/f.c",)),
])
def test_translation_of_each_pattern_shape(raw: str, patterns: tuple[str, ...]) -> None:
    assert translate(raw) == (patterns, None)


@pytest.mark.parametrize(("raw", "reason"), [
    ("!x", "negation"), ("[Ss]rc", "character ranges"), ("\\#x", "escapes"), ("a/***", "'***'"),
    ("/", "matches no file"), ("foo/**/", "trailing '**/'"), ("/src/foo**/x", "'**' must be a whole"),
    ("/a/.git/", "'.git' components"), ("/a/../b", "'..' components"), ("/a/./b", "'.' components"),
])
def test_untranslatable_patterns_say_why(raw: str, reason: str) -> None:
    patterns, why = translate(raw)
    assert patterns == () and why is not None and reason in why


def test_tricky_file_gives_every_path_the_codeowners_owner() -> None:
    assert_same_owners(TRICKY, TRICKY_PATHS)


def test_tricky_file_reports_each_untranslated_line_with_its_reason() -> None:
    imported = import_codeowners(TRICKY, "CODEOWNERS")
    assert imported.flavour == "github"
    skipped = {i.line: i.reason for i in imported.skipped}
    assert set(skipped) == {15, 16, 17, 18, 19}
    assert "negation" in skipped[15] and "character ranges" in skipped[16] and "escapes" in skipped[17]
    assert "foo**" in skipped[18] and "not-an-owner" in skipped[19]
    assert all("GitHub skips this line" in skipped[n] for n in (15, 16, 17, 19))
    notes = {i.line: i.reason for i in imported.issues if i.kind == "note"}
    assert "several owners" in notes[9] and "one byte" in notes[20]
    # The policy keeps the file line for line; skipped lines are commented out, so numbers stay.
    kept = imported.text.splitlines()
    assert len(kept) == len(TRICKY.splitlines()) and kept[14] == SKIP_MARK + "!negated @x"


def test_explain_names_the_deciding_codeowners_line_and_an_unowning_line() -> None:
    _, index, _ = draft_policy(TRICKY, ".github/CODEOWNERS")
    exp = index.explain("services/a/docs/y.md")
    assert exp.owner == "team-a" and exp.rule == "ownership .github/CODEOWNERS:13 '/services/a/docs/'"
    unowned = index.explain("apps/github/x")
    assert unowned.owner == "root" and ".github/CODEOWNERS:8 '/apps/github'" in unowned.rule
    assert index.explain("scripts/s.sh").writers == ("default", "infra")
    assert index.explain("scripts/s.sh").owner == "infra"  # the first owner written on the line routes


def test_worker_ids_are_valid_deterministic_and_keep_the_owner() -> None:
    ids = name_workers(["@org/team-name", "user@example.com", "@alice", "@other/team-name", "@root",
                        "alice@example.org", "@group/sub/deep", "@@developer", "@john.smith"], {"root"})
    assert ids == {"@org/team-name": "org-team-name", "@other/team-name": "other-team-name",
                   "user@example.com": "user", "@alice": "alice", "alice@example.org": "alice-example.org",
                   "@root": "root-2", "@group/sub/deep": "deep", "@@developer": "developer",
                   "@john.smith": "john.smith"}
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", i) for i in ids.values())


_COMPONENTS = ("a", "b", "docs", "logs", "x.md", "src", "lib", "y.js")
_SHAPES = ("{p}", "/{p}", "{p}/", "/{p}/", "/{p}/*", "{p}/*", "*.md", "*.js", "/{p}/**", "**/{p}", "/{p}/**/{q}",
           "*", "{q}?", "/{p}/*.md")


def _random_codeowners(rng: random.Random, lines: int) -> str:
    out = []
    for _ in range(lines):
        depth = rng.randrange(1, 3)
        p = "/".join(rng.choice(_COMPONENTS) for _ in range(depth))
        shape = rng.choice(_SHAPES).format(p=p, q=rng.choice(_COMPONENTS))
        owners = " ".join(f"@team{rng.randrange(6)}" for _ in range(rng.choice((0, 1, 1, 1, 2))))
        out.append(f"{shape} {owners}".rstrip())
    return "\n".join(out) + "\n"


def test_differential_ordered_rules_against_an_independent_github_reference() -> None:
    rng = random.Random(1616)
    paths = sorted({"/".join(rng.choice(_COMPONENTS) for _ in range(rng.randrange(1, 5))) for _ in range(400)})
    for _ in range(40):
        assert_same_owners(_random_codeowners(rng, rng.randrange(3, 30)), paths)


def test_a_large_real_world_shaped_codeowners_routes_exactly() -> None:
    text, components = generate_codeowners(3000, seed=21, teams=60)
    paths = generate_paths(components, 500, seed=5)
    rng = random.Random(4)
    paths += [f"{rng.choice(components)}/{x}" for x in ("a.snap/b", "x/docs/y", "migrations/m/1.sql",
                                                        "vendor/v/w.go", "Dockerfile", "deploy/x.md")]
    paths += ["x.snap", "docs/a/b.md", "docs/a.md", ".github/CODEOWNERS", "Dockerfile", "a/b/Dockerfile/c"]
    assert_same_owners(text, paths)


def test_nuttx_shaped_codeowners_imports_one_rule_per_line_with_a_linear_draft() -> None:
    # apache/nuttx: early unanchored rules with five owners, then one literal line per file.
    drafts = []
    for rules in (4000, 16_000):
        text, tracked = generate_nuttx(rules, int(rules * 1.6))
        imported = import_codeowners(text, ".github/CODEOWNERS")
        draft = from_codeowners(imported, set())
        policy = validate(draft, "lanewarden.yaml")
        assert len(imported.parsed.rules) >= rules - 10
        drafts.append((len(text), len(draft)))
    (small_in, small_out), (big_in, big_out) = drafts
    assert big_out < 1.5 * big_in  # the file itself plus a line per owner
    assert big_out / big_in < 1.2 * small_out / small_in  # linear: no carve-outs multiplying
    index = OwnershipIndex(policy)
    skipped = {i.line for i in imported.skipped}
    sample = [*random.Random(7).sample(tracked, 60), "AUTHORS", "x/AUTHORS", "README.md", "tools/t1.py"]
    for path in sample:
        want = reference_owners(text, path, skipped)
        exp = index.explain(path)
        got = {(policy.workers[w].description or "").lower() for w in exp.writers}
        assert got == set(want), (path, want, exp)


def test_a_minimal_square_shape_stays_small() -> None:
    # The issue's reproduction: one early unanchored rule with six owners, then 34,000 literal lines.
    text = "README @a @b @c @d @e @f\n" + "".join(f"/src/d{k // 100}/f{k}.c @g\n" for k in range(34_000))
    imported = import_codeowners(text, "CODEOWNERS")
    draft = from_codeowners(imported, set())
    assert len(draft) < 2 * len(text)
    index = OwnershipIndex(validate(draft, "lanewarden.yaml"))
    assert index.explain("src/d3/f300.c").owner == "g" and index.explain("src/d3/README").owner == "a"
    assert index.explain("src/d3/README").writers == ("a", "b", "c", "d", "e", "f")
    assert index.explain("src/d3/f300.c/README").writers == ("g",)  # the later literal line owns below it


GITLAB = """\
* @default.team
!pom.xml
[Docs][2] @docs/writers/team
docs/
README.md @john.smith
^[Security] @sec-bot_1
*.rb
[Backend] @group/sub/backend
/app/
/app/private/ @project_42_bot
!/app/gen/
[docs]
/handbook/
[Empty]
/tmp/
path\\ with\\ spaces/ @jane.doe
"""


def test_gitlab_sections_are_evaluated_independently_with_defaults_exclusions_and_owners() -> None:
    imported = import_codeowners(GITLAB, ".gitlab/CODEOWNERS")
    assert imported.flavour == "gitlab" and ".gitlab/" in imported.detected
    assert not imported.skipped, imported.skipped
    assert not any("GitHub" in i.reason for i in imported.issues)
    sections = imported.parsed.sections
    assert sections["Docs"].approvals == 2 and sections["Security"].optional and not sections["Backend"].optional
    policy = validate(from_codeowners(imported, set()), "lanewarden.yaml")
    index = OwnershipIndex(policy)
    readme = index.explain("README.md")  # default section and [Docs] both own it
    assert readme.writers == ("default.team", "john.smith") and readme.owner == "john.smith"
    docs = index.explain("docs/a.md")  # an owner-less line takes the section's default owners
    assert docs.writers == ("default.team", "team") and docs.owner == "team"
    ruby = index.explain("app/models/x.rb")  # the optional section is review metadata only
    assert ruby.writers == ("backend", "default.team") and ruby.owner == "backend"
    assert [c["section"] for c in ruby.codeowners] == [None, "Security", "Backend"]
    assert [c["lane"] for c in ruby.codeowners] == [True, False, True]
    assert index.explain("app/private/k.py").owner == "project_42_bot"
    gen = index.explain("app/gen/x.py")  # excluded from [Backend] whatever the order; default stays
    assert gen.writers == ("default.team",) and gen.codeowners[-1]["excluded"]
    assert index.explain("pom.xml").owner == "root"  # excluded from the only section that owned it
    assert index.explain("handbook/a.md").owner == "team"  # '[docs]' continues '[Docs]'
    tmp = index.explain("tmp/x")  # no owners and no default owners: [Empty] owns nothing, '*' still does
    assert tmp.writers == ("default.team",)
    assert index.explain("a/path with spaces/x").owner == "jane.doe"


@pytest.mark.parametrize(("raw", "patterns"), [
    ("*", ("**",)), ("docs/api", ("**/docs/api",)), ("/docs/api", ("docs/ap[i]",)), ("docs/", ("**/docs/**",)),
    ("/docs/*", ("docs/*",)), ("docs/*", ("**/docs/*",)), ("/app/**", ("app/*",)), ("*.rb", ("**/*.rb",)),
    ("/a/**/b/", ("a/**/b/**",)), ("README.md", ("**/README.md",)),
])
def test_gitlab_patterns_keep_gitlabs_own_meaning(raw: str, patterns: tuple[str, ...]) -> None:
    # GitLab: no leading '/' matches at any depth (even with a '/' inside), a path without a trailing
    # '/' is that file only, and a final '**' is one level (Ruby's fnmatch).
    assert translate_gitlab(raw) == (patterns, None)


def test_gitlab_detected_by_section_syntax_and_github_lines_skipped_for_github_only() -> None:
    text = "* @a\n[Backend] @org/sub/team\n/app/\n"
    imported = import_codeowners(text, ".github/CODEOWNERS")
    assert imported.flavour == "gitlab" and "line 2" in imported.detected
    plain = import_codeowners("* @a\n!x @b\n", "CODEOWNERS")
    assert plain.flavour == "github" and "GitHub skips this line" in plain.skipped[0].reason
    gitlab = import_codeowners("* @a\n/x/ @bad!owner\n", ".gitlab/CODEOWNERS")
    assert "GitLab skips this line" in gitlab.skipped[0].reason


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
    assert report["draft"]["flavour"] == "github"
    assert [(i["line"], i["kind"]) for i in report["draft"]["issues"]] == [(6, "skipped")]
    assert {w["id"]: w["owner"] for w in report["draft"]["workers"]} == {
        "platform": "@acme/platform", "wallet": "@acme/wallet", "kms": "kms@acme.example",
        "api-council": "@acme/api-council", "docs": "@acme/docs"}
    check = lanewarden("policy", "check", "--repo", str(owned_repo))
    assert check.exit_code == 0, check.stdout + check.stderr
    explained = lanewarden("explain", "--repo", str(owned_repo), "--format", "json",
                           "services/wallet-api/README.md", "services/wallet-api/src/wallet_api/app.py")
    lines = [json.loads(line) for line in explained.stdout.splitlines()]
    assert [x["owner"] for x in lines] == ["docs", "wallet"]  # *.md comes later than /services/wallet-api/
    assert lines[0]["rule"] == "ownership .github/CODEOWNERS:5 '*.md'"
    text = lanewarden("init", "--repo", str(owned_repo), "--from-codeowners")
    assert text.exit_code == 2 and "already exists" in text.stderr  # never overwritten without --force


def test_the_scope_guard_routes_by_the_ordered_rules_and_deny_still_wins(owned_repo: Path) -> None:
    assert lanewarden("init", "--repo", str(owned_repo), "--from-codeowners").exit_code == 0
    policy = (owned_repo / "lanewarden.yaml").read_text()
    # The wallet worker keeps a carve-out of its own: deny wins over what a rule grants.
    marker = '  wallet:\n    description: "@acme/wallet"\n'
    assert marker in policy
    policy = policy.replace(marker, marker + '    deny: ["services/wallet-api/secrets/**"]\n')
    (owned_repo / "lanewarden.yaml").write_text(policy)
    git(owned_repo, "add", "-A")
    git(owned_repo, "commit", "-q", "-m", "policy")
    app = owned_repo / "services/wallet-api/src/wallet_api/app.py"
    app.write_text(app.read_text() + "# retry\n")
    own = lanewarden("guard", "--repo", str(owned_repo), "--worker", "wallet", "--worktree", "--format", "json")
    assert own.exit_code == 0, own.stdout
    kms = next((owned_repo / "services/kms-api").rglob("*.py"))
    kms.write_text(kms.read_text() + "# not mine\n")
    (owned_repo / "services/wallet-api/secrets").mkdir(exist_ok=True)
    (owned_repo / "services/wallet-api/secrets/k.txt").write_text("x\n")
    out = lanewarden("guard", "--repo", str(owned_repo), "--worker", "wallet", "--worktree", "--format", "json")
    verdict = json.loads(out.stdout)
    assert out.exit_code == 1 and verdict["decision"] == "reject"
    changes = {c["path"]: c for c in verdict["changes"]}
    kms_change = changes[str(kms.relative_to(owned_repo))]
    assert kms_change["class"] == "out_of_scope" and kms_change["route_to"] == "kms"
    assert changes["services/wallet-api/secrets/k.txt"]["class"] == PathClass.OUT_OF_SCOPE.value
    assert "CODEOWNERS:2" in changes["services/wallet-api/src/wallet_api/app.py"]["rule"]


def test_policy_errors_name_the_codeowners_line(tmp_path: Path) -> None:
    from lanewarden.workers.errors import PolicyError
    from lanewarden.workers.loader import parse

    text = ('version: 1\nroot: root\nworkers:\n  root: {}\n  a: {}\nownership:\n  owners: {"@a": a, "@b": nobody}\n'
            '  rules: |\n    * @a\n    /x/ @c\n    [x]y @a\n')
    with pytest.raises(PolicyError) as err:
        parse(text.encode(), "lanewarden.yaml")
    message = str(err.value.message)
    assert "lanewarden.yaml:7" in message and "unknown worker 'nobody'" in message
    assert "lanewarden.yaml:10:1" in message and "owner '@c' is not mapped" in message
    assert "lanewarden.yaml:11:1" in message and "CODEOWNERS line 3" in message


def test_cli_import_names_a_missing_or_unreadable_file(repo: Path) -> None:
    missing = lanewarden("init", "--repo", str(repo), "--from-codeowners", "--force")
    assert missing.exit_code == 2 and "no CODEOWNERS file" in missing.stderr and "tip:" in missing.stderr
    (repo / "CODEOWNERS").write_bytes(b"* @a\n/x/ \xff@b\n")
    bad = lanewarden("init", "--repo", str(repo), "--from-codeowners", str(repo / "CODEOWNERS"), "--force")
    assert bad.exit_code == 2 and "CODEOWNERS:2: not UTF-8" in bad.stderr


def test_a_high_risk_workers_sparse_checkout_holds_the_files_its_codeowners_lines_name() -> None:
    from lanewarden.orchestrator.runs.workspace import sparse_set
    from lanewarden.workers.loader import LoadedPolicy

    policy, _, _ = draft_policy(TRICKY)
    loaded = LoadedPolicy(policy=policy, source="lanewarden.yaml", origin="file", rev=None, sha256="", text=b"")
    assert {"services/a/**", "services/a/docs/**"} <= set(sparse_set(loaded, "team-a"))


def _ruby_fnmatch(pattern: str) -> re.Pattern[str]:
    """Ruby's File.fnmatch with FNM_PATHNAME | FNM_DOTMATCH (no brackets), as a regular expression."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _gitlab_normalise(pattern: str) -> str:
    # As Gitlab::CodeOwners::File#normalize_pattern does.
    if pattern == "*":
        return "/**/*"
    if not pattern.startswith("/"):
        pattern = "/**/" + pattern
    if pattern.endswith("/"):
        pattern += "**/*"
    return pattern


def gitlab_reference(text: str, path: str) -> tuple[set[str], str | None]:
    """(owners of every required section, the route: first owner of the latest deciding line)."""
    sections: dict[str, tuple[int, tuple[str, ...]] | None] = {}  # section -> (line, owners) | excluded
    optional: set[str] = set()
    defaults: dict[str, tuple[str, ...]] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        header = re.fullmatch(r"(\^)?\[([^\]]+)\](?:\[\d+\])?", tokens[0])
        if header:
            current = header.group(2).lower()
            if header.group(1):
                optional.add(current)
            defaults[current] = tuple(o.lower() for o in tokens[1:]) or defaults.get(current, ())
            continue
        raw, owners = tokens[0], tuple(o.lower() for o in tokens[1:])
        exclude = raw.startswith("!")
        if not _ruby_fnmatch(_gitlab_normalise(raw.lstrip("!"))).fullmatch("/" + path):
            continue
        if exclude:
            sections[current] = None
        elif current not in sections or sections[current] is not None:
            sections[current] = (number, owners or defaults.get(current, ()))
    decided = [v for k, v in sections.items() if v is not None and k not in optional and v[1]]
    owners = {o for _, who in decided for o in who}
    route = max(decided)[1][0] if decided else None
    return owners, route


def _random_gitlab(rng: random.Random, lines: int) -> str:
    out = []
    for _ in range(lines):
        roll = rng.random()
        if roll < 0.12:
            name = rng.choice(("Docs", "Backend", "docs", "Ops"))
            out.append(f"{'^' if rng.random() < 0.2 else ''}[{name}]{'[2]' if rng.random() < 0.2 else ''}"
                       + (f" @group/sub/t{rng.randrange(4)}" if rng.random() < 0.5 else ""))
            continue
        depth = rng.randrange(1, 3)
        p = "/".join(rng.choice(_COMPONENTS) for _ in range(depth))
        shape = rng.choice(_SHAPES).format(p=p, q=rng.choice(_COMPONENTS))
        if roll < 0.2:
            out.append("!" + shape)
            continue
        owners = " ".join(f"@user.t{rng.randrange(6)}" for _ in range(rng.choice((0, 1, 1, 2))))
        out.append(f"{shape} {owners}".rstrip())
    return "\n".join(out) + "\n"


def test_differential_gitlab_sections_against_an_independent_fnmatch_reference() -> None:
    rng = random.Random(1717)
    paths = sorted({"/".join(rng.choice(_COMPONENTS) for _ in range(rng.randrange(1, 5))) for _ in range(300)})
    for _ in range(40):
        text = _random_gitlab(rng, rng.randrange(3, 30))
        imported = import_codeowners(text, ".gitlab/CODEOWNERS")
        assert not imported.skipped, imported.skipped
        policy = validate(from_codeowners(imported, set()), "lanewarden.yaml")
        index = OwnershipIndex(policy)
        for path in paths:
            owners, route = gitlab_reference(text, path)
            exp = index.explain(path)
            got = {(policy.workers[w].description or "").lower() for w in exp.writers}
            assert got == owners, (text, path, owners, exp)
            want_route = imported.workers[route] if route else "root"
            assert exp.owner == want_route, (text, path, route, exp)
