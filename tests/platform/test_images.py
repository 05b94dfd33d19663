"""Each service's image starts: what its Dockerfile installs is enough to import and build its app.

The Dockerfiles install only `./shared` and the service's own directory, so every third-party module a service
imports at run time must be declared in its own pyproject.toml. Two checks, neither needs a Docker engine:
- statically, every import of the service's code names a distribution its pyproject.toml declares;
- for real, the Dockerfile's own `pip install` line is run into a clean virtual environment (with uv, which takes
  the same arguments and reuses its cache) and the `CMD`'s uvicorn factory is imported and called there.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "order": "xinren_order",
    "refund": "xinren_refund",
    "quality-check": "xinren_qc",
    "notify": "xinren_notify",
    "trust": "xinren_trust",
}
FIRST_PARTY = {"xinren_shared", *SERVICES.values()}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(pyproject: Path, *extras: str) -> set[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    specs = list(project.get("dependencies", []))
    for extra in extras:
        specs += project.get("optional-dependencies", {}).get(extra, [])
    return {_norm(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0]) for spec in specs}


def _imports(source_dir: Path, *, exclude: str | None = None) -> dict[str, list[str]]:
    """Top-level third-party modules imported by the code under `source_dir`, with where."""
    found: dict[str, list[str]] = {}
    for path in source_dir.rglob("*.py"):
        if exclude and exclude in path.parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {  # imports under `if TYPE_CHECKING:` never run: type stubs need not be installed
            id(inner)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for statement in block.body
            for inner in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def _undeclared(source_dir: Path, declared: set[str], *, exclude: str | None = None) -> list[str]:
    dists = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(_imports(source_dir, exclude=exclude).items()):
        owners = {_norm(d) for d in dists.get(module, [module])}
        if not owners & declared:
            missing.append(f"{module} (from {sorted(owners)}; imported in {where[0]})")
    return missing


@pytest.mark.parametrize("service", SERVICES)
def test_every_runtime_import_is_declared_by_the_service(service):
    directory = ROOT / "services" / service
    missing = _undeclared(directory / "src", _declared(directory / "pyproject.toml"))
    assert not missing, f"{service} imports modules its pyproject.toml does not declare: {missing}"


def test_shared_declares_its_runtime_imports_and_its_testing_extra():
    pyproject = ROOT / "shared" / "pyproject.toml"
    source = ROOT / "shared" / "src"
    assert not _undeclared(source, _declared(pyproject), exclude="testing")
    assert not _undeclared(source / "xinren_shared" / "testing", _declared(pyproject, "testing"))


def _dockerfile(service: str) -> tuple[list[str], str, dict[str, str]]:
    """The arguments of the Dockerfile's `pip install`, the uvicorn factory its CMD starts and the CMD's options."""
    text = (ROOT / "services" / service / "Dockerfile").read_text()
    install = re.search(r"^RUN pip install (.+)$", text, re.MULTILINE)
    cmd = re.search(r"^CMD (\[.+\])$", text, re.MULTILINE)
    assert install and cmd, f"services/{service}/Dockerfile: no 'RUN pip install' or no CMD"
    argv = ast.literal_eval(cmd.group(1))
    assert argv[:2] == ["uvicorn", "--factory"], argv
    options = {}  # --name: value, or "" for a flag
    for i, arg in enumerate(argv[3:], start=3):
        if arg.startswith("--"):
            following = argv[i + 1] if i + 1 < len(argv) else "--"
            options[arg] = "" if following.startswith("--") else following
    return shlex.split(install.group(1)), argv[2], options


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_install_imports_and_builds_the_app(service, tmp_path):
    install_args, factory, options = _dockerfile(service)
    # Named, not "auto", so that an image without them fails to start instead of serving on the slower defaults.
    assert (options.get("--loop"), options.get("--http")) == ("uvloop", "httptools"), options
    uv = Path(sys.executable).parent / "uv"
    venv = tmp_path / "venv"
    subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    # The image's WORKDIR holds constraints.txt, shared/ and services/<name>/ as the repository root does.
    done = subprocess.run(
        [str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *install_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"installing as services/{service}/Dockerfile does failed:\n{done.stderr}"
    probe = (
        "import asyncio\n"
        "from uvicorn.config import HTTP_PROTOCOLS, LOOP_FACTORIES\n"
        "from uvicorn.importer import import_from_string\n"
        f"import_from_string(HTTP_PROTOCOLS[{options['--http']!r}])\n"
        f"new_loop = import_from_string(LOOP_FACTORIES[{options['--loop']!r}])()\n"
        "async def main():\n"  # as under uvicorn: the factory runs inside the event loop the CMD names
        f"    app = import_from_string({factory!r})()\n"
        "    assert app.openapi()['paths'], 'the app has no routes'\n"
        "    print(type(app).__name__, type(asyncio.get_running_loop()).__module__)\n"
        "with asyncio.Runner(loop_factory=new_loop) as runner:\n"
        "    runner.run(main())\n"
    )
    ran = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        cwd=tmp_path,  # not the repository: only what the image installed can be imported
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "XINREN_ENV": "dev"},
    )
    assert ran.returncode == 0, f"{factory} does not start from the image's install:\n{ran.stderr}"
    assert ran.stdout.split() == ["FastAPI", "uvloop"]
