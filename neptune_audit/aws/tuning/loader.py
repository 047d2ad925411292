"""The kit's own data loader: slices of the models it calls first, and the data folders walked once."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import botocore.loaders

# Slices of models: ec2's DescribeRegions, rds's five calls (the kit's own loader; public API)
# botocore's ec2 model holds 830 operations: loading it and building its client class took 0.26 s of CPU on the
# critical path before the first request, for the one call the kit makes (DescribeRegions).  rds's holds ~160, and
# where the kit is a library (a kernel, a worker: tuning.process is off) each account-region's client builds them all
# again: ~9 ms a client against ~4 ms with the five the kit calls.  The kit's loader finds a slice of each model
# first: the operations the kit declares (NEEDS) and the shapes they reach, derived from botocore's own model
# (tests/test_models.py fails if it drifts), with botocore's sdk-extras kept to those shapes.  After the user's
# own model folders (~/.aws/models, AWS_DATA_PATH), before botocore's; a botocore with a newer API version uses
# its own model.  The kit's clients of those services can make no call that is not declared.

SLICES = Path(__file__).parent.parent / "models"


def _find_slices_first(loader) -> None:
    paths = loader.search_paths
    builtin = getattr(loader, "BUILTIN_DATA_PATH", None)
    paths.insert(paths.index(builtin) if builtin in paths else len(paths), str(SLICES))


# The data folders walked once, not once per kind of file (the kit's own loader; public API)
# Before loading any model botocore lists every service that has that kind of file (service-2, paginators-1,
# endpoint-rule-set-1): a walk of ~445 folders each time, 15-40 ms of CPU apiece, on the path to the first
# request.  The kit's loader answers every kind from one walk of the same folders, with the same rule (a file
# of that name, with an extension botocore's JSON loader reads, in some API-version folder of the service).

_loading = threading.local()  # (service, kind) a load_service_model of this thread is checking


class _OneWalkLoader(botocore.loaders.Loader):
    def is_builtin_path(self, path):
        # The slices are botocore's own data, cut (tests/test_models.py): endpoints.json read from them resolves
        # as botocore's does (a user's own endpoints file would make botocore pass its legacy URLs to the rules).
        return super().is_builtin_path(path) or os.path.dirname(path) == str(SLICES)

    def load_service_model(self, service_name, type_name, api_version=None):
        # botocore checks the name against list_available_services(type_name), a walk of every service's folders
        # (~445, ~25 ms on the path to the first client): the service's own folders answer that check.
        _loading.wanted = (service_name, type_name)
        try:
            return super().load_service_model(service_name, type_name, api_version)
        finally:
            _loading.wanted = None

    def _has(self, service: str, type_name: str, extensions) -> bool:
        for path in self.search_paths:
            folder = os.path.join(path, service)
            if os.path.isdir(folder):
                for version in os.listdir(folder):
                    if any(os.path.isfile(os.path.join(folder, version, type_name + ext)) for ext in extensions):
                        return True
        return False

    def list_available_services(self, type_name):
        extensions = getattr(botocore.loaders, "_JSON_OPEN_METHODS", None)
        if type(self.file_loader) is not botocore.loaders.JSONFileLoader or not extensions:
            return super().list_available_services(type_name)
        wanted = getattr(_loading, "wanted", None)
        if wanted and wanted[1] == type_name and self._has(wanted[0], type_name, tuple(extensions)):
            return [wanted[0]]  # all the check needs; any other caller gets the whole list
        paths = tuple(self.search_paths)
        if getattr(self, "_neptune_audit_walked", (None,))[0] != paths:
            self._neptune_audit_walked = (paths, _walk(paths, tuple(extensions)))
        return sorted(self._neptune_audit_walked[1].get(type_name, ()))


def _walk(paths, extensions) -> dict:
    """kind of file -> the services having one, over the search paths."""
    kinds: dict = {}
    for path in paths:
        if not os.path.isdir(path):
            continue
        with os.scandir(path) as services:
            for service in services:
                if not service.is_dir():
                    continue
                for version in os.listdir(service.path):
                    folder = os.path.join(service.path, version)
                    if not os.path.isdir(folder):
                        continue
                    with os.scandir(folder) as files:
                        for f in files:
                            for ext in extensions:
                                if f.name.endswith(ext) and f.is_file():
                                    kinds.setdefault(f.name[: -len(ext)], set()).add(service.name)
    return kinds


def _one_walk(loader):
    """The session's loader as an ``_OneWalkLoader``, its configuration (search paths) unchanged."""
    if type(loader) is not botocore.loaders.Loader:
        return loader
    ours = _OneWalkLoader.__new__(_OneWalkLoader)
    ours.__dict__.update(loader.__dict__)
    return ours
