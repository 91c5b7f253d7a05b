"""Seeded, realistic CSI improvement records for the sandboxes.

    from csi_coach.sandbox.seed import generate, record_at
    for rec in generate("servicenow", 10_000, seed=1): ...
    rec = record_at("jira", 41, seed=1)          # the same record generate() yields 42nd

Every record is a pure function of (system, index, seed, anchor): any record can be
built on its own, so servers can page through 100,000 records without building them
all, and two runs with the same seed serve the same data.

`SeedRecord.intended` is the category the phrase templates were written to express
(value / linked / process_only / no_goal, per the value-goal guide). It is a hint for
demos and tests, not a label to score the engine against: templates can be read more
than one way, which is the point of a coach.

`state` is one of STATES (display names); each server maps it to its own vocabulary.
`updated` is an aware UTC datetime within the 90 days before `anchor` (default: the
current UTC day at midnight, so a server started twice on the same day serves the
same timestamps).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_RECORDS = 100_000
SPREAD_DAYS = 90

STATES = ("Draft", "Open", "Work in Progress", "On Hold", "Closed", "Cancelled")
_STATE_WEIGHTS = (8, 40, 30, 6, 11, 5)

CATEGORIES = ("process_only", "value", "linked", "no_goal")
_CATEGORY_WEIGHTS = (35, 30, 15, 20)

# The label owners use to opt out of coaching (config.example.toml's opt_out_labels).
OPT_OUT_LABEL = "csi-coach-skip"


@dataclass(frozen=True)
class SeedRecord:
    index: int
    number: str
    title: str
    description: str
    goal: str
    service: str
    owner: str
    state: str
    updated: datetime
    labels: tuple[str, ...]
    intended: str
    created: datetime


@dataclass(frozen=True)
class _Service:
    name: str
    people: str  # who consumes it
    task: str  # what they do with it (verb phrase, bare infinitive)
    loss: str  # what they lose when it fails
    spend: str  # a cost the business carries
    risk: str  # an exposure the business carries
    team: str  # who runs it


_SERVICES = (
    _Service("HR Portal", "employees", "update their personal details", "a morning chasing HR by e-mail",
             "agency cover for HR advisers", "personal data sent to the wrong person", "HR Systems"),
    _Service("Payroll", "employees", "get paid the right amount on payday", "pay they are owed",
             "emergency off-cycle payments", "paying leavers after their last day", "Payroll Operations"),
    _Service("Remote Access VPN", "remote staff", "connect from home at the start of a shift", "the first hour of their shift",
             "overtime to cover lost hours", "staff working around the VPN on personal devices", "Network Services"),
    _Service("E-commerce Checkout", "online shoppers", "complete a purchase", "their basket at the payment step",
             "card scheme chargeback fees", "failing the PCI DSS audit", "Digital Commerce"),
    _Service("Patient Portal", "patients", "book or move an appointment", "their appointment slot",
             "missed-appointment costs", "test results sent to the wrong patient", "Clinical Applications"),
    _Service("Meeting Room Booking", "office staff", "find and book a free room", "the first ten minutes of a meeting",
             "rent for floors that sit empty", "visitors arriving with nowhere to meet", "Workplace Services"),
    _Service("Customer Billing", "account holders", "receive a correct invoice", "days disputing invoice lines",
             "write-offs of disputed invoices", "regulator complaints about billing errors", "Billing Platform"),
    _Service("Fleet Telematics", "dispatchers", "see where every van is", "track of drivers between jobs",
             "fuel spent on empty running", "drivers exceeding legal driving hours", "Logistics IT"),
    _Service("Learning Management System", "learners", "complete mandatory training", "credit for courses they finished",
             "repeat training sessions", "failing a compliance inspection on training records", "Learning Technology"),
    _Service("Point of Sale", "store colleagues", "take payment at the till", "sales while the till restarts",
             "lost Saturday trading", "card data stored outside the payment terminal", "Retail Systems"),
    _Service("Mobile Banking App", "retail customers", "pay a new payee", "the payment window before cut-off",
             "compensation for failed payments", "fraud on newly added payees", "Digital Banking"),
    _Service("Expense Claims", "travelling staff", "claim back what they spent", "weeks out of pocket",
             "late-payment interest on corporate cards", "claims approved without receipts", "Finance Systems"),
    _Service("Student Enrolment", "new students", "enrol on their course", "their place on an optional module",
             "manual enrolment clearing every September", "visa sponsorship breaches for unenrolled students", "Student Systems"),
    _Service("Field Service Scheduling", "field engineers", "get the next job on their tablet", "a visit slot with the customer",
             "second visits to finish a job", "missed regulatory gas-safety visits", "Field Operations IT"),
    _Service("Contact Centre Telephony", "callers", "reach an agent", "their place in the queue",
             "penalties under the outsourcing contract", "vulnerable callers giving up before they are heard", "Contact Centre Technology"),
    _Service("Single Sign-On", "staff", "log in to the apps they need", "access on their first day",
             "licences for accounts nobody uses", "leavers keeping access to customer data", "Identity and Access"),
    _Service("Supplier Portal", "suppliers", "submit an invoice and see when it will be paid", "early-payment discounts",
             "late-payment penalties", "paying a fraudulent bank-detail change", "Procurement Systems"),
    _Service("Travel Booking", "travellers", "book a trip inside policy", "the cheapest fare while waiting for approval",
             "out-of-policy fares", "not knowing where staff are during an incident abroad", "Travel Technology"),
    _Service("Electronic Health Record", "clinicians", "open a patient's record at the bedside", "minutes of every ward round",
             "agency nurses covering admin time", "decisions made on an out-of-date medication list", "Clinical Systems"),
    _Service("Warehouse Scanning", "pickers", "scan and confirm each pick", "picks when the scanner drops off Wi-Fi",
             "late-dispatch credits to customers", "wrong items shipped to pharmacies", "Supply Chain IT"),
    _Service("Document Signing", "customers", "sign a contract online", "the deal while waiting for paper copies",
             "courier costs for paper contracts", "unsigned contracts in force", "Legal Technology"),
    _Service("Campus Wi-Fi", "students and visitors", "get online in lecture halls", "the live stream of the lecture",
             "a second wireless contract for events", "guest devices on the staff network", "Campus Network"),
    _Service("Data Warehouse Reporting", "finance analysts", "get month-end figures on day one", "two days of every close",
             "audit fees for late adjustments", "publishing figures that later need restating", "Data Platform"),
    _Service("Online Banking Statements", "business customers", "download a statement for their accountant", "their filing deadline",
             "paper statements posted on request", "statements sent to a closed account's address", "Digital Banking"),
)

_OWNERS = (
    "Amelia Hart", "Rahul Mehta", "Sofia Lindqvist", "Kwame Mensah", "Chloe Dubois", "Tomasz Nowak",
    "Aisha Bello", "Liam O'Connor", "Mei Chen", "Jonas Becker", "Priya Raman", "Diego Alvarez",
    "Hannah Okafor", "Oliver Grant", "Yuki Tanaka", "Fatima Zahra", "Ben Carter", "Ingrid Solberg",
    "Marco Rossi", "Grace Nwosu", "Samir Haddad", "Elena Petrova", "Noah Fischer", "Zara Ahmed",
)

_EXTRA_LABELS = ("csi", "quarterly-review", "service-review", "kaizen", "ops-backlog", "from-problem-mgmt",
                 "customer-feedback", "audit-action", "fy-plan")

# ---------------------------------------------------------------------------
# Phrase templates. Slots: {svc} service name, {people}, {task}, {loss}, {spend},
# {risk}, {team}; numbers {a} < {b} (small), {p} {q} percentages, {n} counts,
# {money} an amount, {when} a target date.
# ---------------------------------------------------------------------------

_PROCESS = (
    "Reduce P1 and P2 incidents against {svc} by {p}% this year.",
    "Bring MTTR for {svc} incidents down from {b} hours to {a} hours.",
    "Raise first-contact resolution for {svc} calls to {q}%.",
    "Deflect {p}% of {svc} tickets to the self-service portal.",
    "Clear the {svc} ticket backlog of {n} open items by {when}.",
    "Hit {q}% SLA attainment for {svc} requests every month.",
    "Automate {p}% of {svc} access requests so the desk stops handling them.",
    "Publish {n} new knowledge articles for {svc} and raise article reuse.",
    "Cut mean time to acknowledge {svc} alerts to under {a} minutes.",
    "Lift the change success rate for {svc} releases to {q}%.",
    "Save the service desk {b}0 hours a month on {svc} password resets.",
    "Raise the post-call CSAT score for {svc} tickets to {q}%.",
    "Reduce repeat incidents on {svc} by linking them to problem records.",
    "Roll out the new monitoring tool to every {svc} server by {when}.",
    "Get {q}% of {svc} changes through CAB within the OLA.",
    "Halve the number of {svc} tickets reassigned more than twice.",
)

_VALUE = (
    "{People} can {task} in under {a} minutes instead of {b}.",
    "{People} no longer lose {loss}: fewer than {a} in 1,000 affected by {when}.",
    "Cut {spend} by {money} a year.",
    "{People} {task} without having to phone anyone, {q}% of the time by {when}.",
    "Remove the risk of {risk} before the next audit.",
    "Fewer {people} give up when they try to {task}: drop-out from {p}% to {a}%.",
    "{People} rate {svc} itself at least {a} out of 5 in the quarterly survey.",
    "{Svc} stays usable through the busiest week of the year, so {people} can {task} at peak.",
    "Stop the business paying {money} a quarter in {spend}.",
    "No case of {risk} in the twelve months after go-live.",
    "{People} get answers from {svc} in under {a} seconds, so they can {task} while the customer is still there.",
    "Adoption: {q}% of {people} choose {svc} over the paper route by {when}.",
)

# A process measure, then the consumer or business effect it is for.
_LINKED = (
    "Cut MTTR on {svc} from {b}h to {a}h so that {people} stop losing {loss} when it fails.",
    "Reduce {svc} P1 incidents by {p}%, which means {people} can {task} at month end without delays.",
    "Raise first-contact resolution to {q}% so that {people} are back to work within the hour and the business saves {money} in {spend}.",
    "Halve change failures on {svc}; each failed release today costs {people} {loss}.",
    "Move {p}% of {svc} requests to self-service so {people} can {task} out of hours, when most of them need to.",
    "Lower alert-to-fix time on {svc} to {a} minutes so the business stops carrying {spend} during outages.",
    "Meet the {q}% availability target for {svc} because every outage hour exposes us to {risk}.",
)

# Activities and intentions with no goal.
_NO_GOAL = (
    "Review the {svc} incident process with {team}.",
    "Improve monitoring of {svc}.",
    "Run a workshop on {svc} pain points.",
    "Look into recurring issues with {svc}.",
    "Document the {svc} support model.",
    "Upgrade {svc} to the latest supported version.",
    "Assess options for replacing {svc}.",
    "Align {team} and the service desk on {svc} ownership.",
    "Investigate slowness reported on {svc}.",
    "Tidy up the {svc} CMDB entries.",
)

_TITLES = {
    "process_only": ("{svc}: reduce ticket volume", "Improve {svc} incident handling", "{svc} support KPIs",
                     "Speed up {svc} fixes", "{svc} desk efficiency", "Automate {svc} requests"),
    "value": ("{svc}: {people} lose {loss}", "Make it easier to {task}", "{svc} experience for {people}",
              "Reduce {spend}", "{svc}: close the exposure to {risk}", "{svc} adoption"),
    "linked": ("{svc} reliability", "Faster recovery for {svc}", "{svc}: fix it faster, for {people}",
               "{svc} self-service push", "{svc} outage impact"),
    "no_goal": ("{svc} review", "{svc} improvements", "Look at {svc}", "{svc} follow-up from service review",
                "{svc} health check"),
}

# Background sentences that carry no goal, so they never change the intended category.
_BACKGROUND = (
    "Raised from the {month} service review for {svc}.",
    "{Team} own the service; the desk logged {n} tickets against it last quarter.",
    "Several teams have mentioned this in stand-ups.",
    "Carried over from last year's improvement plan.",
    "The owner will report progress at the monthly CSI board.",
    "Related problem records are linked below.",
    "Vendor support contract renews in {month}.",
    "Budget for this sits with {team}.",
    "First discussed at the ops review on {since}.",
    "Scope to be confirmed with the service owner.",
)

_LEAD_INS = ("The aim is: ", "What we want: ", "Goal: ", "Success looks like this. ", "Target: ", "Expected benefit: ")

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def default_anchor() -> datetime:
    """Midnight UTC today: stable for a day, so restarts serve the same timestamps."""
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def number_for(system: str, index: int) -> str:
    """The display number: CIM0010001 for ServiceNow, CSI-1 for Jira."""
    if system == "servicenow":
        return f"CIM{10001 + index:07d}"
    return f"CSI-{index + 1}"


def _day(when: datetime) -> str:
    return f"{when.day} {_MONTHS[when.month - 1]} {when.year}"


def _fill(template: str, slots: dict[str, str]) -> str:
    return template.format(**slots)


class _Dice:
    """The few draws the templates need, each from one rng.random() call: several
    times faster than Random.choice/randint/sample, which keeps 10,000 records quick."""

    def __init__(self, key: str) -> None:
        self.random = random.Random(key).random  # str seeds hash stably across processes

    def pick(self, seq):
        return seq[int(self.random() * len(seq))]

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))

    def some(self, seq, k: int) -> list:
        pool = list(seq)
        out = []
        for _ in range(min(k, len(pool))):
            out.append(pool.pop(int(self.random() * len(pool))))
        return out

    def weighted(self, seq, weights):
        roll = self.random() * sum(weights)
        for item, w in zip(seq, weights):
            roll -= w
            if roll < 0:
                return item
        return seq[-1]


def _slots(dice: _Dice, svc: _Service, anchor: datetime) -> dict[str, str]:
    a = dice.between(2, 9)
    target = anchor + timedelta(days=dice.between(30, 300))
    people = svc.people[0].upper() + svc.people[1:]
    return {
        "svc": svc.name, "Svc": svc.name, "people": svc.people, "People": people,
        "task": svc.task, "loss": svc.loss, "spend": svc.spend, "risk": svc.risk, "team": svc.team,
        "Team": svc.team, "a": str(a), "b": str(a * dice.between(2, 5)), "p": str(dice.pick((10, 15, 20, 25, 30, 40, 50))),
        "q": str(dice.pick((75, 80, 85, 90, 95, 98))), "n": str(dice.pick((12, 40, 75, 120, 250, 400, 1200))),
        "money": dice.pick(("£40k", "€120,000", "$250k", "£1.2m", "$60,000", "€15k")),
        "when": _day(target), "since": _day(anchor - timedelta(days=dice.between(100, 400))),
        "month": dice.pick(_MONTHS),
    }


def _goal_text(dice: _Dice, category: str, slots: dict[str, str]) -> str:
    if category == "process_only":
        picks = dice.some(_PROCESS, dice.pick((1, 1, 2, 3)))
    elif category == "value":
        picks = dice.some(_VALUE, dice.pick((1, 1, 2)))
    elif category == "linked":
        picks = [dice.pick(_LINKED)]
    else:
        picks = [dice.pick(_NO_GOAL)]
    return " ".join(_fill(t, slots) for t in picks)


def record_at(system: str, index: int, seed: int, anchor: datetime | None = None) -> SeedRecord:
    """The record generate(system, ..., seed) yields at position `index`."""
    anchor = anchor or default_anchor()
    dice = _Dice(f"{system}/{seed}/{index}")
    category = dice.weighted(CATEGORIES, _CATEGORY_WEIGHTS)
    svc = dice.pick(_SERVICES)
    slots = _slots(dice, svc, anchor)
    goal = _goal_text(dice, category, slots)
    background = [_fill(t, slots) for t in dice.some(_BACKGROUND, dice.between(1, 3))]
    # About a third keep the goal in the description rather than the goal field; for
    # no_goal the activity statement sometimes sits in neither field but the title.
    buried = dice.random() < 0.35
    if category == "no_goal" and dice.random() < 0.4:
        goal_field, description = "", " ".join(background)
    elif buried:
        at = dice.between(0, len(background))
        parts = background[:at] + [dice.pick(_LEAD_INS) + goal] + background[at:]
        goal_field, description = "", " ".join(parts)
    else:
        goal_field, description = goal, " ".join(background)
    title = _fill(dice.pick(_TITLES[category]), slots)
    title = title[0].upper() + title[1:]
    updated = anchor - timedelta(seconds=dice.between(0, SPREAD_DAYS * 86400))
    created = updated - timedelta(seconds=dice.between(0, 120 * 86400))
    labels = ["csi"] if dice.random() < 0.7 else []
    labels += dice.some(_EXTRA_LABELS[1:], dice.pick((0, 0, 1, 2)))
    if dice.random() < 0.03:
        labels.append(OPT_OUT_LABEL)
    return SeedRecord(
        index=index,
        number=number_for(system, index),
        title=title,
        description=description,
        goal=goal_field,
        service=svc.name,
        owner=dice.pick(_OWNERS),
        state=dice.weighted(STATES, _STATE_WEIGHTS),
        updated=updated,
        labels=tuple(labels),
        intended=category,
        created=created,
    )


def generate(system: str, n: int, seed: int, anchor: datetime | None = None) -> Iterator[SeedRecord]:
    """Lazily yield n records for `system` ("servicenow" or "jira"), deterministic under seed."""
    if not 0 <= n <= MAX_RECORDS:
        raise ValueError(f"records must be between 0 and {MAX_RECORDS}, got {n}")
    anchor = anchor or default_anchor()
    for index in range(n):
        yield record_at(system, index, seed, anchor)


def services() -> tuple[str, ...]:
    """Every service name a record can carry (for the servers' reference tables)."""
    return tuple(s.name for s in _SERVICES)


def owners() -> tuple[str, ...]:
    """Every owner name a record can carry."""
    return _OWNERS
