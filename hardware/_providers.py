"""Execution providers: onnxruntime's built-in ones and plugin EPs registered at run time.

Since onnxruntime 1.22, providers also ship as separate plugin packages (OpenVINO, WebGPU, ...):
a shared library that is registered in each process (``register_execution_provider_library``),
after which the provider offers *EP devices* (``get_ep_devices()``), and a session selects one
with ``SessionOptions.add_provider_for_devices``. This module does that once per process, finds
the library from the installed package (or a path the user gives), picks the target's device
and turns the target's threads into the options each provider reads.

:data:`PLUGINS` is the one table of the plugin packages raynas knows; any other plugin works too
when its library path is given (``HardwareTarget(provider_library=...)``).

Example:
    >>> from raynas.hardware._providers import list_providers
    >>> rows = list_providers()
    >>> any(r.provider == "CPUExecutionProvider" and r.kind == "built-in" for r in rows)
    True
"""

from __future__ import annotations

import difflib
import importlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ProviderUnavailableError


def _openvino_threads(device: str | None, threads: int) -> dict[str, str]:
    """OpenVINO reads per-device properties from `load_config` (a JSON string); its older
    `num_of_threads` option is not read by the plugin EP. On CPUs with bf16 units OpenVINO
    would compute in bf16 by default: float32 is asked for, as the CPU provider computes and
    the parity check against torch expects (a user's own `load_config` replaces this)."""
    name = device or "CPU"
    if not name.upper().startswith("CPU"):  # threads are the CPU plugin's property only
        return {}
    props = {"INFERENCE_NUM_THREADS": str(threads), "INFERENCE_PRECISION_HINT": "f32"}
    return {"load_config": json.dumps({name: props})}


@dataclass(frozen=True)
class PluginPackage:
    """A pip package that ships a plugin execution provider.

    Attributes:
        package: the pip name (what to install).
        module: the importable module; its ``get_library_path()`` gives the shared library.
        extra: the raynas extra that installs it (``pip install "raynas[openvino]"``), if any.
        device_key: the EP-device metadata entry that names a device (OpenVINO's
            ``ov_device``); without one a device is named by its hardware type (``CPU``, ``GPU``).
        thread_options: ``f(device, intra_op_threads) -> options`` for providers that take
            their thread count as a provider option rather than from the session.
        note: what to know when the provider offers no device.
    """

    package: str
    module: str
    extra: str | None = None
    device_key: str | None = None
    thread_options: Callable[[str | None, int], dict[str, str]] | None = None
    note: str = ""


#: Plugin execution providers raynas finds by name (the provider name -> its package).
PLUGINS: dict[str, PluginPackage] = {
    "OpenVINOExecutionProvider": PluginPackage(
        package="onnxruntime-ep-openvino",
        module="onnxruntime_ep_openvino",
        extra="openvino",
        device_key="ov_device",
        thread_options=_openvino_threads,
        note="OpenVINO's plugin offers Intel devices only (CPU, GPU, NPU with vendor id 0x8086)",
    ),
    "WebGpuExecutionProvider": PluginPackage(
        package="onnxruntime-ep-webgpu",
        module="onnxruntime_ep_webgpu",
        note="WebGPU needs a GPU adapter (on Linux through the system's Vulkan loader)",
    ),
}

_registered: dict[str, str] = {}  # provider -> library path, in this process
_lock = threading.Lock()


@dataclass(frozen=True)
class ProviderInfo:
    """One row of :func:`list_providers`."""

    provider: str
    kind: str  # "built-in", "plugin" or "plugin (not installed)"
    devices: tuple[str, ...] = ()
    package: str | None = None
    library: str | None = None
    note: str = ""
    details: Mapping[str, str] = field(default_factory=dict)


def builtin_providers() -> list[str]:
    """The execution providers compiled into the installed onnxruntime (onnxruntime lists
    registered plugins among its available providers too: they are left out)."""
    import onnxruntime as ort

    return [p for p in ort.get_available_providers() if p not in _registered]


def library_path(provider: str, library: str | None = None) -> str:
    """The plugin library of ``provider``: ``library`` when given, else from its package.

    Raises:
        ProviderUnavailableError: the provider is unknown, or its package is not installed.
    """
    if library is not None:
        return library
    plugin = PLUGINS.get(provider)
    if plugin is None:
        raise ProviderUnavailableError(unknown_message(provider))
    try:
        module = importlib.import_module(plugin.module)
    except ImportError:
        extra = f' (or pip install "raynas[{plugin.extra}]")' if plugin.extra else ""
        raise ProviderUnavailableError(
            f"`provider` {provider!r} is a plugin execution provider whose package "
            f"{plugin.package!r} is not installed: pip install {plugin.package}{extra}."
        ) from None
    return str(module.get_library_path())


def register(provider: str, library: str | None = None) -> str:
    """Register the plugin library of ``provider`` in this process (once); returns its path.

    Raises:
        ProviderUnavailableError: unknown provider, missing package, or a library that
            onnxruntime refuses (its message is kept).
    """
    with _lock:
        if provider in _registered:
            return _registered[provider]
        path = library_path(provider, library)
        import onnxruntime as ort

        if not hasattr(ort, "register_execution_provider_library"):
            raise ProviderUnavailableError(
                f"`provider` {provider!r} is a plugin execution provider, which needs "
                f"onnxruntime >= 1.22; this one is {ort.__version__}."
            )
        try:
            ort.register_execution_provider_library(provider, path)
        except Exception as exc:
            if "already registered" not in str(exc):
                raise ProviderUnavailableError(
                    f"onnxruntime could not register the plugin library {path!r} of "
                    f"`provider` {provider!r}: {exc}"
                ) from None
        _registered[provider] = path
        return path


