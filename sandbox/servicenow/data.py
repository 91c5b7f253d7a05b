"""The ServiceNow sandbox's tables: seeded rows, queries, writes, journal, and JSON shapes.

Tables served: sn_cim_register (the improvement initiatives, from sandbox.seed),
sys_journal_field (one row per comment / work note written by PATCH, PUT or POST:
element_id = the record's sys_id, element = the field, name = the record's table,
value, sys_created_on/by, as the platform keeps them), sys_user and
cmdb_ci_service (what the reference fields point at). Values are stored the way the
platform stores them (references as sys_ids, choices as values, dates as UTC
"YYYY-MM-DD HH:MM:SS"); `serialize` renders a row for sysparm_display_value
false / true / all, with or without reference links.

Everything here is guarded by one lock, so the HTTP threads can share a Store.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from csi_coach.sandbox import seed as seedmod
from csi_coach.sandbox.servicenow.query import Query, parse, sorts_as_text

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
CIM_TABLE = "sn_cim_register"
JOURNAL_TABLE = "sys_journal_field"
JOURNAL_FIELDS = ("comments", "work_notes")
_JOURNAL_LABEL = {"comments": "Additional comments", "work_notes": "Work notes"}

# sn_cim_register's state choices (value, label), and which one each seed state becomes.
CIM_STATES = (("1", "New"), ("2", "Accepted"), ("3", "Assess"), ("4", "Approved"), ("5", "In Progress"),
              ("6", "On Hold"), ("7", "Review"), ("8", "Closed"), ("9", "Canceled"))
_SEED_STATE = {"Draft": "1", "Open": "2", "Work in Progress": "5", "On Hold": "6", "Closed": "8", "Cancelled": "9"}
_INACTIVE_STATES = {"8", "9"}


@dataclass(frozen=True)
class FieldDef:
    name: str
    kind: str = "string"  # string | reference | choice | datetime | journal | boolean | integer
    ref_table: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    read_only: bool = False


def _fields(*defs: FieldDef) -> dict[str, FieldDef]:
    return {d.name: d for d in defs}


_SYS = (
    FieldDef("sys_id", read_only=True),
    FieldDef("sys_created_on", "datetime", read_only=True),
    FieldDef("sys_created_by", read_only=True),
    FieldDef("sys_updated_on", "datetime", read_only=True),
    FieldDef("sys_updated_by", read_only=True),
    FieldDef("sys_mod_count", "integer", read_only=True),
)

SCHEMAS: dict[str, tuple[dict[str, FieldDef], str]] = {  # table -> (fields, display field)
    CIM_TABLE: (_fields(
        FieldDef("number", read_only=True), FieldDef("short_description"), FieldDef("description"),
        FieldDef("benefit"), FieldDef("business_service", "reference", "cmdb_ci_service"),
        FieldDef("assigned_to", "reference", "sys_user"), FieldDef("state", "choice", choices=CIM_STATES),
        FieldDef("active", "boolean"), FieldDef("u_labels"),
        FieldDef("comments", "journal"), FieldDef("work_notes", "journal"), *_SYS), "number"),
    JOURNAL_TABLE: (_fields(
        FieldDef("element_id"), FieldDef("element"), FieldDef("name"), FieldDef("value"), *_SYS), "value"),
    "sys_user": (_fields(FieldDef("user_name"), FieldDef("name"), FieldDef("email"), FieldDef("active", "boolean"), *_SYS), "name"),
    "cmdb_ci_service": (_fields(FieldDef("name"), FieldDef("owned_by", "reference", "sys_user"), *_SYS), "name"),
}


class ReadOnlyTable(Exception):
    """Writes to this table are refused (the platform's ACLs protect journal rows)."""


def stable_id(*parts: object) -> str:
    """A 32-hex sys_id that is the same on every run for the same parts."""
    return hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()


def fmt(when: datetime) -> str:
    """The platform's UTC date-time text, "YYYY-MM-DD HH:MM:SS"."""
    return when.astimezone(UTC).isoformat(sep=" ")[:19]


def user_name_for(name: str) -> str:
    return name.lower().replace("'", "").replace(" ", ".")


@dataclass
class Table:
    name: str
    fields: dict[str, FieldDef]
    display_field: str
    rows: list[dict[str, str]] = field(default_factory=list)
    by_id: dict[str, int] = field(default_factory=dict)
    version: int = 0

    def add(self, row: dict[str, str]) -> dict[str, str]:
        self.by_id[row["sys_id"]] = len(self.rows)
        self.rows.append(row)
        self.version += 1
        return row


class Store:
    """The sandbox instance's data. Thread-safe."""

    def __init__(self, records: int = 200, seed: int = 1, bot_user: str = "csi-coach",
                 clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._cache: OrderedDict[tuple, list[dict[str, str]]] = OrderedDict()
        # (table, every table's version, rest, field) -> (rows of rest in order, their field values)
        self._indexes: OrderedDict[tuple, tuple[list[dict[str, str]], list[str]] | None] = OrderedDict()
        self._journal_by_record: dict[str, list[int]] = {}
        self.tables = {name: Table(name, f, d) for name, (f, d) in SCHEMAS.items()}
        self._load(records, seed, bot_user)

    # ---- seeding -----------------------------------------------------------------

    def _load(self, records: int, seed: int, bot_user: str) -> None:
        epoch = "2024-01-01 00:00:00"
        users = self.tables["sys_user"]
        user_ids: dict[str, str] = {}
        for name in (*seedmod.owners(), "CSI Coach"):
            login = bot_user if name == "CSI Coach" else user_name_for(name)
            sys_id = stable_id("sys_user", login)
            user_ids[name] = sys_id
            users.add({"sys_id": sys_id, "user_name": login, "name": name, "email": f"{login}@example.com",
                       "active": "true", **_sys_fields(epoch, "admin")})
        services = self.tables["cmdb_ci_service"]
        service_ids: dict[str, str] = {}
        owners = seedmod.owners()
        for i, name in enumerate(seedmod.services()):
            sys_id = stable_id("cmdb_ci_service", name)
            service_ids[name] = sys_id
            services.add({"sys_id": sys_id, "name": name, "owned_by": user_ids[owners[i % len(owners)]],
                          **_sys_fields(epoch, "admin")})
        cim = self.tables[CIM_TABLE]
        for rec in seedmod.generate("servicenow", records, seed):
            state = _SEED_STATE[rec.state]
            cim.add({
                "sys_id": stable_id("sn_cim_register", seed, rec.index), "number": rec.number,
                "short_description": rec.title, "description": rec.description, "benefit": rec.goal,
                "business_service": service_ids[rec.service], "assigned_to": user_ids[rec.owner],
                "state": state, "active": "false" if state in _INACTIVE_STATES else "true",
                "u_labels": ",".join(rec.labels), "comments": "", "work_notes": "",
                "sys_created_on": fmt(rec.created), "sys_created_by": "admin",
                "sys_updated_on": fmt(rec.updated), "sys_updated_by": user_name_for(rec.owner), "sys_mod_count": "0",
            })

    # ---- reading -------------------------------------------------------------------

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)

    def getter(self, table: Table) -> Callable[[dict[str, str], str], str]:
        """get(row, field) for queries and sysparm_fields, with dot-walking through references."""

        def get(row: dict[str, str], name: str) -> str:
            if "." not in name:
                return row.get(name, "")
            head, _, rest = name.partition(".")
            fd = table.fields.get(head)
            if fd is None or fd.kind != "reference" or not row.get(head):
                return ""
            target = self.tables[fd.ref_table]
            i = target.by_id.get(row[head])
            return "" if i is None else self.getter(target)(target.rows[i], rest)

        return get

    def query(self, table: Table, encoded: str) -> list[dict[str, str]]:
        """Matching rows in order. Results are cached until the table changes."""
        q: Query = parse(encoded, self.clock())
        with self._lock:
            seek = self._seek(table, q)
            if seek is not None:
                return seek
            key = (table.name, table.version, q)
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            rows = q.apply(self._candidates(table, q), self.getter(table))
            self._cache[key] = rows
            if len(self._cache) > 64:
                self._cache.popitem(last=False)
            return rows

    def _seek(self, table: Table, q: Query) -> list[dict[str, str]] | None:
        """A paging client's ``rest^field>=value^ORDERBYfield...`` from the ordered rows of
        ``rest`` (kept until any table changes) by bisection, instead of filtering and
        sorting every row for every page (O(n) a page, O(n^2) a scan). None: not such a
        query, or the field holds numbers or capitals (which sort unlike they compare)."""
        split = q.split_floor()
        if split is None:
            return None
        floor, rest = split
        key = (table.name, tuple(t.version for t in self.tables.values()), rest, floor.field)
        if key in self._indexes:
            index = self._indexes[key]
        else:
            get = self.getter(table)
            rows = rest.apply(self._candidates(table, rest), get)
            values = [get(row, floor.field) or "" for row in rows]
            index = (rows, values) if all(sorts_as_text(v) for v in values) else None
            self._indexes[key] = index
            while len(self._indexes) > 4:
                self._indexes.popitem(last=False)
        if index is None:
            return None
        rows, values = index
        if floor.operator == ">=":
            return rows[bisect.bisect_left(values, floor.value):]
        return rows[bisect.bisect_right(values, floor.value):]

    def _candidates(self, table: Table, q: Query) -> list[dict[str, str]]:
        """All rows, or for the journal queried by element_id=X, only that record's rows (an index)."""
        if table.name == JOURNAL_TABLE and len(q.groups) == 1:
            for term in q.groups[0]:
                if len(term) == 1 and term[0].field == "element_id" and term[0].operator == "=":
                    return [table.rows[i] for i in self._journal_by_record.get(term[0].value, [])]
        return table.rows

    def get(self, table: Table, sys_id: str) -> dict[str, str] | None:
        with self._lock:
            i = table.by_id.get(sys_id)
            return None if i is None else dict(table.rows[i])

    # ---- writing -------------------------------------------------------------------

    def update(self, table: Table, sys_id: str, changes: dict[str, Any], user: str) -> dict[str, str] | None:
        """Apply a PATCH/PUT body; journal fields become sys_journal_field rows. None: no such record."""
        if table.name == JOURNAL_TABLE:
            raise ReadOnlyTable(table.name)
        with self._lock:
            i = table.by_id.get(sys_id)
            if i is None:
                return None
            row = dict(table.rows[i])
            now = fmt(self.clock())
            for name, value in changes.items():
                fd = table.fields.get(name)
                if fd is None or fd.read_only:
                    continue  # the platform ignores fields it does not know or that are read-only
                text = _text(value)
                if fd.kind == "journal":
                    if text.strip():
                        self._journal(table.name, sys_id, name, text, user, now)
                    continue
                row[name] = text
            row["sys_updated_on"] = now
            row["sys_updated_by"] = user
            row["sys_mod_count"] = str(int(row.get("sys_mod_count") or 0) + 1)
            table.rows[i] = row
            table.version += 1
            return dict(row)

    def insert(self, table: Table, values: dict[str, Any], user: str) -> dict[str, str]:
        if table.name == JOURNAL_TABLE:
            raise ReadOnlyTable(table.name)
        with self._lock:
            now = fmt(self.clock())
            row = {name: "" for name in table.fields}
            row.update(_sys_fields(now, user))
            row["sys_id"] = uuid.uuid4().hex
            if "number" in table.fields:
                row["number"] = f"CIM{10001 + len(table.rows):07d}"
            journal = {}
            for name, value in values.items():
                fd = table.fields.get(name)
                if fd is None or fd.read_only:
                    continue
                if fd.kind == "journal":
                    journal[name] = _text(value)
                else:
                    row[name] = _text(value)
            table.add(row)
            for name, text in journal.items():
                if text.strip():
                    self._journal(table.name, row["sys_id"], name, text, user, now)
            return dict(row)

    def _journal(self, table: str, element_id: str, element: str, value: str, user: str, now: str) -> None:
        journal = self.tables[JOURNAL_TABLE]
        journal.add({"sys_id": uuid.uuid4().hex, "element_id": element_id, "element": element, "name": table,
                     "value": value, **_sys_fields(now, user)})
        self._journal_by_record.setdefault(element_id, []).append(len(journal.rows) - 1)

    # ---- rendering -------------------------------------------------------------------

    def serialize(self, table: Table, row: dict[str, str], *, fields: Iterable[str] | None, display: str,
                  exclude_links: bool, base_url: str) -> dict[str, Any]:
        """One row as the Table API returns it. display: "false" | "true" | "all"."""
        names = list(fields) if fields else list(table.fields)
        get = self.getter(table)
        out: dict[str, Any] = {}
        with self._lock:
            for name in names:
                fd = table.fields.get(name)
                if fd is None and "." not in name:
                    continue
                value = get(row, name)
                shown = self._display(table, fd, row, name, value)
                link = None
                if fd is not None and fd.kind == "reference" and value and not exclude_links:
                    link = f"{base_url}/api/now/table/{fd.ref_table}/{value}"
                if display == "all":
                    cell: Any = {"display_value": shown, "value": value}
                elif display == "true":
                    cell = shown if link is None else {"display_value": shown}
                else:
                    cell = value if link is None else {"value": value}
                if link is not None:
                    cell["link"] = link
                out[name] = cell
        return out

    def _display(self, table: Table, fd: FieldDef | None, row: dict[str, str], name: str, value: str) -> str:
        if fd is None:
            return value  # dot-walked: the value is already the target's text
        if fd.kind == "reference" and value:
            target = self.tables[fd.ref_table]
            i = target.by_id.get(value)
            return "" if i is None else target.rows[i].get(target.display_field, "")
        if fd.kind == "choice":
            return dict(fd.choices).get(value, value)
        if fd.kind == "journal":
            return self._journal_text(row.get("sys_id", ""), name)
        return value

    def _journal_text(self, sys_id: str, element: str) -> str:
        """Journal entries newest first, the way a form shows them."""
        journal = self.tables[JOURNAL_TABLE]
        users = self.tables["sys_user"]
        names = {r["user_name"]: r["name"] for r in users.rows}
        parts = []
        for i in reversed(self._journal_by_record.get(sys_id, [])):
            entry = journal.rows[i]
            if entry["element"] != element:
                continue
            who = names.get(entry["sys_created_by"], entry["sys_created_by"])
            parts.append(f"{entry['sys_created_on']} - {who} ({_JOURNAL_LABEL[element]})\n{entry['value']}\n\n")
        return "".join(parts)


def _sys_fields(when: str, user: str) -> dict[str, str]:
    return {"sys_created_on": when, "sys_created_by": user, "sys_updated_on": when,
            "sys_updated_by": user, "sys_mod_count": "0"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # {"value": ..., "display_value": ...} sent back as read
        return _text(value.get("value", value.get("display_value", "")))
    return str(value)
