# Runs one call of a user's Python function for ai-evals, as promptfoo's
# wrapper.py does: the module is loaded from its file (its folder first on
# sys.path) or from inline code, the function is called with the JSON
# arguments read from stdin (awaited when it is a coroutine), and its result
# is written to stdout as JSON. What the user's code prints goes to stderr.
import asyncio
import importlib.util
import inspect
import json
import os
import sys
import types


def load(request):
    if "path" in request:
        path = os.path.abspath(request["path"])
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        name = os.path.basename(path).rsplit(".", 1)[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    module = types.ModuleType("inline")
    exec(compile(request["code"], "<inline python>", "exec"), module.__dict__)
    return module


def main():
    request = json.load(sys.stdin)
    out = sys.stdout
    sys.stdout = sys.stderr
    module = load(request)
    name = request["function"]
    if "." in name:
        owner, method = name.split(".", 1)
        function = getattr(getattr(module, owner), method)
    else:
        function = getattr(module, name)
    result = function(*request["args"])
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    out.write(json.dumps({"type": "final_result", "data": result}, ensure_ascii=False))
    out.flush()


main()