def hardware_devices() -> list[str]:
    """This machine's hardware devices as onnxruntime sees them (``"CPU (AMD)"`` ...)."""
    import onnxruntime as ort

    if not hasattr(ort, "get_ep_devices"):
        return []
    seen = {f"{d.device.type.name} ({d.device.vendor})": None for d in ort.get_ep_devices()}
    return list(seen)


def device_name(ep_device: Any, provider: str | None = None) -> str:
    """The name a target uses for an EP device (``CPU``, ``GPU.0`` ...)."""
    plugin = PLUGINS.get(provider or ep_device.ep_name)
    if plugin is not None and plugin.device_key:
        name = dict(ep_device.ep_metadata).get(plugin.device_key)
        if name:
            return str(name)
    return str(ep_device.device.type.name)


def ep_devices(provider: str) -> list[Any]:
    """The EP devices ``provider`` offers in this process (register plugins first)."""
    import onnxruntime as ort

    if not hasattr(ort, "get_ep_devices"):
        return []
    return [d for d in ort.get_ep_devices() if d.ep_name == provider]


def is_plugin(provider: str, library: str | None = None) -> bool:
    """Whether ``provider`` is used as a plugin (known plugin or a library is given)."""
    return library is not None or (provider in PLUGINS and provider not in builtin_providers())


def select_device(provider: str, device: str | None, library: str | None = None) -> Any:
    """Register ``provider`` if it is a plugin and return its EP device named ``device``
    (``None``: the first it offers).

    Raises:
        ProviderUnavailableError: the provider is not available, offers no device, or not
            the one asked for (the message lists the devices it offers).
    """
    plugin = is_plugin(provider, library)
    if plugin:
        register(provider, library)
    elif provider not in builtin_providers():
        raise ProviderUnavailableError(unknown_message(provider))
    found = ep_devices(provider)
    names = [device_name(d, provider) for d in found]
    if not found:
        note = PLUGINS[provider].note if provider in PLUGINS else ""
        raise ProviderUnavailableError(
            f"`provider` {provider!r} is registered but offers no device on this machine"
            + (f" ({note})" if note else "")
            + f"; the hardware onnxruntime sees: {hardware_devices()}."
        )
    if device is None:
        return found[0]
    for d, name in zip(found, names, strict=True):
        if name == device:
            return d
    for d, name in zip(found, names, strict=True):
        if name.upper() == device.upper() or str(d.device.type.name).upper() == device.upper():
            return d
    raise ProviderUnavailableError(
        f"`device` of the target is {device!r}, which `provider` {provider!r} does not offer "
        f"on this machine; its devices: {names}."
    )


def session_options_for(
    provider: str, device: str | None, threads: int, options: Mapping[str, str]
) -> dict[str, str]:
    """The provider options to pass: the target's, plus its thread count where the provider
    takes threads as an option (a user's own option of the same name wins)."""
    plugin = PLUGINS.get(provider)
    out: dict[str, str] = {}
    if plugin is not None and plugin.thread_options is not None:
        out.update(plugin.thread_options(device, threads))
    out.update(options)
    return out


def list_providers() -> list[ProviderInfo]:
    """Built-in providers, then the known plugins (registered here when installed) and their
    devices, then other plugins registered in this process."""
    rows: list[ProviderInfo] = []
    builtin = builtin_providers()
    for p in builtin:
        devices = tuple(device_name(d, p) for d in ep_devices(p))
        rows.append(ProviderInfo(p, "built-in", devices))
    for p, plugin in PLUGINS.items():
        if p in builtin:
            continue
        try:
            path = register(p)
        except ProviderUnavailableError as exc:
            rows.append(
                ProviderInfo(p, "plugin (not installed)", package=plugin.package, note=str(exc))
            )
            continue
        found = ep_devices(p)
        rows.append(
            ProviderInfo(
                p,
                "plugin",
                tuple(device_name(d, p) for d in found),
                package=plugin.package,
                library=path,
                note="" if found else plugin.note,
                details={"vendor": found[0].ep_vendor} if found else {},
            )
        )
    for p, path in sorted(_registered.items()):
        if p not in PLUGINS:
            found = ep_devices(p)
            rows.append(
                ProviderInfo(p, "plugin", tuple(device_name(d, p) for d in found), library=path)
            )
    return rows


def unknown_message(provider: str) -> str:
    builtin = builtin_providers()
    known = [*builtin, *(p for p in PLUGINS if p not in builtin)]
    names = [*known, *(n for n in ort_names() if n not in known)]
    close = [k for k in names if k.lower().startswith(provider.lower())]
    close = close or difflib.get_close_matches(provider, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"`provider` {provider!r} is neither built into this onnxruntime nor a registered "
        f"plugin; built-in providers: {builtin}; plugin providers raynas knows: "
        f"{sorted(PLUGINS)}; for another plugin give its library as `provider_library`.{hint}"
    )


def ort_names() -> list[str]:
    """Every provider name onnxruntime knows of, built into this build or not."""
    import onnxruntime as ort

    return list(ort.get_all_providers())
