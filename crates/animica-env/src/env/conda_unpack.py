#!/bin/sh
'''exec' "$(dirname -- "$0")/python" "$0" "$@"
' '''
# Relocates this environment to where it now is (written by animica-env;
# what `animica-env run` does natively, for runners that only untar: cctools'
# runners, TaskVine, Spark). Takes the lock `animica-env run` takes, so
# concurrent first runs relocate once. Each rewritten file is written beside
# itself and renamed over it: a process running it (this Python included)
# keeps the old one, and no reader ever sees half a file. No link is ever
# followed. Python 2.7 and 3.
import fcntl
import json
import os
import stat
import sys

# The physical path: an environment reached through links (TaskVine links
# one unpacked copy into each task's sandbox) is relocated once, for itself.
root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
DIR_FD = os.open in getattr(os, "supports_dir_fd", ())


def fail(msg):
    sys.exit("conda-unpack: " + msg)


def parent_of(rel):
    """(directory fd or path, last component) of root/rel, no links followed."""
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        fail("%r is not a plain relative path" % rel)
    if not DIR_FD:  # Python 2: check, then use paths
        for i in range(1, len(parts) + 1):
            if os.path.islink(os.path.join(root, *parts[:i])):
                fail("%s: a symbolic link is in the way (links are never followed)" % rel)
        return os.path.join(root, *parts[:-1]), parts[-1]
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for p in parts[:-1]:
            fd, up = os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd), fd
            os.close(up)
    except OSError as e:
        os.close(fd)
        fail("%s: %s (links are never followed)" % (rel, e.strerror))
    return fd, parts[-1]


def opened(parent, name, flags, mode=0o644):
    if DIR_FD:
        return os.open(name, flags | os.O_NOFOLLOW, mode, dir_fd=parent)
    return os.open(os.path.join(parent, name), flags | getattr(os, "O_NOFOLLOW", 0), mode)


def read_inside(rel):
    parent, name = parent_of(rel)
    try:
        fd = opened(parent, name, os.O_RDONLY)
    except OSError as e:
        fail("%s: %s (links are never followed)" % (rel, e.strerror))
    finally:
        if DIR_FD:
            os.close(parent)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            fail("%s is not a regular file" % rel)
        return f.read()


def replace_inside(rel, data, mode=None):
    """Writes root/rel whole: a new file beside it, renamed over it."""
    parent, name = parent_of(rel)
    tmp = ".%s.animica-env-%d" % (name, os.getpid())
    try:
        if mode is None:
            try:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False) if DIR_FD else \
                    os.lstat(os.path.join(parent, name))
                mode = st.st_mode & 0o7777
            except OSError:
                mode = 0o644
        try:
            os.unlink(tmp, dir_fd=parent) if DIR_FD else os.unlink(os.path.join(parent, tmp))
        except OSError:
            pass
        fd = opened(parent, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), mode)
        if DIR_FD:
            os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        else:
            os.rename(os.path.join(parent, tmp), os.path.join(parent, name))
    except OSError as e:
        fail("%s: %s" % (rel, e.strerror))
    finally:
        if DIR_FD:
            os.close(parent)


def relocated(data, kind, old, new, rel):
    if kind == "text":
        data = data.replace(old, new)
        end = data.find(b"\n")
        if data.startswith(b"#!") and (end if end >= 0 else len(data)) > 127:
            line = data[2:end].decode().strip().split(" ", 1)
            arg = " " + line[1] if len(line) > 1 else ""
            head = "#!/bin/sh\n'''exec' \"%s\"%s \"$0\" \"$@\"\n' '''\n" % (line[0], arg)
            data = head.encode() + data[end + 1:]
        return data
    if len(new) > len(old):
        fail("%s: the new prefix is longer than the build prefix" % rel)
    out = bytearray(data)
    pos = 0
    while True:
        at = data.find(old, pos)
        if at < 0:
            return bytes(out)
        end = data.find(b"\0", at)
        end = len(data) if end < 0 else end
        span = data[at:end].replace(old, new)
        out[at:end] = span + b"\0" * (end - at - len(span))
        pos = end


def main():
    manifest_path = ".animica-env/manifest.json"
    # Never through a link: a planted `lock` link would create its target.
    lock = os.open(os.path.join(root, ".animica-env", "lock"), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = json.loads(read_inside(manifest_path).decode("utf-8"))
        old, new = manifest["prefix"].encode(), root.encode()
        # The same directory reached through other links needs nothing.
        if os.path.realpath(manifest["prefix"]) != os.path.realpath(root):
            for entry in manifest["entries"]:
                kind = entry.get("placeholder")
                if kind and entry.get("kind") == "file":
                    rel = entry["path"]
                    replace_inside(rel, relocated(read_inside(rel), kind, old, new, rel))
            manifest["prefix"] = root
            replace_inside(manifest_path, json.dumps(manifest, indent=2).encode("utf-8"), 0o644)
        # The prefix its files now name: the launchers and the .pth hook skip
        # this script while it is where they are.
        replace_inside(".animica-env/relocated-to", (manifest["prefix"] + "\n").encode("utf-8"), 0o644)
    finally:
        os.close(lock)  # releases the lock (the .pth hook runs this in-process)


main()
