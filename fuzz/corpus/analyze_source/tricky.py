import os, sys as system
from . import sibling
from ..pkg.mod import name as alias, other
try:
    import ujson as json
except ImportError:
    import json
if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib
def main():
    import importlib
    importlib.import_module("yaml")
    __import__("numpy.linalg")
class C:
    from collections import abc
lambda: __import__("x" + "y")
