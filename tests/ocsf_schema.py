"""Validate OCSF events against the official OCSF schema files (github.com/ocsf/ocsf-schema, Apache-2.0), with
``extends``, ``$include`` and profiles resolved the way the OCSF server compiles them.

The files used live in ``tests/ocsf-schema-1.5.0/``: a trimmed copy of schema v1.5.0 (see its README) — the
class chain of Compliance Finding, the profiles, the categories and the objects our events use, and the
dictionary entries of their attributes.  ``python -m tests.ocsf_schema trim SCHEMA_CHECKOUT EVENTS.json``
rebuilds it from a checkout.

Checked: every required attribute (objects too; a profile's only when ``metadata.profiles`` applies it); no
attribute the class, object or an applied profile does not define; types (``timestamp_t`` is milliseconds);
``*_id`` enums; and the captions and uids a reader joins on (class, category, type).
"""
from __future__ import annotations

import json
import shutil
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "ocsf-schema-1.5.0"
UIDS = {"Class ID", "Category ID", "Type ID"}  # compiled per class by the OCSF server; checked in validate_event
SCALARS = {"string_t": str, "integer_t": int, "long_t": int, "float_t": (int, float), "boolean_t": bool}


class Schema:
    def __init__(self, root: Path = ROOT):
        self.root = Path(root)
        self.used: set[str] = set()  # files read (for trim)
        self.dictionary = self._load("dictionary.json")
        self.types = self.dictionary["types"]["attributes"]
        self.categories = self._load("categories.json")["attributes"]

    def _load(self, rel: str) -> dict:
        self.used.add(rel)
        return json.loads((self.root / rel).read_text())

    def _event_file(self, name: str) -> str:
        for p in sorted((self.root / "events").rglob("*.json")):
            if json.loads(p.read_text()).get("name") == name:
                return str(p.relative_to(self.root))
        raise KeyError(f"no event class {name!r}")

    @lru_cache(maxsize=None)  # noqa: B019 - one schema object for the whole session
    def definition(self, kind: str, name: str) -> dict:
        """The class or object ``name`` with its parents' attributes, includes and profiles merged in."""
        doc = self._load(self._event_file(name) if kind == "event" else f"objects/{name}.json")
        attrs: dict = {}
        base = dict(doc)
        if doc.get("extends"):
            parent = self.definition(kind, doc["extends"])
            attrs = {k: dict(v) for k, v in parent["attributes"].items()}
            base = {**parent, **{k: v for k, v in doc.items() if k != "attributes"}}
        own = dict(doc.get("attributes", {}))
        for rel in own.pop("$include", []):
            inc = self._load(rel)
            profile = inc["name"] if inc.get("meta") == "profile" else None
            for k, v in inc.get("attributes", {}).items():
                attrs[k] = {**attrs.get(k, {}), **v, **({"_profile": profile} if profile else {})}
        for k, v in own.items():
            attrs[k] = {**attrs.get(k, {}), **v}
        return {**base, "attributes": attrs}

    def attribute(self, name: str, override: dict) -> dict:
        merged = {**self.dictionary["attributes"][name], **override}
        if "enum" in self.dictionary["attributes"][name] and "enum" in override:
            merged["enum"] = {**self.dictionary["attributes"][name]["enum"], **override["enum"]}
        return merged

    def base_type(self, t: str) -> str:
        seen = t
        while seen in self.types and "type" in self.types[seen]:
            seen = self.types[seen]["type"]
        return seen

    # -- validation ------------------------------------------------------------------------------------------
    def validate_event(self, event: dict, class_name: str) -> list[str]:
        cls = self.definition("event", class_name)
        profiles = set((event.get("metadata") or {}).get("profiles") or [])
        errors = self._check(event, cls, "event", profiles)
        category = self.categories[cls["category"]]
        expect = {"class_name": cls["caption"], "class_uid": category["uid"] * 1000 + cls["uid"],
                  "category_uid": category["uid"], "category_name": category["caption"]}
        for k, v in expect.items():
            if event.get(k) != v:
                errors.append(f"{k} is {event.get(k)!r}, the schema says {v!r}")
        if event.get("type_uid") != expect["class_uid"] * 100 + event.get("activity_id", -1):
            errors.append(f"type_uid {event.get('type_uid')} is not class_uid * 100 + activity_id")
        return errors

    def _check(self, value: dict, definition: dict, where: str, profiles: set[str]) -> list[str]:
        errors = []
        attrs = definition["attributes"]
        for name, spec in attrs.items():
            profile = spec.get("_profile")
            if spec.get("requirement") == "required" and (profile is None or profile in profiles) \
                    and name not in value:
                errors.append(f"{where}.{name}: required" + (f" by the {profile} profile" if profile else ""))
        for name, v in value.items():
            stem = name[:-3] if name.endswith("_dt") else None
            if stem in attrs and name not in attrs and self.attribute(stem, attrs[stem])["type"] == "timestamp_t":
                # the datetime profile adds NAME_dt (RFC 3339 text) beside every timestamp_t NAME
                if "datetime" not in profiles:
                    errors.append(f"{where}.{name}: belongs to the datetime profile, not in metadata.profiles")
                elif not isinstance(v, str):
                    errors.append(f"{where}.{name}: expected RFC 3339 text")
                continue
            if name not in attrs:
                errors.append(f"{where}.{name}: not an attribute of {definition['name']}")
                continue
            profile = attrs[name].get("_profile")
            if profile and profile not in profiles:
                errors.append(f"{where}.{name}: belongs to the {profile} profile, not in metadata.profiles")
            spec = self.attribute(name, attrs[name])
            items = v if spec.get("is_array") else [v]
            if spec.get("is_array") and not isinstance(v, list):
                errors.append(f"{where}.{name}: expected an array")
                continue
            for i, item in enumerate(items):
                errors += self._check_value(item, spec, f"{where}.{name}" + (f"[{i}]" if spec.get("is_array")
                                                                              else ""), profiles)
        return errors

    def _check_value(self, v, spec: dict, where: str, profiles: set[str]) -> list[str]:
        t = spec["type"]
        if t in ("json_t", "object"):  # any JSON; "object": the schema's generic object (unmapped)
            return [] if t == "json_t" or isinstance(v, dict) else [f"{where}: expected an object"]
        if t not in self.types:  # an object type, named by the object
            if not isinstance(v, dict):
                return [f"{where}: expected an object"]
            return self._check(v, self.definition("object", t), where, profiles)
        base = self.base_type(t)
        py = SCALARS.get(base)
        if py is None:
            return [f"{where}: type {t} not known to this validator"]
        if not isinstance(v, py) or (py is int and isinstance(v, bool)):
            return [f"{where}: {v!r} is not {t}"]
        if t == "timestamp_t" and not 10**12 <= v < 10**14:
            return [f"{where}: {v} is not milliseconds since the epoch"]
        if "enum" in spec and spec.get("caption") not in UIDS and str(v) not in spec["enum"]:
            return [f"{where}: {v!r} is not one of {sorted(spec['enum'])}"]
        return []


