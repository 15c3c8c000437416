"""Every kind of broken policy is reported as ``FILE:LINE:COL: key.path: message``.

One table row per error kind: a policy that is wrong in exactly that way, the
line the problem must be reported on, and substrings of the key path and the
message. The point is that a user (or an agent) can jump straight to the line
and learn what to write instead, so the tests pin the line, the key and the
hint, not just "exit 2".
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from conftest import lanewarden
from lanewarden.workers.errors import PolicyError, PolicyProblem
from lanewarden.workers.loader import parse

# A valid policy the cases start from. Each case below spells its whole text
# out (rather than patching this one) so the expected line numbers can be
# checked by eye against the text right next to them.
VALID = """\
version: 1
root: root
workers:
  api:
    allow: ["services/wallet-api/**"]
  root:
    allow: ["e2e/**"]
"""


def _policy(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _with_allow(pattern_yaml: str) -> str:
    """VALID with worker api's allow list replaced (line 5), for pattern cases."""
    return VALID.replace('allow: ["services/wallet-api/**"]', f"allow: [{pattern_yaml}]")


# (id, yaml_text, expected_line, expected_key_substring, expected_message_substring)
CASES: list[tuple[str, str, int, str, str]] = [
    # --- YAML itself -------------------------------------------------------------------
    # '*' starts an alias in YAML: the most common way to break a policy by hand.
    ("yaml-unquoted-glob", _with_allow("*.py"), 5, "(document)", "quote"),
    # '!x' is a YAML tag; PyYAML would silently turn it into something else.
    ("yaml-unquoted-tag", _policy("""
        version: 1
        root: root
        workers:
          api:
            allow:
              - !x
          root:
            allow: ["e2e/**"]
        """), 6, "workers.api.allow[0]", "tag"),
    # PyYAML keeps the last duplicate silently: a whole worker could vanish.
    ("duplicate-worker", _policy("""
        version: 1
        root: root
        workers:
          api:
            allow: ["services/wallet-api/**"]
          root:
            allow: ["e2e/**"]
          api:
            allow: ["services/kms-api/**"]
        """), 8, "workers.api", "duplicate key"),
    ("duplicate-top-level-key", _policy("""
        version: 1
        root: root
        root: root
        workers:
          root:
            allow: ["e2e/**"]
        """), 3, "root", "duplicate key"),
    # --- unknown keys ----------------------------------------------------------------
    ("unknown-key-suggests", VALID.replace("    allow: [\"services", "    alow: [\"services"),
     5, "workers.api.alow", "'allow'"),
    ("unknown-top-level-key", VALID + "wokers: {}\n", 8, "wokers", "'workers'"),
    # --- wrong types -----------------------------------------------------------------
    # A string where a list is expected must not be read as one pattern (or as characters).
    ("allow-is-a-string", VALID.replace('allow: ["services/wallet-api/**"]', 'allow: "x"'),
     5, "workers.api.allow", "should be a list"),
    ("high-risk-is-a-string", VALID.replace('    allow: ["e2e/**"]\n',
                                            '    allow: ["e2e/**"]\n    high_risk: "yes"\n'),
     8, "workers.root.high_risk", "boolean"),
    ("budget-is-a-string", VALID.replace('    allow: ["e2e/**"]\n',
                                         '    allow: ["e2e/**"]\n    budgets: {max_files: "3"}\n'),
     8, "workers.root.budgets.max_files", "integer"),
    ("worker-is-a-list", _policy("""
        version: 1
        root: root
        workers:
          root: ["e2e/**"]
        """), 4, "workers.root", "valid"),
    # --- missing fields --------------------------------------------------------------
    # Reported where the contract is defined (its key), since that is what lacks `paths`.
    ("contract-without-paths", VALID + _policy("""
        contracts:
          wallet:
            producers: [api]
        """), 9, "contracts.wallet.paths", "missing"),
    ("no-workers", _policy("""
        version: 1
        root: root
        """), 1, "workers", "missing"),
    ("no-root", VALID.replace("root: root\n", ""), 1, "root", "missing"),
    ("e2e-without-services", VALID + _policy("""
        e2e:
          flow:
            command: "make e2e"
        """), 9, "e2e.flow.services", "missing"),
    # --- references to workers -------------------------------------------------------
    ("unknown-producer", VALID + _policy("""
        contracts:
          wallet:
            paths: ["contracts/wallet/**"]
            producers: [apj]
        """), 11, "contracts.wallet.producers[0]", "unknown worker 'apj'; did you mean 'api'"),
    ("unknown-consumer", VALID + _policy("""
        contracts:
          wallet:
            paths: ["contracts/wallet/**"]
            producers: [api]
            consumers: [root, kms]
        """), 12, "contracts.wallet.consumers[1]", "unknown worker 'kms'"),
    ("unknown-e2e-service", VALID + _policy("""
        e2e:
          flow:
            services: [api, nosuch]
        """), 10, "e2e.flow.services[1]", "unknown worker 'nosuch'"),
    ("root-names-unknown-worker", VALID.replace("root: root\n", "root: boss\n"),
     2, "root", "'boss' is not defined"),
    # --- version ---------------------------------------------------------------------
    ("version-2", VALID.replace("version: 1", "version: 2"), 1, "version", "should be 1"),
    # A quoted "1" is a string: accepting it would make `version` lax for every future value.
    ("version-string", VALID.replace("version: 1", 'version: "1"'), 1, "version", "should be 1"),
    # YAML 1.1 booleans and floats compare equal to 1 in Python; the version
    # must still be the integer 1, exactly like every other strict field.
    ("version-boolean", VALID.replace("version: 1", "version: true"), 1, "version", "should be 1"),
    ("version-float", VALID.replace("version: 1", "version: 1.0"), 1, "version", "should be 1"),
    # --- patterns outside the language ------------------------------------------------
    ("pattern-leading-slash", _with_allow('"/services/**"'), 5, "workers.api.allow[0]", "leading '/'"),
    ("pattern-dotdot", _with_allow('"services/../kms-api/**"'), 5, "workers.api.allow[0]", "'..'"),
    ("pattern-dotgit", _with_allow('"services/.git/**"'), 5, "workers.api.allow[0]", "'.git'"),
    ("pattern-dotgit-uppercase", _with_allow('".GIT/hooks/*"'), 5, "workers.api.allow[0]", "'.git'"),
    # Single quotes: in YAML double quotes the backslash would be an escape.
    ("pattern-backslash", _with_allow("'services\\wallet-api\\**'"), 5, "workers.api.allow[0]",
     "backslash"),
    ("pattern-negation", _with_allow('"!services/wallet-api/**"'), 5, "workers.api.allow[0]",
     "negation"),
    ("pattern-double-star-in-component", _with_allow('"foo**/x"'), 5, "workers.api.allow[0]",
     "whole path component"),
    ("pattern-reversed-range", _with_allow('"services/[z-a]/**"'), 5, "workers.api.allow[0]",
     "reversed range"),
    ("pattern-posix-class", _with_allow('"services/[[:alpha:]]*/**"'), 5, "workers.api.allow[0]",
     "POSIX"),
    ("pattern-trailing-slash-after-wildcard", _with_allow('"services/*/"'), 5, "workers.api.allow[0]",
     "trailing '/'"),
    ("pattern-unclosed-bracket", _with_allow('"services/[ab/**"'), 5, "workers.api.allow[0]",
     "unclosed '['"),
    # Patterns in other fields are checked too, with their own index.
    ("pattern-in-deny", VALID.replace('    allow: ["services/wallet-api/**"]\n',
                                      '    allow: ["services/wallet-api/**"]\n'
                                      '    deny: ["services/wallet-api/secrets/**", "/x"]\n'),
     6, "workers.api.deny[1]", "leading '/'"),
    ("pattern-in-contract-paths", VALID + _policy("""
        contracts:
          wallet:
            paths: ["contracts/../wallet/**"]
        """), 10, "contracts.wallet.paths[0]", "'..'"),
    # cwd is a folder; `..` would let a worker start outside the repository.
    ("cwd-dotdot", VALID.replace('  api:\n', '  api:\n    cwd: services/../kms-api\n'),
     5, "workers.api.cwd", "'..'"),
    # Merge keys are not supported; saying so must still be one line per problem.
    ("yaml-merge-key", VALID + "  other:\n    <<: {allow: [\"docs/**\"]}\n", 9, "workers.other", "'<<'"),
    # YAML 1.1 reads a bare `no` as false; a boolean must never become a pattern.
    ("unquoted-no", _with_allow('"services/wallet-api/**", no'), 5, "workers.api.allow[1]", "quote"),
]


