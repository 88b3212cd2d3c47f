#!/bin/sh
'''exec' "$(dirname -- "$0")/python" "$0" "$@"
' '''
# Relocates this environment to where it now is (written by animica-env;
# what `animica-env run` does natively, for runners that only untar).
import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
manifest_path = os.path.join(root, ".animica-env", "manifest.json")
with open(manifest_path) as f:
    manifest = json.load(f)
old, new = manifest["prefix"].encode(), root.encode()
if old != new:
    for entry in manifest["entries"]:
        kind = entry.get("placeholder")
        if not kind:
            continue
        path = os.path.join(root, entry["path"])
        with open(path, "rb") as f:
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
        mode = os.stat(path).st_mode
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
    manifest["prefix"] = root
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