def trim(checkout: str, events_file: str, out: Path = ROOT) -> None:
    """Copy what validating ``events_file`` (a JSON list of Compliance Findings) reads from ``checkout``."""
    src = Schema(Path(checkout))
    for event in json.loads(Path(events_file).read_text()):
        assert not src.validate_event(event, "compliance_finding")
    used = set(src.used) | {"version.json", "LICENSE"}
    for p in sorted((Path(checkout) / "profiles").glob("*.json")):
        used.add(str(p.relative_to(checkout)))
    names = set()
    for rel in used - {"dictionary.json", "version.json", "LICENSE", "categories.json"}:
        names |= set(json.loads((Path(checkout) / rel).read_text()).get("attributes", {}))
    if out.exists():
        shutil.rmtree(out)
    for rel in sorted(used):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel == "dictionary.json":
            d = json.loads((Path(checkout) / rel).read_text())
            d["attributes"] = {k: v for k, v in d["attributes"].items() if k in names}
            (out / rel).write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")
        elif rel == "categories.json":
            d = json.loads((Path(checkout) / rel).read_text())
            d["attributes"] = {k: v for k, v in d["attributes"].items() if k == "findings"}
            (out / rel).write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")
        else:
            shutil.copyfile(Path(checkout) / rel, out / rel)


if __name__ == "__main__" and sys.argv[1:2] == ["trim"]:
    trim(sys.argv[2], sys.argv[3])
