import importlib, sys

plugins = ["json", "csv"]
mods = [importlib.import_module(p) for p in plugins]
yaml = __import__("yaml")
sub = importlib.import_module(".sub", package=__name__)
if sys.version_info < (3, 8):
    import importlib_metadata as metadata
else:
    from importlib import metadata
match sys.platform:
    case "win32":
        import winreg
    case _:
        import fcntl