def _problem_lines(stderr: str, file: Path, line: int) -> list[str]:
    prefix = f"{file}:{line}:"
    return [ln for ln in stderr.splitlines() if ln.startswith(prefix)]


@pytest.mark.parametrize(("yaml_text", "line", "key", "message"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_broken_policy_is_reported_at_its_line(repo: Path, tmp_path: Path, yaml_text: str, line: int,
                                               key: str, message: str) -> None:
    file = tmp_path / "lanewarden.yaml"
    file.write_text(yaml_text, encoding="utf-8")
    result = lanewarden("policy", "check", "--repo", str(repo), "--policy", str(file))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    # Nothing on stdout: a broken policy has no summary, and scripts parse stdout.
    assert result.stdout == ""
    candidates = _problem_lines(result.stderr, file, line)
    assert any(key in ln and message in ln for ln in candidates), (
        f"no line '{file}:{line}:...{key}...{message}' in stderr:\n{result.stderr}")
    # Every problem line has the full FILE:LINE:COL: KEY: MESSAGE shape, and the
    # run ends with the count (which must agree with the number of lines).
    # stderr holds nothing else: no continuation lines, no traceback, so editors
    # and CI annotations can read it line by line.
    lines = result.stderr.splitlines()
    problems = [ln for ln in lines if ln.startswith(f"{file}:")]
    for ln in problems:
        assert re.match(rf"^{re.escape(str(file))}:\d+:\d+: \S.*: \S", ln), ln
    others = [ln for ln in lines if ln not in problems and not ln.startswith(("error: ", "tip: "))]
    assert others == [], result.stderr
    count = len(problems)
    assert f"error: the policy has {count} problem{'s' if count != 1 else ''}" in lines


def test_all_problems_are_reported_in_one_run(repo: Path, tmp_path: Path) -> None:
    # Three unrelated problems in three places: fixing them one run at a time
    # would be a miserable loop, so all three must come out together.
    text = _policy("""
        version: 1
        root: root
        workers:
          api:
            alow: ["services/wallet-api/**"]
          root:
            allow: ["/e2e/**"]
        contracts:
          wallet:
            paths: ["contracts/wallet/**"]
            producers: [nosuch]
        """)
    file = tmp_path / "policy.yaml"
    file.write_text(text, encoding="utf-8")
    result = lanewarden("policy", "check", "--repo", str(repo), "--policy", str(file))
    assert result.exit_code == 2, result.stderr
    assert any("workers.api.alow" in ln for ln in _problem_lines(result.stderr, file, 5))
    assert any("workers.root.allow[0]" in ln for ln in _problem_lines(result.stderr, file, 7))
    assert any("contracts.wallet.producers[0]" in ln for ln in _problem_lines(result.stderr, file, 11))
    assert "error: the policy has 3 problems" in result.stderr.splitlines()
    # Reported in file order, so the output reads top to bottom like the file.
    numbers = [int(ln.split(":")[1]) for ln in result.stderr.splitlines() if ln.startswith(f"{file}:")]
    assert numbers == sorted(numbers) == [5, 7, 11]


@pytest.mark.parametrize(("content", "message"), [
    pytest.param(b"version: 1\nroot: r\xe9sum\xe9\n", "UTF-8", id="latin-1"),
    pytest.param(b"\xff\xfe\x00v\x00e\x00r", "UTF-8", id="utf-16-bom"),
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"# only a comment\n\n", "empty", id="only-comments"),
])
def test_unreadable_or_empty_policy(repo: Path, tmp_path: Path, content: bytes, message: str) -> None:
    file = tmp_path / "lanewarden.yaml"
    file.write_bytes(content)
    result = lanewarden("policy", "check", "--repo", str(repo), "--policy", str(file))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    # A clear, single-problem message naming the file, not a traceback.
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{file}:1:1:") and message in first, result.stderr
    assert "error: the policy has 1 problem" in result.stderr.splitlines()


def test_policy_that_is_not_a_mapping(repo: Path, tmp_path: Path) -> None:
    file = tmp_path / "lanewarden.yaml"
    file.write_text("- allow\n- deny\n", encoding="utf-8")
    result = lanewarden("policy", "check", "--repo", str(repo), "--policy", str(file))
    assert result.exit_code == 2
    assert any("mapping" in ln for ln in _problem_lines(result.stderr, file, 1)), result.stderr


def test_missing_policy_file_is_an_input_error(repo: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = lanewarden("policy", "check", "--repo", str(repo), "--policy", str(missing))
    assert result.exit_code == 2
    assert str(missing) in result.stderr and "not found" in result.stderr


def test_parse_reports_problems_with_positions() -> None:
    # The library API, without the CLI: problems are data (line, column, key),
    # not only text, so other front ends (LSP, CI annotations) can use them.
    text = _policy("""
        version: 1
        root: root
        workers:
          api:
            allow: ["services/wallet-api/**", no]
            alow: []
          root:
            allow: ["e2e/**"]
        """).encode("utf-8")
    with pytest.raises(PolicyError) as info:
        parse(text, "pol.yaml")
    problems = info.value.problems
    assert all(isinstance(p, PolicyProblem) for p in problems)
    assert [(p.source, p.line, p.column, p.key) for p in problems] == [
        # `no` sits at column 39 of line 5: "    allow: [" is 12 characters,
        # the quoted pattern 24 more, then ", ".
        ("pol.yaml", 5, 39, "workers.api.allow[1]"),
        ("pol.yaml", 6, 5, "workers.api.alow"),
    ]
    assert "quote" in problems[0].message
    assert "did you mean 'allow'" in problems[1].message
    assert str(problems[1]).startswith("pol.yaml:6:5: workers.api.alow: unknown key 'alow'")
    # The exception's own text is every problem, one per line (what the CLI prints).
    assert str(info.value).splitlines() == [str(p) for p in problems]


def test_parse_accepts_the_valid_base_policy() -> None:
    # Guards the table above: the cases must fail because of their one change,
    # not because the starting point is already broken.
    policy = parse(VALID.encode("utf-8"), "base.yaml")
    assert policy.root == "root"
    assert set(policy.workers) == {"api", "root"}
