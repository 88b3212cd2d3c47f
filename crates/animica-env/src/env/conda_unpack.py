#!/bin/sh
'''exec' "$(dirname -- "$0")/python" "$0" "$@"
' '''
# Relocates this environment to where it now is (written by animica-env;
# what `animica-env run` does natively, for runners that only untar). Takes
# the lock `animica-env run` takes, so concurrent first runs relocate once.
import fcntl
import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def open_inside(rel):
    """Opens root/rel for reading and writing without following any link."""
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        sys.exit("conda-unpack: %r is not a plain relative path" % rel)
    if os.open not in getattr(os, "supports_dir_fd", ()):  # Python 2: check, then open
        for i in range(1, len(parts) + 1):
            if os.path.islink(os.path.join(root, *parts[:i])):
                sys.exit("conda-unpack: %s: a symbolic link is in the way (links are never followed)" % rel)
        return os.open(os.path.join(root, *parts), os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for p in parts[:-1]:
            fd, up = os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd), fd
            os.close(up)
        return os.open(parts[-1], os.O_RDWR | os.O_NOFOLLOW, dir_fd=fd)
    except OSError as e:
        sys.exit("conda-unpack: %s: %s (links are never followed)" % (rel, e.strerror))
    finally:
        os.close(fd)

def write_inside(rel, text):
    """Writes root/rel whole (a temporary file renamed over it), no links followed."""
    parent, name = os.path.split(rel)
    if os.open not in getattr(os, "supports_dir_fd", ()):  # Python 2: check, then write
        if os.path.islink(os.path.join(root, parent)) or os.path.islink(os.path.join(root, rel)):
            sys.exit("conda-unpack: %s: a symbolic link is in the way (links are never followed)" % rel)
        tmp = os.path.join(root, "%s.%d" % (rel, os.getpid()))
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644), "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(root, rel))
        return
    fd = os.open(os.path.join(root, parent), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        tmp = "%s.%d" % (name, os.getpid())
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644, dir_fd=fd)
        with os.fdopen(out, "w") as f:
            f.write(text)
        os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        os.close(fd)


MANIFEST = ".animica-env/manifest.json"
# Never through a link: a planted `lock` link would create its target.
lock = os.open(os.path.join(root, ".animica-env", "lock"), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
fcntl.flock(lock, fcntl.LOCK_EX)
with os.fdopen(open_inside(MANIFEST), "r") as f:
    manifest = json.load(f)
old, new = manifest["prefix"].encode(), root.encode()
if old != new:
    for entry in manifest["entries"]:
        kind = entry.get("placeholder")
        if not kind or entry.get("kind") != "file":
            continue
        path = os.path.join(root, entry["path"])
        f = os.fdopen(open_inside(entry["path"]), "r+b")
        data = f.read()
        if kind == "text":
            data = data.replace(old, new)
            end = data.find(b"\n")
            if data.startswith(b"#!") and (end if end >= 0 else len(data)) > 127:
                line = data[2:end].decode().strip().split(" ", 1)
                arg = " " + line[1] if len(line) > 1 else ""
                head = "#!/bin/sh\n'''exec' \"%s\"%s \"$0\" \"$@\"\n' '''\n" % (line[0], arg)
                data = head.encode() + data[end + 1:]
        else:
            if len(new) > len(old):
                sys.exit("conda-unpack: %s: the new prefix is longer than the build prefix" % path)
            out = bytearray(data)
            pos = 0
            while True:
                at = data.find(old, pos)
                if at < 0:
                    break
                end = data.find(b"\0", at)
                end = len(data) if end < 0 else end
                span = data[at:end].replace(old, new)
                out[at:end] = span + b"\0" * (end - at - len(span))
                pos = end
            data = bytes(out)
        f.seek(0)
        f.truncate()
        f.write(data)
        f.close()
    manifest["prefix"] = root
    with os.fdopen(open_inside(MANIFEST), "w") as f:
        f.truncate()
        json.dump(manifest, f, indent=2)
# Where it now works from: bin/run_in_env skips this script when it matches.
write_inside(".animica-env/relocated-to", root + "\n")
