"""One Work Queue task that uses animica_native from its conda package
(docs/conda.md): runs the API document's quickstart, shipped beside it as
seed_quickstart.py, then reports which build of the module ran and where
it came from."""

import json
import runpy
import sys
from pathlib import Path

import animica_native as an

runpy.run_path("seed_quickstart.py", run_name="__main__")
print("task", sys.argv[1], "quickstart ok")
print("module", an.__file__)
for record in sorted(Path(sys.prefix, "conda-meta").glob("animica-native-*.json")):
    print("conda package", record.stem)
print("build_info", json.dumps(an.build_info(), sort_keys=True))
print("prefix", sys.prefix)
