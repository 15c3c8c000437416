"""The index's tree, built from the entries git reports changed.

``guard --staged`` needs the index as a tree: the verdict names it, and the
``-U0`` patch, handoff patches and the policy diff are read from it.
``git write-tree`` makes it by reading the whole index and then writing it
back (a 200,000-file index is 22 MB, with a SHA-1 over all of it), and on a
copy, since the user's index is never written. Instead, ``git diff-index
--cached`` reads the real index once, without writing it, and lists what it
changes against HEAD's tree (skipping the subtrees its cache-tree extension
shows unchanged); the index's tree is HEAD's tree with those entries replaced.
Only the folders on the way from a changed path to the root are read (one
``cat-file --batch``) and written (one ``hash-object``, into the scratch
object directory).

Nothing built here is trusted on its own: ``guards/sources.py`` uses the tree
only when its diff against HEAD's tree is byte for byte what diff-index
listed, and otherwise writes the index as a tree the old way.
"""
from __future__ import annotations

from pathlib import Path

from lanewarden.workers.errors import InputError, LanewardenError
from lanewarden.workers.git import Git, fsdecode, split_z

_TREE, _GITLINK, _LINK = b"40000", b"160000", b"120000"
_CANONICAL = frozenset({b"100644", b"100755", _TREE, _LINK, _GITLINK})
_DELETED = b"000000"

# One folder of a tree: name -> (mode as a tree object writes it, binary object id).
Folder = dict[bytes, tuple[bytes, bytes]]


def _canonical(mode: bytes) -> bytes:
    """The mode an index entry (and so ``write-tree``) gives an entry HEAD's tree may spell otherwise."""
    if mode in _CANONICAL:
        return mode
    value = int(mode, 8)
    kind = value & 0o170000
    if kind == 0o160000:
        return _GITLINK
    if kind == 0o040000:
        return _TREE
    if kind == 0o120000:
        return _LINK
    return b"100755" if value & 0o100 else b"100644"


def _edits(raw: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """``(path, new mode, new object id)`` per entry of diff-index's raw ``-z`` list."""
    fields = split_z(raw)
    if len(fields) % 2:
        raise LanewardenError("truncated git diff-index output; refusing to guess")
    edits = []
    for meta, path in zip(fields[::2], fields[1::2], strict=True):
        parts = meta.split(b" ")
        if len(parts) != 5 or not meta.startswith(b":"):
            raise LanewardenError(f"unexpected git diff-index output near {meta[:40]!r}; refusing to guess")
        if parts[4].startswith(b"U"):
            raise InputError(f"the index has unmerged paths ({fsdecode(path)!r} among them): "
                             "a merge, rebase or cherry-pick stopped on a conflict",
                             hint="resolve merge conflicts in the index first")
        edits.append((path, parts[1], parts[3]))
    return edits


def _folders(edits: list[tuple[bytes, bytes, bytes]]) -> set[bytes]:
    """Every folder holding a changed path, and their parents up to the root (``b""``)."""
    wanted = {b""}
    for path, _, _ in edits:
        folder = path
        while b"/" in folder:
            folder = folder.rpartition(b"/")[0]
            if folder in wanted:
                break  # its parents are in already
            wanted.add(folder)
    return wanted


def _entries(data: bytes, width: int) -> Folder:
    """A tree object's entries (modes as the index would write them)."""
    out: Folder = {}
    pos, end = 0, len(data)
    while pos < end:
        sp = data.index(b" ", pos)
        nul = data.index(b"\0", sp)
        out[data[sp + 1:nul]] = (_canonical(data[pos:sp]), data[nul + 1:nul + 1 + width])
        pos = nul + 1 + width
    return out


def _body(folder: Folder) -> bytes:
    """A tree object's content: entries in git's order (a folder sorts as if its name ended in '/')."""
    ordered = sorted(folder.items(), key=lambda item: item[0] + b"/" if item[1][0] == _TREE else item[0])
    return b"".join(mode + b" " + name + b"\0" + oid for name, (mode, oid) in ordered)


def build(git: Git, env: dict[str, str], base_tree: str, raw: bytes) -> str | None:
    """The id of ``base_tree`` with diff-index's ``raw`` entries applied, its new trees written.

    None when this way cannot say (a folder name ``cat-file --batch`` cannot take, or
    entries that do not fit HEAD's tree): the caller then writes the whole index.
    """
    edits = _edits(raw)
    if not edits:
        return base_tree
    wanted = _folders(edits)
    if any(b"\n" in f or b"\r" in f for f in wanted):
        return None  # cat-file --batch reads one name per line
    order = sorted(wanted, key=lambda f: -1 - f.count(b"/") if f else 0)  # deepest first, the root last
    specs = [f"{base_tree}:{fsdecode(f)}" if f else base_tree for f in order]
    width = len(base_tree) // 2
    folders: dict[bytes, Folder] = {}
    for name, found in zip(order, git.batch(specs, env=env), strict=True):
        # Absent, or a file HEAD has where the index has a folder: the folder starts empty.
        folders[name] = _entries(found[2], width) if found is not None and found[1] == "tree" else {}
    for path, mode, oid in edits:
        parent, _, name = path.rpartition(b"/")
        if mode == _DELETED:
            if folders[parent].pop(name, None) is None:
                return None  # a deletion of what HEAD's tree does not hold
        else:
            folders[parent][name] = (_canonical(mode), bytes.fromhex(oid.decode("ascii")))
    return _write(git, env, order, folders, "sha1" if width == 20 else "sha256")


def _write(git: Git, env: dict[str, str], order: list[bytes], folders: dict[bytes, Folder],
           algorithm: str) -> str | None:
    """Hash the changed folders bottom-up (a parent names its children's new ids), then write them."""
    import hashlib  # by now the main thread has imported it (the policy cache's HMAC), off git's path

    root = hashlib.new(algorithm, b"tree 0\0").hexdigest()  # the empty tree, which git always has
    bodies: list[bytes] = []
    expected: list[str] = []
    for folder in order:
        entries = folders[folder]
        tree: bytes | None = None
        if entries:
            body = _body(entries)
            digest = hashlib.new(algorithm, b"tree %d\0" % len(body) + body)
            tree = digest.digest()
            expected.append(digest.hexdigest())
            bodies.append(body)
        if not folder:
            root = tree.hex() if tree is not None else root
            continue
        parent, _, name = folder.rpartition(b"/")
        current = folders[parent].get(name)
        if tree is not None:
            if current is not None and current[0] != _TREE:
                return None  # a file and a folder at one path: no index holds both
            folders[parent][name] = (_TREE, tree)
        elif current is not None and current[0] == _TREE:
            del folders[parent][name]  # emptied: a tree never holds an empty folder
    # Written from files in the scratch folder with one hash-object (mktree would look up the type
    # of every entry's object first: a process twice as long on a wide folder).
    scratch = Path(env["GIT_OBJECT_DIRECTORY"]).parent
    if "\n" in str(scratch):
        return None  # hash-object reads one file name per line (a TMPDIR with a newline in it)
    files = []
    for i, body in enumerate(bodies):
        path = scratch / f"tree-{i}"
        path.write_bytes(body)
        files.append(str(path))
    if git.write_objects("tree", files, env=env) != expected:
        raise LanewardenError("git wrote other trees than the index's entries make; refusing to guess")
    return root
